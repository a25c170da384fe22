"""The inventory service: the only code that changes stock quantities.

Every public function is one transaction (or joins the caller's), locks what it changes in the
order set out in `warehouse.locking`, writes exactly one StockMove per quantity change, and
raises a `DomainError` (nothing written) instead of breaking an invariant.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import DecimalField, ExpressionWrapper, F, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from warehouse import events
from warehouse.errors import (
    CapacityExceeded,
    DomainError,
    InsufficientStock,
    InvalidQuantity,
    LocationInactive,
    StorageClassMismatch,
)
from warehouse.locking import lock_balances, lock_location
from warehouse.models import Location, Lot, Product, StockBalance, StockMove, StockStatus
from warehouse.roles import recorded_user

Reason = StockMove.Reason
Actor = AbstractBaseUser | None


@dataclass(frozen=True)
class Place:
    """Stock of one status in one location: one side of a move."""

    location_id: int
    status: str = StockStatus.AVAILABLE


class LotMismatch(DomainError):
    code = "lot-mismatch"
    title = "Lot does not fit the product"
    http_status = 400


def _check_quantity(quantity: object) -> None:
    """A move's quantity: a whole number of base units above 0 (a bool is not one)."""
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise InvalidQuantity("Quantity must be a positive whole number of base units.")


def _check_lot(product: Product, lot_id: int | None, lot: Lot | None = None) -> None:
    """Raise LotMismatch unless `lot_id` is a lot of `product` (or None for an untracked one).

    `lot`, when the caller already loaded it, answers without a query.
    """
    if lot_id is None:
        if product.is_lot_tracked:
            raise LotMismatch(f"{product.sku} is lot-tracked: give the lot.")
        return
    if lot is not None and lot.id == lot_id:
        if lot.product_id != product.id:
            raise LotMismatch(f"Lot {lot_id} is not a lot of {product.sku}.")
        return
    if not Lot.objects.filter(id=lot_id, product_id=product.id).exists():
        raise LotMismatch(f"Lot {lot_id} is not a lot of {product.sku}.")


def _load_expression(field: str) -> ExpressionWrapper:
    return ExpressionWrapper(
        F("quantity") * F(f"product__{field}"),
        output_field=DecimalField(max_digits=20, decimal_places=6),
    )


def location_load(location_id: int) -> tuple[Decimal, Decimal]:
    """Weight (kg) and volume (m3) of everything in a location now, in any status."""
    zero = Decimal(0)
    totals = StockBalance.objects.filter(location_id=location_id).aggregate(
        weight=Coalesce(Sum(_load_expression("unit_weight_kg")), zero),
        volume=Coalesce(Sum(_load_expression("unit_volume_m3")), zero),
    )
    return totals["weight"], totals["volume"]


def has_capacity_limit(location: Location) -> bool:
    """True if `location` limits the weight or volume it holds (empty means unlimited)."""
    return location.max_weight_kg is not None or location.max_volume_m3 is not None


def check_location_accepts(location: Location, product: Product, quantity: int) -> None:
    """Raise unless `quantity` of `product` may go into `location` now.

    Checks the location is active, its zone's storage class matches the product for storage and
    pick-face bins, and its weight and volume limits hold. Call with the location locked when
    it has a capacity limit and the answer must stay true until commit (see
    `warehouse.locking`); without limits the check reads nothing but the location row itself.
    """
    if not location.is_active:
        raise LocationInactive(f"Location {location.code} is not active.")
    zone = location.zone
    if zone.is_stocking and zone.storage_class != product.storage_class:
        raise StorageClassMismatch(
            f"{product.sku} needs {product.get_storage_class_display().lower()} storage; "
            f"{location.code} is {zone.get_storage_class_display().lower()}."
        )
    if not has_capacity_limit(location):
        return
    weight, volume = location_load(location.id)
    incoming_weight = product.unit_weight_kg * quantity
    incoming_volume = product.unit_volume_m3 * quantity
    if location.max_weight_kg is not None and weight + incoming_weight > location.max_weight_kg:
        raise CapacityExceeded(
            f"{location.code} holds {weight:.1f} of {location.max_weight_kg} kg; "
            f"{quantity} x {product.sku} adds {incoming_weight:.1f} kg."
        )
    if location.max_volume_m3 is not None and volume + incoming_volume > location.max_volume_m3:
        raise CapacityExceeded(
            f"{location.code} holds {volume:.3f} of {location.max_volume_m3} m3; "
            f"{quantity} x {product.sku} adds {incoming_volume:.3f} m3."
        )


