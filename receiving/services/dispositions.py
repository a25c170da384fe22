"""Dispositions: what an inspector decides for returned units held in quarantine.

Restock releases them to available and opens a putaway task (the inbound putaway rules choose
the bin); quarantine moves them into a quarantine bin; scrap writes them off; return to vendor
sends them out of the warehouse. Each is one ledger move through the inventory service with the
inspector as its actor and `rma:<id>` as its reference.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F, Sum

from receiving.errors import InvalidReturn, NoQuarantineBin, OverDisposition, UnknownBin
from receiving.models import (
    PutawayTask,
    ReturnAuthorisation,
    ReturnDisposition,
    ReturnLine,
    ReturnScan,
    Supplier,
)
from receiving.services.common import Actor
from receiving.services.return_receipts import HELD_STATUS
from receiving.services.returns import close_return_if_done, lock_rma, rma_event
from receiving.services.work import create_putaway_task
from warehouse import services as inventory
from warehouse.errors import InvalidQuantity, InvalidTransition
from warehouse.models import Location, Lot, StockMove, StockStatus, Zone
from warehouse.roles import recorded_user

Kind = ReturnDisposition.Kind
# Dispositions that take stock out of the warehouse or write it off must say why.
NEEDS_REASON = (Kind.SCRAP, Kind.RETURN_TO_VENDOR)


def _lot_to_decide(line: ReturnLine, lot_code: str) -> tuple[int | None, int]:
    """The lot of the line's units being decided and how many of them are still undecided.

    A line may have received units of several lots (its lot was not known when the return was
    requested): then the lot must be named. Raises InvalidReturn (400).
    """
    received = dict(
        ReturnScan.objects.filter(line=line)
        .values("lot_id")
        .annotate(total=Sum("quantity"))
        .values_list("lot_id", "total")
    )
    decided = dict(
        ReturnDisposition.objects.filter(line=line)
        .values("lot_id")
        .annotate(total=Sum("quantity"))
        .values_list("lot_id", "total")
    )
    if lot_code:
        lot = Lot.objects.filter(product_id=line.product_id, code=lot_code).first()
        if lot is None or lot.id not in received:
            raise InvalidReturn(
                f"No units of lot {lot_code} were received on this line.",
                errors={"lot": [f"No units of lot {lot_code} were received on this line."]},
            )
        lot_id = lot.id
    elif len(received) > 1:
        raise InvalidReturn(
            "Units of several lots were received on this line: name the lot.",
            errors={"lot": ["Required: units of several lots were received on this line."]},
        )
    else:
        lot_id = next(iter(received), None)
    return lot_id, received.get(lot_id, 0) - decided.get(lot_id, 0)


def _quarantine_bin(warehouse_id: int, bin_code: str) -> Location:
    """The scanned quarantine bin, else the warehouse's first active one (by code)."""
    bins = Location.objects.select_related("zone").filter(
        warehouse_id=warehouse_id, zone__kind=Zone.Kind.QUARANTINE, is_active=True
    )
    if bin_code.strip():
        location = bins.filter(code__iexact=bin_code.strip()).first()
        if location is None:
            raise UnknownBin(f"No active quarantine bin {bin_code.strip()!r} in this warehouse.")
        return location
    location = bins.order_by("code").first()
    if location is None:
        raise NoQuarantineBin("This warehouse has no active quarantine bin to keep the units in.")
    return location


