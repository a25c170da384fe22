"""The counting rule: ABC classes by pick frequency, and the counts each day needs.

Every product in stock in a warehouse's storage and pick-face bins is ranked by the number of
picks (ledger moves with reason `pick`) in the look-back before the day, most first (SKU
breaks ties). The first COUNT_CLASS_SHARES["A"] of them (rounded up) are class A, the next
COUNT_CLASS_SHARES["B"] class B, the rest class C. A (bin, product) pair is due when it has
not been counted in its class's interval; each day gets ceil(pairs of the class / interval)
counts of the class, the longest uncounted first, so the class is counted once an interval
without a spike on the first day. Worked example in docs/counts.md.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone

from warehouse.models import CountRequest, Product, StockBalance, StockMove, Warehouse, Zone

AbcClass = CountRequest.AbcClass


def _local_midnight(warehouse: Warehouse, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=warehouse.tzinfo)


def _stocked_pairs(warehouse: Warehouse) -> dict[tuple[int, int], str]:
    """{(location id, product id): "location code"} of the stock in countable bins."""
    rows = (
        StockBalance.objects.filter(
            location__warehouse=warehouse,
            location__is_active=True,
            location__zone__kind__in=Zone.STOCKING_KINDS,
        )
        .values("location_id", "product_id", "location__code")
        .annotate(total=Sum("quantity"))
        .filter(total__gt=0)
        .order_by()
    )
    return {(r["location_id"], r["product_id"]): r["location__code"] for r in rows}


def classify_products(*, warehouse: Warehouse, day: dt.date) -> dict[int, str]:
    """{product id: "A" | "B" | "C"} for the products in stock in the warehouse's countable
    bins, by picks in the COUNT_PICK_LOOKBACK_DAYS local days before `day`."""
    product_ids = {product_id for _, product_id in _stocked_pairs(warehouse)}
    days = int(settings.DOCKSIDE["COUNT_PICK_LOOKBACK_DAYS"])
    picks = dict(
        StockMove.objects.filter(
            warehouse=warehouse,
            reason=StockMove.Reason.PICK,
            product_id__in=product_ids,
            created_at__gte=_local_midnight(warehouse, day - dt.timedelta(days=days)),
            created_at__lt=_local_midnight(warehouse, day),
        )
        .values("product_id")
        .annotate(picks=Count("id"))
        .values_list("product_id", "picks")
        .order_by()
    )
    skus = dict(Product.objects.filter(id__in=product_ids).values_list("id", "sku"))
    ranked = sorted(product_ids, key=lambda p: (-picks.get(p, 0), skus[p]))
    shares = settings.DOCKSIDE["COUNT_CLASS_SHARES"]
    share_a, share_b = Decimal(str(shares["A"])), Decimal(str(shares["B"]))
    a_end = math.ceil(len(ranked) * share_a)
    b_end = math.ceil(len(ranked) * (share_a + share_b))
    return {
        product_id: AbcClass.A if rank < a_end else AbcClass.B if rank < b_end else AbcClass.C
        for rank, product_id in enumerate(ranked)
    }


def create_counts_for_day(*, warehouse: Warehouse, day: dt.date) -> list[CountRequest]:
    """Create the rule's counts of `warehouse` for its local `day`; returns those created.

    Idempotent: the counts already created for the day take their place in the day's quota,
    so a second run creates nothing. The warehouse row is locked so two runs (two beat
    workers) cannot both fill the quota.
    """
    with transaction.atomic():
        Warehouse.objects.select_for_update().filter(id=warehouse.id).first()
        classes = classify_products(warehouse=warehouse, day=day)
        pairs = _stocked_pairs(warehouse)
        last_counted = _last_counted(warehouse, pairs)
        open_pairs = set(
            CountRequest.objects.filter(
                warehouse=warehouse, status=CountRequest.Status.OPEN
            ).values_list("location_id", "product_id")
        )
        open_bins = {location_id for location_id, product_id in open_pairs if product_id is None}
        today_by_class = dict(
            CountRequest.objects.filter(
                warehouse=warehouse, reason=CountRequest.Reason.RULE, due_date=day
            )
            .values("abc_class")
            .annotate(made=Count("id"))
            .values_list("abc_class", "made")
            .order_by()
        )
        intervals = settings.DOCKSIDE["COUNT_INTERVAL_DAYS"]
        created: list[CountRequest] = []
        for abc in AbcClass.values:
            members = [pair for pair in pairs if classes[pair[1]] == abc]
            interval = max(int(intervals[abc]), 1)
            quota = math.ceil(len(members) / interval) - today_by_class.get(abc, 0)
            due = [
                pair
                for pair in members
                if pair not in open_pairs
                and pair[0] not in open_bins
                and _is_due(last_counted.get(pair), day, interval)
            ]
            due.sort(key=lambda pair: (last_counted.get(pair) or dt.date.min, pairs[pair], pair))
            for location_id, product_id in due[: max(quota, 0)]:
                created.append(
                    CountRequest.objects.create(
                        warehouse=warehouse,
                        location_id=location_id,
                        product_id=product_id,
                        reason=CountRequest.Reason.RULE,
                        abc_class=abc,
                        due_date=day,
                        reference=f"abc:{abc}",
                    )
                )
        return created


def _is_due(last: dt.date | None, day: dt.date, interval: int) -> bool:
    return last is None or (day - last).days >= interval


def _last_counted(
    warehouse: Warehouse, pairs: dict[tuple[int, int], str]
) -> dict[tuple[int, int], dt.date]:
    """{(location id, product id): local day of the last finished count of the pair}; a count
    of the whole bin counts for every product in it."""
    done = CountRequest.objects.filter(warehouse=warehouse, status=CountRequest.Status.DONE)
    per_pair = (
        done.filter(product__isnull=False)
        .values("location_id", "product_id")
        .annotate(last=Max("done_at"))
        .values_list("location_id", "product_id", "last")
        .order_by()
    )
    per_bin = dict(
        done.filter(product__isnull=True)
        .values("location_id")
        .annotate(last=Max("done_at"))
        .values_list("location_id", "last")
        .order_by()
    )
    tz = warehouse.tzinfo
    last: dict[tuple[int, int], dt.date] = {}
    for location_id, product_id, when in per_pair:
        last[(location_id, product_id)] = timezone.localtime(when, tz).date()
    for location_id, product_id in pairs:
        whole = per_bin.get(location_id)
        if whole is not None:
            whole_day = timezone.localtime(whole, tz).date()
            if whole_day > last.get((location_id, product_id), dt.date.min):
                last[(location_id, product_id)] = whole_day
    return last


def create_daily_counts(
    *, day: dt.date | None = None, warehouse_ids: list[int] | None = None
) -> int:
    """Create the counts of every warehouse (or those in `warehouse_ids`) for `day`, or for
    each warehouse's own local today. Returns how many were created."""
    warehouses = Warehouse.objects.order_by("id")
    if warehouse_ids is not None:
        warehouses = warehouses.filter(id__in=warehouse_ids)
    created = 0
    now = timezone.now()
    for warehouse in warehouses:
        local_day = day or timezone.localtime(now, warehouse.tzinfo).date()
        created += len(create_counts_for_day(warehouse=warehouse, day=local_day))
    return created
