"""Inbound writes: ASNs, dock appointments, check-in, receipts and scans, discrepancies,
inspections and putaway. One function per verb; each is one transaction that locks what it
changes, checks the state machine, changes, writes an InboundEvent row, and leaves stock to
`warehouse.services`.

Lock policy (in addition to `warehouse.locking`, and like it FOR NO KEY UPDATE, never plain
FOR UPDATE, so that inserting rows that reference a locked row is not blocked):
- a scan takes a SHARE lock on its receipt row, so scans of one receipt run side by side while
  closing the receipt (NO KEY UPDATE, which conflicts with SHARE) waits for them, and a scan
  after the close sees it closed;
- the ASN lines a scan counts against are locked in id order before any stock row;
- a booking locks its door row, so two bookings of one door are checked one after the other;
- the ASN row is locked when its status may change: booking takes ASN then door, closing takes
  receipt then ASN, inspections and putaway take their own row, then stock, then the ASN;
- customer returns: see `receiving.services.returns`.
"""

from receiving.services.appointments import (
    book_appointment,
    cancel_appointment,
    door_hours,
    schedule_dock_appointments,
)
from receiving.services.asn import (
    LineInput,
    cancel_shipment,
    create_inbound_lines_input,
    create_shipment,
)
from receiving.services.common import ManagerOverrideRequired
from receiving.services.dispositions import record_disposition
from receiving.services.receipts import check_in_shipment, close_receipt, open_receipt
from receiving.services.return_receipts import (
    ReturnScanResult,
    close_return_receipt,
    open_return_receipt,
    receive_return_scan,
)
from receiving.services.returns import (
    ReturnLineInput,
    authorise_return,
    reject_return,
    request_return,
)
from receiving.services.scans import ScanItem, ScanResult, receive_scan
from receiving.services.work import confirm_putaway, propose_putaway_bin, record_inspection

__all__ = [
    "LineInput",
    "ManagerOverrideRequired",
    "ReturnLineInput",
    "ReturnScanResult",
    "ScanItem",
    "ScanResult",
    "authorise_return",
    "book_appointment",
    "cancel_appointment",
    "cancel_shipment",
    "check_in_shipment",
    "close_receipt",
    "close_return_receipt",
    "confirm_putaway",
    "create_inbound_lines_input",
    "create_shipment",
    "door_hours",
    "open_receipt",
    "open_return_receipt",
    "propose_putaway_bin",
    "receive_return_scan",
    "receive_scan",
    "record_disposition",
    "record_inspection",
    "reject_return",
    "request_return",
    "schedule_dock_appointments",
]
