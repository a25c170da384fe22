from warehouse.models.access import DeviceToken, IdempotencyRecord
from warehouse.models.audit import AuditEvent
from warehouse.models.catalog import Lot, PackSize, Product, StorageClass
from warehouse.models.counts import CountAttempt, CountEntry, CountLine, CountRequest
from warehouse.models.layout import DockDoor, Location, Warehouse, Zone
from warehouse.models.outbox import OutboxMessage, ProcessedMessage
from warehouse.models.stock import StockBalance, StockMove, StockStatus

__all__ = [
    "AuditEvent",
    "CountAttempt",
    "CountEntry",
    "CountLine",
    "CountRequest",
    "DeviceToken",
    "DockDoor",
    "IdempotencyRecord",
    "Location",
    "Lot",
    "OutboxMessage",
    "PackSize",
    "ProcessedMessage",
    "Product",
    "StockBalance",
    "StockMove",
    "StockStatus",
    "StorageClass",
    "Warehouse",
    "Zone",
]
