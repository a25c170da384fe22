"""Read queries of the inventory, shaped for their callers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import (
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from warehouse.models import Location, StockBalance, StockMove, Warehouse


def list_warehouses_for(user: AbstractBaseUser) -> QuerySet[Warehouse]:
    """Warehouses whose data `user` may see: all for superusers, else their memberships.

    Anonymous users (and the schema generator's fake requests) see none.
    """
    if not user.is_authenticated:
        return Warehouse.objects.none()
    if user.is_superuser:
        return Warehouse.objects.all()
    return Warehouse.objects.filter(staff=user)


def _load_subquery(field: str) -> Subquery:
    total = (
        StockBalance.objects.filter(location=OuterRef("pk"))
        .values("location")
        .annotate(
            total=Sum(
                ExpressionWrapper(
                    F("quantity") * F(f"product__{field}"),
                    output_field=DecimalField(max_digits=20, decimal_places=6),
                )
            )
        )
        .values("total")
    )
    return Coalesce(
        Subquery(total, output_field=DecimalField(max_digits=20, decimal_places=6)),
        Value(Decimal(0)),
        output_field=DecimalField(max_digits=20, decimal_places=6),
    )


def list_locations_with_load(*, user: AbstractBaseUser) -> QuerySet[Location]:
    """Locations the user may see, annotated with `used_weight_kg` and `used_volume_m3`."""
    return (
        Location.objects.filter(warehouse__in=list_warehouses_for(user))
        .select_related("zone", "warehouse")
        .annotate(
            used_weight_kg=_load_subquery("unit_weight_kg"),
            used_volume_m3=_load_subquery("unit_volume_m3"),
        )
    )


def list_balances(*, user: AbstractBaseUser, include_empty: bool = False) -> QuerySet[StockBalance]:
    balances = StockBalance.objects.filter(
        location__warehouse__in=list_warehouses_for(user)
    ).select_related("location__warehouse", "location__zone", "product", "lot")
    if not include_empty:
        balances = balances.filter(quantity__gt=0)
    return balances


def list_moves(*, user: AbstractBaseUser) -> QuerySet[StockMove]:
    return StockMove.objects.filter(warehouse__in=list_warehouses_for(user)).select_related(
        "product", "lot", "from_location", "to_location", "actor"
    )


@dataclass(frozen=True)
class LedgerMismatch:
    location_id: int
    product_id: int
    lot_id: int | None
    status: str
    balance: int
    ledger: int


def list_ledger_mismatches() -> list[LedgerMismatch]:
    """Every (location, product, lot, status) whose balance differs from the sum of its moves.

    The sums are computed by the database (two GROUP BY queries); Python only compares the
    grouped totals, one per balance.
    """
    ledger: dict[tuple, int] = defaultdict(int)
    inbound = (
        StockMove.objects.filter(to_location__isnull=False)
        .values_list("to_location_id", "product_id", "lot_id", "to_status")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    outbound = (
        StockMove.objects.filter(from_location__isnull=False)
        .values_list("from_location_id", "product_id", "lot_id", "from_status")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    for location_id, product_id, lot_id, status, total in inbound:
        ledger[(location_id, product_id, lot_id, status)] += total
    for location_id, product_id, lot_id, status, total in outbound:
        ledger[(location_id, product_id, lot_id, status)] -= total
    balances = {
        (row[0], row[1], row[2], row[3]): row[4]
        for row in StockBalance.objects.values_list(
            "location_id", "product_id", "lot_id", "status", "quantity"
        ).iterator(chunk_size=5000)
    }
    mismatches = []
    for key in sorted(set(ledger) | set(balances), key=lambda k: tuple(str(p) for p in k)):
        balance, moved = balances.get(key, 0), ledger.get(key, 0)
        if balance != moved:
            mismatches.append(LedgerMismatch(*key, balance=balance, ledger=moved))
    return mismatches
