"""What a routing problem and its solution are: plain dataclasses, checked on the way in."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

StopId = int | str
VehicleId = int | str
Matrix = np.ndarray | Sequence[Sequence[int]]


class InvalidProblem(ValueError):
    """The problem is malformed (bad sizes, unknown ids, windows out of order...)."""


class SolverBug(RuntimeError):
    """The solver produced a plan that the independent checker rejects; never a user error."""

    def __init__(self, violations: Sequence[object]) -> None:
        self.violations = list(violations)
        super().__init__(
            "solution failed the feasibility check: "
            + "; ".join(str(v) for v in self.violations[:5])
        )


class DropReason(enum.StrEnum):
    """Why a stop is not on any route."""

    NO_VEHICLE = "no_vehicle"
    NO_REFRIGERATED_VEHICLE = "no_refrigerated_vehicle"
    TOO_HEAVY = "too_heavy"
    TOO_BULKY = "too_bulky"
    WINDOW_UNREACHABLE = "window_unreachable"
    REFRIGERATED_VEHICLES_BUSY = "refrigerated_vehicles_busy"
    CAPACITY_OR_TIME_EXHAUSTED = "capacity_or_time_exhausted"
    MANUAL = "manual"

    @property
    def message(self) -> str:
        return _DROP_MESSAGES[self]


_DROP_MESSAGES = {
    DropReason.NO_VEHICLE: "no vehicle is available",
    DropReason.NO_REFRIGERATED_VEHICLE: "needs a refrigerated vehicle and none exists",
    DropReason.TOO_HEAVY: "heavier than any vehicle can carry",
    DropReason.TOO_BULKY: "bulkier than any vehicle can carry",
    DropReason.WINDOW_UNREACHABLE: "window unreachable from the depot in any shift",
    DropReason.REFRIGERATED_VEHICLES_BUSY: "needs a refrigerated vehicle and none is free",
    DropReason.CAPACITY_OR_TIME_EXHAUSTED: "capacity/time exhausted by other stops",
    DropReason.MANUAL: "taken off the plan by a dispatcher",
}


@dataclass(frozen=True)
class TimeWindow:
    """Service may start at any time in [start, end], both inclusive."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise InvalidProblem(f"window starts after it ends: {self.start} > {self.end}")


@dataclass(frozen=True)
class Depot:
    """Where every route starts and ends; `window` is the warehouse's opening horizon."""

    window: TimeWindow
    location: int = 0


@dataclass(frozen=True)
class Stop:
    """A delivery. `location` indexes the matrices; `windows` (one or two, in order, not
    overlapping) bound the start of service, an empty tuple meaning the depot's opening hours.
    Arriving early means waiting. `priority` is 1 or more, higher is more important: dropping a
    stop of priority p costs as much as dropping p stops of priority 1."""

    id: StopId
    location: int
    weight: int = 0
    volume: int = 0
    windows: tuple[TimeWindow, ...] = ()
    service_time: int = 0
    needs_refrigeration: bool = False
    priority: int = 1


@dataclass(frozen=True)
class Vehicle:
    """A vehicle based at the depot.

    Its shift bounds the departure from the depot (not before `shift_start`) and the return
    (not after `shift_end`); None means the depot's opening hours. `max_duration` bounds return
    minus departure. Travel time on a leg is round(distance / speed) when `speed` is set,
    otherwise round(base_time * time_factor), base_time being the problem's time matrix (or
    its distance matrix when it has none). A leg costs round(distance * cost_per_distance);
    using the vehicle at all costs `fixed_cost`.
    """

    id: VehicleId
    capacity_weight: int
    capacity_volume: int
    is_refrigerated: bool = False
    shift_start: int | None = None
    shift_end: int | None = None
    max_duration: int | None = None
    speed: float | None = None
    time_factor: float = 1.0
    fixed_cost: int = 0
    cost_per_distance: float = 1.0


@dataclass(frozen=True, eq=False)
class Problem:
    """A day's routing problem. Matrices are square, indexed by location, integer-valued."""

    depot: Depot
    stops: Sequence[Stop]
    vehicles: Sequence[Vehicle]
    distance_matrix: Matrix
    time_matrix: Matrix | None = None

    def __post_init__(self) -> None:
        _validate(self)

    def vehicle_travel_times(self, vehicle: Vehicle) -> np.ndarray:
        """The vehicle's travel time between every pair of locations (see Vehicle)."""
        # Vehicles of the same speed share one matrix, computed once (read-only).
        cache = self.__dict__.setdefault("_travel_times", {})
        key = (vehicle.speed, vehicle.time_factor)
        if key not in cache:
            distance = np.asarray(self.distance_matrix, dtype=np.int64)
            if vehicle.speed is not None:
                times = np.rint(distance / vehicle.speed).astype(np.int64)
            elif self.time_matrix is None:
                times = distance
            else:
                times = np.asarray(self.time_matrix, dtype=np.int64)
            if vehicle.speed is None and vehicle.time_factor != 1.0:
                times = np.rint(times * vehicle.time_factor).astype(np.int64)
            # A read-only view: never freeze (or let anyone change) the caller's own array.
            times = times.view()
            times.setflags(write=False)
            cache[key] = times
        return cache[key]

    def shift(self, vehicle: Vehicle) -> tuple[int, int]:
        """Earliest departure and latest return of the vehicle, within the depot's hours."""
        start = self.depot.window.start
        end = self.depot.window.end
        if vehicle.shift_start is not None:
            start = max(start, vehicle.shift_start)
        if vehicle.shift_end is not None:
            end = min(end, vehicle.shift_end)
        return start, end

    def windows_of(self, stop: Stop) -> tuple[TimeWindow, ...]:
        return stop.windows or (self.depot.window,)


