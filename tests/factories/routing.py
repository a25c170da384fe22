"""Builders for route planning: a fleet and shipments ready for delivery."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from routing.models import Route, RoutePlan, RouteStop, Vehicle
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


def make_route(
    warehouse, day: dt.date, number: int, shipments: list[Shipment], vehicle: Vehicle | None = None
) -> Route:
    """Route `number` of `day`'s plan (made when missing), one stop per shipment in the given
    order; the shipments take the route's vehicle code."""
    plan = RoutePlan.objects.filter(warehouse=warehouse, delivery_date=day).first()
    if plan is None:
        plan = RoutePlan.objects.create(
            warehouse=warehouse, delivery_date=day, status=RoutePlan.Status.APPROVED
        )
    vehicle = vehicle or make_vehicle(warehouse)
    departure = dt.datetime.combine(day, dt.time(7), warehouse.tzinfo)
    route = Route.objects.create(
        plan=plan,
        vehicle=vehicle,
        number=number,
        departure_at=departure,
        return_at=departure + dt.timedelta(hours=8),
        distance_m=50_000,
        duration_s=8 * 3600,
    )
    for sequence, shipment in enumerate(shipments, start=1):
        stop = RouteStop.objects.create(
            plan=plan,
            route=route,
            sequence=sequence,
            customer=shipment.order.customer,
            weight_kg=Decimal(10),
            volume_m3=Decimal("0.1"),
            service_seconds=600,
            windows=[[9 * 3600, 12 * 3600]],
        )
        stop.shipments.add(shipment)
        plan.shipments.add(shipment)
    Shipment.objects.filter(id__in=[s.id for s in shipments]).update(vehicle_code=vehicle.code)
    return route
