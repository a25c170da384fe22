"""Route planning: create a plan from the day's shipments, solve it, edit it, approve it.

The OR-Tools model lives in `routing.solver` (pure Python); this module turns plans into
solver problems and solutions back into routes and stops, and drives the plan's state machine.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from routing import matrix as travel
from routing import solver
from routing.errors import InfeasibleEdit, NothingToPlan
from routing.models import Route, RoutePlan, RouteStop, Vehicle
from routing.transitions import check_plan_transition
from shipping.models import Order, OrderLine, Shipment
from shipping.services.dispatch import sequence_loading
from warehouse.models import DockDoor, Location, StorageClass, Warehouse, Zone

logger = logging.getLogger(__name__)

# Shipments that still wait for a vehicle.
PLANNABLE_SHIPMENT_STATUSES = (
    Shipment.Status.PLANNED,
    Shipment.Status.PACKED,
    Shipment.Status.STAGED,
)
# A solve whose worker died is taken over by the next task once this much past its limit.
STALE_SOLVE_MARGIN = dt.timedelta(minutes=2)
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
        created_by=actor if actor is not None and actor.is_authenticated else None,
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
    return plan


@transaction.atomic
def request_solve(*, plan_id: int, actor=None) -> RoutePlan:
    """Queue the plan for solving (again); the solve runs in a Celery task after commit.

    Raises InvalidTransition for an approved or dispatched plan.
    """
    from routing.tasks import plan_routes_task

    plan = RoutePlan.objects.select_for_update().get(id=plan_id)
    check_plan_transition(plan.status, RoutePlan.Status.SOLVING)
    plan.status = RoutePlan.Status.SOLVING
    plan.solve_attempt += 1
    plan.solve_started_at = None
    plan.error = ""
    plan.save(update_fields=["status", "solve_attempt", "solve_started_at", "error", "updated_at"])
    attempt = plan.solve_attempt
    transaction.on_commit(lambda: plan_routes_task.delay(plan.id, attempt))
    return plan


def _claim(plan_id: int, attempt: int) -> bool:
    """Mark the attempt as started unless another run holds it (or it went stale)."""
    now = timezone.now()
    plan = RoutePlan.objects.filter(id=plan_id).values("time_limit_seconds").first()
    if plan is None:
        return False
    stale_before = now - dt.timedelta(seconds=plan["time_limit_seconds"]) - STALE_SOLVE_MARGIN
    return bool(
        RoutePlan.objects.filter(
            Q(solve_started_at__isnull=True) | Q(solve_started_at__lt=stale_before),
            id=plan_id,
            status=RoutePlan.Status.SOLVING,
            solve_attempt=attempt,
        ).update(solve_started_at=now)
    )


# --- Solving ----------------------------------------------------------------------------------

DAY_SECONDS = 24 * 3600


@dataclass
class _PlanModel:
    """A plan as a solver problem, with the maps back from solver ids to rows."""

    problem: solver.Problem
    stops: dict[int, RouteStop]
    vehicles: dict[int, Vehicle]
    midnight: dt.datetime


def _time_of_day(value: dt.time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


def _solver_vehicle(vehicle: Vehicle) -> solver.Vehicle:
    return solver.Vehicle(
        id=vehicle.id,
        capacity_weight=int(vehicle.capacity_weight_kg * 1000),  # grams
        capacity_volume=int(vehicle.capacity_volume_m3 * 1_000_000),  # cubic centimetres
        is_refrigerated=vehicle.is_refrigerated,
        shift_start=_time_of_day(vehicle.shift_start),
        shift_end=_time_of_day(vehicle.shift_end),
        max_duration=vehicle.max_route_minutes * 60,
        speed=float(vehicle.average_speed_kmh) / 3.6,  # metres per second
        # Costs in thousandths of the currency unit: per use, and per metre driven.
        fixed_cost=int(vehicle.fixed_cost * 1000),
        cost_per_distance=float(vehicle.cost_per_km),
    )


def _solver_stop(stop: RouteStop, location: int) -> solver.Stop:
    windows = tuple(
        solver.TimeWindow(max(0, start), min(DAY_SECONDS, end))
        for start, end in stop.windows
        if end >= 0 and start <= DAY_SECONDS
    )
    return solver.Stop(
        id=stop.id,
        location=location,
        weight=int(stop.weight_kg * 1000),
        volume=int(stop.volume_m3 * 1_000_000),
        # A window wholly outside the day cannot be met: keep one the solver will report.
        windows=windows or (solver.TimeWindow(DAY_SECONDS, DAY_SECONDS),),
        service_time=stop.service_seconds,
        needs_refrigeration=stop.needs_refrigeration,
        priority=stop.priority,
    )


def _distance_matrix(plan: RoutePlan, points: list[travel.Point]):
    """The plan's matrix, computed once per set of points and stored on the plan."""
    key = travel.points_key(points)
    if plan.matrix_key == key and plan.distance_matrix:
        return travel.from_bytes(bytes(plan.distance_matrix), len(points))
    distances = travel.get_provider().distances(points)
    RoutePlan.objects.filter(id=plan.id).update(
        matrix_key=key, distance_matrix=travel.to_bytes(distances)
    )
    plan.matrix_key, plan.distance_matrix = key, travel.to_bytes(distances)
    return distances


