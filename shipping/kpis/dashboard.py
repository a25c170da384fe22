"""The "Delivery KPIs" admin page (/admin/kpis/): tiles, charts, a breakdown and the late
deliveries behind them, for managers, with a CSV export of every table.

The view parses the filters, calls the selectors in shipping/kpis/selectors.py and shapes their
results for the template (or hands them to shipping/kpis/exports.py); it reads snapshot rows,
never the source tables, except for the late-deliveries list.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django import forms
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe

from shipping.kpis import charts
from shipping.kpis.definitions import BY_NAME, METRICS, Kind, Metric
from shipping.kpis.display import (
    SERIES_METRICS,
    format_change,
    format_value,
    late_row,
    shown_unit,
    shown_value,
)
from shipping.kpis.exports import KINDS, export_csv
from shipping.kpis.selectors import (
    LATE_SLICE_DIMENSIONS,
    PRESET_LABELS,
    Breakdown,
    Granularity,
    Period,
    Preset,
    SeriesSet,
    Slice,
    Tile,
    attach_stops,
    count_up_to,
    delivery_tolerance,
    get_last_computed_at,
    list_breakdown,
    list_late_deliveries,
    list_series,
    list_tiles,
    period_for,
)
from shipping.models import Delivery, Dimension
from warehouse.models import Warehouse
from warehouse.roles import MANAGER, has_role
from warehouse.selectors import list_warehouses_for

LATE_PER_PAGE = 25
# The late deliveries are counted up to here; past it the page says "more than".
LATE_COUNT_CAP = 1000
BREAKDOWN_SHOWN = 50
BARS_SHOWN = 20
# A custom period longer than this is refused: the page is sized for a year or two.
MAX_CUSTOM_DAYS = 3 * 366
# The tiles, in three rows: the delivery, the dispatch and the warehouse floor.
TILE_GROUPS = (
    (
        "Delivery",
        ("otd", "otif", "late", "early", "minutes_late", "cycle_time_total", "return_rate"),
    ),
    (
        "Dispatch",
        ("on_time_shipment", "cycle_time_internal", "fill_rate_lines", "fill_rate_units"),
    ),
    (
        "Warehouse",
        (
            "pick_accuracy",
            "short_pick_rate",
            "lines_per_picker_hour",
            "dock_to_stock",
            "receiving_accuracy",
            "inventory_record_accuracy",
        ),
    ),
)
# Where a tile's "late deliveries behind this number" link makes sense.
LATE_TILE_METRICS = ("otd", "late", "minutes_late", "otif")
BREAKDOWN_METRICS = tuple(m.name for m in METRICS if len(m.dimensions) > 1)
BREAKDOWN_DIMENSIONS = tuple(d for d in Dimension if d != Dimension.ALL)


# Filters ------------------------------------------------------------------------------------


class DashboardFilters(forms.Form):
    warehouse = forms.TypedChoiceField(coerce=int, required=False)
    period = forms.ChoiceField(
        choices=[(preset.value, label) for preset, label in PRESET_LABELS.items()],
        required=False,
    )
    start = forms.DateField(required=False, label="From", widget=forms.DateInput({"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput({"type": "date"}))
    granularity = forms.ChoiceField(
        choices=[(Granularity.DAY, "By day"), (Granularity.WEEK, "By ISO week")], required=False
    )
    metric = forms.ChoiceField(
        choices=[(name, BY_NAME[name].label) for name in BREAKDOWN_METRICS],
        required=False,
        label="Breakdown of",
    )
    dimension = forms.ChoiceField(
        choices=[(d.value, d.label) for d in BREAKDOWN_DIMENSIONS], required=False, label="By"
    )
    # Set by the drill-down links, not shown: a new choice of filters lists every late delivery.
    late_by = forms.ChoiceField(
        choices=[("", "")] + [(d.value, d.label) for d in LATE_SLICE_DIMENSIONS],
        required=False,
        widget=forms.HiddenInput,
    )
    late_key = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        data: QueryDict | None = None,
        *,
        warehouses: list[Warehouse],
        initial: dict | None = None,
    ):
        super().__init__(data, initial=initial)
        self.fields["warehouse"].choices = [(w.id, str(w)) for w in warehouses]

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("period") == Preset.CUSTOM:
            start, end = cleaned.get("start"), cleaned.get("end")
            if start is None or end is None:
                self.add_error("start", "A custom period needs both a from and a to day.")
            elif start > end:
                self.add_error("end", "The to day comes before the from day.")
            elif (end - start).days + 1 > MAX_CUSTOM_DAYS:
                self.add_error("end", f"At most {MAX_CUSTOM_DAYS} days at a time.")
        return cleaned


@dataclass
class Filters:
    """What the page shows, from the query string with defaults for what is missing or wrong."""

    warehouse: Warehouse
    preset: Preset
    period: Period
    granularity: Granularity
    metric: Metric
    dimension: str
    late_slice: Slice | None
    notes: list[str] = field(default_factory=list)

    def query(self, **changes: str) -> str:
        """The query string of this view, with `changes` (an empty value drops the key)."""
        params = {
            "warehouse": str(self.warehouse.id),
            "period": self.preset.value,
            "granularity": self.granularity.value,
            "metric": self.metric.name,
            "dimension": self.dimension,
        }
        if self.preset == Preset.CUSTOM:
            params["start"] = self.period.start.isoformat()
            params["end"] = self.period.end.isoformat()
        if self.late_slice is not None:
            params["late_by"] = self.late_slice.dimension
            params["late_key"] = self.late_slice.key
        params.update(changes)
        return "?" + urlencode({key: value for key, value in params.items() if value})

    def form(self, warehouses: list[Warehouse]) -> DashboardFilters:
        """The filter form showing these filters (what is in force, not what was asked)."""
        custom = self.preset == Preset.CUSTOM
        return DashboardFilters(
            warehouses=warehouses,
            initial={
                "warehouse": self.warehouse.id,
                "period": self.preset.value,
                "start": self.period.start if custom else None,
                "end": self.period.end if custom else None,
                "granularity": self.granularity.value,
                "metric": self.metric.name,
                "dimension": self.dimension,
            },
        )


def local_today(warehouse: Warehouse) -> dt.date:
    return timezone.now().astimezone(warehouse.tzinfo).date()


def parse_filters(data: QueryDict, warehouses: list[Warehouse]) -> tuple[Filters, list[str]]:
    """The filters asked for and the errors of those that failed validation, which fall back to
    their defaults."""
    form = DashboardFilters(data, warehouses=warehouses)
    form.is_valid()
    cleaned = form.cleaned_data
    by_id = {w.id: w for w in warehouses}
    warehouse = by_id.get(cleaned.get("warehouse") or warehouses[0].id, warehouses[0])
    today = local_today(warehouse)
    preset = Preset(cleaned.get("period") or Preset.LAST_30_DAYS)
    try:
        period = period_for(preset, today=today, start=cleaned.get("start"), end=cleaned.get("end"))
    except ValueError:
        preset = Preset.LAST_30_DAYS
        period = period_for(preset, today=today)
    metric = BY_NAME[cleaned.get("metric") or "otd"]
    dimension = cleaned.get("dimension") or Dimension.CARRIER
    notes = []
    if dimension not in metric.dimensions:
        fallback = next(d for d in metric.dimensions if d != Dimension.ALL)
        notes.append(
            f"{metric.label} is not kept per {Dimension(dimension).label.lower()}; "
            f"showing it per {Dimension(fallback).label.lower()}."
        )
        dimension = fallback
    late_slice = None
    if cleaned.get("late_by") and cleaned.get("late_key"):
        late_slice = Slice(cleaned["late_by"], cleaned["late_key"])
    filters = Filters(
        warehouse=warehouse,
        preset=preset,
        period=period,
        granularity=Granularity(cleaned.get("granularity") or Granularity.DAY),
        metric=metric,
        dimension=str(dimension),
        late_slice=late_slice,
        notes=notes,
    )
    errors = [
        f"{form.fields[name].label or name.replace('_', ' ').capitalize()}: {message}"
        if name != NON_FIELD_ERRORS
        else message
        for name, messages in form.errors.items()
        for message in messages
    ]
    return filters, errors


# Page pieces --------------------------------------------------------------------------------


def late_row_with_links(delivery: Delivery) -> dict:
    """A late delivery for the table, with its drill-down links: the order's and shipment's
    admin pages, the route sheet and the stop's line on it."""
    row = late_row(delivery)
    row["order_url"] = reverse("admin:shipping_order_change", args=[row["order"].id])
    row["shipment_url"] = reverse("admin:shipping_shipment_change", args=[row["shipment"].id])
    stop = getattr(delivery, "stop", None)
    if row["route"]:
        sheet = reverse(
            "admin:routing_routeplan_route_sheet", args=[stop.plan_id, stop.route.number]
        )
        row["route_url"] = sheet
        row["stop_url"] = f"{sheet}#stop-{stop.id}"
    return row