@transaction.atomic
def record_disposition(
    *,
    line_id: int,
    kind: str,
    quantity: int,
    lot_code: str = "",
    reason: str = "",
    bin_code: str = "",
    supplier_code: str = "",
    actor: Actor = None,
) -> ReturnDisposition:
    """Decide what becomes of `quantity` received units of a return line (of lot `lot_code`
    when the line received several lots), moving them through the inventory service.

    - restock: quarantine -> available where they are (reason release), and a putaway task to
      the bin `receiving.putaway` proposes;
    - quarantine: moved, still quarantined, into the quarantine bin `bin_code` (default: the
      warehouse's first) (reason quarantine);
    - scrap: written off (reason scrap), `reason` required;
    - return_to_vendor: out of the warehouse (reason return), `reason` required, optionally to
      the supplier `supplier_code`.
    The RMA closes once every unit received is decided and its putaways are done.

    Raises InvalidTransition (409) unless the RMA is received (its return receipt closed),
    InvalidReturn (400) for an unknown kind, a missing reason, lot or supplier,
    InvalidQuantity (400), OverDisposition (400) for more units than remain undecided,
    UnknownBin (422) and NoQuarantineBin (409) for quarantine, and the inventory service's
    errors (InsufficientStock when the units are no longer on the dock).
    """
    line = (
        ReturnLine.objects.select_for_update(of=("self",), no_key=True)
        .select_related("rma", "product")
        .get(id=line_id)
    )
    rma = line.rma
    if rma.status != ReturnAuthorisation.Status.RECEIVED:
        raise InvalidTransition(
            f"RMA {rma.number} is {rma.status}; dispositions are recorded for a received return."
        )
    if kind not in Kind.values:
        raise InvalidReturn(
            f"Unknown disposition {kind!r}.",
            errors={"disposition": [f"Give one of {', '.join(Kind.values)}."]},
        )
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise InvalidQuantity("Decide at least 1 unit.", errors={"quantity": ["At least 1."]})
    if kind in NEEDS_REASON and not reason.strip():
        raise InvalidReturn(
            f"Give the reason for the {Kind(kind).label.lower()}.",
            errors={"reason": ["Required."]},
        )
    lot_id, undecided = _lot_to_decide(line, lot_code)
    if quantity > undecided:
        raise OverDisposition(
            f"Only {undecided} received units of line {line.line_number} are undecided; "
            f"{quantity} asked.",
            errors={"quantity": [f"At most {undecided}."]},
        )
    supplier = None
    if supplier_code.strip():
        supplier = Supplier.objects.filter(code=supplier_code.strip()).first()
        if supplier is None:
            raise InvalidReturn(
                f"No supplier {supplier_code.strip()!r}.", errors={"supplier": ["Unknown."]}
            )
    # The units are where their scans put them: the return receipt's dock location.
    scan = ReturnScan.objects.select_related("stock_move", "receipt").filter(line=line).first()
    dock_id = scan.stock_move.to_location_id
    reference = f"rma:{rma.id}"
    note = reason.strip()[:200]
    common = {"product_id": line.product_id, "quantity": quantity, "lot_id": lot_id}
    task: PutawayTask | None = None
    location: Location | None = None
    if kind == Kind.RESTOCK:
        move = inventory.change_stock_status(
            location_id=dock_id,
            from_status=HELD_STATUS,
            to_status=StockStatus.AVAILABLE,
            reason=StockMove.Reason.RELEASE,
            reference=reference,
            note=note or "restock",
            actor=actor,
            **common,
        )
        location = Location.objects.select_related("zone").get(id=dock_id)
        task = create_putaway_task(
            return_receipt=scan.receipt,
            product=line.product,
            lot_id=lot_id,
            quantity=quantity,
            dock=location,
            warehouse_id=rma.warehouse_id,
        )
    elif kind == Kind.QUARANTINE:
        location = _quarantine_bin(rma.warehouse_id, bin_code)
        move = inventory.move_stock(
            from_location_id=dock_id,
            to_location_id=location.id,
            status=HELD_STATUS,
            reason=StockMove.Reason.QUARANTINE,
            reference=reference,
            note=note,
            actor=actor,
            **common,
        )
    elif kind == Kind.SCRAP:
        move = inventory.post_move(
            source=inventory.Place(dock_id, HELD_STATUS),
            target=None,
            reason=StockMove.Reason.SCRAP,
            reference=reference,
            note=note,
            actor=actor,
            **common,
        )
    else:
        vendor = f"to {supplier.code}: " if supplier else "to vendor: "
        move = inventory.post_move(
            source=inventory.Place(dock_id, HELD_STATUS),
            target=None,
            reason=StockMove.Reason.RETURN,
            reference=reference,
            note=f"{vendor}{note}",
            actor=actor,
            **common,
        )
    disposition = ReturnDisposition.objects.create(
        line=line,
        kind=kind,
        lot_id=lot_id,
        quantity=quantity,
        reason=note,
        supplier=supplier,
        location=location,
        stock_move=move,
        putaway_task=task,
        decided_by=recorded_user(actor),
    )
    ReturnLine.objects.filter(id=line.id).update(
        dispositioned_quantity=F("dispositioned_quantity") + quantity
    )
    rma = lock_rma(rma.id)
    rma_event(
        rma.id,
        "disposition_recorded",
        actor,
        disposition=disposition.id,
        line=line.line_number,
        disposition_kind=kind,
        quantity=quantity,
    )
    close_return_if_done(rma, actor)
    return disposition
