"""Reads for the Delivery KPIs dashboard: tiles, series and breakdowns from snapshot rows, and
the late deliveries behind them.

Everything except the late-deliveries list reads KpiSnapshot/KpiHistogram rows and sums them in
the database. A period's rate is sum(numerator) / sum(denominator) over its days, not the mean of
daily rates, so a quiet day weighs as little as it should; a period's median and p90 come from
the summed duration buckets (shipping/kpis/buckets.py). Every snapshot read filters on
(warehouse, metric, dimension, date), the columns of the snapshot indexes, so a page reads the
rows of its period and slices however many deliveries lie behind them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from django.db.models import (
    Case,
    DateField,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.db.models.functions import TruncWeek

from routing.models import RouteStop
from shipping.kpis.buckets import percentile
from shipping.kpis.definitions import BY_NAME, Kind, Metric
from shipping.kpis.outbound import NO_VEHICLE, NOT_ROUTED, OWN_FLEET
from shipping.models import Delivery, Dimension, KpiHistogram, KpiSnapshot
from shipping.services.common import setting
from warehouse.models import Warehouse

# Slices whose late deliveries can be listed: the delivery dimensions other than the whole.
LATE_SLICE_DIMENSIONS = (
    Dimension.CARRIER,
    Dimension.VEHICLE,
    Dimension.ROUTE,
    Dimension.CUSTOMER,
)


class Preset(StrEnum):
    YESTERDAY = "yesterday"
    LAST_7_DAYS = "7d"
    LAST_30_DAYS = "30d"
    LAST_90_DAYS = "90d"
    THIS_YEAR = "year"
    CUSTOM = "custom"


PRESET_LABELS = {
    Preset.YESTERDAY: "Yesterday",
    Preset.LAST_7_DAYS: "Last 7 days",
    Preset.LAST_30_DAYS: "Last 30 days",
    Preset.LAST_90_DAYS: "Last 90 days",
    Preset.THIS_YEAR: "This year",
    Preset.CUSTOM: "Custom",
}
_ROLLING_DAYS = {Preset.LAST_7_DAYS: 7, Preset.LAST_30_DAYS: 30, Preset.LAST_90_DAYS: 90}


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"


@dataclass(frozen=True)
class Period:
    """Local days `start` to `end`, both included."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of equal length that ends the day before this one starts."""
        return Period(self.start - dt.timedelta(days=self.days), self.start - dt.timedelta(days=1))


def period_for(
    preset: Preset, *, today: dt.date, start: dt.date | None = None, end: dt.date | None = None
) -> Period:
    """The days a preset covers, seen from the warehouse's local `today`.

    Rolling presets and "this year" end today (its snapshots are refreshed every 15 minutes);
    "yesterday" is the last complete day. CUSTOM takes `start` and `end` and raises ValueError
    when either is missing or they are reversed.
    """
    if preset == Preset.YESTERDAY:
        yesterday = today - dt.timedelta(days=1)
        return Period(yesterday, yesterday)
    if preset in _ROLLING_DAYS:
        return Period(today - dt.timedelta(days=_ROLLING_DAYS[preset] - 1), today)
    if preset == Preset.THIS_YEAR:
        return Period(today.replace(month=1, day=1), today)
    if start is None or end is None or start > end:
        raise ValueError("A custom period needs a start on or before its end.")
    return Period(start, end)


def local_bounds(warehouse: Warehouse, period: Period) -> tuple[dt.datetime, dt.datetime]:
    """The period as [start, end) instants: from the first local midnight to the one after."""
    tz = warehouse.tzinfo
    return (
        dt.datetime.combine(period.start, dt.time(0), tz),
        dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time(0), tz),
    )


@dataclass(frozen=True)
class Figure:
    """One metric over some days: the summed numerator and denominator and what they give.

    `value` is numerator / denominator for rates and averages, the median in seconds for
    durations (whose denominator is the count); `p90` is set for durations only.
    """

    numerator: float = 0.0
    denominator: float = 0.0
    value: float | None = None
    p90: float | None = None

    @property
    def count(self) -> int:
        return round(self.denominator)


def _figure(
    metric: Metric,
    numerator: float | None,
    denominator: float | None,
    buckets: Iterable[tuple[int, int]] = (),
) -> Figure:
    numerator, denominator = numerator or 0.0, denominator or 0.0
    if metric.kind == Kind.DURATION:
        pairs = list(buckets)
        return Figure(numerator, denominator, percentile(pairs, 0.5), percentile(pairs, 0.9))
    return Figure(numerator, denominator, numerator / denominator if denominator else None)