def _ensure_balance(*, place: Place, product_id: int, lot_id: int | None) -> int:
    """Id of the balance row for `place`, creating an empty one if none exists.

    INSERT ... ON CONFLICT DO NOTHING makes two transactions that both create the first row of
    a place safe: the second waits for the first and then finds its row.
    """
    StockBalance.objects.bulk_create(
        [
            StockBalance(
                location_id=place.location_id,
                product_id=product_id,
                lot_id=lot_id,
                status=place.status,
            )
        ],
        ignore_conflicts=True,
    )
    return StockBalance.objects.values_list("id", flat=True).get(
        location_id=place.location_id, product_id=product_id, lot_id=lot_id, status=place.status
    )


def _find_balance(*, place: Place, product_id: int, lot_id: int | None) -> int | None:
    # At most one row matches (unique per place, product and lot): no ORDER BY, which with the
    # model's ordering would join the location, product and lot tables to sort one row.
    found = StockBalance.objects.filter(
        location_id=place.location_id, product_id=product_id, lot_id=lot_id, status=place.status
    ).values_list("id", flat=True)
    return next(iter(found.order_by()[:1]), None)


def _describe(place: Place, product: Product) -> str:
    code = Location.objects.values_list("code", flat=True).get(id=place.location_id)
    return f"{product.sku} ({place.status}) in {code}"


@transaction.atomic
def post_move(
    *,
    product_id: int,
    quantity: int,
    source: Place | None,
    target: Place | None,
    reason: str,
    lot_id: int | None = None,
    allocated: bool = False,
    reference: str = "",
    note: str = "",
    actor: Actor = None,
) -> StockMove:
    """Move `quantity` units from `source` to `target` and record it in the ledger.

    `source=None` brings stock in from outside (receipt, found in a count); `target=None` takes
    it out (shipment, write-off). With `allocated=True` the units are ones already allocated to
    an order, and the allocation travels with them (picking) or leaves with them (shipping).

    Raises InvalidQuantity, LotMismatch, InsufficientStock, CapacityExceeded,
    StorageClassMismatch or LocationInactive; nothing is written then.
    """
    _check_quantity(quantity)
    if source is None and target is None:
        raise InvalidQuantity("A move needs a source, a target or both.")
    if source == target:
        raise InvalidQuantity("Source and target are the same place.")
    if allocated and (
        (source and source.status != StockStatus.AVAILABLE)
        or (target and target.status != StockStatus.AVAILABLE)
    ):
        raise InvalidQuantity("Only available stock can be allocated.")
    product = Product.objects.get(id=product_id)
    _check_lot(product, lot_id)

    target_location = None
    if target is not None:
        target_location = lock_location(target.location_id)
        physically_moves = source is None or source.location_id != target.location_id
        if physically_moves:
            check_location_accepts(target_location, product, quantity)

    source_id = None
    if source is not None:
        source_id = _find_balance(place=source, product_id=product_id, lot_id=lot_id)
        if source_id is None:
            raise InsufficientStock(f"There is no {_describe(source, product)}.")
    target_id = None
    if target is not None:
        target_id = _ensure_balance(place=target, product_id=product_id, lot_id=lot_id)
    locked = lock_balances(i for i in (source_id, target_id) if i is not None)

    allocated_delta = quantity if allocated else 0
    if source_id is not None:
        balance = locked[source_id]
        have = balance.allocated if allocated else balance.free
        if have < quantity:
            kind = "allocated" if allocated else "free (not allocated)"
            raise InsufficientStock(
                f"Only {have} {kind} of {_describe(source, product)}; {quantity} asked."
            )
        StockBalance.objects.filter(id=source_id).update(
            quantity=F("quantity") - quantity, allocated=F("allocated") - allocated_delta
        )
    if target_id is not None:
        StockBalance.objects.filter(id=target_id).update(
            quantity=F("quantity") + quantity, allocated=F("allocated") + allocated_delta
        )

    warehouse_id = (target_location or Location.objects.get(id=source.location_id)).warehouse_id
    move = StockMove.objects.create(
        warehouse_id=warehouse_id,
        product_id=product_id,
        lot_id=lot_id,
        quantity=quantity,
        from_location_id=source.location_id if source else None,
        from_status=source.status if source else "",
        to_location_id=target.location_id if target else None,
        to_status=target.status if target else "",
        reason=reason,
        reference=reference[:64],
        note=note[:200],
        actor=recorded_user(actor),
    )
    becomes_free = (
        target is not None
        and target.status == StockStatus.AVAILABLE
        and not allocated
        and target_location.zone.is_stocking
    )
    if becomes_free:
        events.stock_became_available(warehouse_id=warehouse_id, product_id=product_id)
    return move