def _plan_model(plan: RoutePlan, vehicles: list[Vehicle]) -> _PlanModel:
    stops = list(plan.stops.select_related("customer").order_by("id"))
    warehouse = plan.warehouse
    points = [(float(warehouse.latitude), float(warehouse.longitude))] + [
        (float(stop.customer.latitude), float(stop.customer.longitude)) for stop in stops
    ]
    problem = solver.Problem(
        depot=solver.Depot(window=solver.TimeWindow(0, DAY_SECONDS)),
        stops=[_solver_stop(stop, index) for index, stop in enumerate(stops, start=1)],
        vehicles=[_solver_vehicle(vehicle) for vehicle in vehicles],
        distance_matrix=_distance_matrix(plan, points),
    )
    return _PlanModel(
        problem=problem,
        stops={stop.id: stop for stop in stops},
        vehicles={vehicle.id: vehicle for vehicle in vehicles},
        midnight=local_midnight(warehouse, plan.delivery_date),
    )


def _fleet(plan: RoutePlan) -> list[Vehicle]:
    """The warehouse's active own-fleet vehicles, plus any already routed on the plan."""
    return list(
        Vehicle.objects.filter(Q(warehouse=plan.warehouse, is_active=True) | Q(routes__plan=plan))
        .distinct()
        .order_by("code")
    )


def _current_routes(plan: RoutePlan, vehicles: list[Vehicle]) -> list[list[int]]:
    """Stop ids per vehicle (in fleet order) as the plan has them now: a warm start."""
    by_vehicle: dict[int, list[int]] = defaultdict(list)
    for vehicle_id, stop_id in (
        RouteStop.objects.filter(plan=plan, route__isnull=False)
        .order_by("route__number", "sequence")
        .values_list("route__vehicle_id", "id")
    ):
        by_vehicle[vehicle_id].append(stop_id)
    return [by_vehicle.get(vehicle.id, []) for vehicle in vehicles]


class _ProgressWriter:
    """Records the best objective so far on the plan, at most once a second."""

    def __init__(self, plan_id: int) -> None:
        self.plan_id = plan_id
        self.count = 0
        self.last_write = 0.0

    def __call__(self, progress: solver.Progress) -> None:
        self.count += 1
        if progress.elapsed_s - self.last_write >= 1.0 or self.count == 1:
            self.last_write = progress.elapsed_s
            RoutePlan.objects.filter(id=self.plan_id).update(
                best_objective=progress.best_objective, solutions_found=self.count
            )


def solve_route_plan(*, plan_id: int, attempt: int) -> RoutePlan | None:
    """Solve one requested attempt of a plan and store its routes; run by plan_routes_task.

    Idempotent: a second run of the same attempt (a duplicate or redelivered task) does
    nothing while the first is running or after it finished. A plan the solver cannot handle
    ends `failed` with the error.
    """
    if not _claim(plan_id, attempt):
        logger.info("Route plan %s attempt %s is taken or done; skipping.", plan_id, attempt)
        return None
    plan = RoutePlan.objects.select_related("warehouse").get(id=plan_id)
    vehicles = _fleet(plan)
    try:
        model = _plan_model(plan, vehicles)
        progress = _ProgressWriter(plan.id)
        solution = solver.solve(
            model.problem,
            time_limit_s=plan.time_limit_seconds,
            seed=plan.seed,
            initial_routes=_current_routes(plan, vehicles) or None,
            on_progress=progress,
        )
    except (solver.InvalidProblem, solver.SolverBug) as error:
        logger.exception("Route plan %s failed", plan_id)
        return _fail(plan_id, attempt, f"{error.__class__.__name__}: {error}")
    return _store_solution(plan_id, attempt, model, solution, progress.count)


