"""Builders for the source rows KPIs are computed from, written directly (not through the
services) so a scenario of hundreds of deliveries stays fast. Each sets the fields the
services would set, with the times the test chooses."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User

from receiving.models import InboundShipment, PutawayTask, Receipt, Supplier
from routing.models import Route, RoutePlan, RouteStop, Vehicle
from shipping.models import (
    Allocation,
    Customer,
    Delivery,
    Order,
    OrderLine,
    PickList,
    PickTask,
    Shipment,
    ShipmentLine,
    Wave,
)
from tests.factories import warehouse as wf
from warehouse.models import Product, StockBalance, Warehouse
from warehouse.services import receive_stock

_numbers = itertools.count(1)


def at(warehouse: Warehouse, day: dt.date, hour: int, minute: int = 0, second: int = 0):
    """An aware datetime at a local clock time of `warehouse`."""
    return dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=warehouse.tzinfo)


@dataclass(frozen=True)
class Line:
    product: Product
    ordered: int
    shipped: int | None = None  # None: all of it


def dispatched_order(
    customer: Customer,
    lines: list[Line],
    *,
    window: tuple[dt.datetime, dt.datetime],
    dispatched_at: dt.datetime,
    created_at: dt.datetime | None = None,
    planned_departure: dt.datetime | None = None,
    carrier: str = "",
    vehicle_code: str = "",
    status: str = Order.Status.DISPATCHED,
) -> Shipment:
    """An order and its first shipment, dispatched with the given lines' units on it."""
    number = next(_numbers)
    order = Order.objects.create(
        warehouse=customer.warehouse,
        customer=customer,
        number=f"KPI-{number:05d}",
        status=status,
        requested_date=window[0].date(),
        promised_window_start=window[0],
        promised_window_end=window[1],
        carrier=carrier,
    )
    # created_at is auto_now_add: set the scenario's time afterwards.
    Order.objects.filter(id=order.id).update(
        created_at=created_at or dispatched_at - dt.timedelta(hours=20)
    )
    order.refresh_from_db()
    order_lines = [
        OrderLine.objects.create(
            order=order,
            line_number=index,
            product=line.product,
            pack_quantity=line.ordered,
            quantity=line.ordered,
            quantity_shipped=line.ordered if line.shipped is None else line.shipped,
        )
        for index, line in enumerate(lines, start=1)
    ]
    return ship(
        order,
        {ol.id: ol.quantity_shipped for ol in order_lines},
        dispatched_at=dispatched_at,
        planned_departure=planned_departure,
        vehicle_code=vehicle_code,
    )


def ship(
    order: Order,
    quantities: dict[int, int],
    *,
    dispatched_at: dt.datetime,
    planned_departure: dt.datetime | None = None,
    vehicle_code: str = "",
) -> Shipment:
    """A dispatched shipment of `order` carrying `quantities` (order line id -> units)."""
    shipment = Shipment.objects.create(
        warehouse=order.warehouse,
        order=order,
        number=f"KPI-SH-{next(_numbers):05d}",
        status=Shipment.Status.DISPATCHED,
        planned_departure=planned_departure or dispatched_at,
        vehicle_code=vehicle_code,
        dispatched_at=dispatched_at,
    )
    ShipmentLine.objects.bulk_create(
        ShipmentLine(shipment=shipment, order_line_id=line_id, quantity=quantity)
        for line_id, quantity in quantities.items()
        if quantity
    )
    return shipment


def deliver(shipment: Shipment, *, delivered_at: dt.datetime, is_in_full: bool = True) -> Delivery:
    """The proof of delivery of `shipment`. `is_on_time` is stored as the service would, but
    the KPIs judge it again with the tolerance in force, so it does not matter here."""
    order = shipment.order
    delivery = Delivery.objects.create(
        shipment=shipment,
        delivered_at=delivered_at,
        is_on_time=order.promised_window_start <= delivered_at <= order.promised_window_end,
        is_in_full=is_in_full,
    )
    Shipment.objects.filter(id=shipment.id).update(status=Shipment.Status.DELIVERED)
    Order.objects.filter(id=order.id).update(status=Order.Status.DELIVERED)
    return delivery


def delivered_order(
    customer: Customer,
    product: Product,
    *,
    window: tuple[dt.datetime, dt.datetime],
    delivered_at: dt.datetime,
    is_in_full: bool = True,
    **order_fields,
) -> Delivery:
    """An order of 10 units, dispatched 3 hours before `delivered_at` and delivered then."""
    order_fields.setdefault("dispatched_at", delivered_at - dt.timedelta(hours=3))
    shipment = dispatched_order(customer, [Line(product, 10)], window=window, **order_fields)
    return deliver(shipment, delivered_at=delivered_at, is_in_full=is_in_full)


def vehicle(warehouse: Warehouse, code: str) -> Vehicle:
    found, _ = Vehicle.objects.get_or_create(
        warehouse=warehouse,
        code=code,
        defaults={
            "capacity_weight_kg": Decimal(1000),
            "capacity_volume_m3": Decimal(10),
            "shift_start": dt.time(6),
            "shift_end": dt.time(20),
        },
    )
    return found