def receive_stock(
    *,
    location_id: int,
    product_id: int,
    quantity: int,
    lot_id: int | None = None,
    status: str = StockStatus.AVAILABLE,
    reason: str = Reason.RECEIPT,
    reference: str = "",
    actor: Actor = None,
    product: Product | None = None,
    lot: Lot | None = None,
    location: Location | None = None,
) -> StockMove:
    """Bring stock into a location from outside the warehouse (a receipt or a return).

    The same rules and errors as `post_move` with no source (InvalidQuantity, LotMismatch,
    LocationInactive, StorageClassMismatch, CapacityExceeded; nothing is written then), on a
    shorter path because receiving is the hottest write: the target balance is created or
    increased by one upsert that, on PostgreSQL, is the same statement as the ledger row's
    INSERT, and no savepoint is taken (see `_receive`).

    `product` and `lot`, when the caller has already loaded the rows of `product_id` and
    `lot_id`, are used as given instead of being read again (the product's sku,
    is_lot_tracked, storage_class and unit weight and volume are what the checks read).
    `location`, the row of `location_id` with its zone, read by the caller in this transaction
    (its code, warehouse_id, is_active and limits, the zone's kind and storage class), spares
    the location read too when it has no capacity limit: such a location is neither read again
    nor locked (policy in `warehouse.locking`). One with a limit is locked and read afresh.
    """
    if transaction.get_connection().in_atomic_block:
        return _receive(**locals())
    with transaction.atomic():
        return _receive(**locals())


def _receive(
    *,
    location_id: int,
    product_id: int,
    quantity: int,
    lot_id: int | None,
    status: str,
    reason: str,
    reference: str,
    actor: Actor,
    product: Product | None,
    lot: Lot | None,
    location: Location | None,
) -> StockMove:
    """`receive_stock` inside a transaction.

    Every check (and the location lock, when one is taken) comes before the first write, so a
    DomainError leaves the caller's transaction as it was and needs no savepoint of its own.
    The writes join the caller's transaction (`savepoint=False`): a database error there dooms
    all of it, which is what a savepoint-less caller must expect from any failed statement
    anyway.
    """
    _check_quantity(quantity)
    if product is None or product.id != product_id:
        product = Product.objects.get(id=product_id)
    _check_lot(product, lot_id, lot)
    # Lock order of warehouse.locking: the target location (not a loaded one without capacity
    # limits), then the balance row (which the upsert below locks).
    if location is None or location.id != location_id or has_capacity_limit(location):
        location = lock_location(location_id)
    check_location_accepts(location, product, quantity)
    move = StockMove(
        warehouse_id=location.warehouse_id,
        created_at=timezone.now(),
        product_id=product_id,
        lot_id=lot_id,
        quantity=quantity,
        from_location_id=None,
        from_status="",
        to_location_id=location_id,
        to_status=status,
        reason=reason,
        reference=reference[:64],
        note="",
        actor=recorded_user(actor),
    )
    with transaction.atomic(savepoint=False):
        _add_to_balance_and_record(move)
    if status == StockStatus.AVAILABLE and location.zone.is_stocking:
        events.stock_became_available(warehouse_id=location.warehouse_id, product_id=product_id)
    return move


