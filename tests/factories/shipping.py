"""Builders for outbound rows: a site with pick faces and staging lanes, customers, orders."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from shipping import services
from shipping.models import Customer, Delivery, Order, Shipment
from shipping.services.dispatch import is_on_time
from tests.factories import warehouse as wf
from warehouse.models import DockDoor, Location, Zone

_numbers = itertools.count(1)


@dataclass
class OutboundSite:
    site: wf.Site
    pick_faces: list[Location]
    lanes: list[Location]
    door: DockDoor

    @property
    def warehouse(self):
        return self.site.warehouse


def add_outbound_layout(site: wf.Site, *, pick_faces: int = 4) -> OutboundSite:
    """Give `site` a pick-face aisle (B), a second staging lane and an outbound door."""
    warehouse = site.warehouse
    zone = Zone.objects.create(
        warehouse=warehouse, code="pick", name="Pick face", kind=Zone.Kind.PICK_FACE
    )
    faces = [
        Location.objects.create(
            warehouse=warehouse,
            zone=zone,
            code=f"B-{bay:02d}-01-1",
            aisle="B",
            bay=bay,
            level=1,
            x=Decimal(bay * 2),
            y=Decimal(20),
        )
        for bay in range(1, pick_faces + 1)
    ]
    lane = Location.objects.create(
        warehouse=warehouse, zone=site.zones["staging"], code="STAGE-2", x=Decimal(0), y=Decimal(0)
    )
    door_location = Location.objects.create(
        warehouse=warehouse, zone=site.zones["dock"], code="DOCK-OUT-1"
    )
    door = DockDoor.objects.create(
        warehouse=warehouse,
        code="D9",
        direction=DockDoor.Direction.OUTBOUND,
        location=door_location,
    )
    return OutboundSite(site=site, pick_faces=faces, lanes=[site.staging, lane], door=door)


def make_customer(warehouse, code: str | None = None, **extra) -> Customer:
    number = next(_numbers)
    defaults = {
        "code": code or f"cust-{number}",
        "name": f"Customer {number}",
        "address": f"{number} Dock Street",
        "latitude": Decimal("52.37"),
        "longitude": Decimal("4.89"),
    }
    return Customer.objects.create(warehouse=warehouse, **{**defaults, **extra})


def window(day: dt.date | None = None, start_hour: int = 9, end_hour: int = 12):
    day = day or timezone.localdate() + dt.timedelta(days=1)
    tz = dt.UTC
    return (
        dt.datetime.combine(day, dt.time(start_hour), tz),
        dt.datetime.combine(day, dt.time(end_hour), tz),
    )


def make_order(
    customer: Customer,
    lines: list[tuple],
    *,
    number: str | None = None,
    allow_partial: bool = False,
    requested_date: dt.date | None = None,
    **extra,
) -> Order:
    """An order; `lines` are (product, quantity) or (product, quantity, pack) tuples."""
    requested_date = requested_date or timezone.localdate()
    start, end = window(requested_date + dt.timedelta(days=1))
    spec = services.OrderSpec(
        warehouse_id=customer.warehouse_id,
        customer_id=customer.id,
        number=number or f"SO-{next(_numbers):05d}",
        requested_date=requested_date,
        promised_window_start=extra.pop("promised_window_start", start),
        promised_window_end=extra.pop("promised_window_end", end),
        allow_partial=allow_partial,
        lines=[
            services.LineSpec(product_id=line[0].id, quantity=line[1], pack=(line[2:] or [""])[0])
            for line in lines
        ],
        **extra,
    )
    return services.create_order(spec=spec)


def make_delivery(
    shipment: Shipment, delivered_at: dt.datetime, *, is_in_full: bool = True, exception: str = ""
) -> Delivery:
    """The proof of delivery of `shipment` at `delivered_at`, judged on time by the service's
    rule; the shipment and order are marked delivered."""
    order = shipment.order
    delivery = Delivery.objects.create(
        shipment=shipment,
        delivered_at=delivered_at,
        exception=exception,
        is_on_time=is_on_time(
            delivered_at=delivered_at,
            window_start=order.promised_window_start,
            window_end=order.promised_window_end,
        ),
        is_in_full=is_in_full,
    )
    Shipment.objects.filter(id=shipment.id).update(status=Shipment.Status.DELIVERED)
    Order.objects.filter(id=order.id).update(status=Order.Status.DELIVERED)
    return delivery