@transaction.atomic
def _fail(plan_id: int, attempt: int, message: str) -> RoutePlan | None:
    plan = RoutePlan.objects.select_for_update().get(id=plan_id)
    if plan.status != RoutePlan.Status.SOLVING or plan.solve_attempt != attempt:
        return None
    check_plan_transition(plan.status, RoutePlan.Status.FAILED)
    plan.status = RoutePlan.Status.FAILED
    plan.error = message[:2000]
    plan.save(update_fields=["status", "error", "updated_at"])
    return plan


def _write_routes(plan: RoutePlan, model: _PlanModel, routes, dropped) -> None:
    """Replace the plan's routes and stop timings with the given solver routes and drops."""
    RouteStop.objects.filter(plan=plan).update(route=None, sequence=None)
    plan.routes.all().delete()
    at = model.midnight.__add__
    changed: list[RouteStop] = []
    for number, solved in enumerate(routes, start=1):
        route = Route.objects.create(
            plan=plan,
            vehicle=model.vehicles[solved.vehicle_id],
            number=number,
            departure_at=at(dt.timedelta(seconds=solved.departure)),
            return_at=at(dt.timedelta(seconds=solved.return_time)),
            distance_m=solved.distance,
            duration_s=solved.duration,
            load_weight_kg=Decimal(solved.load_weight) / 1000,
            load_volume_m3=Decimal(solved.load_volume) / 1_000_000,
        )
        for sequence, visit in enumerate(solved.stops, start=1):
            stop = model.stops[visit.stop_id]
            stop.route, stop.sequence = route, sequence
            stop.planned_arrival = at(dt.timedelta(seconds=visit.arrival))
            stop.waiting_seconds = visit.waiting
            stop.planned_departure = at(dt.timedelta(seconds=visit.departure))
            stop.load_weight_after_kg = Decimal(visit.load_weight) / 1000
            stop.load_volume_after_m3 = Decimal(visit.load_volume) / 1_000_000
            stop.distance_from_previous_m = visit.distance_from_previous
            stop.dropped_reason_code = stop.dropped_reason = ""
            changed.append(stop)
    for drop in dropped:
        stop = model.stops[drop.stop_id]
        stop.route = stop.sequence = stop.planned_arrival = stop.planned_departure = None
        stop.waiting_seconds = 0
        stop.load_weight_after_kg = stop.load_volume_after_m3 = None
        stop.distance_from_previous_m = None
        stop.dropped_reason_code = str(drop.reason)
        stop.dropped_reason = drop.message[:200]
        changed.append(stop)
    RouteStop.objects.bulk_update(
        changed,
        [
            "route",
            "sequence",
            "planned_arrival",
            "waiting_seconds",
            "planned_departure",
            "load_weight_after_kg",
            "load_volume_after_m3",
            "distance_from_previous_m",
            "dropped_reason_code",
            "dropped_reason",
        ],
    )
    plan.total_distance_m = sum(route.distance for route in routes)
    plan.total_duration_s = sum(route.duration for route in routes)
    plan.vehicles_used = len(routes)
    plan.dropped_stops = len(dropped)


@transaction.atomic
def _store_solution(
    plan_id: int, attempt: int, model: _PlanModel, solution: solver.Solution, found: int
) -> RoutePlan | None:
    plan = RoutePlan.objects.select_for_update().get(id=plan_id)
    if plan.status != RoutePlan.Status.SOLVING or plan.solve_attempt != attempt:
        return None  # a newer request superseded this attempt
    _write_routes(plan, model, solution.routes, solution.dropped)
    check_plan_transition(plan.status, RoutePlan.Status.SOLVED)
    plan.status = RoutePlan.Status.SOLVED
    plan.solved_at = timezone.now()
    plan.best_objective = solution.objective
    plan.solutions_found = max(found, 1)
    plan.solve_seconds = round(solution.wall_time_s, 2)
    plan.strategy = solution.strategy[:60]
    plan.save()
    return plan


# --- Editing and approving ------------------------------------------------------------------


