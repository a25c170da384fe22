"""Inbound data: suppliers, ASNs and their lines, dock appointments, receipts and their scans,
discrepancies, inspections and putaway tasks."""

from receiving.models.partners import InspectionRule, Supplier
from receiving.models.receipts import Discrepancy, Receipt, ReceiptScan
from receiving.models.shipments import (
    DockAppointment,
    InboundEvent,
    InboundLine,
    InboundShipment,
)
from receiving.models.work import Inspection, PutawayTask

__all__ = [
    "Discrepancy",
    "DockAppointment",
    "InboundEvent",
    "InboundLine",
    "InboundShipment",
    "Inspection",
    "InspectionRule",
    "PutawayTask",
    "Receipt",
    "ReceiptScan",
    "Supplier",
]