@dataclass(frozen=True)
class PlannedStop:
    """A stop on a route: when the vehicle arrives, waits, serves and leaves, what it still
    carries after the delivery and how far it drove from the previous stop (or the depot)."""

    stop_id: StopId
    arrival: int
    waiting: int
    service_start: int
    departure: int
    load_weight: int
    load_volume: int
    distance_from_previous: int


@dataclass(frozen=True)
class Route:
    """One vehicle's trip. `load_*` is what it carries leaving the depot; `distance` includes
    the way back (`return_distance`); `duration` is `return_time - departure`."""

    vehicle_id: VehicleId
    departure: int
    return_time: int
    stops: tuple[PlannedStop, ...]
    load_weight: int
    load_volume: int
    return_distance: int
    distance: int
    duration: int


@dataclass(frozen=True)
class DroppedStop:
    stop_id: StopId
    reason: DropReason
    message: str


@dataclass(frozen=True)
class Solution:
    """A checked plan. `objective` is arc costs + fixed costs + drop penalties; `strategy`
    names the first-solution heuristic and the metaheuristic used."""

    routes: tuple[Route, ...]
    dropped: tuple[DroppedStop, ...]
    objective: int
    total_distance: int
    total_duration: int
    vehicles_used: int
    wall_time_s: float
    strategy: str
    first_solution_costs: dict[str, int] = field(default_factory=dict)
    warm_start_used: bool = False

    def routes_by_vehicle(self) -> dict[VehicleId, list[StopId]]:
        """Stop ids per used vehicle, in order: what `solve(initial_routes=...)` accepts."""
        return {route.vehicle_id: [s.stop_id for s in route.stops] for route in self.routes}


@dataclass(frozen=True)
class Progress:
    """Reported whenever the search finds a better plan."""

    elapsed_s: float
    best_objective: int
    phase: str


ProgressCallback = Callable[[Progress], None]
# Stop ids per vehicle: by vehicle id, or a list in `Problem.vehicles` order.
InitialRoutes = Mapping[VehicleId, Sequence[StopId]] | Sequence[Sequence[StopId]]


def _validate(problem: Problem) -> None:
    distance = np.asarray(problem.distance_matrix)
    if distance.ndim != 2 or distance.shape[0] != distance.shape[1]:
        raise InvalidProblem("distance matrix must be square")
    size = distance.shape[0]
    if problem.time_matrix is not None and np.asarray(problem.time_matrix).shape != (size, size):
        raise InvalidProblem("time matrix must have the distance matrix's shape")
    if not 0 <= problem.depot.location < size:
        raise InvalidProblem("depot location outside the matrix")
    if len({s.id for s in problem.stops}) != len(problem.stops):
        raise InvalidProblem("stop ids must be unique")
    if len({v.id for v in problem.vehicles}) != len(problem.vehicles):
        raise InvalidProblem("vehicle ids must be unique")
    for stop in problem.stops:
        if not 0 <= stop.location < size:
            raise InvalidProblem(f"stop {stop.id}: location outside the matrix")
        if stop.weight < 0 or stop.volume < 0 or stop.service_time < 0 or stop.priority < 1:
            raise InvalidProblem(f"stop {stop.id}: negative demand/service or priority < 1")
        if len(stop.windows) > 2:
            raise InvalidProblem(f"stop {stop.id}: at most two windows")
        if len(stop.windows) == 2 and stop.windows[0].end >= stop.windows[1].start:
            raise InvalidProblem(f"stop {stop.id}: windows must be in order and not overlap")
    if distance.size and distance.min() < 0:
        raise InvalidProblem("distances must not be negative")
    if problem.time_matrix is not None and np.asarray(problem.time_matrix).min(initial=0) < 0:
        raise InvalidProblem("travel times must not be negative")
    for vehicle in problem.vehicles:
        earliest, latest = problem.shift(vehicle)
        if earliest > latest:
            raise InvalidProblem(f"vehicle {vehicle.id}: shift outside the depot's hours")
        if vehicle.capacity_weight < 0 or vehicle.capacity_volume < 0 or vehicle.fixed_cost < 0:
            raise InvalidProblem(f"vehicle {vehicle.id}: negative capacity or cost")
        if vehicle.speed is not None and vehicle.speed <= 0:
            raise InvalidProblem(f"vehicle {vehicle.id}: speed must be positive")
        if vehicle.time_factor <= 0 or vehicle.cost_per_distance < 0:
            raise InvalidProblem(f"vehicle {vehicle.id}: bad time factor or cost per distance")
