"""Picking: start a pick list, confirm, short-pick or skip its tasks one at a time.

Lock order (after `warehouse.locking`): order -> order line -> pick list -> pick task, then
the balances inside `warehouse.services` (with the staging location first only when it has
a capacity limit, see `warehouse.locking`). A confirmation carrying an idempotency key is
applied once: its event row is written first and a duplicate key finds it and does nothing.

Confirm, short pick and skip each run in one transaction that is retried whole, idempotency
claim included, when PostgreSQL aborts it as a deadlock victim (`_in_transaction`); inside a
caller's transaction they run once in a savepoint and the caller retries (the API's
`config.api.idempotency`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, F, Max
from django.utils import timezone

from config.api.permissions import has_role
from receiving.barcodes import BarcodeError, parse_scan
from shipping.errors import NotYourPickList, OrderNotPickable, OverPick, WrongBin, WrongItem
from shipping.models import (
    Allocation,
    Order,
    OrderLine,
    OutboundEvent,
    PickList,
    PickTask,
    Shipment,
    TrackingStatus,
    Wave,
)
from shipping.services.allocation import reallocate_shortfall
from shipping.services.common import claim_idempotency_key, record_event, retry_on_conflict
from shipping.services.tracking import record_tracking
from shipping.services.waves import build_pick_tasks
from shipping.transitions import check_transition
from warehouse.errors import InvalidQuantity
from warehouse.locking import lock_location
from warehouse.models import CountRequest, PackSize, Product, StockMove
from warehouse.roles import MANAGER, PICKER, recorded_user
from warehouse.services import deallocate_stock, has_capacity_limit, move_allocated_stock

TaskStatus = PickTask.Status


@dataclass(frozen=True)
class PickOutcome:
    task_id: int
    pick_list_id: int
    status: str
    quantity_picked: int
    replayed: bool = False
    reallocated: int = 0
    backordered: int = 0
    count_request_id: int | None = None


def _check_picker(pick_list: PickList, actor) -> None:
    if pick_list.picker_id == getattr(actor, "id", None) or has_role(actor, MANAGER):
        return
    if pick_list.picker_id is None and has_role(actor, PICKER):
        return
    raise NotYourPickList(f"Pick list {pick_list.number} is assigned to another picker.")


@transaction.atomic
def start_pick_list(*, pick_list_id: int, actor) -> PickList:
    """Start picking a list; an unassigned list is taken by the picker who starts it.

    Raises NotYourPickList (403) for someone else's list, InvalidTransition (409) when the
    list is done or cancelled. Starting a list already in progress is a no-op.
    """
    pick_list = PickList.objects.select_for_update().get(id=pick_list_id)
    _check_picker(pick_list, actor)
    if pick_list.status == PickList.Status.IN_PROGRESS:
        return pick_list
    check_transition(
        "pick list", pick_list.status, PickList.Status.IN_PROGRESS, label=pick_list.number
    )
    if pick_list.picker_id is None:
        pick_list.picker = actor
    pick_list.status = PickList.Status.IN_PROGRESS
    pick_list.started_at = timezone.now()
    pick_list.save(update_fields=["status", "started_at", "picker"])
    record_event(
        warehouse_id=pick_list.warehouse_id,
        kind="pick_list.started",
        wave_id=pick_list.wave_id,
        actor=actor,
        data={"pick_list": pick_list.id},
    )
    return pick_list


def _normalise(code: str) -> str:
    return code.strip().upper()


def _task_to_check(task_id: int, task: PickTask | None) -> PickTask:
    """The task with its bin, product and lot: `task` when the caller already read that row
    (as the API and the pick pages do to scope the request), else read now."""
    if task is not None and task.id == task_id:
        return task
    return PickTask.objects.select_related("location", "product", "lot", "order_line").get(
        id=task_id
    )


def check_bin(*, task_id: int, code: str, task: PickTask | None = None) -> None:
    """Raise WrongBin (422) unless `code` is the task's bin; counts wrong scans for accuracy.

    `task`, the row of `task_id` with its location, spares reading it again."""
    task = _task_to_check(task_id, task)
    if _normalise(code) != _normalise(task.location.code):
        shown = code.strip() or "nothing"
        raise _counted(
            WrongBin(f"Wrong bin: you scanned {shown}; go to {task.location.code}."),
            task_id,
            "wrong_bin_scans",
        )


def _counted(error: WrongBin | WrongItem, task_id: int, counter: str) -> WrongBin | WrongItem:
    """Count a wrong scan on the task (pick accuracy) and return `error` to raise.

    Counted now, and again by the API after it rolled back the refused request's transaction
    (`after_rollback`, run once per idempotency key by config.api.idempotency): without that
    a wrong scan through the API was never counted."""

    def count() -> None:
        PickTask.objects.filter(id=task_id).update(**{counter: F(counter) + 1})

    count()
    error.after_rollback = (count,)
    return error


def _scanned_gtin(raw: str) -> tuple[str, str | None]:
    try:
        scan = parse_scan(raw)
    except BarcodeError as error:
        raise WrongItem(f"Not a product barcode: {error.message}") from error
    gtin = scan.gtin or scan.content_gtin
    if gtin is None:
        raise WrongItem("That is a pallet label (SSCC); scan the item's barcode.")
    return gtin, scan.lot


def check_item(*, task_id: int, scan: str, task: PickTask | None = None) -> None:
    """Raise WrongItem (422) unless `scan` (GTIN or GS1) is the task's product (and lot).

    `task`, the row of `task_id` with its product and lot, spares reading it again."""
    task = _task_to_check(task_id, task)
    try:
        gtin, lot = _scanned_gtin(scan)
        product = task.product
        # The product's own GTIN is the usual scan; its pack sizes' are asked for only otherwise.
        pack_sizes = PackSize.objects.filter(product=product, gtin=gtin)
        if gtin != product.gtin and not pack_sizes.exists():
            other = Product.objects.filter(gtin=gtin).values_list("sku", flat=True).first()
            what = f"this is {other}" if other else "unknown item"
            raise WrongItem(f"Wrong item ({what}); pick {product.sku} {product.name}.")
        if lot and task.lot_id and lot != task.lot.code:
            raise WrongItem(f"Wrong lot {lot}; pick lot {task.lot.code}.")
    except WrongItem as error:
        raise _counted(error, task_id, "wrong_item_scans") from None


# What a confirmation or short pick changes on its task row (UPDATE of these columns only).
_PICKED_FIELDS = [
    "status",
    "quantity_picked",
    "scanned_item",
    "is_item_match",
    "picked_by",
    "picked_at",
]


@dataclass
class _Locked:
    order: Order
    line: OrderLine
    pick_list: PickList
    task: PickTask


def _lock_task(task_id: int, actor, known: PickTask | None = None) -> _Locked:
    """Lock the task's order, line, pick list (with its staging location) and the task.

    `known`, the task's row read earlier with its order line, location, product and lot, names
    the rows to lock and lends the task its location, product and lot (none of them ever
    changes for a task), sparing their reads."""
    if known is not None and known.id != task_id:
        known = None
    if known is not None:
        ids = {
            "order_line_id": known.order_line_id,
            "order_line__order_id": known.order_line.order_id,
            "pick_list_id": known.pick_list_id,
        }
    else:
        ids = PickTask.objects.values("order_line_id", "order_line__order_id", "pick_list_id").get(
            id=task_id
        )
    order = Order.objects.select_for_update().get(id=ids["order_line__order_id"])
    line = OrderLine.objects.select_for_update().get(id=ids["order_line_id"])
    pick_list = (
        PickList.objects.select_for_update(of=("self",))
        .select_related("staging_location__zone")
        .get(id=ids["pick_list_id"])
    )
    related = ("allocation",) if known is not None else ("location", "product", "lot", "allocation")
    task = PickTask.objects.select_for_update(of=("self",)).select_related(*related).get(id=task_id)
    if known is not None:
        task.location, task.product, task.lot = known.location, known.product, known.lot
    if line.product_id == task.product_id:
        line.product = task.product
    _check_picker(pick_list, actor)
    if order.status != Order.Status.RELEASED:
        raise OrderNotPickable(
            f"Order {order.number} is {order.get_status_display().lower()}; do not pick it."
        )
    if pick_list.status == PickList.Status.OPEN:
        pick_list.status = PickList.Status.IN_PROGRESS
        pick_list.started_at = timezone.now()
        pick_list.picker_id = pick_list.picker_id or actor.id
        pick_list.save(update_fields=["status", "started_at", "picker"])
    check_transition("pick list", pick_list.status, PickList.Status.DONE, label=pick_list.number)
    return _Locked(order, line, pick_list, task)


def _lock_and_claim(
    task_id: int, actor, idempotency_key: str, kind: str, known: PickTask | None = None
) -> _Locked | None:
    """Lock the task and its order, then claim the idempotency key for this `kind` of event;
    None when the key was already applied (the caller replays the first outcome)."""
    locked = _lock_task(task_id, actor, known)
    claimed = claim_idempotency_key(
        key=idempotency_key,
        warehouse_id=locked.order.warehouse_id,
        kind=kind,
        actor=actor,
        order_id=locked.order.id,
        pick_task_id=task_id,
    )
    return locked if claimed else None


def _already_applied(key: str) -> bool:
    return bool(key) and OutboundEvent.objects.filter(idempotency_key=key).exists()


def _in_transaction(work: Callable[[], PickOutcome]) -> PickOutcome:
    """Run `work` in a transaction of its own, retried whole (with the idempotency key it
    claims) with jittered back-off when PostgreSQL aborts it as a deadlock victim or on a
    serialisation failure, up to DOCKSIDE["CONFLICT_MAX_ATTEMPTS"] times, then
    ConcurrentUpdate (409). Inside a caller's transaction it runs once, in a savepoint: only
    the caller can run its whole transaction again."""
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return work()
    return retry_on_conflict(work)()


def _replay(task_id: int) -> PickOutcome:
    task = PickTask.objects.get(id=task_id)
    return PickOutcome(task.id, task.pick_list_id, task.status, task.quantity_picked, replayed=True)


def _move_picked(locked: _Locked, quantity: int, actor) -> None:
    """Carry `quantity` allocated units from the bin to the staging location."""
    task, pick_list = locked.task, locked.pick_list
    staging = pick_list.staging_location
    staged_balance = move_allocated_stock(
        from_location_id=task.location_id,
        source_balance_id=task.allocation.balance_id,
        to_location=staging,
        product=task.product,
        lot=task.lot,
        quantity=quantity,
        reason=StockMove.Reason.PICK,
        reference=f"order:{locked.order.number}",
        actor=actor,
    )
    Allocation.objects.filter(id=task.allocation_id).update(
        balance_id=staged_balance,
        location_id=staging.id,
        quantity=quantity,
        status=Allocation.Status.PICKED,
    )
    locked.line.quantity_picked += quantity


def confirm_pick(
    *,
    task_id: int,
    bin_code: str,
    item_scan: str,
    quantity: int,
    actor,
    idempotency_key: str = "",
    task: PickTask | None = None,
) -> PickOutcome:
    """Confirm a pick: right bin, right item, `quantity` units moved to the staging location.

    A quantity below the task's is a short pick for "not enough in bin". Raises WrongBin or
    WrongItem (422), OverPick/InvalidQuantity (400), NotYourPickList (403), OrderNotPickable or
    InvalidTransition (409, e.g. the order was cancelled or the task is done), ConcurrentUpdate
    (409) when every retry of a deadlocked transaction was a victim again. A replayed
    `idempotency_key` returns the first outcome without changing anything. `task`, the row of
    `task_id` with its location, product, lot and order line as the caller read it, spares
    reading it again.
    """
    if _already_applied(idempotency_key):
        return _replay(task_id)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise InvalidQuantity("Quantity must be a whole number, 0 or more.")
    task = _task_to_check(task_id, task)
    if quantity > task.quantity:
        raise OverPick(f"Over-pick: the task is {task.quantity}; you entered {quantity}.")
    if quantity < task.quantity:
        return short_pick(
            task_id=task_id,
            quantity_picked=quantity,
            reason=PickTask.ShortReason.NOT_ENOUGH,
            bin_code=bin_code,
            item_scan=item_scan,
            actor=actor,
            idempotency_key=idempotency_key,
            task=task,
        )
    check_bin(task_id=task_id, code=bin_code, task=task)
    check_item(task_id=task_id, scan=item_scan, task=task)
    known = task

    def confirm() -> PickOutcome:
        locked = _lock_and_claim(task_id, actor, idempotency_key, "pick.confirmed", known)
        if locked is None:
            return _replay(task_id)
        task = locked.task
        check_transition("pick task", task.status, TaskStatus.PICKED, label=str(task.id))
        _move_picked(locked, quantity, actor)
        task.status = TaskStatus.PICKED
        task.quantity_picked = quantity
        task.scanned_item = item_scan.strip()[:64]
        task.is_item_match = True
        task.picked_by = actor
        task.picked_at = timezone.now()
        task.save(update_fields=_PICKED_FIELDS)
        locked.line.save(update_fields=["quantity_picked"])
        if not idempotency_key:
            record_event(
                warehouse_id=locked.order.warehouse_id,
                kind="pick.confirmed",
                order_id=locked.order.id,
                pick_task_id=task.id,
                actor=actor,
                data={"quantity": quantity},
            )
        _after_task(locked, actor)
        return PickOutcome(task.id, task.pick_list_id, task.status, quantity)

    return _in_transaction(confirm)


def short_pick(
    *,
    task_id: int,
    quantity_picked: int,
    reason: str,
    actor,
    bin_code: str = "",
    item_scan: str = "",
    idempotency_key: str = "",
    task: PickTask | None = None,
) -> PickOutcome:
    """Report that fewer units than asked are in the bin; pick `quantity_picked` of them.

    The shortfall is deallocated from the bin, a cycle count of the bin is requested, and the
    line is allocated again from other bins (new tasks at the end of this list) or, failing
    that, backordered. Picking any units needs the item scanned. Raises as `confirm_pick`,
    and takes `task` as it does.
    """
    if _already_applied(idempotency_key):
        return _replay(task_id)
    if reason not in PickTask.ShortReason.values:
        raise InvalidQuantity(
            f"Short pick reason must be one of {', '.join(PickTask.ShortReason.values)}."
        )
    task = _task_to_check(task_id, task)
    if isinstance(quantity_picked, bool) or not isinstance(quantity_picked, int):
        raise InvalidQuantity("Quantity must be a whole number.")
    if not 0 <= quantity_picked < task.quantity:
        raise InvalidQuantity(
            f"A short pick takes 0 to {task.quantity - 1} units; you entered {quantity_picked}."
        )
    if quantity_picked:
        check_bin(task_id=task_id, code=bin_code, task=task)
        check_item(task_id=task_id, scan=item_scan, task=task)
    known = task

    def short() -> PickOutcome:
        locked = _lock_and_claim(task_id, actor, idempotency_key, "pick.short", known)
        if locked is None:
            return _replay(task_id)
        task, line, order = locked.task, locked.line, locked.order
        check_transition("pick task", task.status, TaskStatus.SHORT, label=str(task.id))
        shortfall = task.quantity - quantity_picked
        staging = locked.pick_list.staging_location
        if quantity_picked and has_capacity_limit(staging):
            # The lock policy (warehouse.locking): a capacity-limited target location before
            # any balance row. The other way round, a short pick and a confirmation into the
            # same staging location deadlocked under load.
            lock_location(staging.id)
        if quantity_picked:
            # The move locks the bin's and the staging balance in id order, as a confirmation
            # does; deallocating first would lock the bin's alone, out of that order.
            _move_picked(locked, quantity_picked, actor)
        deallocate_stock(balance_id=task.allocation.balance_id, quantity=shortfall)
        line.quantity_allocated -= shortfall
        if not quantity_picked:
            Allocation.objects.filter(id=task.allocation_id).update(
                quantity=0, status=Allocation.Status.RELEASED
            )
        count = CountRequest.objects.create(
            warehouse_id=order.warehouse_id,
            location_id=task.location_id,
            product_id=task.product_id,
            reason=CountRequest.Reason.SHORT_PICK,
            reference=f"pick-task:{task.id}",
            note=f"{reason}: {shortfall} of {task.quantity} missing",
            requested_by=recorded_user(actor),
        )
        task.status = TaskStatus.SHORT
        task.quantity_picked = quantity_picked
        task.short_reason = reason
        task.scanned_item = item_scan.strip()[:64]
        task.is_item_match = True if quantity_picked else None
        task.picked_by = actor
        task.picked_at = timezone.now()
        task.save(update_fields=[*_PICKED_FIELDS, "short_reason"])
        # The line goes back to allocation: other bins first, else a backorder.
        made = reallocate_shortfall(order=order, line=line, quantity=shortfall)
        reallocated = sum(a.quantity for a in made)
        if made:
            for allocation in made:
                allocation.order_line = line
            top = PickTask.objects.filter(pick_list=locked.pick_list).aggregate(m=Max("sequence"))
            build_pick_tasks(
                pick_list=locked.pick_list, allocations=made, first_sequence=top["m"] + 1
            )
        line.quantity_allocated += reallocated
        line.quantity_backordered += shortfall - reallocated
        line.save(update_fields=["quantity_allocated", "quantity_backordered", "quantity_picked"])
        data = {
            "picked": quantity_picked,
            "short": shortfall,
            "reason": reason,
            "reallocated": reallocated,
            "backordered": shortfall - reallocated,
            "count_request": count.id,
        }
        record_event(
            warehouse_id=order.warehouse_id,
            kind="pick.short.applied",
            order_id=order.id,
            pick_task_id=task.id,
            actor=actor,
            data=data,
        )
        _after_task(locked, actor)
        return PickOutcome(
            task.id,
            task.pick_list_id,
            task.status,
            quantity_picked,
            reallocated=reallocated,
            backordered=shortfall - reallocated,
            count_request_id=count.id,
        )

    return _in_transaction(short)


def skip_task(*, task_id: int, actor, idempotency_key: str = "") -> PickOutcome:
    """Put an open task at the end of its list (e.g. the bin is blocked). Raises as above."""
    if _already_applied(idempotency_key):
        return _replay(task_id)

    def skip() -> PickOutcome:
        locked = _lock_and_claim(task_id, actor, idempotency_key, "pick.skipped")
        if locked is None:
            return _replay(task_id)
        task = locked.task
        if task.status != TaskStatus.OPEN:
            check_transition("pick task", task.status, TaskStatus.OPEN, label=str(task.id))
        top = PickTask.objects.filter(pick_list_id=task.pick_list_id).aggregate(m=Max("sequence"))
        if top["m"] != task.sequence:
            task.sequence = top["m"] + 1
        task.skip_count += 1
        task.save(update_fields=["sequence", "skip_count"])
        return PickOutcome(task.id, task.pick_list_id, task.status, 0)

    return _in_transaction(skip)


def _finish_wave_if_done(wave_id: int) -> None:
    open_lists = PickList.objects.filter(
        wave_id=wave_id, status__in=[PickList.Status.OPEN, PickList.Status.IN_PROGRESS]
    )
    if not open_lists.exists():
        Wave.objects.filter(id=wave_id, status=Wave.Status.RELEASED).update(
            status=Wave.Status.COMPLETED, completed_at=timezone.now()
        )


def _close_list_if_done(pick_list: PickList) -> None:
    if PickTask.objects.filter(pick_list=pick_list, status=TaskStatus.OPEN).exists():
        return
    _close_list(pick_list)


def _open_tasks_left(pick_list_id: int, order_id: int) -> tuple[bool, bool]:
    """Whether the pick list, and the order, still have open tasks: one query for both."""
    open_tasks = PickTask.objects.filter(status=TaskStatus.OPEN)
    return (
        Order.objects.filter(id=order_id)
        .values_list(
            Exists(open_tasks.filter(pick_list_id=pick_list_id)),
            Exists(open_tasks.filter(order_line__order_id=order_id)),
        )
        .get()
    )


def _close_list(pick_list: PickList) -> None:
    pick_list.status = PickList.Status.DONE
    pick_list.completed_at = timezone.now()
    pick_list.save(update_fields=["status", "completed_at"])
    _finish_wave_if_done(pick_list.wave_id)


def _after_task(locked: _Locked, actor) -> None:
    """Close the list, the order's picking and the wave when their last task is done (by
    `actor`, who is recorded on the order's event)."""
    order = locked.order
    list_open, order_open = _open_tasks_left(locked.pick_list.id, order.id)
    if not list_open:
        _close_list(locked.pick_list)
    if order_open:
        return
    picked = OrderLine.objects.filter(order=order, quantity_picked__gt=0).exists()
    target = Order.Status.PICKED if picked else Order.Status.BACKORDERED
    check_transition("order", order.status, target, label=order.number)
    order.status = target
    fields = ["status", "updated_at"]
    if not picked:
        # Nothing came off the shelves: the order waits for stock and a later wave.
        order.wave = None
        fields.append("wave")
        Shipment.objects.filter(order=order, status=Shipment.Status.PLANNED).update(
            status=Shipment.Status.CANCELLED
        )
    order.save(update_fields=fields)
    record_event(
        warehouse_id=order.warehouse_id,
        kind=f"order.{target}",
        order_id=order.id,
        actor=actor,
        data={},
    )
    if picked:
        # The order's last task: the one scan of the order that changes its timeline.
        record_tracking(order_id=order.id, status=TrackingStatus.PICKED, actor=actor)


def close_finished_pick_lists(*, order_id: int) -> None:
    """After an order's tasks were cancelled: close lists and waves left with nothing open."""
    lists = PickList.objects.filter(
        tasks__order_line__order_id=order_id,
        status__in=[PickList.Status.OPEN, PickList.Status.IN_PROGRESS],
    ).distinct()
    for pick_list in lists:
        _close_list_if_done(pick_list)