@dataclass(frozen=True)
class Tile:
    """A headline figure for the period next to the previous period of equal length."""

    metric: Metric
    current: Figure
    previous: Figure

    @property
    def change(self) -> float | None:
        if self.current.value is None or self.previous.value is None:
            return None
        return self.current.value - self.previous.value

    @property
    def is_improvement(self) -> bool | None:
        """True when the change goes the metric's good way, None when there is no change."""
        if not self.change:
            return None
        return (self.change > 0) == self.metric.higher_is_better


def _snapshots(warehouse_id: int, metrics: Iterable[str], dimension: str, period: Period):
    # Equality on warehouse and dimension, a list of metrics and a date range: an index range
    # scan of kpi_snapshot_unique per metric.
    return KpiSnapshot.objects.filter(
        warehouse_id=warehouse_id,
        metric__in=list(metrics),
        dimension=dimension,
        date__gte=period.start,
        date__lte=period.end,
    ).order_by()


def _histograms(warehouse_id: int, metrics: Iterable[str], dimension: str, period: Period):
    return KpiHistogram.objects.filter(
        warehouse_id=warehouse_id,
        metric__in=list(metrics),
        dimension=dimension,
        date__gte=period.start,
        date__lte=period.end,
    ).order_by()


def _durations(metrics: Iterable[Metric]) -> list[str]:
    return [metric.name for metric in metrics if metric.kind == Kind.DURATION]


def get_last_computed_at(*, warehouse_id: int) -> dt.datetime | None:
    """When the warehouse's snapshots were last written, or None if they never were.

    Read from the whole-warehouse rows, which every recomputation rewrites with the slices.
    """
    return KpiSnapshot.objects.filter(
        warehouse_id=warehouse_id, metric__in=list(BY_NAME), dimension=Dimension.ALL
    ).aggregate(last=Max("computed_at"))["last"]


def list_tiles(
    *, warehouse_id: int, period: Period, metrics: Sequence[Metric] | None = None
) -> list[Tile]:
    """Whole-warehouse figures of `metrics` (the catalogue by default) for `period` and the
    previous period of equal length: one snapshot query and, for durations, one bucket query."""
    metrics = list(metrics if metrics is not None else BY_NAME.values())
    previous = period.previous()
    both = Period(previous.start, period.end)
    current, earlier = Q(date__gte=period.start), Q(date__lt=period.start)
    sums = {
        row["metric"]: row
        for row in _snapshots(warehouse_id, (m.name for m in metrics), Dimension.ALL, both)
        .values("metric")
        .annotate(
            total_numerator=Sum("numerator", filter=current),
            total_denominator=Sum("denominator", filter=current),
            previous_numerator=Sum("numerator", filter=earlier),
            previous_denominator=Sum("denominator", filter=earlier),
        )
    }
    buckets: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    durations = _durations(metrics)
    if durations:
        rows = (
            _histograms(warehouse_id, durations, Dimension.ALL, both)
            .values("metric", "bucket")
            .annotate(current=Sum("count", filter=current), earlier=Sum("count", filter=earlier))
        )
        for row in rows:
            buckets[row["metric"], "current"].append((row["bucket"], row["current"] or 0))
            buckets[row["metric"], "earlier"].append((row["bucket"], row["earlier"] or 0))
    tiles = []
    for metric in metrics:
        row = sums.get(metric.name, {})
        tiles.append(
            Tile(
                metric=metric,
                current=_figure(
                    metric,
                    row.get("total_numerator"),
                    row.get("total_denominator"),
                    buckets[metric.name, "current"],
                ),
                previous=_figure(
                    metric,
                    row.get("previous_numerator"),
                    row.get("previous_denominator"),
                    buckets[metric.name, "earlier"],
                ),
            )
        )
    return tiles


def axis_for(period: Period, granularity: Granularity) -> list[dt.date]:
    """Every day of the period, or the Monday of every ISO week it touches."""
    start = period.start
    step = 1
    if granularity == Granularity.WEEK:
        start -= dt.timedelta(days=start.weekday())
        step = 7
    return [
        start + dt.timedelta(days=offset)
        for offset in range(0, (period.end - start).days + 1, step)
    ]


@dataclass(frozen=True)
class SeriesSet:
    """Figures per day or ISO week (keyed by the day, or the week's Monday) for each metric.

    A day or week without snapshot rows is absent from `figures[metric]`: a gap, not a zero.
    Weeks at the period's edges count only the period's days.
    """

    granularity: Granularity
    axis: list[dt.date]
    figures: dict[str, dict[dt.date, Figure]]


