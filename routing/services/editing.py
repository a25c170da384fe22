"""Dispatchers' changes to a solved plan: moving stops by hand, and approval."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from routing import solver
from routing.errors import InfeasibleEdit
from routing.feasibility import check_solution
from routing.models import Route, RoutePlan, RouteStop
from routing.services.events import record_plan_event
from routing.services.solving import _current_routes, _fleet, _plan_model, _write_routes
from routing.transitions import check_plan_transition
from shipping.models import Shipment
from shipping.services.dispatch import sequence_loading
from shipping.services.tracking import set_planned_etas
from warehouse.models import DockDoor, Location, Zone
from warehouse.roles import recorded_user


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
        problems = [str(v) for v in check_solution(model.problem, edited)]
    if problems:
        raise InfeasibleEdit(
            "This change would make the plan infeasible: " + "; ".join(problems[:5]) + ".",
            errors={"stop": problems[:20]},
        )
    _write_routes(plan, model, routes, kept)
    plan.strategy = "edited by hand"
    plan.save()
    record_plan_event(
        plan_id=plan.id,
        kind="stop_moved",
        actor=actor,
        stop=stop_id,
        route=route_number,
        position=position,
    )
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
    # The customers' ETA windows (tracking page, "out for delivery"): each routed stop's
    # planned start of service.
    routed = RouteStop.objects.filter(
        plan=plan, route__isnull=False, planned_arrival__isnull=False
    ).prefetch_related("shipments")
    set_planned_etas(
        arrivals=[
            (
                [shipment.order_id for shipment in stop.shipments.all()],
                stop.planned_arrival + dt.timedelta(seconds=stop.waiting_seconds),
            )
            for stop in routed
        ]
    )
    plan.status = RoutePlan.Status.APPROVED
    plan.approved_at = timezone.now()
    plan.approved_by = recorded_user(actor)
    plan.save(update_fields=["status", "approved_at", "approved_by", "updated_at"])
    record_plan_event(plan_id=plan.id, kind="approved", actor=actor, routes=len(routes))
    return plan