def _tile_context(tile: Tile, filters: Filters) -> dict:
    metric = tile.metric
    change = tile.change
    context = {
        "metric": metric,
        "value": format_value(metric, tile.current.value),
        "previous": format_value(metric, tile.previous.value),
        "p90": format_value(metric, tile.current.p90) if metric.kind == Kind.DURATION else "",
        "count": tile.current.count,
        "change": format_change(metric, change),
        "has_change": change is not None,
        "direction": "" if not change else ("up" if change > 0 else "down"),
        "mood": {True: "good", False: "bad", None: "flat"}[tile.is_improvement],
        "late_url": None,
    }
    if metric.name in LATE_TILE_METRICS:
        context["late_url"] = filters.query(late_by="", late_key="", page="") + "#late"
    return context


def _x_label(day: dt.date, granularity: Granularity) -> str:
    if granularity == Granularity.WEEK:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.strftime("%d %b").lstrip("0")


def _series_values(series: SeriesSet, metric: Metric, attribute: str) -> list[float | None]:
    values = []
    for day in series.axis:
        figure = series.figures[metric.name].get(day)
        value = getattr(figure, attribute) if figure is not None else None
        values.append(None if value is None else shown_value(metric, value))
    return values


def _charts(series: SeriesSet, breakdown: Breakdown, filters: Filters) -> dict[str, SafeString]:
    """The page's SVG charts; safe to insert as they are, the chart functions escape labels."""
    labels = [_x_label(day, series.granularity) for day in series.axis]
    otd, otif = BY_NAME["otd"], BY_NAME["otif"]
    built = {
        "otd": charts.line_chart(
            chart_id="chart-otd",
            title=f"{otd.label} and {otif.label} by {series.granularity.value}",
            x_labels=labels,
            series=[
                charts.LineSeries(otd.label, _series_values(series, otd, "value")),
                charts.LineSeries(otif.label, _series_values(series, otif, "value")),
            ],
            unit="%",
            y_bounds=(0, 100),
        )
    }
    for name in ("cycle_time_total", "cycle_time_internal"):
        metric = BY_NAME[name]
        built[name] = charts.line_chart(
            chart_id=f"chart-{name}",
            title=f"{metric.label} by {series.granularity.value}, hours",
            x_labels=labels,
            series=[
                charts.LineSeries("Median", _series_values(series, metric, "value")),
                charts.LineSeries("P90", _series_values(series, metric, "p90")),
            ],
            unit="h",
            y_bounds=(0, None),
            width=480,
            height=240,
        )
    metric = breakdown.metric
    linked = filters.dimension in LATE_SLICE_DIMENSIONS
    bars = [
        charts.Bar(
            label=row.label,
            value=None if row.figure.value is None else shown_value(metric, row.figure.value),
            note=f"{row.figure.count} counted",
            href=(
                filters.query(late_by=filters.dimension, late_key=row.key, page="") + "#late"
                if linked
                else None
            ),
        )
        for row in breakdown.rows[:BARS_SHOWN]
    ]
    built["breakdown"] = charts.bar_chart(
        chart_id="chart-breakdown",
        title=f"{metric.label} by {Dimension(breakdown.dimension).label.lower()}, worst first",
        bars=bars,
        unit=shown_unit(metric),
        max_value=100 if metric.kind == Kind.RATE else None,
    )
    return {name: mark_safe(svg) for name, svg in built.items()}