def list_series(
    *,
    warehouse_id: int,
    period: Period,
    granularity: Granularity,
    metrics: Sequence[Metric],
) -> SeriesSet:
    """Whole-warehouse time series of `metrics`: sums per day or week in one snapshot query,
    and bucket sums per day or week in one histogram query for the durations."""
    step = (
        F("date")
        if granularity == Granularity.DAY
        else TruncWeek("date", output_field=DateField())  # ISO weeks start on Monday
    )
    sums = (
        _snapshots(warehouse_id, (m.name for m in metrics), Dimension.ALL, period)
        .annotate(step=step)
        .values("metric", "step")
        .annotate(total_numerator=Sum("numerator"), total_denominator=Sum("denominator"))
    )
    buckets: dict[tuple[str, dt.date], list[tuple[int, int]]] = defaultdict(list)
    durations = _durations(metrics)
    if durations:
        rows = (
            _histograms(warehouse_id, durations, Dimension.ALL, period)
            .annotate(step=step)
            .values("metric", "step", "bucket")
            .annotate(total=Sum("count"))
        )
        for row in rows:
            buckets[row["metric"], row["step"]].append((row["bucket"], row["total"]))
    figures: dict[str, dict[dt.date, Figure]] = {metric.name: {} for metric in metrics}
    for row in sums:
        metric = BY_NAME[row["metric"]]
        figures[metric.name][row["step"]] = _figure(
            metric,
            row["total_numerator"],
            row["total_denominator"],
            buckets[metric.name, row["step"]],
        )
    return SeriesSet(granularity=granularity, axis=axis_for(period, granularity), figures=figures)


@dataclass(frozen=True)
class BreakdownRow:
    """One slice (a carrier, route, customer...) of a metric over the period."""

    key: str
    label: str
    figure: Figure


@dataclass(frozen=True)
class Breakdown:
    metric: Metric
    dimension: str
    rows: list[BreakdownRow]
    # True when `limit` cut the list: there are more (better) slices than shown.
    is_truncated: bool


def _worst_first(metric: Metric) -> list:
    value = F("period_value")
    first = value.asc(nulls_last=True) if metric.higher_is_better else value.desc(nulls_last=True)
    # Among equal values the biggest slices first: they matter most.
    return [first, F("total_denominator").desc(), "key"]


def list_breakdown(
    *,
    warehouse_id: int,
    period: Period,
    metric: Metric,
    dimension: str,
    limit: int | None = None,
) -> Breakdown:
    """`metric` per slice of `dimension` over the period, worst first (lowest for metrics where
    higher is better, highest otherwise), slices without a value last.

    Rates and averages are summed, divided and ordered in one query (cut at `limit` there);
    durations sum their buckets per slice in a second query and are ordered by median here.
    Raises ValueError when the metric is not kept for that dimension.
    """
    if dimension not in metric.dimensions or dimension == Dimension.ALL:
        raise ValueError(f"{metric.label} is not kept per {dimension}.")
    sums = (
        _snapshots(warehouse_id, [metric.name], dimension, period)
        .values("key")
        .annotate(
            slice_label=Max("label"),
            total_numerator=Sum("numerator"),
            total_denominator=Sum("denominator"),
        )
    )
    if metric.kind != Kind.DURATION:
        sums = sums.annotate(
            period_value=Case(
                When(total_denominator__gt=0, then=F("total_numerator") / F("total_denominator")),
                output_field=FloatField(),
            )
        ).order_by(*_worst_first(metric))
        rows = list(sums[: limit + 1] if limit is not None else sums)
        breakdown = [
            BreakdownRow(
                key=row["key"],
                label=row["slice_label"] or row["key"],
                figure=Figure(
                    row["total_numerator"], row["total_denominator"], row["period_value"]
                ),
            )
            for row in rows
        ]
    else:
        buckets: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for row in (
            _histograms(warehouse_id, [metric.name], dimension, period)
            .values("key", "bucket")
            .annotate(total=Sum("count"))
        ):
            buckets[row["key"]].append((row["bucket"], row["total"]))
        breakdown = [
            BreakdownRow(
                key=row["key"],
                label=row["slice_label"] or row["key"],
                figure=_figure(
                    metric, row["total_numerator"], row["total_denominator"], buckets[row["key"]]
                ),
            )
            for row in sums
        ]
        # Durations: longer is worse. No value (no buckets) goes last.
        breakdown.sort(
            key=lambda row: (
                row.figure.value is None,
                -(row.figure.value or 0.0),
                -row.figure.denominator,
                row.key,
            )
        )
    is_truncated = limit is not None and len(breakdown) > limit
    return Breakdown(
        metric=metric,
        dimension=dimension,
        rows=breakdown[:limit] if limit is not None else breakdown,
        is_truncated=is_truncated,
    )


