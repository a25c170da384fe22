"""Allocation: promise free stock to order lines, FEFO/FIFO, pick faces first.

Rules (docs/outbound.md):
- Only AVAILABLE balances in active pick-face or storage bins of the order's warehouse; never
  quarantine or damaged stock, never a bin with an open short-pick count for that product.
- Expiry-tracked products: first expiry first (FEFO) among lots that still have the customer's
  minimum remaining shelf life on the promised day (customer override, else the product's);
  pick-face bins first among equal expiry. Other products: pick-face bins first, then oldest
  lot / oldest balance first (FIFO).
- An order with `allow_partial` takes what there is and backorders the rest; otherwise it is
  allocated whole or not at all.

Concurrency (the lock policy of `warehouse.locking`): orders, then their lines, are locked
in id order. The free stock of the batch's products is read with one query, without locks,
and the whole batch is planned on it; the plan is applied with one
`warehouse.services.allocate_stock_batch` statement, which locks the balances in id order and
takes each only while enough of it is free, so it can never over-allocate. If another
allocator emptied a balance in between, that balance is refused and the statement is rolled
back to its savepoint, which also releases its row locks; only the orders that counted on a
refused balance are planned again (a partial order for the lost units, a whole-or-nothing
order whole) and the next statement is sent. Each statement thus takes all its balance locks
in id order while holding none, so allocators cannot deadlock each other. A batch refused
OPTIMISTIC_ATTEMPTS times is planned again on balances locked in id order, which the
statement cannot refuse. Without competition the plan is the one the first read gives; a
deadlock with another kind of writer is retried whole by `retry_on_conflict`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from shipping.models import (
    Allocation,
    Order,
    OrderLine,
    OutboundEvent,
    PickTask,
    Shipment,
    TrackingStatus,
)
from shipping.services.common import record_event, retry_on_conflict, setting
from shipping.services.tracking import record_allocations, record_tracking
from shipping.transitions import check_transition
from warehouse.errors import InsufficientStock
from warehouse.models import CountRequest, StockBalance, StockStatus, Zone
from warehouse.roles import recorded_user
from warehouse.services import allocate_stock_batch, deallocate_stock

Status = Order.Status


@dataclass(frozen=True)
class AllocationResult:
    order_id: int
    status: str
    allocated: int
    backordered: int


@dataclass
class _Candidate:
    balance_id: int
    product_id: int
    location_id: int
    lot_id: int | None
    expiry: dt.date | None
    is_pick_face: bool
    sort_key: tuple


def _load_candidates(
    *, warehouse_id: int, products: dict[int, bool], lock: bool
) -> tuple[dict[int, list[_Candidate]], dict[int, int]]:
    """The free available stock of `products`: per product best first, and free per balance.

    `products` maps product id -> is_expiry_tracked. With `lock` the rows are locked in id
    order until the caller's transaction ends, so the free figures hold; without, they are a
    snapshot that a conditional allocation may find out of date.
    """
    # A bin with an open short-pick count for the product is not trusted until counted.
    blocked = CountRequest.objects.filter(
        status=CountRequest.Status.OPEN,
        reason=CountRequest.Reason.SHORT_PICK,
        location_id=OuterRef("location_id"),
        product_id=OuterRef("product_id"),
    )
    rows = (
        StockBalance.objects.filter(
            product_id__in=products,
            status=StockStatus.AVAILABLE,
            location__warehouse_id=warehouse_id,
            location__is_active=True,
            location__zone__kind__in=Zone.STOCKING_KINDS,
            quantity__gt=F("allocated"),
        )
        .exclude(Exists(blocked))
        .order_by("id")
        .annotate(free=F("quantity") - F("allocated"))
    )
    if lock:
        rows = rows.select_for_update(of=("self",), no_key=True)
    rows = rows.values_list(
        "id",
        "product_id",
        "location_id",
        "lot_id",
        "lot__expiry_date",
        "lot__created_at",
        "location__zone__kind",
        "free",
    )
    far_future = dt.date.max
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    candidates: dict[int, list[_Candidate]] = defaultdict(list)
    free: dict[int, int] = {}
    for balance_id, product_id, location_id, lot_id, expiry, lot_created, kind, amount in rows:
        is_pick_face = kind == Zone.Kind.PICK_FACE
        if products[product_id]:
            key = (expiry or far_future, not is_pick_face, lot_created or epoch, balance_id)
        else:
            key = (not is_pick_face, lot_created or epoch, balance_id)
        candidates[product_id].append(
            _Candidate(balance_id, product_id, location_id, lot_id, expiry, is_pick_face, key)
        )
        free[balance_id] = amount
    for options in candidates.values():
        options.sort(key=lambda c: c.sort_key)
    return candidates, free


def shelf_life_cutoff(order: Order, line: OrderLine) -> dt.date | None:
    """The earliest expiry a lot may have to be allocated to `line`; None if any will do."""
    product = line.product
    if not product.is_expiry_tracked:
        return None
    days = order.customer.min_remaining_shelf_life_days
    if days is None:
        days = product.min_remaining_shelf_life_days
    promised_day = timezone.localtime(order.promised_window_end, order.warehouse.tzinfo).date()
    return promised_day + dt.timedelta(days=days)


def _plan(
    order: Order,
    lines: Sequence[OrderLine],
    needs: dict[int, int],
    candidates: dict[int, list[_Candidate]],
    free: dict[int, int],
) -> tuple[list[tuple[OrderLine, _Candidate, int]], int]:
    """Greedy plan against `free` (updated in place); returns the plan and the units short."""
    plan: list[tuple[OrderLine, _Candidate, int]] = []
    short = 0
    for line in lines:
        need = needs.get(line.id, 0)
        if need <= 0:
            continue
        cutoff = shelf_life_cutoff(order, line)
        for candidate in candidates.get(line.product_id, ()):
            if need == 0:
                break
            if cutoff is not None and candidate.expiry is not None and candidate.expiry < cutoff:
                continue
            take = min(need, free.get(candidate.balance_id, 0))
            if take > 0:
                plan.append((line, candidate, take))
                free[candidate.balance_id] -= take
                need -= take
        short += need
    return plan, short


def _take(allocations: Iterable[Allocation]) -> None:
    """Take units planned on locked balances: one conditional statement for all of them.

    The balances are locked, so this cannot fall short; if it ever did, InsufficientStock
    propagates and the whole transaction rolls back.
    """
    requests = [(allocation.balance_id, allocation.quantity) for allocation in allocations]
    refused = {balance_id for balance_id, _ in requests} - allocate_stock_batch(requests=requests)
    if refused:
        raise InsufficientStock(f"Balances {sorted(refused)} no longer hold the planned units.")


def _candidates_for(
    orders: Sequence[Order],
    lines_by_order: dict[int, list[OrderLine]],
    needs: dict[int, int],
    *,
    lock: bool,
) -> tuple[dict[int, list[_Candidate]], dict[int, int]]:
    """Candidates and free figures for the lines of `orders` that still need units."""
    candidates: dict[int, list[_Candidate]] = {}
    free: dict[int, int] = {}
    products_by_warehouse: dict[int, dict[int, bool]] = defaultdict(dict)
    for order in orders:
        for line in lines_by_order[order.id]:
            if needs.get(line.id, 0) > 0:
                products_by_warehouse[order.warehouse_id][line.product_id] = (
                    line.product.is_expiry_tracked
                )
    for warehouse_id, products in sorted(products_by_warehouse.items()):
        found, amounts = _load_candidates(warehouse_id=warehouse_id, products=products, lock=lock)
        candidates.update(found)
        free.update(amounts)
    return candidates, free


# Optimistic statements per batch before it is planned again on locked figures.
OPTIMISTIC_ATTEMPTS = 3


def _plan_all(
    orders: Sequence[Order],
    lines_by_order: dict[int, list[OrderLine]],
    needs: dict[int, int],
    *,
    lock: bool,
) -> dict[int, list[Allocation]]:
    """Plan every order of the batch, in priority order, on one read of the free stock."""
    candidates, free = _candidates_for(orders, lines_by_order, needs, lock=lock)
    return {
        order.id: _plan_order(
            order=order,
            lines=lines_by_order[order.id],
            needs=needs,
            all_or_nothing=not order.allow_partial,
            candidates=candidates,
            free=free,
        )
        for order in orders
    }


def _allocate_batch(
    orders: Sequence[Order],
    lines_by_order: dict[int, list[OrderLine]],
    needs: dict[int, int],
) -> dict[int, list[Allocation]]:
    """Plan and take `needs` (line id -> units) for `orders` (in priority order).

    Returns the unsaved Allocation rows per order id, every one of them taken. The plan is
    made on an unlocked read and applied with one `allocate_stock_batch` statement inside a
    savepoint. If a balance was emptied in between, the statement is rolled back whole (which
    also drops its row locks, so every statement takes all its locks in id order while holding
    none: allocators cannot deadlock each other) and only the orders that counted on a refused
    balance are planned again: a partial order for the lost units, a whole-or-nothing order
    whole. After OPTIMISTIC_ATTEMPTS refused statements the batch is planned again on balances
    locked in id order, which the statement cannot refuse. Raises InsufficientStock (the
    caller's transaction rolls back) only if even that is refused, which would be a bug.
    """
    made = _plan_all(orders, lines_by_order, needs, lock=False)
    for _ in range(OPTIMISTIC_ATTEMPTS):
        requests = [
            (allocation.balance_id, allocation.quantity)
            for allocations in made.values()
            for allocation in allocations
        ]
        if not requests:
            return made
        savepoint = transaction.savepoint()
        lost = {balance_id for balance_id, _ in requests} - allocate_stock_batch(requests=requests)
        if not lost:
            transaction.savepoint_commit(savepoint)
            return made
        transaction.savepoint_rollback(savepoint)
        renewed: dict[int, int] = defaultdict(int)
        affected: list[Order] = []
        for order in orders:
            allocations = made[order.id]
            if not any(allocation.balance_id in lost for allocation in allocations):
                continue
            affected.append(order)
            kept: list[Allocation] = []
            for allocation in allocations:
                if allocation.balance_id in lost or not order.allow_partial:
                    renewed[allocation.order_line.id] += allocation.quantity
                else:
                    kept.append(allocation)
            made[order.id] = kept
        # Fresh figures for the products to re-plan, less what the kept plans will take again.
        candidates, free = _candidates_for(affected, lines_by_order, renewed, lock=False)
        for allocations in made.values():
            for allocation in allocations:
                if allocation.balance_id in free:
                    free[allocation.balance_id] = max(
                        0, free[allocation.balance_id] - allocation.quantity
                    )
        for order in affected:
            made[order.id].extend(
                _plan_order(
                    order=order,
                    lines=lines_by_order[order.id],
                    needs=renewed,
                    all_or_nothing=not order.allow_partial,
                    candidates=candidates,
                    free=free,
                )
            )
    # Still refused: the stock is contended right now. Plan the whole batch on locked figures.
    made = _plan_all(orders, lines_by_order, needs, lock=True)
    _take(allocation for allocations in made.values() for allocation in allocations)
    return made


def _plan_order(
    *,
    order: Order,
    lines: Sequence[OrderLine],
    needs: dict[int, int],
    all_or_nothing: bool,
    candidates: dict[int, list[_Candidate]],
    free: dict[int, int],
) -> list[Allocation]:
    """Plan `needs` (line id -> units) for one order against `free` (updated when kept).

    Returns unsaved Allocation rows; none when the order must be whole and cannot be.
    """
    trial = dict(free) if all_or_nothing else free
    plan, short = _plan(order, lines, needs, candidates, trial)
    if all_or_nothing:
        if short:
            return []
        free.update(trial)
    return [
        Allocation(
            order_line=line,
            balance_id=candidate.balance_id,
            location_id=candidate.location_id,
            product_id=candidate.product_id,
            lot_id=candidate.lot_id,
            quantity=quantity,
        )
        for line, candidate, quantity in plan
    ]


def _status_after_allocation(order: Order, lines: Sequence[OrderLine]) -> str:
    allocated = sum(line.quantity_allocated for line in lines)
    wanted = sum(line.quantity for line in lines)
    if allocated >= wanted:
        return Status.ALLOCATED
    if allocated and order.allow_partial:
        return Status.PARTIALLY_ALLOCATED
    return Status.BACKORDERED


def _lock_orders(order_ids: Iterable[int]) -> dict[int, Order]:
    orders = (
        Order.objects.select_for_update(of=("self",))
        .select_related("customer", "warehouse")
        .filter(id__in=set(order_ids))
        .order_by("id")
    )
    return {order.id: order for order in orders}


def _lock_lines(order_ids: Iterable[int]) -> dict[int, list[OrderLine]]:
    by_order: dict[int, list[OrderLine]] = defaultdict(list)
    lines = (
        OrderLine.objects.select_for_update(of=("self",))
        .select_related("product")
        .filter(order_id__in=set(order_ids))
        .order_by("id")
    )
    for line in lines:
        by_order[line.order_id].append(line)
    for order_lines in by_order.values():
        # Product order keeps the balance updates of one order in a stable order.
        order_lines.sort(key=lambda line: (line.product_id, line.id))
    return by_order


@retry_on_conflict
def allocate_orders(*, order_ids: Sequence[int], actor=None) -> list[AllocationResult]:
    """Allocate what each order still needs, in the order given (pass them by priority).

    Orders not in an allocatable status (new, backordered, partially allocated) are left as
    they are and reported with their status. Never raises for lack of stock: what cannot be
    allocated is backordered. Deadlock victims are retried (ConcurrentUpdate after the last).
    """
    # The retry wrapper already opened the transaction: no savepoint needed here.
    with transaction.atomic(savepoint=False):
        orders = _lock_orders(order_ids)
        lines_by_order = _lock_lines(orders)
        results: list[AllocationResult] = []
        if not orders:
            return results
        allocatable = [
            orders[order_id]
            for order_id in dict.fromkeys(order_ids)
            if order_id in orders and orders[order_id].status in Order.ALLOCATABLE
        ]
        needs = {
            line.id: line.quantity - line.quantity_allocated
            for order in allocatable
            for line in lines_by_order[order.id]
        }
        made_by_order = _allocate_batch(allocatable, lines_by_order, needs)
        new_allocations: list[Allocation] = []
        changed_lines: list[OrderLine] = []
        changed_orders: list[Order] = []
        events: list[OutboundEvent] = []
        changes: list[tuple[Order, str, str]] = []
        now = timezone.now()
        for order_id in dict.fromkeys(order_ids):
            order = orders.get(order_id)
            if order is None:
                continue
            lines = lines_by_order[order.id]
            if order.status not in Order.ALLOCATABLE:
                results.append(AllocationResult(order.id, order.status, 0, 0))
                continue
            made = made_by_order[order.id]
            per_line: dict[int, int] = defaultdict(int)
            for allocation in made:
                per_line[allocation.order_line.id] += allocation.quantity
            for line in lines:
                line.quantity_allocated += per_line.get(line.id, 0)
                line.quantity_backordered = line.quantity - line.quantity_allocated
                changed_lines.append(line)
            status = _status_after_allocation(order, lines)
            check_transition("order", order.status, status, label=order.number)
            changes.append((order, order.status, status))
            order.status = status
            order.updated_at = now
            changed_orders.append(order)
            new_allocations.extend(made)
            allocated = sum(per_line.values())
            backordered = sum(line.quantity_backordered for line in lines)
            events.append(
                OutboundEvent(
                    warehouse_id=order.warehouse_id,
                    kind="order.allocated",
                    order_id=order.id,
                    actor=recorded_user(actor),
                    data={"allocated": allocated, "backordered": backordered, "status": status},
                )
            )
            results.append(AllocationResult(order.id, status, allocated, backordered))
        Allocation.objects.bulk_create(new_allocations)
        _write_counters(changed_lines, changed_orders, now)
        OutboundEvent.objects.bulk_create(events)
        record_allocations(changes=changes, actor=actor)
        return results


def _write_counters(lines: Sequence[OrderLine], orders: Sequence[Order], now) -> None:
    """Write the lines' counters and the orders' statuses, one UPDATE ... FROM VALUES each.

    `bulk_update` builds a CASE per row, which costs more than the allocation itself at
    hundreds of rows; a VALUES list is one short statement whatever the batch size.
    SQLite (the embedded development default) lacks column aliases on VALUES: bulk_update.
    """
    if connection.vendor != "postgresql":
        OrderLine.objects.bulk_update(lines, ["quantity_allocated", "quantity_backordered"])
        for order in orders:
            order.updated_at = now
        Order.objects.bulk_update(orders, ["status", "updated_at"])
        return
    with connection.cursor() as cursor:
        for start in range(0, len(lines), 1000):
            chunk = lines[start : start + 1000]
            cursor.execute(
                f"UPDATE {OrderLine._meta.db_table} AS l "
                "SET quantity_allocated = v.allocated, quantity_backordered = v.backordered "
                f"FROM (VALUES {', '.join(['(%s, %s, %s)'] * len(chunk))}) "
                "AS v(id, allocated, backordered) WHERE l.id = v.id",
                [
                    value
                    for line in chunk
                    for value in (line.id, line.quantity_allocated, line.quantity_backordered)
                ],
            )
        for start in range(0, len(orders), 1000):
            chunk = orders[start : start + 1000]
            cursor.execute(
                f"UPDATE {Order._meta.db_table} AS o SET status = v.status, updated_at = %s "
                f"FROM (VALUES {', '.join(['(%s, %s)'] * len(chunk))}) AS v(id, status) "
                "WHERE o.id = v.id",
                [now, *[value for order in chunk for value in (order.id, order.status)]],
            )


def allocate_order(*, order_id: int, actor=None) -> AllocationResult:
    """Allocate one order (see `allocate_orders`). Raises Order.DoesNotExist if unknown."""
    results = allocate_orders(order_ids=[order_id], actor=actor)
    if not results:
        raise Order.DoesNotExist(f"No order {order_id}.")
    return results[0]


def reallocate_backorders(*, warehouse_id: int, product_id: int) -> list[AllocationResult]:
    """Try again every waiting order that backorders `product_id` in `warehouse_id`.

    Called when stock of the product became available there (putaway, release from
    quarantine, a positive adjustment). Orders go by priority, then requested date, then age.
    """
    rows = set(
        Order.objects.filter(
            warehouse_id=warehouse_id,
            status__in=Order.ALLOCATABLE,
            lines__product_id=product_id,
            lines__quantity_backordered__gt=0,
        ).values_list("priority", "requested_date", "id")
    )
    ordered = [order_id for _, _, order_id in sorted(rows)]
    results: list[AllocationResult] = []
    chunk = int(setting("ALLOCATION_BATCH_SIZE", 200))
    for start in range(0, len(ordered), chunk):
        results.extend(allocate_orders(order_ids=ordered[start : start + chunk]))
    return results


def reallocate_shortfall(*, order: Order, line: OrderLine, quantity: int) -> list[Allocation]:
    """Inside a short pick's transaction: allocate `quantity` more for `line`, elsewhere.

    Partial whatever the order's flag (the order is already being picked). The caller holds
    the order and line locks and updates the line's counters. Returns the saved allocations.
    """
    products = {line.product_id: line.product.is_expiry_tracked}
    candidates, free = _load_candidates(
        warehouse_id=order.warehouse_id, products=products, lock=True
    )
    made = _plan_order(
        order=order,
        lines=[line],
        needs={line.id: quantity},
        all_or_nothing=False,
        candidates=candidates,
        free=free,
    )
    _take(made)
    return Allocation.objects.bulk_create(made)


@transaction.atomic
def cancel_order(*, order_id: int, actor=None, reason: str = "") -> Order:
    """Cancel an order not yet picked complete: release all its stock and open pick tasks.

    Units already picked stay where they are (the staging location) and become free stock.
    Raises InvalidTransition (409) once the order is picked, packed or beyond.
    """
    order = _lock_orders([order_id]).get(order_id)
    if order is None:
        raise Order.DoesNotExist(f"No order {order_id}.")
    check_transition("order", order.status, Status.CANCELLED, label=order.number)
    lines = _lock_lines([order.id])[order.id]
    live = list(
        Allocation.objects.select_for_update()
        .filter(
            order_line__order_id=order.id,
            status__in=[Allocation.Status.RESERVED, Allocation.Status.PICKED],
        )
        .order_by("balance_id", "id")
    )
    for allocation in live:
        deallocate_stock(balance_id=allocation.balance_id, quantity=allocation.quantity)
    Allocation.objects.filter(id__in=[a.id for a in live]).update(status=Allocation.Status.RELEASED)
    PickTask.objects.filter(order_line__order_id=order.id, status=PickTask.Status.OPEN).update(
        status=PickTask.Status.CANCELLED
    )
    for line in lines:
        line.quantity_allocated = 0
        line.quantity_backordered = 0
    OrderLine.objects.bulk_update(lines, ["quantity_allocated", "quantity_backordered"])
    Shipment.objects.filter(
        order_id=order.id,
        status__in=[Shipment.Status.PLANNED, Shipment.Status.PACKED, Shipment.Status.STAGED],
    ).update(status=Shipment.Status.CANCELLED)
    order.status = Status.CANCELLED
    order.save(update_fields=["status", "updated_at"])
    from shipping.services.picking import close_finished_pick_lists  # picking imports us

    close_finished_pick_lists(order_id=order.id)
    record_event(
        warehouse_id=order.warehouse_id,
        kind="order.cancelled",
        order_id=order.id,
        actor=actor,
        data={"released_units": sum(a.quantity for a in live), "reason": reason},
    )
    record_tracking(order_id=order.id, status=TrackingStatus.CANCELLED, actor=actor)
    return order
