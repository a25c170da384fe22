"""Receiving customer returns: a return receipt on an inbound door, its scans, and closing it
with the discrepancy report. The scans read barcodes, packs and lots exactly as inbound
receipts do (`receiving.services.scans`) and bring the stock in through the inventory service,
held in quarantine on the door's dock location until an inspector decides what becomes of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from receiving.errors import DoorNotUsable, ReceiptClosed, UnreadableBarcode
from receiving.models import (
    ReturnAuthorisation,
    ReturnDiscrepancy,
    ReturnLine,
    ReturnReason,
    ReturnReceipt,
    ReturnScan,
)
from receiving.services.common import Actor, check_inbound_door
from receiving.services.receipts import find_discrepancies
from receiving.services.returns import close_return_if_done, lock_order, lock_rma, rma_event
from receiving.services.scans import (
    check_scan_quantity,
    find_scanned_product,
    parse_barcode,
    scanned_lot,
    scanned_units,
)
from receiving.transitions import check_transition
from warehouse import services as inventory
from warehouse.errors import InvalidTransition
from warehouse.models import DockDoor, Lot, Product, StockMove, StockStatus
from warehouse.roles import recorded_user

# Returned goods wait here for an inspector's disposition, whatever state they arrive in: a
# unit flagged damaged on the dock is recorded as such (and reported), but only the inspector
# decides whether it is scrapped, sent back to the vendor, kept or restocked.
HELD_STATUS = StockStatus.QUARANTINE


@dataclass
class ReturnScanResult:
    scan: ReturnScan
    line: ReturnLine
    product: Product
    lot: Lot | None
    warnings: list[dict[str, str]] = field(default_factory=list)


@transaction.atomic
def open_return_receipt(*, rma_id: int, door_id: int, actor: Actor = None) -> ReturnReceipt:
    """Start receiving an authorised return at an inbound door with a dock floor location.

    Raises InvalidTransition (409) unless the RMA is authorised and not already being
    received, DoorNotUsable (409) for a door that cannot receive.
    """
    rma = lock_rma(rma_id)
    if rma.status != ReturnAuthorisation.Status.AUTHORISED:
        raise InvalidTransition(
            f"RMA {rma.number} is {rma.status}; only an authorised return can be received."
        )
    if rma.receipts.exists():
        raise InvalidTransition(f"RMA {rma.number} already has a return receipt.")
    door = DockDoor.objects.get(id=door_id)
    check_inbound_door(door, rma.warehouse_id)
    if door.location_id is None:
        raise DoorNotUsable(f"Door {door.code} has no dock floor location to receive into.")
    receipt = ReturnReceipt.objects.create(rma=rma, door=door, opened_by=recorded_user(actor))
    rma_event(rma.id, "return_receipt_opened", actor, receipt=receipt.id, door=door.code)
    return receipt


def _line_for_scan(rma: ReturnAuthorisation, product: Product, lot: Lot | None) -> ReturnLine:
    """The RMA line a scan of this product/lot counts against, locked (in id order, with the
    product's other lines): the authorised line of that lot, else one without a lot (the lot
    was not known when the return was requested), preferring one not yet full; else the line
    of the unexpected product or lot, created on first sight."""
    lines = list(
        ReturnLine.objects.select_for_update(of=("self",), no_key=True)
        .filter(rma=rma, product=product)
        .order_by("id")
    )
    lot_id = lot.id if lot else None
    exact = [line for line in lines if line.is_expected and lot_id and line.lot_id == lot_id]
    open_lot = [line for line in lines if line.is_expected and line.lot_id is None]
    for candidates in (exact, open_lot):
        if candidates:
            for line in candidates:
                if line.received_quantity < line.quantity:
                    return line
            return candidates[-1]
    unexpected = next(
        (line for line in lines if not line.is_expected and line.lot_id == lot_id), None
    )
    if unexpected is not None:
        return unexpected
    # A product (or lot) the RMA did not authorise. The return receipt's row lock keeps a
    # second scanner from numbering a line at the same time.
    authorised = next((line for line in lines if line.is_expected), None)
    last = ReturnLine.objects.filter(rma=rma).order_by("-line_number").first()
    return ReturnLine.objects.create(
        rma=rma,
        line_number=(last.line_number if last else 0) + 1,
        order_line_id=authorised.order_line_id if authorised else None,
        product=product,
        lot=lot,
        quantity=0,
        reason=authorised.reason if authorised else ReturnReason.OTHER,
        is_expected=False,
    )


def _warnings(line: ReturnLine, product: Product) -> list[dict[str, str]]:
    if not line.is_expected:
        return [
            {
                "code": "unexpected",
                "message": f"{product.sku} is not on this return as scanned; it is received "
                "and reported as a discrepancy.",
            }
        ]
    if line.received_quantity > line.quantity:
        return [
            {
                "code": "over_return",
                "message": f"Line {line.line_number} ({product.sku}): {line.received_quantity} "
                f"received, {line.quantity} authorised.",
            }
        ]
    return []


@transaction.atomic
def receive_return_scan(
    *,
    return_receipt_id: int,
    barcode: str,
    quantity: int | None = None,
    pack: str | None = None,
    is_damaged: bool = False,
    actor: Actor = None,
) -> ReturnScanResult:
    """Receive what one scan of `barcode` stands for into the return receipt's dock location,
    held in quarantine until its disposition.

    The barcode rules are the inbound scan's (`receive_scan`): a GTIN or GS1 label with AI
    01/02, counting AI 37, else `quantity`, else 1, of the scanned pack; lot-tracked products
    need AI 10. Raises UnreadableBarcode (422: the parser's reason, `missing_gtin` or
    `unknown_gtin`), LotRequired / UnknownPack (422), InvalidQuantity (400), ReceiptClosed
    (409). Nothing is written when it raises.
    """
    scan = parse_barcode(barcode)
    check_scan_quantity(quantity)
    receipt = (
        ReturnReceipt.objects.select_for_update(of=("self",), no_key=True)
        .select_related("rma", "door__location__zone")
        .get(id=return_receipt_id)
    )
    if receipt.status != ReturnReceipt.Status.OPEN:
        raise ReceiptClosed(f"Return receipt {receipt.id} is closed.")
    gtin = scan.gtin or scan.content_gtin
    if gtin is None:
        raise UnreadableBarcode(
            "The barcode has no GTIN: scan each returned product's own label.",
            reason="missing_gtin",
        )
    scanned = find_scanned_product(gtin, scan.lot)
    if scanned is None:
        raise UnreadableBarcode(
            f"No product or pack has GTIN {gtin}. Check the item or receive it by hand.",
            reason="unknown_gtin",
        )
    units = scanned_units(scan=scan, scanned=scanned, pack=pack, quantity=quantity)
    product = scanned.product
    location = receipt.door.location
    if location is None:
        raise DoorNotUsable(f"Door {receipt.door.code} has no dock floor location.")
    lot = scanned_lot(scan=scan, scanned=scanned)
    rma = receipt.rma
    line = _line_for_scan(rma, product, lot)
    move = inventory.receive_stock(
        location_id=location.id,
        product_id=product.id,
        quantity=units,
        lot_id=lot.id if lot else None,
        status=HELD_STATUS,
        reason=StockMove.Reason.RETURN,
        reference=f"rma:{rma.id}",
        actor=actor,
        product=product,
        lot=lot,
        location=location,
    )
    record = ReturnScan.objects.create(
        receipt=receipt,
        line=line,
        barcode=barcode[:200],
        product=product,
        lot=lot,
        quantity=units,
        is_damaged=is_damaged,
        stock_move=move,
        scanned_by=recorded_user(actor),
    )
    damaged = units if is_damaged else 0
    ReturnLine.objects.filter(id=line.id).update(
        received_quantity=F("received_quantity") + units,
        damaged_quantity=F("damaged_quantity") + damaged,
    )
    # The line is locked, so the running totals seen here are the committed ones.
    line.received_quantity += units
    line.damaged_quantity += damaged
    return ReturnScanResult(
        scan=record, line=line, product=product, lot=lot, warnings=_warnings(line, product)
    )


@transaction.atomic
def close_return_receipt(*, return_receipt_id: int, actor: Actor = None) -> ReturnReceipt:
    """Finish receiving a return: record its discrepancies and mark the RMA received.

    Discrepancies as for inbound receipts (`find_discrepancies`): short / over per authorised
    line, damaged units, unexpected product or lot. From now on the RMA holds the units
    received against the order, not those authorised. An RMA of which nothing arrived closes
    at once. Raises InvalidTransition (409) when the return receipt is not open.
    """
    rma_id, order_id = ReturnReceipt.objects.values_list("rma_id", "rma__order_id").get(
        id=return_receipt_id
    )
    lock_order(order_id)
    rma = lock_rma(rma_id)
    receipt = ReturnReceipt.objects.select_for_update(of=("self",), no_key=True).get(
        id=return_receipt_id
    )
    check_transition("return receipt", receipt.status, ReturnReceipt.Status.CLOSED)
    check_transition("RMA", rma.status, ReturnAuthorisation.Status.RECEIVED)
    lines = list(ReturnLine.objects.filter(rma=rma).order_by("line_number"))
    ReturnDiscrepancy.objects.bulk_create(
        ReturnDiscrepancy(
            receipt=receipt,
            line=line,
            kind=kind,
            expected_quantity=line.quantity,
            received_quantity=line.received_quantity,
            difference=difference,
        )
        for line, kind, difference in find_discrepancies(lines)
    )
    now = timezone.now()
    receipt.status = ReturnReceipt.Status.CLOSED
    receipt.closed_at = now
    receipt.closed_by = recorded_user(actor)
    receipt.save(update_fields=["status", "closed_at", "closed_by"])
    rma.status = ReturnAuthorisation.Status.RECEIVED
    rma.received_at = now
    rma.save(update_fields=["status", "received_at"])
    rma_event(
        rma.id,
        "return_received",
        actor,
        receipt=receipt.id,
        units=sum(line.received_quantity for line in lines),
        discrepancies=receipt.discrepancies.count(),
    )
    close_return_if_done(rma, actor)
    return receipt