# The columns of a StockMove row as the raw INSERT of `_add_to_balance_and_record` writes them.
_MOVE_COLUMNS = (
    "warehouse_id",
    "created_at",
    "product_id",
    "lot_id",
    "quantity",
    "from_location_id",
    "from_status",
    "to_location_id",
    "to_status",
    "reason",
    "reference",
    "note",
    "actor_id",
)


def _add_to_balance_and_record(move: StockMove) -> None:
    """Add the `quantity` of an unsaved inbound `move` (no source) to the balance of its target,
    creating the row if it is missing, and write the move to the ledger.

    The balance changes with one INSERT ... ON CONFLICT DO UPDATE: two transactions creating the
    first row of a place both succeed (the second waits for the first, then adds to its row),
    and the row stays locked until commit, as `lock_balances` would leave it. The unique
    constraints are partial indexes (see StockBalance.Meta), so the conflict target names the
    one that applies. On PostgreSQL the upsert is a data-modifying CTE of the move's INSERT:
    balance and ledger change in ONE statement, so they cannot change apart.
    """
    if move.lot_id is None:
        target = "(location_id, product_id, status) WHERE lot_id IS NULL"
    else:
        target = "(location_id, product_id, lot_id, status) WHERE lot_id IS NOT NULL"
    table = StockBalance._meta.db_table
    created_at = connection.ops.adapt_datetimefield_value(move.created_at)
    upsert = (
        f"INSERT INTO {table} "
        "(location_id, product_id, lot_id, status, quantity, allocated, updated_at) "
        "VALUES (%s, %s, %s, %s, %s, 0, %s) "
        f"ON CONFLICT {target} DO UPDATE SET "
        f"quantity = {table}.quantity + EXCLUDED.quantity, updated_at = EXCLUDED.updated_at"
    )
    upsert_params = [
        move.to_location_id,
        move.product_id,
        move.lot_id,
        move.to_status,
        move.quantity,
        created_at,
    ]
    if connection.vendor != "postgresql":
        # SQLite (the embedded development default) has no data-modifying CTEs: two statements.
        with connection.cursor() as cursor:
            cursor.execute(upsert, upsert_params)
        move.save(force_insert=True)
        return
    move_params = [getattr(move, column) for column in _MOVE_COLUMNS]
    move_params[_MOVE_COLUMNS.index("created_at")] = created_at
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH balance AS ({upsert}) "
            f"INSERT INTO {StockMove._meta.db_table} ({', '.join(_MOVE_COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(_MOVE_COLUMNS))}) RETURNING id",
            [*upsert_params, *move_params],
        )
        move.id = cursor.fetchone()[0]
    move._state.adding = False
    move._state.db = connection.alias


def move_stock(
    *,
    from_location_id: int,
    to_location_id: int,
    product_id: int,
    quantity: int,
    lot_id: int | None = None,
    status: str = StockStatus.AVAILABLE,
    allocated: bool = False,
    reason: str = Reason.MOVE,
    reference: str = "",
    note: str = "",
    actor: Actor = None,
) -> StockMove:
    """Move stock between locations, keeping its status (putaway, replenishment, picking)."""
    return post_move(
        product_id=product_id,
        quantity=quantity,
        lot_id=lot_id,
        source=Place(from_location_id, status),
        target=Place(to_location_id, status),
        allocated=allocated,
        reason=reason,
        reference=reference,
        note=note,
        actor=actor,
    )


