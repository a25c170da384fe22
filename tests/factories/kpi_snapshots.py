"""Builders for KPI snapshot and histogram rows, written directly as the computation would."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from shipping.kpis.buckets import bucket_middle, percentile
from shipping.models import Dimension, KpiHistogram, KpiSnapshot


def snapshot(
    warehouse,
    day: dt.date,
    metric: str,
    numerator: float,
    denominator: float,
    *,
    dimension: str = Dimension.ALL,
    key: str = "",
    label: str = "",
    computed_at: dt.datetime | None = None,
) -> KpiSnapshot:
    """One rate or average row: value = numerator / denominator."""
    return KpiSnapshot.objects.create(
        date=day,
        warehouse=warehouse,
        dimension=dimension,
        key=key,
        label=label,
        metric=metric,
        numerator=numerator,
        denominator=denominator,
        value=numerator / denominator if denominator else None,
        computed_at=computed_at or timezone.now(),
    )


def durations(
    warehouse,
    day: dt.date,
    metric: str,
    buckets: dict[int, int],
    *,
    dimension: str = Dimension.ALL,
    key: str = "",
    label: str = "",
) -> KpiSnapshot:
    """A duration's day: histogram rows of `buckets` ({bucket: count}) and the snapshot row
    (numerator = total seconds at the buckets' middles, denominator = count, value = median)."""
    now = timezone.now()
    for bucket, count in buckets.items():
        KpiHistogram.objects.create(
            date=day,
            warehouse=warehouse,
            dimension=dimension,
            key=key,
            metric=metric,
            bucket=bucket,
            count=count,
            computed_at=now,
        )
    return KpiSnapshot.objects.create(
        date=day,
        warehouse=warehouse,
        dimension=dimension,
        key=key,
        label=label,
        metric=metric,
        numerator=sum(bucket_middle(bucket) * count for bucket, count in buckets.items()),
        denominator=sum(buckets.values()),
        value=percentile(buckets.items(), 0.5),
        computed_at=now,
    )
