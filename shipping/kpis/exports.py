"""CSV exports of the KPI dashboard's tables: the same filters as the page, every row."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

from shipping.kpis.definitions import BY_NAME, Metric
from shipping.kpis.display import SERIES_METRICS, late_row, shown_unit, shown_value
from shipping.kpis.selectors import (
    Breakdown,
    Figure,
    Granularity,
    Period,
    SeriesSet,
    Slice,
    Tile,
    iter_late_deliveries,
    list_breakdown,
    list_late_deliveries,
    list_series,
    list_tiles,
)
from shipping.models import Delivery
from warehouse.models import Warehouse

KINDS = ("tiles", "series", "breakdown", "late")


class _Echo:
    """A file-like object whose write returns what it was given, for streaming csv.writer."""

    def write(self, value: str) -> str:
        return value


def _cell(text: str) -> str:
    # Names typed by people must not run as spreadsheet formulas when the file is opened.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _number(metric: Metric, value: float | None) -> str:
    return "" if value is None else f"{shown_value(metric, value):.4f}"


def _tiles_rows(tiles: list[Tile], period: Period) -> Iterator[list]:
    yield [
        "Metric",
        "Name",
        "Unit",
        "From",
        "To",
        "Value",
        "P90",
        "Previous value",
        "Previous P90",
        "Change",
        "Numerator",
        "Denominator",
        "Previous numerator",
        "Previous denominator",
    ]
    for tile in tiles:
        metric = tile.metric
        yield [
            metric.name,
            metric.label,
            shown_unit(metric),
            period.start.isoformat(),
            period.end.isoformat(),
            _number(metric, tile.current.value),
            _number(metric, tile.current.p90),
            _number(metric, tile.previous.value),
            _number(metric, tile.previous.p90),
            _number(metric, tile.change),
            tile.current.numerator,
            tile.current.denominator,
            tile.previous.numerator,
            tile.previous.denominator,
        ]


def _series_rows(series: SeriesSet) -> Iterator[list]:
    yield ["Starts", "Granularity", "Metric", "Unit", "Value", "P90", "Numerator", "Denominator"]
    for name, by_day in series.figures.items():
        metric = BY_NAME[name]
        for day in series.axis:
            figure = by_day.get(day, Figure())
            yield [
                day.isoformat(),
                series.granularity.value,
                metric.name,
                shown_unit(metric),
                _number(metric, figure.value),
                _number(metric, figure.p90),
                figure.numerator,
                figure.denominator,
            ]


def _breakdown_rows(breakdown: Breakdown) -> Iterator[list]:
    metric = breakdown.metric
    yield ["Dimension", "Key", "Label", "Metric", "Unit", "Value", "P90", "Count"]
    for row in breakdown.rows:
        yield [
            breakdown.dimension,
            _cell(row.key),
            _cell(row.label),
            metric.name,
            shown_unit(metric),
            _number(metric, row.figure.value),
            _number(metric, row.figure.p90),
            row.figure.count,
        ]


def _late_rows(deliveries: Iterable[Delivery], warehouse: Warehouse) -> Iterator[list]:
    tz = warehouse.tzinfo
    yield [
        "Delivered at",
        "Order",
        "Shipment",
        "Customer code",
        "Customer",
        "Carrier",
        "Vehicle",
        "Route",
        "Stop",
        "Promised from",
        "Promised until",
        "Minutes late",
        "In full",
        "Exception",
    ]
    for delivery in deliveries:
        row = late_row(delivery)
        order = row["order"]
        yield [
            delivery.delivered_at.astimezone(tz).isoformat(timespec="minutes"),
            _cell(order.number),
            _cell(row["shipment"].number),
            _cell(row["customer"].code),
            _cell(row["customer"].name),
            _cell(row["carrier"]),
            _cell(row["vehicle"]),
            row["route"],
            row["stop"],
            order.promised_window_start.astimezone(tz).isoformat(timespec="minutes"),
            order.promised_window_end.astimezone(tz).isoformat(timespec="minutes"),
            row["minutes_late"],
            "yes" if delivery.is_in_full else "no",
            delivery.get_exception_display() if delivery.exception else "",
        ]


def _csv_response(rows: Iterable[list], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def export_csv(
    kind: str,
    *,
    warehouse: Warehouse,
    period: Period,
    granularity: Granularity,
    metric: Metric,
    dimension: str,
    late_slice: Slice | None,
) -> StreamingHttpResponse:
    """One table of the dashboard as CSV (`kind`: tiles, series, breakdown or late) with the
    page's filters. The breakdown and the late deliveries come in full (the page shows the
    worst, and a page of them); the late deliveries are streamed as they are read."""
    filename = (
        f"delivery-kpis-{kind}-{warehouse.code}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"
    )
    if kind == "tiles":
        rows = _tiles_rows(list_tiles(warehouse_id=warehouse.id, period=period), period)
    elif kind == "series":
        rows = _series_rows(
            list_series(
                warehouse_id=warehouse.id,
                period=period,
                granularity=granularity,
                metrics=[BY_NAME[name] for name in SERIES_METRICS],
            )
        )
    elif kind == "breakdown":
        rows = _breakdown_rows(
            list_breakdown(
                warehouse_id=warehouse.id,
                period=period,
                metric=metric,
                dimension=dimension,
            )
        )
    else:
        late = list_late_deliveries(warehouse=warehouse, period=period, slice_=late_slice)
        rows = _late_rows(iter_late_deliveries(late), warehouse)
    return _csv_response(rows, filename)
