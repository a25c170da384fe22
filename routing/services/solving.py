"""Solving a plan: the plan as a solver problem, and the solver's routes back as rows."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from routing import matrix as travel
from routing import solver
from routing.models import Route, RoutePlan, RouteStop, Vehicle
from routing.services.events import record_plan_event
from routing.services.plans import _claim, local_midnight
from routing.transitions import check_plan_transition

logger = logging.getLogger(__name__)

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

    Idempotent: a second run of the same attempt does nothing after the first finished.
    While another run holds the attempt it raises SolveInProgress, telling the task when to
    try again: by then that run has finished, or its worker died and this run takes over.
    A plan the solver cannot handle ends `failed` with the error.
    """
    claim = _claim(plan_id, attempt)
    if claim is False:
        logger.info("Route plan %s attempt %s is done or superseded; skipping.", plan_id, attempt)
        return None
    if claim is not True:
        raise SolveInProgress(plan_id=plan_id, attempt=attempt, retry_in=claim)
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


class SolveInProgress(Exception):
    """Another run is solving this attempt; try again after `retry_in`."""

    def __init__(self, *, plan_id: int, attempt: int, retry_in: dt.timedelta) -> None:
        super().__init__(f"Route plan {plan_id} attempt {attempt} is being solved elsewhere.")
        self.retry_in = retry_in


@transaction.atomic
def _fail(plan_id: int, attempt: int, message: str) -> RoutePlan | None:
    plan = RoutePlan.objects.select_for_update().get(id=plan_id)
    if plan.status != RoutePlan.Status.SOLVING or plan.solve_attempt != attempt:
        return None
    check_plan_transition(plan.status, RoutePlan.Status.FAILED)
    plan.status = RoutePlan.Status.FAILED
    plan.error = message[:2000]
    plan.save(update_fields=["status", "error", "updated_at"])
    record_plan_event(plan_id=plan.id, kind="failed", attempt=attempt, error=plan.error[:200])
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
    record_plan_event(
        plan_id=plan.id,
        kind="solved",
        attempt=attempt,
        routes=len(solution.routes),
        dropped=len(solution.dropped),
    )
    return plan