def move_allocated_stock(
    *,
    from_location_id: int,
    source_balance_id: int,
    to_location: Location,
    product: Product,
    quantity: int,
    lot: Lot | None = None,
    reason: str = Reason.PICK,
    reference: str = "",
    actor: Actor = None,
) -> int:
    """Carry `quantity` allocated units of `source_balance_id`, the available balance of
    `product` (and `lot`) in `from_location_id`, to `to_location` with their allocation
    (picking); returns the target balance's id.

    What `move_stock(..., allocated=True)` does and raises (InvalidQuantity, LotMismatch,
    InsufficientStock, CapacityExceeded, StorageClassMismatch, LocationInactive; nothing is
    written then but, the first time a product reaches the target, its still empty balance
    row: the caller's transaction rolls back on errors), on the shorter path a pick
    confirmation needs, without a savepoint: `product`, `lot` and
    `to_location` (with its zone) are the rows the caller read in this transaction. A target
    without a capacity limit (a staging lane) is checked as given and not locked (policy in
    `warehouse.locking`, rule 1), so pickers bringing goods to one lane do not queue on its row;
    one with a limit is locked and read again. Both balance rows are locked in id order in one
    statement, and they change with the ledger row in one more.
    """
    _check_quantity(quantity)
    if from_location_id == to_location.id:
        raise InvalidQuantity("Source and target are the same place.")
    lot_id = lot.id if lot is not None else None
    _check_lot(product, lot_id, lot)
    if has_capacity_limit(to_location):
        to_location = lock_location(to_location.id)
    check_location_accepts(to_location, product, quantity)
    target = Place(to_location.id)
    target_id = _find_balance(place=target, product_id=product.id, lot_id=lot_id)
    if target_id is None:
        target_id = _ensure_balance(place=target, product_id=product.id, lot_id=lot_id)
    locked = lock_balances((source_balance_id, target_id))
    source = locked.get(source_balance_id)
    place = Place(from_location_id)
    if source is None or (
        source.location_id,
        source.product_id,
        source.lot_id,
        source.status,
    ) != (from_location_id, product.id, lot_id, StockStatus.AVAILABLE):
        raise InsufficientStock(f"There is no {_describe(place, product)}.")
    if source.allocated < quantity:
        raise InsufficientStock(
            f"Only {source.allocated} allocated of {_describe(place, product)}; {quantity} asked."
        )
    move = StockMove(
        warehouse_id=to_location.warehouse_id,
        created_at=timezone.now(),
        product_id=product.id,
        lot_id=lot_id,
        quantity=quantity,
        from_location_id=source.location_id,
        from_status=StockStatus.AVAILABLE,
        to_location_id=to_location.id,
        to_status=StockStatus.AVAILABLE,
        reason=reason,
        reference=reference[:64],
        note="",
        actor=recorded_user(actor),
    )
    _shift_balances_and_record(move, source_balance_id, target_id)
    return target_id


def _shift_balances_and_record(move: StockMove, source_id: int, target_id: int) -> None:
    """Take the allocated `move.quantity` off balance `source_id` and put it on `target_id`
    (both locked by the caller), and write `move` to the ledger: on PostgreSQL one statement,
    the balance UPDATE being a data-modifying CTE of the move's INSERT."""
    quantity = move.quantity
    if connection.vendor != "postgresql":
        # SQLite (the embedded development default) has no data-modifying CTEs.
        for balance_id, sign in ((source_id, -1), (target_id, 1)):
            StockBalance.objects.filter(id=balance_id).update(
                quantity=F("quantity") + sign * quantity,
                allocated=F("allocated") + sign * quantity,
            )
        move.save(force_insert=True)
        return
    table = StockBalance._meta.db_table
    move_params = [getattr(move, column) for column in _MOVE_COLUMNS]
    created_at = connection.ops.adapt_datetimefield_value(move.created_at)
    move_params[_MOVE_COLUMNS.index("created_at")] = created_at
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH shift(id, delta) AS (VALUES (%s::bigint, %s::integer), (%s, %s)), "
            f"balance AS (UPDATE {table} AS b SET quantity = b.quantity + shift.delta, "
            "allocated = b.allocated + shift.delta, updated_at = %s "
            "FROM shift WHERE b.id = shift.id) "
            f"INSERT INTO {StockMove._meta.db_table} ({', '.join(_MOVE_COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(_MOVE_COLUMNS))}) RETURNING id",
            [source_id, -quantity, target_id, quantity, created_at, *move_params],
        )
        move.id = cursor.fetchone()[0]
    move._state.adding = False
    move._state.db = connection.alias


