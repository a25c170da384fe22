"""Builders for route planning: a fleet and shipments ready for delivery."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from routing.models import Vehicle
from shipping.models import Customer, Shipment
from tests.factories import shipping as sf

_numbers = itertools.count(1)


def make_vehicle(warehouse, code: str | None = None, **extra) -> Vehicle:
    defaults = {
        "code": code or f"VAN-{next(_numbers):02d}",
        "capacity_weight_kg": Decimal(1000),
        "capacity_volume_m3": Decimal(10),
        "shift_start": dt.time(6),
        "shift_end": dt.time(20),
        "max_route_minutes": 12 * 60,
        "average_speed_kmh": Decimal(40),
        "fixed_cost": Decimal(50),
        "cost_per_km": Decimal("0.5"),
    }
    return Vehicle.objects.create(warehouse=warehouse, **{**defaults, **extra})


def local_window(warehouse, day: dt.date, start: int, end: int) -> tuple[dt.datetime, dt.datetime]:
    """A promised window from `start` to `end` o'clock on `day`, in the warehouse's time zone."""
    return (
        dt.datetime.combine(day, dt.time(start), warehouse.tzinfo),
        dt.datetime.combine(day, dt.time(end), warehouse.tzinfo),
    )


def make_shipment(
    customer: Customer, product, quantity: int, *, day: dt.date, window=(8, 18), **order_extra
) -> Shipment:
    """An order of `quantity` x `product` for `customer` and its shipment, due on `day`."""
    start, end = local_window(customer.warehouse, day, *window)
    order = sf.make_order(
        customer,
        [(product, quantity)],
        promised_window_start=start,
        promised_window_end=end,
        **order_extra,
    )
    return Shipment.objects.create(
        warehouse=customer.warehouse,
        order=order,
        number=f"SH-{next(_numbers):05d}",
        planned_departure=start - dt.timedelta(hours=2),
    )
