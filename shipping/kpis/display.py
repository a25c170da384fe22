"""How the KPI dashboard and its exports show figures: units, rounding, late deliveries."""

from __future__ import annotations

from shipping.kpis import charts
from shipping.kpis.definitions import Kind, Metric
from shipping.kpis.outbound import OWN_FLEET
from shipping.models import Delivery

# The metrics drawn over time on the page (and in its series export).
SERIES_METRICS = ("otd", "otif", "cycle_time_total", "cycle_time_internal")


def shown_value(metric: Metric, value: float) -> float:
    """A value in the unit the page shows: percent for rates, hours for durations."""
    if metric.kind == Kind.RATE:
        return value * 100
    if metric.kind == Kind.DURATION:
        return value / 3600
    return value


def shown_unit(metric: Metric) -> str:
    return "%" if metric.kind == Kind.RATE else metric.unit


def format_value(metric: Metric, value: float | None) -> str:
    if value is None:
        return "\u2013"
    return charts.format_number(shown_value(metric, value), shown_unit(metric))


def format_change(metric: Metric, change: float | None) -> str:
    if change is None:
        return ""
    unit = "pp" if metric.kind == Kind.RATE else shown_unit(metric)
    return f"{shown_value(metric, change):+.1f} {unit}"


def late_row(delivery: Delivery) -> dict:
    """A late delivery as the table and the export show it."""
    shipment = delivery.shipment
    order = shipment.order
    stop = getattr(delivery, "stop", None)
    route = stop.route if stop is not None else None
    return {
        "delivery": delivery,
        "order": order,
        "shipment": shipment,
        "customer": order.customer,
        "carrier": order.carrier or OWN_FLEET[1],
        "vehicle": shipment.vehicle_code,
        "route": f"Route {route.number}" if route is not None else "",
        "stop": f"#{stop.sequence}" if route is not None else "",
        "minutes_late": round(delivery.late_by.total_seconds() / 60),
    }