def change_stock_status(
    *,
    location_id: int,
    product_id: int,
    quantity: int,
    from_status: str,
    to_status: str,
    lot_id: int | None = None,
    reason: str,
    reference: str = "",
    note: str = "",
    actor: Actor = None,
) -> StockMove:
    """Quarantine, release or mark damaged `quantity` units where they are."""
    return post_move(
        product_id=product_id,
        quantity=quantity,
        lot_id=lot_id,
        source=Place(location_id, from_status),
        target=Place(location_id, to_status),
        reason=reason,
        reference=reference,
        note=note,
        actor=actor,
    )


def adjust_stock(
    *,
    location_id: int,
    product_id: int,
    delta: int,
    lot_id: int | None = None,
    status: str = StockStatus.AVAILABLE,
    reason: str = Reason.ADJUST,
    reference: str = "",
    note: str = "",
    actor: Actor = None,
) -> StockMove:
    """Correct the quantity of a place by `delta` (found or lost stock, counts, scrap).

    Allocated units cannot be adjusted away: deallocate them first.
    """
    if delta == 0:
        raise InvalidQuantity("An adjustment must change the quantity.")
    place = Place(location_id, status)
    return post_move(
        product_id=product_id,
        quantity=abs(delta),
        lot_id=lot_id,
        source=None if delta > 0 else place,
        target=place if delta > 0 else None,
        reason=reason,
        reference=reference,
        note=note,
        actor=actor,
    )


def ship_stock(
    *,
    location_id: int,
    product_id: int,
    quantity: int,
    lot_id: int | None = None,
    reference: str = "",
    actor: Actor = None,
) -> StockMove:
    """Consume allocated stock that leaves the warehouse on a dispatched shipment."""
    return post_move(
        product_id=product_id,
        quantity=quantity,
        lot_id=lot_id,
        source=Place(location_id, StockStatus.AVAILABLE),
        target=None,
        allocated=True,
        reason=Reason.SHIP,
        reference=reference,
        actor=actor,
    )


@transaction.atomic
def ship_allocated_stock(
    *, units: Sequence[tuple[int, int]], reference: str = "", actor: Actor = None
) -> list[StockMove]:
    """Consume allocated stock that leaves the warehouse on a dispatched shipment, given as
    (available balance id, units) pairs: one ledger move per pair.

    What `ship_stock` does for each pair, in a fixed number of statements for the whole
    shipment: the balances are locked together in id order and each changes once. Raises
    InvalidQuantity or InsufficientStock (fewer allocated units than asked); nothing is
    written then.
    """
    taken: dict[int, int] = defaultdict(int)
    for balance_id, quantity in units:
        _check_quantity(quantity)
        taken[balance_id] += quantity
    locked = lock_balances(taken)
    for balance_id, quantity in taken.items():
        balance = locked.get(balance_id)
        if balance is None or balance.status != StockStatus.AVAILABLE:
            raise InsufficientStock(f"There is no available stock balance {balance_id}.")
        if balance.allocated < quantity:
            raise InsufficientStock(
                f"Only {balance.allocated} allocated of balance {balance_id}; {quantity} asked."
            )
    for balance_id in sorted(taken):
        StockBalance.objects.filter(id=balance_id).update(
            quantity=F("quantity") - taken[balance_id],
            allocated=F("allocated") - taken[balance_id],
        )
    warehouse_of = dict(
        Location.objects.filter(id__in={b.location_id for b in locked.values()}).values_list(
            "id", "warehouse_id"
        )
    )
    by = recorded_user(actor)
    return StockMove.objects.bulk_create(
        StockMove(
            warehouse_id=warehouse_of[locked[balance_id].location_id],
            product_id=locked[balance_id].product_id,
            lot_id=locked[balance_id].lot_id,
            quantity=quantity,
            from_location_id=locked[balance_id].location_id,
            from_status=StockStatus.AVAILABLE,
            to_location_id=None,
            to_status="",
            reason=Reason.SHIP,
            reference=reference[:64],
            actor=by,
        )
        for balance_id, quantity in units
    )


