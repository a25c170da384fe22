"""Work after the receipt: inspections of quarantined stock and putaway confirmations."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from receiving import putaway
from receiving.errors import (
    NotAStorageBin,
    UnknownBin,
)
from receiving.models import (
    Inspection,
    PutawayTask,
    Receipt,
    ReturnReceipt,
)
from receiving.services.common import (
    Actor,
    close_shipment_if_done,
    event,
    lock_shipment,
)
from receiving.services.returns import return_putaway_confirmed
from receiving.transitions import check_transition
from warehouse import services as inventory
from warehouse.errors import InvalidQuantity
from warehouse.models import (
    Location,
    Product,
    StockMove,
    StockStatus,
    Zone,
)
from warehouse.roles import recorded_user


def create_putaway_task(
    *,
    receipt: Receipt | None = None,
    return_receipt: ReturnReceipt | None = None,
    product: Product,
    lot_id: int | None,
    quantity: int,
    dock: Location,
    warehouse_id: int,
) -> PutawayTask:
    """A putaway task with its proposed bin for available stock on the dock, from an inbound
    `receipt` or restocked from a `return_receipt` (one of the two)."""
    proposed = putaway.propose_bin(
        warehouse_id=warehouse_id, product=product, lot_id=lot_id, quantity=quantity, origin=dock
    )
    return PutawayTask.objects.create(
        receipt=receipt,
        return_receipt=return_receipt,
        product=product,
        lot_id=lot_id,
        quantity=quantity,
        from_location=dock,
        proposed_location=proposed,
    )


# --- inspection ------------------------------------------------------------------------------


@transaction.atomic
def record_inspection(
    *,
    inspection_id: int,
    passed: bool,
    actor: Actor = None,
    defects_found: int = 0,
    reason: str = "",
    disposition: str = Inspection.Disposition.QUARANTINE,
) -> Inspection:
    """Record an inspector's verdict on quarantined stock.

    Pass: the units are released to `available` (reason release) and get a putaway task.
    Fail: they stay in quarantine, or with disposition `damaged` become damaged (reason damage);
    a reason is required. Raises InvalidTransition if already recorded, InvalidQuantity (400)
    for a failure without reason.
    """
    inspection = (
        Inspection.objects.select_for_update(of=("self",), no_key=True)
        .select_related("receipt__shipment", "product", "location")
        .get(id=inspection_id)
    )
    target = Inspection.Status.PASSED if passed else Inspection.Status.FAILED
    check_transition("inspection", inspection.status, target)
    if not passed and not reason.strip():
        raise InvalidQuantity(
            "Give the reason the inspection failed.", errors={"reason": ["Required."]}
        )
    reference = f"inspection:{inspection.id}"
    if passed:
        inventory.change_stock_status(
            location_id=inspection.location_id,
            product_id=inspection.product_id,
            lot_id=inspection.lot_id,
            quantity=inspection.quantity,
            from_status=StockStatus.QUARANTINE,
            to_status=StockStatus.AVAILABLE,
            reason=StockMove.Reason.RELEASE,
            reference=reference,
            note=reason,
            actor=actor,
        )
        create_putaway_task(
            receipt=inspection.receipt,
            product=inspection.product,
            lot_id=inspection.lot_id,
            quantity=inspection.quantity,
            dock=inspection.location,
            warehouse_id=inspection.receipt.shipment.warehouse_id,
        )
        disposition = ""
    elif disposition == Inspection.Disposition.DAMAGED:
        inventory.change_stock_status(
            location_id=inspection.location_id,
            product_id=inspection.product_id,
            lot_id=inspection.lot_id,
            quantity=inspection.quantity,
            from_status=StockStatus.QUARANTINE,
            to_status=StockStatus.DAMAGED,
            reason=StockMove.Reason.DAMAGE,
            reference=reference,
            note=reason,
            actor=actor,
        )
    inspection.status = target
    inspection.defects_found = defects_found
    inspection.reason = reason[:200]
    inspection.disposition = disposition
    inspection.inspected_by = recorded_user(actor)
    inspection.inspected_at = timezone.now()
    inspection.save()
    shipment = lock_shipment(inspection.receipt.shipment_id)
    event(
        shipment.id,
        "inspection_recorded",
        actor,
        inspection=inspection.id,
        passed=passed,
        disposition=disposition,
    )
    close_shipment_if_done(shipment, actor)
    return inspection


# --- putaway ---------------------------------------------------------------------------------


def _task_warehouse_id(task: PutawayTask) -> int:
    if task.return_receipt_id is not None:
        return task.return_receipt.rma.warehouse_id
    return task.receipt.shipment.warehouse_id


def _lock_putaway_task(task_id: int, *related: str) -> PutawayTask:
    """The open task, locked, with what tells its warehouse; InvalidTransition once done."""
    task = (
        PutawayTask.objects.select_for_update(of=("self",), no_key=True)
        .select_related("receipt__shipment", "return_receipt__rma", *related)
        .get(id=task_id)
    )
    check_transition("putaway task", task.status, PutawayTask.Status.DONE)
    return task


@transaction.atomic
def propose_putaway_bin(*, task_id: int) -> PutawayTask:
    """Propose the task's bin again from what the bins hold now.

    The proposal made with the task can fill up before the goods get there (other doors put
    away too), or no bin had room then; a driver who finds it full asks again instead of
    trying bins one by one. The task keeps no proposal while still no bin of its storage class
    has room. Raises InvalidTransition (409) for a finished task.
    """
    task = _lock_putaway_task(task_id, "product", "from_location")
    task.proposed_location = putaway.propose_bin(
        warehouse_id=_task_warehouse_id(task),
        product=task.product,
        lot_id=task.lot_id,
        quantity=task.quantity,
        origin=task.from_location,
    )
    task.save(update_fields=["proposed_location"])
    return task


@transaction.atomic
def confirm_putaway(*, task_id: int, bin_code: str, actor: Actor = None) -> PutawayTask:
    """Move the task's stock from the dock into the scanned bin and record dock-to-stock time
    (inbound tasks; a restocked return's task closes its RMA when it was the last work left).

    Any active storage or pick-face bin of the warehouse may be scanned instead of the proposed
    one; the bin actually used is recorded. Raises UnknownBin (422), NotAStorageBin,
    StorageClassMismatch or CapacityExceeded (409) and InvalidTransition for a finished task.
    """
    task = _lock_putaway_task(task_id)
    warehouse_id = _task_warehouse_id(task)
    code = bin_code.strip()
    location = (
        Location.objects.select_related("zone")
        .filter(warehouse_id=warehouse_id, code__iexact=code)
        .first()
    )
    if location is None:
        raise UnknownBin(f"No bin {code!r} in this warehouse. Scan the bin label again.")
    if location.zone.kind not in Zone.STOCKING_KINDS:
        raise NotAStorageBin(
            f"{location.code} is in the {location.zone.get_kind_display().lower()} zone, "
            "not a storage bin."
        )
    inventory.move_stock(
        from_location_id=task.from_location_id,
        to_location_id=location.id,
        product_id=task.product_id,
        lot_id=task.lot_id,
        quantity=task.quantity,
        status=StockStatus.AVAILABLE,
        reason=StockMove.Reason.PUTAWAY,
        reference=f"putaway:{task.id}",
        actor=actor,
    )
    now = timezone.now()
    task.status = PutawayTask.Status.DONE
    task.confirmed_location = location
    task.confirmed_by = recorded_user(actor)
    task.confirmed_at = now
    if task.return_receipt_id is not None:
        # Returned goods are not measured by dock-to-stock (no truck check-in of an ASN).
        task.save()
        return_putaway_confirmed(task=task, bin_code=location.code, actor=actor)
        return task
    shipment = task.receipt.shipment
    task.dock_to_stock = now - shipment.arrived_at if shipment.arrived_at else None
    task.save()
    shipment = lock_shipment(shipment.id)
    event(
        shipment.id,
        "putaway_confirmed",
        actor,
        task=task.id,
        bin=location.code,
        proposed=task.proposed_location_id,
        followed_proposal=task.is_proposal_followed,
    )
    close_shipment_if_done(shipment, actor)
    return task
