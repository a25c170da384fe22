"""The putaway strategy: which bin received stock should go to.

A candidate bin is an active bin of a storage or pick-face zone of the product's storage class
with room for the whole task: its weight and volume limits (empty = unlimited) minus what all
stock in it (any status) weighs and fills, are at least what the task adds. Among candidates:

1. bins already holding the same product and lot come first (consolidation: one lot in fewer
   bins makes picking and recalls simpler);
2. then the bin nearest the dock door's floor location by walking distance, taken as the
   Manhattan distance |dx| + |dy| on the floor coordinates (aisles run on a grid, so a picker
   walks along x and y, not diagonally);
3. then the bin code, so the proposal is deterministic.

All of it is one query: loads are correlated subqueries, consolidation an EXISTS, and the
distance an expression, so the cost does not grow with a query per bin.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import (
    BooleanField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Abs, Coalesce

from warehouse.models import Location, Product, StockBalance, Zone

_DECIMAL = DecimalField(max_digits=20, decimal_places=6)


def _load(field: str) -> Coalesce:
    total = (
        StockBalance.objects.filter(location=OuterRef("pk"))
        .values("location")
        .annotate(
            total=Sum(
                ExpressionWrapper(F("quantity") * F(f"product__{field}"), output_field=_DECIMAL)
            )
        )
        .values("total")
    )
    return Coalesce(
        Subquery(total, output_field=_DECIMAL), Value(Decimal(0)), output_field=_DECIMAL
    )


def rank_bins(
    *,
    warehouse_id: int,
    product: Product,
    lot_id: int | None,
    quantity: int,
    origin: Location,
) -> QuerySet[Location]:
    """Candidate bins for `quantity` of `product` (and lot), best first, by the module's rule.

    Each row is annotated with `used_weight_kg`, `used_volume_m3`, `holds_same_lot` and
    `distance_m` (from `origin`).
    """
    incoming_weight = product.unit_weight_kg * quantity
    incoming_volume = product.unit_volume_m3 * quantity
    same = StockBalance.objects.filter(
        location=OuterRef("pk"), product_id=product.id, lot_id=lot_id, quantity__gt=0
    )
    return (
        Location.objects.filter(
            warehouse_id=warehouse_id,
            is_active=True,
            zone__kind__in=Zone.STOCKING_KINDS,
            zone__storage_class=product.storage_class,
        )
        .annotate(
            used_weight_kg=_load("unit_weight_kg"),
            used_volume_m3=_load("unit_volume_m3"),
            holds_same_lot=Exists(same, output_field=BooleanField()),
            distance_m=ExpressionWrapper(
                Abs(F("x") - Value(origin.x)) + Abs(F("y") - Value(origin.y)),
                output_field=DecimalField(max_digits=10, decimal_places=2),
            ),
        )
        .filter(
            Q(max_weight_kg__isnull=True)
            | Q(max_weight_kg__gte=F("used_weight_kg") + Value(incoming_weight)),
            Q(max_volume_m3__isnull=True)
            | Q(max_volume_m3__gte=F("used_volume_m3") + Value(incoming_volume)),
        )
        .order_by("-holds_same_lot", "distance_m", "code")
    )


def propose_bin(
    *,
    warehouse_id: int,
    product: Product,
    lot_id: int | None,
    quantity: int,
    origin: Location,
) -> Location | None:
    """The best bin for the task, or None when no bin of the right class has room for it all."""
    return rank_bins(
        warehouse_id=warehouse_id,
        product=product,
        lot_id=lot_id,
        quantity=quantity,
        origin=origin,
    ).first()