def _page_number(text: str | None) -> int:
    try:
        return max(1, int(text or 1))
    except ValueError:
        return 1


# The view -----------------------------------------------------------------------------------


def kpi_dashboard(request: HttpRequest) -> HttpResponse:
    """GET /admin/kpis/: the dashboard, or one of its tables as CSV with ?export=<table>.

    Managers (and superusers) only: others get 403; admin_view sends anonymous users to the
    admin login. A manager sees the warehouses they are on the staff of.
    """
    if not has_role(request.user, MANAGER):
        raise PermissionDenied
    context = {
        **admin.site.each_context(request),
        "title": "Delivery KPIs",
        "warehouses": [],
    }
    warehouses = list(list_warehouses_for(request.user).order_by("code"))
    if not warehouses:
        return TemplateResponse(request, "admin/kpis/dashboard.html", context)
    filters, form_errors = parse_filters(request.GET, warehouses)
    kind = request.GET.get("export")
    if kind in KINDS:
        return export_csv(
            kind,
            warehouse=filters.warehouse,
            period=filters.period,
            granularity=filters.granularity,
            metric=filters.metric,
            dimension=filters.dimension,
            late_slice=filters.late_slice,
        )
    warehouse, period = filters.warehouse, filters.period
    last_computed_at = get_last_computed_at(warehouse_id=warehouse.id)
    context.update(
        {
            "warehouses": warehouses,
            "form": filters.form(warehouses),
            "form_errors": form_errors,
            "filters": filters,
            "dimension_label": Dimension(filters.dimension).label.lower(),
            "tolerance_minutes": round(delivery_tolerance().total_seconds() / 60),
            "period": period,
            "previous": period.previous(),
            "last_computed_at": last_computed_at,
            "tz": warehouse.tzinfo,
            "exports": {name: filters.query(export=name) for name in KINDS},
        }
    )
    if last_computed_at is not None:
        tiles = {
            tile.metric.name: tile for tile in list_tiles(warehouse_id=warehouse.id, period=period)
        }
        series = list_series(
            warehouse_id=warehouse.id,
            period=period,
            granularity=filters.granularity,
            metrics=[BY_NAME[name] for name in SERIES_METRICS],
        )
        breakdown = list_breakdown(
            warehouse_id=warehouse.id,
            period=period,
            metric=filters.metric,
            dimension=filters.dimension,
            limit=BREAKDOWN_SHOWN,
        )
        linked = filters.dimension in LATE_SLICE_DIMENSIONS
        context.update(
            {
                "tile_groups": [
                    (title, [_tile_context(tiles[name], filters) for name in names])
                    for title, names in TILE_GROUPS
                ],
                "charts": _charts(series, breakdown, filters),
                "breakdown": breakdown,
                "breakdown_rows": [
                    {
                        "row": row,
                        "value": format_value(breakdown.metric, row.figure.value),
                        "p90": format_value(breakdown.metric, row.figure.p90),
                        "late_url": (
                            filters.query(late_by=filters.dimension, late_key=row.key) + "#late"
                            if linked
                            else None
                        ),
                    }
                    for row in breakdown.rows
                ],
                "is_duration": breakdown.metric.kind == Kind.DURATION,
            }
        )
    late = list_late_deliveries(warehouse=warehouse, period=period, slice_=filters.late_slice)
    page = _page_number(request.GET.get("page"))
    start = (page - 1) * LATE_PER_PAGE
    # One more than shown tells whether there is a next page.
    deliveries = list(late[start : start + LATE_PER_PAGE + 1])
    attach_stops(deliveries[:LATE_PER_PAGE])
    total = count_up_to(late, LATE_COUNT_CAP)
    context.update(
        {
            "late_page": {
                "number": page,
                "first": start + 1,
                "last": start + min(len(deliveries), LATE_PER_PAGE),
                "has_previous": page > 1,
                "has_next": len(deliveries) > LATE_PER_PAGE,
                "total": min(total, LATE_COUNT_CAP),
                "is_more": total > LATE_COUNT_CAP,
            },
            "late_rows": [late_row_with_links(delivery) for delivery in deliveries[:LATE_PER_PAGE]],
            "late_slice_label": (
                f"{Dimension(filters.late_slice.dimension).label} {filters.late_slice.key}"
                if filters.late_slice
                else ""
            ),
            "all_late_url": filters.query(late_by="", late_key="") + "#late",
            "page_query": filters.query(page=""),
        }
    )
    return TemplateResponse(request, "admin/kpis/dashboard.html", context)
