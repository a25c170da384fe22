"""Timing one vehicle's stops: serving a stop alone (to drop hopeless stops and explain drops),
the forward pass over windows, and the departure that wastes least time."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from routing.solver.problem import (
    DroppedStop,
    DropReason,
    PlannedStop,
    Problem,
    Route,
    SolverBug,
    Stop,
    Vehicle,
)

# --- Serving a stop alone: used to drop hopeless stops before the search, and to explain drops.


def _alone_failure(
    problem: Problem, stop: Stop, vehicle: Vehicle, times: np.ndarray
) -> DropReason | None:
    """The first check a depot -> stop -> depot trip of this vehicle fails, or None."""
    if stop.needs_refrigeration and not vehicle.is_refrigerated:
        return DropReason.NO_REFRIGERATED_VEHICLE
    if stop.weight > vehicle.capacity_weight:
        return DropReason.TOO_HEAVY
    if stop.volume > vehicle.capacity_volume:
        return DropReason.TOO_BULKY
    depot = problem.depot.location
    out = int(times[depot, stop.location])
    back = int(times[stop.location, depot])
    earliest, latest = problem.shift(vehicle)
    if vehicle.max_duration is not None and out + stop.service_time + back > vehicle.max_duration:
        return DropReason.WINDOW_UNREACHABLE
    for window in problem.windows_of(stop):
        # Leaving the depot just in time, nothing is spent waiting.
        service_start = max(window.start, earliest + out)
        if service_start <= window.end and service_start + stop.service_time + back <= latest:
            return None
    return DropReason.WINDOW_UNREACHABLE


# Order in which an alone-trip fails: the vehicle that gets furthest names the reason.
_FAILURE_DEPTH = {
    DropReason.NO_REFRIGERATED_VEHICLE: 0,
    DropReason.TOO_HEAVY: 1,
    DropReason.TOO_BULKY: 2,
    DropReason.WINDOW_UNREACHABLE: 3,
}


def _hopeless_reason(failures: Sequence[DropReason | None]) -> DropReason | None:
    """Why no vehicle can serve the stop even alone, or None when one can."""
    if not failures:
        return DropReason.NO_VEHICLE
    if any(f is None for f in failures):
        return None
    return max((f for f in failures if f is not None), key=_FAILURE_DEPTH.__getitem__)


def _dropped(stop: Stop, reason: DropReason, problem: Problem) -> DroppedStop:
    detail = ""
    if reason is DropReason.TOO_HEAVY:
        most = max(v.capacity_weight for v in problem.vehicles if _fits_fridge(stop, v))
        detail = f" (weight {stop.weight} > largest capacity {most})"
    elif reason is DropReason.TOO_BULKY:
        most = max(v.capacity_volume for v in problem.vehicles if _fits_fridge(stop, v))
        detail = f" (volume {stop.volume} > largest capacity {most})"
    return DroppedStop(stop_id=stop.id, reason=reason, message=reason.message + detail)


def _fits_fridge(stop: Stop, vehicle: Vehicle) -> bool:
    return vehicle.is_refrigerated or not stop.needs_refrigeration


# --- Schedules: the same forward pass the checker does, plus choosing the departure time.


def _forward_pass(
    problem: Problem, stops: Sequence[Stop], times: np.ndarray, departure: int
) -> tuple[list[tuple[int, int]], int] | None:
    """(arrival, service start) per stop and the return time when leaving at `departure`,
    serving each stop as early as its windows allow; None if a window is missed."""
    here = problem.depot.location
    clock = departure
    visits = []
    for stop in stops:
        arrival = clock + int(times[here, stop.location])
        start = next(
            (max(arrival, w.start) for w in problem.windows_of(stop) if arrival <= w.end), None
        )
        if start is None:
            return None
        visits.append((arrival, start))
        clock = start + stop.service_time
        here = stop.location
    return visits, clock + int(times[here, problem.depot.location])


def _best_departure(
    problem: Problem, vehicle: Vehicle, stops: Sequence[Stop], times: np.ndarray, hint: int
) -> int:
    """The departure that makes the route shortest in time.

    Leaving as early as the shift allows gives the earliest possible return; the latest
    departure with that same return removes the waiting that can be removed. Served earliest,
    the return time never decreases as the departure moves later, so a bisection finds it. With
    two windows a later departure can occasionally be shorter still, so the solver's own
    departure (`hint`) is compared too.
    """
    earliest, latest = problem.shift(vehicle)
    first = _forward_pass(problem, stops, times, earliest)
    if first is None:
        return hint
    target = first[1]
    low, high = earliest, latest
    while low < high:
        middle = (low + high + 1) // 2
        trial = _forward_pass(problem, stops, times, middle)
        if trial is not None and trial[1] == target:
            low = middle
        else:
            high = middle - 1
    best = low
    other = _forward_pass(problem, stops, times, hint) if earliest <= hint <= latest else None
    if other is not None and other[1] - hint < target - best:
        best = hint
    return best


def build_route(problem: Problem, vehicle: Vehicle, stops: Sequence[Stop], departure: int) -> Route:
    """The route of `vehicle` serving `stops` in order, leaving the depot at `departure`."""
    times = problem.vehicle_travel_times(vehicle)
    distance = np.asarray(problem.distance_matrix, dtype=np.int64)
    passed = _forward_pass(problem, stops, times, departure)
    if passed is None:
        raise SolverBug([f"vehicle {vehicle.id}: route misses a window when leaving {departure}"])
    visits, return_time = passed
    load_weight = sum(s.weight for s in stops)
    load_volume = sum(s.volume for s in stops)
    weight, volume = load_weight, load_volume
    here = problem.depot.location
    planned = []
    total = 0
    for stop, (arrival, start) in zip(stops, visits, strict=True):
        weight -= stop.weight
        volume -= stop.volume
        leg = int(distance[here, stop.location])
        total += leg
        planned.append(
            PlannedStop(
                stop_id=stop.id,
                arrival=arrival,
                waiting=start - arrival,
                service_start=start,
                departure=start + stop.service_time,
                load_weight=weight,
                load_volume=volume,
                distance_from_previous=leg,
            )
        )
        here = stop.location
    back = int(distance[here, problem.depot.location])
    return Route(
        vehicle_id=vehicle.id,
        departure=departure,
        return_time=return_time,
        stops=tuple(planned),
        load_weight=load_weight,
        load_volume=load_volume,
        return_distance=back,
        distance=total + back,
        duration=return_time - departure,
    )


def route_for(problem: Problem, vehicle: Vehicle, stops: Sequence[Stop]) -> Route | None:
    """The route of `vehicle` serving `stops` in this order, leaving when it wastes least time;
    None when a delivery window is missed whatever the departure. Capacities, shift end and
    duration are not checked here: check the whole solution with routing.feasibility."""
    times = problem.vehicle_travel_times(vehicle)
    earliest, _ = problem.shift(vehicle)
    if _forward_pass(problem, stops, times, earliest) is None:
        return None
    departure = _best_departure(problem, vehicle, stops, times, earliest)
    return build_route(problem, vehicle, stops, departure)
