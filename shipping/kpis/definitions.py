"""The KPI catalogue: what each metric means, how it is shown and how it can be sliced.

The formulas and the events behind them are in docs/kpis.md; the SQL is in
shipping/kpis/compute.py (outbound) and receiving/kpis.py (inbound and returns).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shipping.models import Dimension


class Kind(StrEnum):
    RATE = "rate"  # numerator / denominator, shown as a percentage
    AVERAGE = "average"  # numerator / denominator, shown in `unit`
    DURATION = "duration"  # seconds; value is the median; percentiles from KpiHistogram


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    kind: Kind
    unit: str
    higher_is_better: bool
    dimensions: tuple[str, ...]
    description: str


DELIVERY_DIMENSIONS = (
    Dimension.ALL,
    Dimension.CARRIER,
    Dimension.VEHICLE,
    Dimension.ROUTE,
    Dimension.CUSTOMER,
)
# The details of lateness by customer would be millions of rows a year (thousands of customers
# a day) for little use: per customer we keep OTD and OTIF, the figures customers are sold.
DELIVERY_DETAIL_DIMENSIONS = (Dimension.ALL, Dimension.CARRIER, Dimension.VEHICLE, Dimension.ROUTE)
# Durations keep a histogram per slice; per customer that would be one row per delivery, and a
# route is driven by one vehicle a day, so vehicles would repeat the routes' histograms.
DURATION_DIMENSIONS = (Dimension.ALL, Dimension.CARRIER, Dimension.ROUTE)
SHIPMENT_DIMENSIONS = (Dimension.ALL, Dimension.CARRIER, Dimension.VEHICLE, Dimension.CUSTOMER)
SHIPMENT_DETAIL_DIMENSIONS = (Dimension.ALL, Dimension.CARRIER, Dimension.VEHICLE)
PICK_DIMENSIONS = (Dimension.ALL, Dimension.PICKER)
INBOUND_DIMENSIONS = (Dimension.ALL, Dimension.CARRIER, Dimension.SUPPLIER)
RETURN_DIMENSIONS = (Dimension.ALL, Dimension.PRODUCT, Dimension.CUSTOMER, Dimension.REASON)
INVENTORY_DIMENSIONS = (Dimension.ALL, Dimension.ZONE)

METRICS: tuple[Metric, ...] = (
    Metric(
        "otd",
        "On-time delivery",
        Kind.RATE,
        "%",
        True,
        DELIVERY_DIMENSIONS,
        "Deliveries inside the promised window, widened by the tolerance, / deliveries.",
    ),
    Metric(
        "early",
        "Early deliveries",
        Kind.RATE,
        "%",
        False,
        DELIVERY_DETAIL_DIMENSIONS,
        "Deliveries before the window opened (less the tolerance) / deliveries.",
    ),
    Metric(
        "late",
        "Late deliveries",
        Kind.RATE,
        "%",
        False,
        DELIVERY_DETAIL_DIMENSIONS,
        "Deliveries after the window closed (plus the tolerance) / deliveries.",
    ),
    Metric(
        "minutes_late",
        "Minutes late",
        Kind.AVERAGE,
        "min",
        False,
        DELIVERY_DETAIL_DIMENSIONS,
        "Minutes after the window's end, summed over late deliveries / late deliveries.",
    ),
    Metric(
        "otif",
        "OTIF",
        Kind.RATE,
        "%",
        True,
        DELIVERY_DIMENSIONS,
        "Orders whose first delivery was on time and in full / orders first delivered.",
    ),
    Metric(
        "cycle_time_total",
        "Order cycle time (to delivery)",
        Kind.DURATION,
        "h",
        False,
        DURATION_DIMENSIONS,
        "Order created -> first delivery; median and p90.",
    ),
    Metric(
        "on_time_shipment",
        "On-time shipment",
        Kind.RATE,
        "%",
        True,
        SHIPMENT_DETAIL_DIMENSIONS,
        "Shipments dispatched no later than their planned departure / shipments dispatched.",
    ),
    Metric(
        "cycle_time_internal",
        "Order cycle time (to dispatch)",
        Kind.DURATION,
        "h",
        False,
        DURATION_DIMENSIONS,
        "Order created -> first shipment dispatched; median and p90.",
    ),
    Metric(
        "fill_rate_lines",
        "Fill rate (lines)",
        Kind.RATE,
        "%",
        True,
        SHIPMENT_DIMENSIONS,
        "Order lines complete on the order's first shipment / order lines.",
    ),
    Metric(
        "fill_rate_units",
        "Fill rate (units)",
        Kind.RATE,
        "%",
        True,
        SHIPMENT_DETAIL_DIMENSIONS,
        "Units on the order's first shipment (at most those ordered) / units ordered.",
    ),
    Metric(
        "pick_accuracy",
        "Pick accuracy",
        Kind.RATE,
        "%",
        True,
        PICK_DIMENSIONS,
        "Pick tasks done with no wrong bin or item scan and the full quantity / pick tasks.",
    ),
    Metric(
        "short_pick_rate",
        "Short-pick rate",
        Kind.RATE,
        "%",
        False,
        PICK_DIMENSIONS,
        "Pick tasks closed short / pick tasks.",
    ),
    Metric(
        "lines_per_picker_hour",
        "Lines picked per picker-hour",
        Kind.AVERAGE,
        "lines/h",
        True,
        PICK_DIMENSIONS,
        "Pick tasks done / hours pickers spent on their lists (started -> completed).",
    ),
    Metric(
        "dock_to_stock",
        "Dock-to-stock time",
        Kind.DURATION,
        "h",
        False,
        INBOUND_DIMENSIONS,
        "Truck arrival -> putaway confirmed (stock available in its bin); median and p90.",
    ),
    Metric(
        "receiving_accuracy",
        "Receiving accuracy",
        Kind.RATE,
        "%",
        True,
        INBOUND_DIMENSIONS,
        "ASN lines of closed receipts without a discrepancy / ASN lines.",
    ),
    Metric(
        "return_rate",
        "Return rate",
        Kind.RATE,
        "%",
        False,
        RETURN_DIMENSIONS,
        "Units received back on customer returns / units delivered (by reason: / all units "
        "delivered), each on its own local day.",
    ),
    Metric(
        "inventory_record_accuracy",
        "Inventory record accuracy",
        Kind.RATE,
        "%",
        True,
        INVENTORY_DIMENSIONS,
        "Bins (or bin-products) counted without variance / bins counted, by cycle counts done.",
    ),
)

BY_NAME: dict[str, Metric] = {metric.name: metric for metric in METRICS}
