"""Receiving's domain errors. The API maps each to problem+json by its `http_status`."""

from __future__ import annotations

from datetime import datetime

from warehouse.errors import DomainError


class UnreadableBarcode(DomainError):
    """The scan could not be turned into a product: `reason` says why (a BarcodeError code,
    or `unknown_gtin` / `unknown_sscc`)."""

    code = "unreadable-barcode"
    title = "Barcode not accepted"
    http_status = 422

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, errors={"barcode": [message]})
        self.reason = reason
        self.code = f"barcode-{reason.replace('_', '-')}"


class LotRequired(DomainError):
    code = "lot-required"
    title = "Lot required"
    http_status = 422


class UnknownPack(DomainError):
    code = "unknown-pack"
    title = "Unknown pack size"
    http_status = 422


class UnknownProduct(DomainError):
    code = "unknown-product"
    title = "Unknown product"
    http_status = 422


class InvalidAsn(DomainError):
    code = "invalid-asn"
    title = "Invalid ASN"
    http_status = 400


class ReceiptClosed(DomainError):
    code = "receipt-closed"
    title = "Receipt is closed"


class PalletAlreadyReceived(DomainError):
    code = "pallet-already-received"
    title = "Pallet already received"


class OverReceiptNeedsOverride(DomainError):
    code = "over-receipt-needs-override"
    title = "Over-receipt beyond tolerance"


class DoorNotUsable(DomainError):
    code = "door-not-usable"
    title = "Door cannot take this delivery"


class OutsideDoorHours(DomainError):
    code = "outside-door-hours"
    title = "Outside the door's opening hours"


class SlotUnavailable(DomainError):
    """The door is booked for part of the slot. `next_free_slot` is the earliest free one."""

    code = "slot-unavailable"
    title = "Dock slot unavailable"

    def __init__(self, message: str, *, next_free_slot: datetime | None) -> None:
        super().__init__(message)
        self.next_free_slot = next_free_slot


class UnknownBin(DomainError):
    code = "unknown-bin"
    title = "Unknown bin"
    http_status = 422


class NotAStorageBin(DomainError):
    code = "not-a-storage-bin"
    title = "Not a storage bin"


class OverReturn(DomainError):
    """More units asked back than were delivered and are not already on other returns."""

    code = "over-return"
    title = "More returned than delivered"
    http_status = 400


class InvalidReturn(DomainError):
    code = "invalid-return"
    title = "Invalid return"
    http_status = 400


class OverDisposition(DomainError):
    """A disposition of more units than were received and are still undecided."""

    code = "over-disposition"
    title = "More dispositioned than received"
    http_status = 400


class NoQuarantineBin(DomainError):
    code = "no-quarantine-bin"
    title = "No quarantine bin"