@dataclass(frozen=True)
class Slice:
    """One slice of the delivery KPIs: the late deliveries behind a bar or a breakdown row."""

    dimension: str
    key: str


def delivery_tolerance() -> dt.timedelta:
    return dt.timedelta(minutes=int(setting("DELIVERY_WINDOW_TOLERANCE_MINUTES", 15)))


def _latest_stop(field: str) -> Subquery:
    # A shipment sits on one stop per plan; a re-planned day keeps the latest plan's stop (the
    # daily report and the route slice of the KPIs read it the same way).
    return Subquery(
        RouteStop.objects.filter(shipments=OuterRef("shipment_id"), route__isnull=False)
        .order_by("-plan__delivery_date", "-plan_id")
        .values(field)[:1]
    )


def list_late_deliveries(
    *, warehouse: Warehouse, period: Period, slice_: Slice | None = None
) -> QuerySet[Delivery]:
    """Deliveries of the period's local days that came after the promised window's end plus
    the tolerance (DOCKSIDE["DELIVERY_WINDOW_TOLERANCE_MINUTES"]), newest first.

    Each carries its shipment, order and customer, `minutes_late` (after the window's end) and
    `stop_id` (its route stop on the latest plan, or None); `attach_stops` loads the stops.
    `slice_` narrows to one carrier, vehicle, route or customer key as the snapshots use them.
    """
    start, end = local_bounds(warehouse, period)
    window_end = F("shipment__order__promised_window_end")
    deliveries = (
        Delivery.objects.filter(
            shipment__warehouse=warehouse,
            delivered_at__gte=start,
            delivered_at__lt=end,
            delivered_at__gt=window_end + delivery_tolerance(),
        )
        .select_related("shipment__order__customer")
        .annotate(
            late_by=ExpressionWrapper(F("delivered_at") - window_end, output_field=DurationField()),
            stop_id=_latest_stop("id"),
        )
        .order_by("-delivered_at", "-id")
    )
    if slice_ is None:
        return deliveries
    # The keys are the computation's (shipping/kpis/outbound.py), blanks included.
    key = slice_.key
    if slice_.dimension == Dimension.CARRIER:
        return deliveries.filter(shipment__order__carrier="" if key == OWN_FLEET[0] else key)
    if slice_.dimension == Dimension.VEHICLE:
        return deliveries.filter(shipment__vehicle_code="" if key == NO_VEHICLE[0] else key)
    if slice_.dimension == Dimension.CUSTOMER:
        return deliveries.filter(shipment__order__customer__code=key)
    if slice_.dimension == Dimension.ROUTE and (key.isdigit() or key == NOT_ROUTED[0]):
        routed = deliveries.annotate(route_number=_latest_stop("route__number"))
        if key == NOT_ROUTED[0]:
            return routed.filter(route_number__isnull=True)
        return routed.filter(route_number=int(key))
    return deliveries.none()


def count_up_to(deliveries: QuerySet[Delivery], cap: int) -> int:
    """How many of `deliveries` there are, counting no further than cap + 1.

    Telling late from on time joins every delivery of the period to its order; counting all of
    a year's would take longer than the page may, while "more than cap" tells as much.
    """
    return deliveries.order_by("-delivered_at").values("pk")[: cap + 1].count()


def attach_stops(deliveries: Sequence[Delivery]) -> None:
    """Set `stop` (with its route, or None) on deliveries from `list_late_deliveries`: one query
    for all of them."""
    ids = {delivery.stop_id for delivery in deliveries if delivery.stop_id is not None}
    stops = RouteStop.objects.select_related("route").in_bulk(ids) if ids else {}
    for delivery in deliveries:
        delivery.stop = stops.get(delivery.stop_id)


def iter_late_deliveries(
    deliveries: QuerySet[Delivery], *, chunk: int = 2000
) -> Iterator[Delivery]:
    """All of `deliveries` with their stops attached, read in chunks from a server-side cursor
    so an export of a long period never holds every row in memory."""
    batch: list[Delivery] = []
    for delivery in deliveries.iterator(chunk_size=chunk):
        batch.append(delivery)
        if len(batch) == chunk:
            attach_stops(batch)
            yield from batch
            batch = []
    attach_stops(batch)
    yield from batch
