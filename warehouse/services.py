"""The inventory service: the only code that changes stock quantities.

Every public function is one transaction (or joins the caller's), locks what it changes in the
order set out in `warehouse.locking`, writes exactly one StockMove per quantity change, and
raises a `DomainError` (nothing written) instead of breaking an invariant.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import DecimalField, ExpressionWrapper, F, Sum
from django.db.models.functions import Coalesce

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


def _check_lot(product: Product, lot_id: int | None) -> None:
    if lot_id is None:
        if product.is_lot_tracked:
            raise LotMismatch(f"{product.sku} is lot-tracked: give the lot.")
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


def check_location_accepts(location: Location, product: Product, quantity: int) -> None:
    """Raise unless `quantity` of `product` may go into `location` now.

    Checks the location is active, its zone's storage class matches the product for storage and
    pick-face bins, and its weight and volume limits hold. Call with the location locked when
    the answer must stay true until commit.
    """
    if not location.is_active:
        raise LocationInactive(f"Location {location.code} is not active.")
    zone = location.zone
    if zone.is_stocking and zone.storage_class != product.storage_class:
        raise StorageClassMismatch(
            f"{product.sku} needs {product.get_storage_class_display().lower()} storage; "
            f"{location.code} is {zone.get_storage_class_display().lower()}."
        )
    if location.max_weight_kg is None and location.max_volume_m3 is None:
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
    return (
        StockBalance.objects.filter(
            location_id=place.location_id, product_id=product_id, lot_id=lot_id, status=place.status
        )
        .values_list("id", flat=True)
        .first()
    )


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
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise InvalidQuantity("Quantity must be a positive whole number of base units.")
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
        actor=actor if actor is not None and actor.is_authenticated else None,
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
) -> StockMove:
    """Bring stock into a location from outside the warehouse (a receipt or a return)."""
    return post_move(
        product_id=product_id,
        quantity=quantity,
        lot_id=lot_id,
        source=None,
        target=Place(location_id, status),
        reason=reason,
        reference=reference,
        actor=actor,
    )


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


def deallocate_stock(*, balance_id: int, quantity: int) -> None:
    """Release `quantity` allocated units of a balance. Raises InvalidQuantity if fewer are."""
    if quantity <= 0:
        raise InvalidQuantity("Quantity must be a positive whole number of base units.")
    changed = StockBalance.objects.filter(id=balance_id, allocated__gte=quantity).update(
        allocated=F("allocated") - quantity
    )
    if not changed:
        raise InvalidQuantity(f"Balance {balance_id} has fewer than {quantity} units allocated.")