def allocate_stock(*, balance_id: int, quantity: int) -> None:
    """Promise `quantity` free units of an available balance to an order.

    One conditional UPDATE: it matches only while enough is free, so concurrent allocations can
    never promise more than exists. Raises InsufficientStock when it does not match.
    """
    if quantity <= 0:
        raise InvalidQuantity("Quantity must be a positive whole number of base units.")
    changed = StockBalance.objects.filter(
        id=balance_id,
        status=StockStatus.AVAILABLE,
        quantity__gte=F("allocated") + quantity,
    ).update(allocated=F("allocated") + quantity)
    if not changed:
        free = (
            StockBalance.objects.filter(id=balance_id)
            .annotate(free=F("quantity") - F("allocated"))
            .values_list("free", flat=True)
            .first()
        )
        raise InsufficientStock(f"Only {free or 0} free in balance {balance_id}; {quantity} asked.")


def allocate_stock_batch(*, requests: Sequence[tuple[int, int]]) -> set[int]:
    """Promise free units of many available balances at once; returns the ids allocated.

    `requests` are (balance id, quantity) pairs; pairs naming the same balance are summed first,
    so each balance is taken once, for its whole amount or not at all. One conditional
    statement: a balance is taken only while it is available and enough of it is free, so, as
    with `allocate_stock`, concurrent allocations can never promise more than exists. Balances
    left out of the answer were refused (not available, not enough free, or unknown); nothing
    was written for them and the caller decides what to do. The rows are locked in ascending id
    order (policy of `warehouse.locking`) before they change. Raises InvalidQuantity (nothing
    written) when a quantity is not positive.
    """
    merged: dict[int, int] = {}
    for balance_id, quantity in requests:
        if quantity <= 0:
            raise InvalidQuantity("Quantity must be a positive whole number of base units.")
        merged[balance_id] = merged.get(balance_id, 0) + quantity
    if not merged:
        return set()
    ordered = sorted(merged.items())
    if connection.vendor != "postgresql":
        # SQLite (the embedded development default) has no aliased VALUES: one UPDATE each.
        return {
            balance_id
            for balance_id, quantity in ordered
            if StockBalance.objects.filter(
                id=balance_id,
                status=StockStatus.AVAILABLE,
                quantity__gte=F("allocated") + quantity,
            ).update(allocated=F("allocated") + quantity)
        }
    table = StockBalance._meta.db_table
    values = ", ".join(["(%s::bigint, %s::integer)"] * len(ordered))
    # An UPDATE ... FROM visits rows in whatever order its join plan picks (a hash join over a
    # large VALUES list takes them in heap order), so the MATERIALIZED CTE first locks the rows
    # in id order; the UPDATE then changes rows this transaction already holds.
    sql = (
        f"WITH v(id, qty) AS (VALUES {values}), "
        f"locked AS MATERIALIZED (SELECT s.id FROM {table} AS s WHERE s.id IN (SELECT id FROM v) "
        "ORDER BY s.id FOR NO KEY UPDATE) "
        f"UPDATE {table} AS b SET allocated = b.allocated + v.qty FROM v, locked "
        "WHERE b.id = v.id AND locked.id = b.id AND b.status = %s "
        "AND b.quantity >= b.allocated + v.qty RETURNING b.id"
    )
    params: list[object] = [value for pair in ordered for value in pair]
    params.append(StockStatus.AVAILABLE.value)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def deallocate_stock(*, balance_id: int, quantity: int) -> None:
    """Release `quantity` allocated units of a balance. Raises InvalidQuantity if fewer are."""
    if quantity <= 0:
        raise InvalidQuantity("Quantity must be a positive whole number of base units.")
    changed = StockBalance.objects.filter(id=balance_id, allocated__gte=quantity).update(
        allocated=F("allocated") - quantity
    )
    if not changed:
        raise InvalidQuantity(f"Balance {balance_id} has fewer than {quantity} units allocated.")
