"""Route plans: which shipments a day's plan covers, and asking for it to be solved."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from routing.errors import NothingToPlan
from routing.models import RoutePlan, RouteStop
from routing.services.events import record_plan_event
from routing.transitions import check_plan_transition
from shipping.models import Order, OrderLine, Shipment
from warehouse.models import StorageClass, Warehouse
from warehouse.outbox import enqueue
from warehouse.roles import recorded_user

PLANNABLE_SHIPMENT_STATUSES = (
    Shipment.Status.PLANNED,
    Shipment.Status.PACKED,
    Shipment.Status.STAGED,
)
REFRIGERATED_CLASSES = (StorageClass.CHILLED, StorageClass.FROZEN)


def local_midnight(warehouse: Warehouse, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=warehouse.tzinfo)


def _seconds_since(midnight: dt.datetime, moment: dt.datetime) -> int:
    return int((moment - midnight).total_seconds())


def list_plannable_shipments(*, warehouse: Warehouse, delivery_date: dt.date):
    """Own-fleet shipments promised for `delivery_date` (local day) and not yet loaded."""
    midnight = local_midnight(warehouse, delivery_date)
    return Shipment.objects.filter(
        warehouse=warehouse,
        status__in=PLANNABLE_SHIPMENT_STATUSES,
        order__carrier="",
        order__promised_window_start__gte=midnight,
        order__promised_window_start__lt=midnight + dt.timedelta(days=1),
    )


@dataclass(frozen=True)
class _StopLoad:
    weight_kg: Decimal
    volume_m3: Decimal
    needs_refrigeration: bool


def _loads_by_order(order_ids: list[int]) -> dict[int, _StopLoad]:
    """Weight, volume and cold-chain need of each order's still-wanted units, in one query."""
    rows = (
        OrderLine.objects.filter(order_id__in=order_ids)
        .values("order_id", "product__storage_class")
        .annotate(
            weight=Sum((F("quantity") - F("quantity_backordered")) * F("product__unit_weight_kg")),
            volume=Sum((F("quantity") - F("quantity_backordered")) * F("product__unit_volume_m3")),
        )
    )
    weight: dict[int, Decimal] = defaultdict(Decimal)
    volume: dict[int, Decimal] = defaultdict(Decimal)
    cold: dict[int, bool] = defaultdict(bool)
    for row in rows:
        weight[row["order_id"]] += row["weight"] or 0
        volume[row["order_id"]] += row["volume"] or 0
        cold[row["order_id"]] |= row["product__storage_class"] in REFRIGERATED_CLASSES
    return {oid: _StopLoad(weight[oid], volume[oid], cold[oid]) for oid in order_ids}


@transaction.atomic
def create_route_plan(
    *,
    warehouse_id: int,
    delivery_date: dt.date,
    shipment_ids: list[int] | None = None,
    time_limit_seconds: int = 30,
    seed: int = 0,
    actor=None,
) -> RoutePlan:
    """A draft plan with one stop per customer and promised window among the shipments.

    Without `shipment_ids`, takes every plannable shipment of the day. Raises NothingToPlan.
    """
    warehouse = Warehouse.objects.get(id=warehouse_id)
    shipments = list_plannable_shipments(warehouse=warehouse, delivery_date=delivery_date)
    if shipment_ids is not None:
        shipments = shipments.filter(id__in=shipment_ids)
    shipments = list(shipments.select_related("order__customer").order_by("id"))
    if not shipments:
        raise NothingToPlan(f"No shipments of {warehouse.code} to deliver on {delivery_date}.")
    if shipment_ids is not None and len(shipments) != len(set(shipment_ids)):
        found = {s.id for s in shipments}
        missing = sorted(set(shipment_ids) - found)
        raise NothingToPlan(
            f"Shipments {missing} are not waiting for delivery on {delivery_date}.",
            errors={"shipments": [f"{sid} cannot be planned for this day." for sid in missing]},
        )
    plan = RoutePlan.objects.create(
        warehouse=warehouse,
        delivery_date=delivery_date,
        time_limit_seconds=time_limit_seconds,
        seed=seed,
        created_by=recorded_user(actor),
    )
    plan.shipments.set(shipments)
    midnight = local_midnight(warehouse, delivery_date)
    loads = _loads_by_order([s.order_id for s in shipments])
    groups: dict[tuple, list[Shipment]] = defaultdict(list)
    for shipment in shipments:
        order: Order = shipment.order
        groups[(order.customer_id, order.promised_window_start, order.promised_window_end)].append(
            shipment
        )
    for (_, start, end), members in groups.items():
        customer = members[0].order.customer
        load = [loads[s.order_id] for s in members]
        stop = RouteStop.objects.create(
            plan=plan,
            customer=customer,
            weight_kg=sum((x.weight_kg for x in load), Decimal(0)).quantize(Decimal("0.1")),
            volume_m3=sum((x.volume_m3 for x in load), Decimal(0)).quantize(Decimal("0.001")),
            needs_refrigeration=any(x.needs_refrigeration for x in load),
            # Orders rank 1 (urgent) to 4 (low); stops rank higher = more important.
            priority=max(5 - s.order.priority for s in members),
            service_seconds=customer.service_time_minutes * 60,
            windows=[[_seconds_since(midnight, start), _seconds_since(midnight, end)]],
        )
        stop.shipments.set(members)
    record_plan_event(
        plan_id=plan.id, kind="created", actor=actor, shipments=len(shipments), stops=len(groups)
    )
    return plan


