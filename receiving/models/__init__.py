"""Inbound data: suppliers, ASNs and their lines, dock appointments, receipts and their scans,
discrepancies, inspections and putaway tasks, and customer returns."""

from receiving.models.partners import InspectionRule, Supplier
from receiving.models.receipts import Discrepancy, Receipt, ReceiptScan
from receiving.models.returns import (
    ReturnAuthorisation,
    ReturnDiscrepancy,
    ReturnDisposition,
    ReturnEvent,
    ReturnLine,
    ReturnReason,
    ReturnReceipt,
    ReturnScan,
)
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
    "ReturnAuthorisation",
    "ReturnDiscrepancy",
    "ReturnDisposition",
    "ReturnEvent",
    "ReturnLine",
    "ReturnReason",
    "ReturnReceipt",
    "ReturnScan",
    "Supplier",
]
