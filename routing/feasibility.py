"""An independent check of a routing plan against its problem (no OR-Tools here).

It recomputes every figure from the problem's data alone, the way a dispatcher would with a
calculator: loads, leg distances, arrival and service times along each route, and compares them
with what the plan states. The solver runs it on each plan it returns; tests run it on plans
broken on purpose.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from routing.solver import Problem, Route, Solution, Stop, StopId, Vehicle, VehicleId


class ViolationKind(enum.StrEnum):
    OVER_WEIGHT = "over_weight"
    OVER_VOLUME = "over_volume"
    LATE = "late"
    EARLY = "early"
    SHIFT = "outside_shift"
    MAX_DURATION = "max_duration"
    REFRIGERATION = "refrigeration"
    DUPLICATE_STOP = "duplicate_stop"
    MISSING_STOP = "missing_stop"
    UNKNOWN_STOP = "unknown_stop"
    UNKNOWN_VEHICLE = "unknown_vehicle"
    VEHICLE_REUSED = "vehicle_reused"
    WRONG_TIME = "wrong_time"
    WRONG_DISTANCE = "wrong_distance"
    WRONG_LOAD = "wrong_load"
    WRONG_COUNT = "wrong_count"


@dataclass(frozen=True)
class Violation:
    kind: ViolationKind
    message: str
    vehicle_id: VehicleId | None = None
    stop_id: StopId | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


def travel_time(problem: Problem, vehicle: Vehicle, origin: int, destination: int) -> int:
    """Travel time of `vehicle` between two locations, as documented on routing.solver.Vehicle."""
    distance = int(problem.distance_matrix[origin][destination])
    if vehicle.speed is not None:
        return round(distance / vehicle.speed)
    matrix = problem.distance_matrix if problem.time_matrix is None else problem.time_matrix
    base = int(matrix[origin][destination])
    return base if vehicle.time_factor == 1.0 else round(base * vehicle.time_factor)


def check_solution(problem: Problem, solution: Solution) -> list[Violation]:
    """Every way `solution` breaks `problem` or misstates its own figures; [] when feasible."""
    stops = {stop.id: stop for stop in problem.stops}
    vehicles = {vehicle.id: vehicle for vehicle in problem.vehicles}
    violations: list[Violation] = []
    seen: dict[StopId, str] = {}

    def mark(stop_id: StopId, where: str) -> None:
        if stop_id not in stops:
            violations.append(
                Violation(ViolationKind.UNKNOWN_STOP, f"{where}: no such stop", stop_id=stop_id)
            )
        elif stop_id in seen:
            violations.append(
                Violation(
                    ViolationKind.DUPLICATE_STOP,
                    f"served or dropped twice ({seen[stop_id]} and {where})",
                    stop_id=stop_id,
                )
            )
        else:
            seen[stop_id] = where

    used: set[VehicleId] = set()
    total_distance = 0
    for route in solution.routes:
        vehicle = vehicles.get(route.vehicle_id)
        if vehicle is None:
            violations.append(
                Violation(ViolationKind.UNKNOWN_VEHICLE, "no such vehicle", route.vehicle_id)
            )
            continue
        if vehicle.id in used:
            violations.append(
                Violation(ViolationKind.VEHICLE_REUSED, "vehicle has two routes", vehicle.id)
            )
        used.add(vehicle.id)
        for planned in route.stops:
            mark(planned.stop_id, f"route of {vehicle.id}")
        if all(p.stop_id in stops for p in route.stops):
            violations += _check_route(
                problem, vehicle, route, [stops[p.stop_id] for p in route.stops]
            )
        total_distance += route.distance
    for drop in solution.dropped:
        mark(drop.stop_id, "dropped")
    for stop_id in stops:
        if stop_id not in seen:
            violations.append(
                Violation(ViolationKind.MISSING_STOP, "neither served nor dropped", stop_id=stop_id)
            )
    if total_distance != solution.total_distance:
        violations.append(
            Violation(
                ViolationKind.WRONG_DISTANCE,
                f"total distance {solution.total_distance} but routes add up to {total_distance}",
            )
        )
    total_duration = sum(route.duration for route in solution.routes)
    if total_duration != solution.total_duration:
        violations.append(
            Violation(
                ViolationKind.WRONG_TIME,
                f"total duration {solution.total_duration} but routes add up to {total_duration}",
            )
        )
    if solution.vehicles_used != len(solution.routes):
        violations.append(
            Violation(
                ViolationKind.WRONG_COUNT,
                f"{solution.vehicles_used} vehicles used but {len(solution.routes)} routes",
            )
        )
    return violations


def _check_route(
    problem: Problem, vehicle: Vehicle, route: Route, stops: list[Stop]
) -> list[Violation]:
    found: list[Violation] = []

    def add(kind: ViolationKind, message: str, stop: Stop | None = None) -> None:
        found.append(Violation(kind, message, vehicle.id, None if stop is None else stop.id))

    depot = problem.depot
    opens = (
        depot.window.start
        if vehicle.shift_start is None
        else max(depot.window.start, vehicle.shift_start)
    )
    closes = (
        depot.window.end if vehicle.shift_end is None else min(depot.window.end, vehicle.shift_end)
    )

    # Loads: everything is on board leaving the depot, each delivery unloads its part.
    weight = sum(s.weight for s in stops)
    volume = sum(s.volume for s in stops)
    if weight > vehicle.capacity_weight:
        add(ViolationKind.OVER_WEIGHT, f"carries {weight} > capacity {vehicle.capacity_weight}")
    if volume > vehicle.capacity_volume:
        add(ViolationKind.OVER_VOLUME, f"carries {volume} > capacity {vehicle.capacity_volume}")
    if (route.load_weight, route.load_volume) != (weight, volume):
        add(
            ViolationKind.WRONG_LOAD,
            f"states departure load {route.load_weight}/{route.load_volume}, is {weight}/{volume}",
        )

    if route.departure < opens:
        add(ViolationKind.SHIFT, f"leaves at {route.departure}, before {opens}")
    here = depot.location
    clock = route.departure
    distance = 0
    for stop, planned in zip(stops, route.stops, strict=True):
        if stop.needs_refrigeration and not vehicle.is_refrigerated:
            add(ViolationKind.REFRIGERATION, "needs a refrigerated vehicle", stop)
        leg = int(problem.distance_matrix[here][stop.location])
        distance += leg
        if planned.distance_from_previous != leg:
            add(
                ViolationKind.WRONG_DISTANCE,
                f"leg stated {planned.distance_from_previous}, is {leg}",
                stop,
            )
        arrival = clock + travel_time(problem, vehicle, here, stop.location)
        if planned.arrival != arrival:
            add(ViolationKind.WRONG_TIME, f"arrival stated {planned.arrival}, is {arrival}", stop)
        start = planned.service_start
        if start < arrival:
            add(
                ViolationKind.WRONG_TIME,
                f"service starts at {start} before arrival {arrival}",
                stop,
            )
        if planned.waiting != start - arrival:
            add(
                ViolationKind.WRONG_TIME,
                f"waiting stated {planned.waiting}, is {start - arrival}",
                stop,
            )
        windows = stop.windows or (depot.window,)
        if not any(w.start <= start <= w.end for w in windows):
            if start < windows[0].start or any(
                a.end < start < b.start for a, b in itertools.pairwise(windows)
            ):
                add(ViolationKind.EARLY, f"service at {start} before its window opens", stop)
            else:
                add(ViolationKind.LATE, f"service at {start} after its window ends", stop)
        departure = start + stop.service_time
        if planned.departure != departure:
            add(
                ViolationKind.WRONG_TIME,
                f"departure stated {planned.departure}, is {departure}",
                stop,
            )
        weight -= stop.weight
        volume -= stop.volume
        if (planned.load_weight, planned.load_volume) != (weight, volume):
            add(
                ViolationKind.WRONG_LOAD,
                f"load after stated {planned.load_weight}/"
                f"{planned.load_volume}, is {weight}/{volume}",
                stop,
            )
        # The schedule goes on from the stated times so one slip is reported once.
        clock = planned.departure
        here = stop.location
    back = int(problem.distance_matrix[here][depot.location])
    distance += back
    return_time = clock + travel_time(problem, vehicle, here, depot.location)
    if route.return_distance != back or route.distance != distance:
        add(
            ViolationKind.WRONG_DISTANCE,
            f"route distance stated {route.distance} "
            f"(back {route.return_distance}), is {distance} (back {back})",
        )
    if route.return_time != return_time:
        add(ViolationKind.WRONG_TIME, f"return stated {route.return_time}, is {return_time}")
    if return_time > closes:
        add(ViolationKind.SHIFT, f"returns at {return_time}, after {closes}")
    duration = return_time - route.departure
    if route.duration != duration:
        add(ViolationKind.WRONG_TIME, f"duration stated {route.duration}, is {duration}")
    if vehicle.max_duration is not None and duration > vehicle.max_duration:
        add(ViolationKind.MAX_DURATION, f"takes {duration} > maximum {vehicle.max_duration}")
    return found