@transaction.atomic
def request_solve(*, plan_id: int, actor=None) -> RoutePlan:
    """Queue the plan for solving (again); the solve runs in a Celery task after commit.

    Raises InvalidTransition for an approved or dispatched plan.
    """
    plan = RoutePlan.objects.select_for_update().get(id=plan_id)
    check_plan_transition(plan.status, RoutePlan.Status.SOLVING)
    plan.status = RoutePlan.Status.SOLVING
    plan.solve_attempt += 1
    plan.solve_started_at = None
    plan.error = ""
    plan.save(update_fields=["status", "solve_attempt", "solve_started_at", "error", "updated_at"])
    attempt = plan.solve_attempt
    record_plan_event(plan_id=plan.id, kind="solve_requested", actor=actor, attempt=attempt)
    enqueue("routing.tasks.plan_routes_task", plan.id, attempt)
    return plan


def stale_solve_margin() -> dt.timedelta:
    """How long past its time limit a started solve is presumed dead (its worker was killed)
    and may be taken over by the next run of the same attempt."""
    return dt.timedelta(seconds=int(settings.DOCKSIDE["ROUTE_SOLVE_STALE_MARGIN_SECONDS"]))


def _claim(plan_id: int, attempt: int) -> bool | dt.timedelta:
    """Mark the attempt as started. True: this run solves it. False: nothing to do (the
    attempt is finished or superseded). A timedelta: another run started it recently; try
    again after that long, when it will have finished or be presumed dead."""
    now = timezone.now()
    plan = (
        RoutePlan.objects.filter(id=plan_id)
        .values("time_limit_seconds", "status", "solve_attempt", "solve_started_at")
        .first()
    )
    if plan is None or plan["status"] != RoutePlan.Status.SOLVING:
        return False
    if plan["solve_attempt"] != attempt:
        return False
    stale_after = dt.timedelta(seconds=plan["time_limit_seconds"]) + stale_solve_margin()
    claimed = RoutePlan.objects.filter(
        Q(solve_started_at__isnull=True) | Q(solve_started_at__lt=now - stale_after),
        id=plan_id,
        status=RoutePlan.Status.SOLVING,
        solve_attempt=attempt,
    ).update(solve_started_at=now)
    if claimed:
        return True
    started = plan["solve_started_at"] or now
    return max(started + stale_after - now, dt.timedelta(seconds=1))


def plan_due_warehouses(*, now: dt.datetime | None = None) -> list[RoutePlan]:
    """Create and start tomorrow's plan for every warehouse past its planning cut-off that has
    none yet. Safe to run often and from two schedulers: the warehouse row is locked."""
    now = now or timezone.now()
    cutoff = dt.time.fromisoformat(settings.DOCKSIDE["ROUTE_PLANNING_CUTOFF"])
    created = []
    for warehouse_id in Warehouse.objects.values_list("id", flat=True):
        with transaction.atomic():
            warehouse = Warehouse.objects.select_for_update().get(id=warehouse_id)
            local = now.astimezone(warehouse.tzinfo)
            tomorrow = local.date() + dt.timedelta(days=1)
            if local.time() < cutoff:
                continue
            if RoutePlan.objects.filter(warehouse=warehouse, delivery_date=tomorrow).exists():
                continue
            if not list_plannable_shipments(warehouse=warehouse, delivery_date=tomorrow).exists():
                continue
            plan = create_route_plan(warehouse_id=warehouse.id, delivery_date=tomorrow)
            created.append(request_solve(plan_id=plan.id))
    return created
