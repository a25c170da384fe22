"""Demo history: four weeks of delivered orders with their picks and routes (and, from
`receiving.demo_history`, of received ASNs with their putaways), so that a fresh `make run`
shows KPI figures; then the KPIs of those days are computed.

The rows are bulk-inserted as the services leave them at the end of each flow (orders
delivered, shipments with their ShipmentLine rows, pick tasks closed, receipts closed with their
discrepancies, putaways confirmed): going through the services for a month of work would take
minutes. Stock is not touched (the units left long ago), so the ledger still reconciles.
Deterministic and idempotent: skipped once the history exists; the KPIs are recomputed each
time (upserts).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal
from typing import TextIO

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from receiving.demo_history import write_inbound_history
from routing.models import Route, RoutePlan, RouteStop, Vehicle
from shipping.kpis.compute import recompute_kpis
from shipping.models import (
    Allocation,
    Customer,
    Delivery,
    DeliveryLine,
    Order,
    OrderLine,
    PickList,
    PickTask,
    Shipment,
    ShipmentLine,
    Wave,
)
from shipping.services.common import setting
from warehouse.models import Location, StockBalance, StockStatus, Warehouse, Zone

DAYS = 28
PREFIX = "HIST-"
# Mostly our own vans; some orders go with a parcel carrier.
CARRIERS = ("", "", "", "", "DHL Parcel", "PostNL")


def seed(*, warehouse: Warehouse, stdout: TextIO) -> None:
    """Add the history once, then recompute the KPIs of its days (and today's)."""
    today = timezone.localtime(timezone.now(), warehouse.tzinfo).date()
    first = today - dt.timedelta(days=DAYS)
    made = ""
    if not Order.objects.filter(warehouse=warehouse, number__startswith=PREFIX).exists():
        made = _History(warehouse, random.Random(11)).write(first, today)
    result = recompute_kpis(date_from=first, date_to=today, warehouse_ids=[warehouse.id])
    stdout.write(
        f"KPI history: {made or 'already there'}; KPIs of {first}..{today}: "
        f"{result.total_rows} snapshot rows in {result.seconds:.1f} s\n"
    )


def _at(warehouse: Warehouse, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=warehouse.tzinfo)


class _History:
    def __init__(self, warehouse: Warehouse, rng: random.Random) -> None:
        self.warehouse = warehouse
        self.rng = rng
        self.tolerance = dt.timedelta(minutes=int(setting("DELIVERY_WINDOW_TOLERANCE_MINUTES", 15)))
        self.customers = list(Customer.objects.filter(warehouse=warehouse).order_by("code")[:40])
        self.balances = list(
            StockBalance.objects.filter(
                location__warehouse=warehouse,
                location__zone__kind__in=Zone.STOCKING_KINDS,
                status=StockStatus.AVAILABLE,
                quantity__gt=0,
            ).order_by("id")[:150]
        )
        self.staging = Location.objects.filter(
            warehouse=warehouse, zone__kind=Zone.Kind.STAGING
        ).first()
        self.vans = list(
            Vehicle.objects.filter(warehouse=warehouse, carrier="", is_refrigerated=False).order_by(
                "code"
            )
        )
        self.picker = get_user_model().objects.filter(username="picker").first()
        self.counts: dict[str, int] = defaultdict(int)

    @transaction.atomic
    def write(self, first: dt.date, today: dt.date) -> str:
        if not (self.customers and self.balances and self.staging):
            return "skipped (no customers, stock or staging lane)"
        day = first
        while day < today:
            self._outbound_day(day)
            day += dt.timedelta(days=1)
        asns = write_inbound_history(warehouse=self.warehouse, first=first, today=today)
        c = self.counts
        return (
            f"{c['orders']} delivered orders, {c['tasks']} pick tasks, "
            f"{asns} received ASNs over {DAYS} days"
        )

    # --- outbound -----------------------------------------------------------------------------

    def _outbound_day(self, day: dt.date) -> None:
        rng, warehouse = self.rng, self.warehouse
        wave = Wave.objects.create(
            warehouse=warehouse,
            number=f"{PREFIX}W-{day:%Y%m%d}",
            status=Wave.Status.COMPLETED,
            dispatch_date=day,
            cutoff_at=_at(warehouse, day, 5),
            staging_location=self.staging,
            max_lines_per_list=20,
            max_weight_kg_per_list=Decimal(250),
            max_volume_m3_per_list=Decimal("1.5"),
            released_at=_at(warehouse, day, 5),
            completed_at=_at(warehouse, day, 7, 30),
        )
        orders = []
        for number in range(1, rng.randint(24, 36) + 1):
            customer = rng.choice(self.customers)
            orders.append(
                Order(
                    warehouse=warehouse,
                    customer=customer,
                    number=f"{PREFIX}{day:%Y%m%d}-{number:03d}",
                    status=Order.Status.DELIVERED,
                    requested_date=day,
                    promised_window_start=_at(warehouse, day, customer.window_start.hour),
                    promised_window_end=_at(warehouse, day, customer.window_end.hour),
                    carrier=rng.choice(CARRIERS),
                    wave=wave,
                )
            )
        Order.objects.bulk_create(orders)
        for order in orders:  # auto_now_add ignores the value on insert: set it afterwards
            order.created_at = _at(warehouse, day - dt.timedelta(days=1), rng.randint(8, 20))
            order.created_at += dt.timedelta(minutes=rng.randint(0, 59))
        Order.objects.bulk_update(orders, ["created_at"])

        lines, shipped = [], {}
        for order in orders:
            for line_number, balance in enumerate(rng.sample(self.balances, rng.randint(1, 3)), 1):
                quantity = rng.randint(1, 8)
                # About one line in twenty-five leaves short (the bin was empty).
                short = rng.randint(1, quantity) if rng.random() < 0.04 else 0
                line = OrderLine(
                    order=order,
                    line_number=line_number,
                    product_id=balance.product_id,
                    pack_quantity=quantity,
                    quantity=quantity,
                    quantity_allocated=quantity - short,
                    quantity_picked=quantity - short,
                    quantity_shipped=quantity - short,
                )
                lines.append(line)
                shipped[id(line)] = (balance, quantity - short)
        OrderLine.objects.bulk_create(lines)
        self._picks(day, wave, lines, shipped)
        shipments = self._shipments(day, orders, lines, shipped)
        self._routes(day, shipments)
        self.counts["orders"] += len(orders)

    def _picks(self, day, wave, lines, shipped) -> None:
        rng, warehouse = self.rng, self.warehouse
        lists = [
            PickList(
                warehouse=warehouse,
                wave=wave,
                number=f"{PREFIX}PL-{day:%Y%m%d}-{n}",
                status=PickList.Status.DONE,
                picker=self.picker,
                staging_location=self.staging,
                path_method="s-shape",
                started_at=_at(warehouse, day, 5, 10) + dt.timedelta(minutes=20 * n),
                completed_at=_at(warehouse, day, 6, 40) + dt.timedelta(minutes=10 * n),
            )
            for n in range(3)
        ]
        PickList.objects.bulk_create(lists)
        allocations, tasks = [], []
        for index, line in enumerate(lines):
            balance, picked = shipped[id(line)]
            allocation = Allocation(
                order_line=line,
                balance=balance,
                location_id=balance.location_id,
                product_id=line.product_id,
                lot_id=balance.lot_id,
                quantity=picked,
                status=Allocation.Status.SHIPPED if picked else Allocation.Status.RELEASED,
            )
            allocations.append(allocation)
            pick_list = lists[index % len(lists)]
            is_short = picked < line.quantity
            tasks.append(
                PickTask(
                    pick_list=pick_list,
                    allocation=allocation,
                    order_line=line,
                    location_id=balance.location_id,
                    product_id=line.product_id,
                    lot_id=balance.lot_id,
                    quantity=line.quantity,
                    sequence=index + 1,
                    status=PickTask.Status.SHORT if is_short else PickTask.Status.PICKED,
                    quantity_picked=picked,
                    short_reason=PickTask.ShortReason.EMPTY_BIN if is_short else "",
                    is_item_match=True if picked else None,
                    wrong_bin_scans=1 if rng.random() < 0.03 else 0,
                    wrong_item_scans=1 if rng.random() < 0.02 else 0,
                    picked_by=self.picker,
                    picked_at=pick_list.started_at + dt.timedelta(minutes=rng.randint(1, 29)),
                )
            )
        Allocation.objects.bulk_create(allocations)
        PickTask.objects.bulk_create(tasks)
        self.counts["tasks"] += len(tasks)

    def _shipments(self, day, orders, lines, shipped) -> list[Shipment]:
        rng, warehouse = self.rng, self.warehouse
        departure = _at(warehouse, day, 7, 30)
        by_order = defaultdict(list)
        for line in lines:
            by_order[line.order_id].append(line)
        shipments = []
        for order in orders:
            vehicle = "" if order.carrier or not self.vans else rng.choice(self.vans).code
            shipments.append(
                Shipment(
                    warehouse=warehouse,
                    order=order,
                    number=f"{PREFIX}SH-{order.number[len(PREFIX) :]}",
                    status=Shipment.Status.DELIVERED,
                    planned_departure=departure,
                    vehicle_code=vehicle,
                    packed_at=departure - dt.timedelta(minutes=50),
                    staged_at=departure - dt.timedelta(minutes=40),
                    dispatched_at=departure
                    + dt.timedelta(minutes=rng.choice([-20, -10, -5, 0, 12])),
                )
            )
        Shipment.objects.bulk_create(shipments)
        shipment_lines, deliveries = [], []
        for shipment, order in zip(shipments, orders, strict=True):
            order_lines = by_order[order.id]
            shipment_lines += [
                ShipmentLine(shipment=shipment, order_line=line, quantity=shipped[id(line)][1])
                for line in order_lines
                if shipped[id(line)][1]
            ]
            delivered_at = self._delivery_time(order)
            in_full = all(shipped[id(line)][1] == line.quantity for line in order_lines)
            deliveries.append(
                Delivery(
                    shipment=shipment,
                    arrived_at=delivered_at - dt.timedelta(minutes=5),
                    delivered_at=delivered_at,
                    recipient_name=order.customer.name,
                    is_on_time=order.promised_window_start - self.tolerance
                    <= delivered_at
                    <= order.promised_window_end + self.tolerance,
                    is_in_full=in_full,
                )
            )
        ShipmentLine.objects.bulk_create(shipment_lines)
        Delivery.objects.bulk_create(deliveries)
        DeliveryLine.objects.bulk_create(
            DeliveryLine(
                delivery=delivery, order_line=line, quantity_delivered=shipped[id(line)][1]
            )
            for delivery, order in zip(deliveries, orders, strict=True)
            for line in by_order[order.id]
        )
        return shipments

    def _delivery_time(self, order: Order) -> dt.datetime:
        """Mostly inside the promised window; some early, some late with a long tail."""
        start, end = order.promised_window_start, order.promised_window_end
        draw = self.rng.random()
        if draw < 0.04:
            return start - dt.timedelta(minutes=self.rng.randint(20, 60))
        if draw < 0.16:
            return end + dt.timedelta(minutes=int(self.rng.expovariate(1 / 40)) + 5)
        return start + dt.timedelta(minutes=self.rng.randint(0, int((end - start).seconds / 60)))

    def _routes(self, day: dt.date, shipments: list[Shipment]) -> None:
        """The day's plan: one route per van, one stop per customer on it."""
        own = [shipment for shipment in shipments if shipment.vehicle_code]
        if not own:
            return
        warehouse = self.warehouse
        plan = RoutePlan.objects.create(
            warehouse=warehouse,
            delivery_date=day,
            status=RoutePlan.Status.DISPATCHED,
            vehicles_used=len({s.vehicle_code for s in own}),
        )
        vans = {van.code: van for van in self.vans}
        routes = {}
        for number, code in enumerate(sorted({s.vehicle_code for s in own}), start=1):
            routes[code] = Route.objects.create(
                plan=plan,
                vehicle=vans[code],
                number=number,
                departure_at=_at(warehouse, day, 7, 30),
                return_at=_at(warehouse, day, 16),
                distance_m=self.rng.randint(40_000, 120_000),
                duration_s=self.rng.randint(5, 8) * 3600,
            )
        stops: dict[tuple[str, int], list[Shipment]] = defaultdict(list)
        for shipment in own:
            stops[(shipment.vehicle_code, shipment.order.customer_id)].append(shipment)
        sequence: dict[str, int] = defaultdict(int)
        made = []
        for (code, customer_id), members in stops.items():
            sequence[code] += 1
            customer = members[0].order.customer
            start = customer.window_start.hour * 3600
            made.append(
                RouteStop(
                    plan=plan,
                    route=routes[code],
                    sequence=sequence[code],
                    customer_id=customer_id,
                    weight_kg=Decimal(10 * len(members)),
                    volume_m3=Decimal("0.1") * len(members),
                    service_seconds=customer.service_time_minutes * 60,
                    windows=[[start, customer.window_end.hour * 3600]],
                )
            )
        RouteStop.objects.bulk_create(made)
        RouteStop.shipments.through.objects.bulk_create(
            RouteStop.shipments.through(routestop_id=stop.id, shipment_id=shipment.id)
            for stop, members in zip(made, stops.values(), strict=True)
            for shipment in members
        )