def route(
    warehouse: Warehouse, day: dt.date, number: int, shipments: list[Shipment], *, plan=None
) -> RoutePlan:
    """Put `shipments` on route `number` of a plan for `day` (a new plan unless given), one
    stop per shipment."""
    plan = plan or RoutePlan.objects.create(
        warehouse=warehouse, delivery_date=day, status=RoutePlan.Status.DISPATCHED
    )
    van = vehicle(warehouse, f"VAN-{number}")
    trip = Route.objects.create(
        plan=plan,
        vehicle=van,
        number=number,
        departure_at=at(warehouse, day, 7),
        return_at=at(warehouse, day, 17),
        distance_m=10_000,
        duration_s=3_600,
    )
    for sequence, shipment in enumerate(shipments, start=1):
        stop = RouteStop.objects.create(
            plan=plan,
            route=trip,
            sequence=sequence,
            customer=shipment.order.customer,
            weight_kg=Decimal(1),
            volume_m3=Decimal("0.01"),
            service_seconds=600,
            windows=[[8 * 3600, 17 * 3600]],
        )
        stop.shipments.add(shipment)
    return plan


@dataclass
class PickSetup:
    """What pick tasks hang on: an order line with stock, a wave and pick lists."""

    line: OrderLine
    balance: StockBalance
    wave: Wave


def pick_setup(site: wf.Site, product: Product, customer: Customer) -> PickSetup:
    receive_stock(location_id=site.bins[0].id, product_id=product.id, quantity=100)
    balance = StockBalance.objects.get(location=site.bins[0], product=product)
    start = at(site.warehouse, dt.date(2024, 3, 1), 9)
    order = Order.objects.create(
        warehouse=site.warehouse,
        customer=customer,
        number=f"KPI-P-{next(_numbers):05d}",
        status=Order.Status.RELEASED,
        requested_date=start.date(),
        promised_window_start=start,
        promised_window_end=start + dt.timedelta(hours=3),
    )
    line = OrderLine.objects.create(
        order=order, line_number=1, product=product, pack_quantity=100, quantity=100
    )
    wave = Wave.objects.create(
        warehouse=site.warehouse,
        number=f"KPI-W-{next(_numbers):05d}",
        status=Wave.Status.COMPLETED,
        dispatch_date=start.date(),
        cutoff_at=start,
        staging_location=site.staging,
        max_lines_per_list=50,
        max_weight_kg_per_list=Decimal(500),
        max_volume_m3_per_list=Decimal(5),
    )
    return PickSetup(line=line, balance=balance, wave=wave)


def pick_list(
    setup: PickSetup,
    picker: User | None,
    *,
    started_at: dt.datetime | None,
    completed_at: dt.datetime | None,
    status: str = PickList.Status.DONE,
) -> PickList:
    return PickList.objects.create(
        warehouse=setup.wave.warehouse,
        wave=setup.wave,
        number=f"KPI-PL-{next(_numbers):05d}",
        status=status,
        picker=picker,
        staging_location=setup.wave.staging_location,
        started_at=started_at,
        completed_at=completed_at,
    )


def pick_task(
    setup: PickSetup,
    pick_list: PickList,
    *,
    picked_at: dt.datetime | None,
    status: str = PickTask.Status.PICKED,
    quantity: int = 4,
    quantity_picked: int | None = None,
    wrong_bin_scans: int = 0,
    wrong_item_scans: int = 0,
    picked_by: User | None = None,
) -> PickTask:
    """A pick task of `pick_list` as picking leaves it (picked in full unless told)."""
    allocation = Allocation.objects.create(
        order_line=setup.line,
        balance=setup.balance,
        location=setup.balance.location,
        product=setup.line.product,
        quantity=quantity,
        status=Allocation.Status.PICKED,
    )
    return PickTask.objects.create(
        pick_list=pick_list,
        allocation=allocation,
        order_line=setup.line,
        location=setup.balance.location,
        product=setup.line.product,
        quantity=quantity,
        sequence=next(_numbers),
        status=status,
        quantity_picked=quantity if quantity_picked is None else quantity_picked,
        short_reason=PickTask.ShortReason.NOT_ENOUGH if status == PickTask.Status.SHORT else "",
        wrong_bin_scans=wrong_bin_scans,
        wrong_item_scans=wrong_item_scans,
        picked_by=picked_by if picked_by is not None else pick_list.picker,
        picked_at=picked_at,
    )


def arrived_asn(
    site: wf.Site, supplier: Supplier, *, arrived_at: dt.datetime, carrier: str = ""
) -> Receipt:
    """An ASN whose truck checked in at `arrived_at`, with its receipt (open) at the dock."""
    asn = InboundShipment.objects.create(
        warehouse=site.warehouse,
        supplier=supplier,
        reference=f"KPI-ASN-{next(_numbers):05d}",
        carrier=carrier,
        expected_arrival=arrived_at,
        status=InboundShipment.Status.RECEIVING,
        arrived_at=arrived_at,
    )
    return Receipt.objects.create(shipment=asn, door=site.doors[0])


def putaway(
    site: wf.Site, receipt: Receipt, product: Product, *, confirmed_at: dt.datetime | None
) -> PutawayTask:
    """A putaway task of `receipt`, confirmed into the site's first bin at `confirmed_at`."""
    done = confirmed_at is not None
    return PutawayTask.objects.create(
        receipt=receipt,
        product=product,
        quantity=12,
        from_location=site.dock,
        proposed_location=site.bins[0],
        confirmed_location=site.bins[0] if done else None,
        status=PutawayTask.Status.DONE if done else PutawayTask.Status.OPEN,
        confirmed_at=confirmed_at,
        dock_to_stock=confirmed_at - receipt.shipment.arrived_at if done else None,
    )