@transaction.atomic
def move_stop(
    *, plan_id: int, stop_id: int, route_number: int | None, position: int | None, actor=None
) -> RoutePlan:
    """Move a stop by hand to route `route_number` at `position` (1-based; None = last), or
    off the plan with `route_number=None`. Times and loads are recomputed.

    Raises InvalidTransition unless the plan is solved, InfeasibleEdit (with the reasons) if a
    route would then break a window, a capacity, a shift or a cold-chain need.
    """
    plan = RoutePlan.objects.select_for_update().select_related("warehouse").get(id=plan_id)
    if plan.status != RoutePlan.Status.SOLVED:
        check_plan_transition(plan.status, RoutePlan.Status.SOLVED)
    stop = RouteStop.objects.filter(plan=plan, id=stop_id).first()
    if stop is None:
        raise InfeasibleEdit(f"Stop {stop_id} is not on this plan.", errors={"stop": ["Unknown."]})
    vehicles = _fleet(plan)
    model = _plan_model(plan, vehicles)
    sequences = dict(zip((v.id for v in vehicles), _current_routes(plan, vehicles), strict=True))
    numbers = dict(plan.routes.values_list("number", "vehicle_id"))
    for sequence in sequences.values():
        if stop_id in sequence:
            sequence.remove(stop_id)
    if route_number is not None:
        if route_number not in numbers:
            raise InfeasibleEdit(
                f"The plan has no route {route_number}.", errors={"route": ["Unknown route."]}
            )
        target = sequences[numbers[route_number]]
        index = len(target) if position is None else min(position - 1, len(target))
        target.insert(index, stop_id)
    by_id = {s.id: s for s in model.problem.stops}
    routes, problems = [], []
    for vehicle in model.problem.vehicles:
        ids = sequences[vehicle.id]
        if not ids:
            continue
        route = solver.route_for(model.problem, vehicle, [by_id[i] for i in ids])
        if route is None:
            problems.append(f"{model.vehicles[vehicle.id].code}: a delivery window is missed")
        else:
            routes.append(route)
    kept = [d for d in _dropped_now(plan) if d.stop_id != stop_id]
    if route_number is None:
        kept.append(solver.DroppedStop(stop_id, solver.DropReason.MANUAL, "Taken off by hand."))
    if not problems:
        edited = solver.Solution(
            routes=tuple(routes),
            dropped=tuple(kept),
            objective=0,
            total_distance=sum(r.distance for r in routes),
            total_duration=sum(r.duration for r in routes),
            vehicles_used=len(routes),
            wall_time_s=0.0,
            strategy="manual",
        )
        from routing.feasibility import check_solution

        problems = [str(v) for v in check_solution(model.problem, edited)]
    if problems:
        raise InfeasibleEdit(
            "This change would make the plan infeasible: " + "; ".join(problems[:5]) + ".",
            errors={"stop": problems[:20]},
        )
    _write_routes(plan, model, routes, kept)
    plan.strategy = "edited by hand"
    plan.save()
    return plan


def _dropped_now(plan: RoutePlan) -> list[solver.DroppedStop]:
    return [
        solver.DroppedStop(stop_id, solver.DropReason(code), message)
        for stop_id, code, message in RouteStop.objects.filter(
            plan=plan, route__isnull=True
        ).values_list("id", "dropped_reason_code", "dropped_reason")
    ]


@transaction.atomic
def approve_route_plan(*, plan_id: int, actor=None) -> RoutePlan:
    """Approve a solved plan: each route gets a staging lane and an outbound door, and its
    shipments their load order (the last stop is loaded first) and vehicle.

    Raises InvalidTransition unless the plan is solved.
    """
    plan = RoutePlan.objects.select_for_update().get(id=plan_id)
    check_plan_transition(plan.status, RoutePlan.Status.APPROVED)
    lanes = list(
        Location.objects.filter(
            warehouse_id=plan.warehouse_id, zone__kind=Zone.Kind.STAGING, is_active=True
        ).order_by("code")
    )
    doors = list(
        DockDoor.objects.filter(
            warehouse_id=plan.warehouse_id,
            is_active=True,
            direction__in=[DockDoor.Direction.OUTBOUND, DockDoor.Direction.BOTH],
        ).order_by("code")
    )
    routes = list(plan.routes.select_related("vehicle").order_by("departure_at", "number"))
    for index, route in enumerate(routes):
        route.staging_lane = lanes[index % len(lanes)] if lanes else None
        route.outbound_door = doors[index % len(doors)] if doors else None
        shipment_ids = list(
            Shipment.objects.filter(route_stops__route=route)
            .order_by("route_stops__sequence", "id")
            .values_list("id", flat=True)
        )
        sequence_loading(shipment_ids_in_stop_order=shipment_ids, vehicle_code=route.vehicle.code)
        Shipment.objects.filter(id__in=shipment_ids).update(
            staging_lane=route.staging_lane, outbound_door=route.outbound_door
        )
    Route.objects.bulk_update(routes, ["staging_lane", "outbound_door"])
    plan.status = RoutePlan.Status.APPROVED
    plan.approved_at = timezone.now()
    plan.approved_by = actor if actor is not None and actor.is_authenticated else None
    plan.save(update_fields=["status", "approved_at", "approved_by", "updated_at"])
    return plan


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
