"""The vehicle routing model: plain dataclasses in, plain dataclasses out, no Django.

Units are integers chosen by the caller and used consistently: the service plans in metres and
seconds (times measured from the plan day's local midnight), the Solomon reader in tenths of a
distance unit and tenths of a time unit. Weights and volumes are integers too (for example grams
and cubic centimetres). Costs are integers as well, in any currency unit small enough that
rounding a leg's cost to a whole unit does not matter (for example thousandths of a cent).

Model, in OR-Tools terms: one node per stop and window plus the depot (a stop with two windows
is two alternative nodes, at most one visited); two capacity dimensions (weight, volume); a time
dimension whose transit is service time at the origin plus the vehicle's travel time, with
slack for waiting; windows bound the start of service; each vehicle's shift bounds its departure
and return, its maximum route duration bounds the span; stops that need refrigeration may only
go on refrigerated vehicles; every stop is optional with a drop penalty larger than any plan's
whole cost, so a stop is left out only when it cannot be served. Stops that no vehicle could
serve even alone are left out before the search, with the reason.

Search: four first-solution heuristics are tried on a short budget and the cheapest plan is
kept. Then, up to ILS_MAX_STOPS stops, OR-Tools' iterated local search (SISR ruin and recreate,
simulated-annealing acceptance) runs to the time limit; on larger plans guided local search
continues from the best first plan (or the warm start). The answer is the cheapest of the
search's result, the best first plan and the warm start. bench/vrp_solomon.py measures it.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2, routing_ils_pb2

from routing.feasibility import check_solution

StopId = int | str
VehicleId = int | str
Matrix = np.ndarray | Sequence[Sequence[int]]

FirstSolution = routing_enums_pb2.FirstSolutionStrategy
Metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic

# First-solution heuristics tried, cheapest result wins. Insertion heuristics respect windows
# well; savings variants give more, shorter routes, which sometimes lead the search elsewhere.
FIRST_SOLUTION_STRATEGIES: tuple[str, ...] = (
    "PARALLEL_CHEAPEST_INSERTION",
    "LOCAL_CHEAPEST_INSERTION",
    "SAVINGS",
    "PATH_CHEAPEST_ARC",
)
# Iterated local search builds its own start with one of these.
ILS_START_STRATEGIES: tuple[str, ...] = (
    "PARALLEL_CHEAPEST_INSERTION",
    "LOCAL_CHEAPEST_INSERTION",
    "SAVINGS",
)
# Share of the time limit the first-solution tries may use together.
FIRST_SOLUTION_BUDGET = 0.15
# Time kept back for reading the solution out and checking it, plus a little per stop.
EXTRACTION_RESERVE_S = 0.05
EXTRACTION_RESERVE_PER_STOP_S = 0.0004
# Up to this many stops, iterated local search; above, guided local search from the best
# first solution. ILS restarts its local search after every ruin-and-recreate step, which on
# large plans leaves it few iterations (measured: ILS better at 100-200 stops, GLS at 400 and
# at 1,000 stops with 15 s and 60 s).
ILS_MAX_STOPS = 300


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


# --- The OR-Tools model.


class _Model:
    """OR-Tools objects for the stops that can be served at all.

    A stop with two windows becomes two nodes at the same place, one per window, of which at
    most one is visited (one disjunction). Removing the gap from a single node's time domain
    (CumulVar.RemoveInterval) expresses the same thing, but OR-Tools' heuristics and filters
    handle such holes badly: measured on 1,000 stops with a fifth of them holed, the first
    solution took over 30 s instead of 2 s.
    """

    def __init__(
        self,
        problem: Problem,
        stops: Sequence[Stop],
        allowed: dict[StopId, list[int]],
        penalty_unit: int,
    ) -> None:
        self.problem = problem
        self.stops = list(stops)
        self.penalty_unit = penalty_unit
        vehicles = problem.vehicles
        horizon = max([problem.depot.window.end] + [problem.shift(v)[1] for v in vehicles])
        # Node 0 is the depot; then one node per (stop, window), leaving out a window that
        # opens after every shift has ended (its time range would be empty).
        self.node_stop: list[int] = [-1]
        node_window: list[TimeWindow] = [problem.depot.window]
        self.stop_nodes: list[dict[int, int]] = []
        for position, stop in enumerate(stops):
            nodes = {}
            for number, window in enumerate(problem.windows_of(stop)):
                if window.start <= horizon:
                    nodes[number] = len(self.node_stop)
                    self.node_stop.append(position)
                    node_window.append(window)
            self.stop_nodes.append(nodes)
        self.manager = pywrapcp.RoutingIndexManager(len(self.node_stop), len(vehicles), 0)
        self.routing = pywrapcp.RoutingModel(self.manager)
        routing = self.routing
        of_node = [None, *(stops[p] for p in self.node_stop[1:])]
        locations = np.array([problem.depot.location] + [s.location for s in of_node[1:]])
        distance = np.asarray(problem.distance_matrix, dtype=np.int64)[np.ix_(locations, locations)]

        rates = [v.cost_per_distance for v in vehicles]
        self.mean_arc_cost = float(distance.mean()) * (sum(rates) / len(rates))
        # Arc costs, one matrix per distinct cost per distance (homogeneous costs are faster).
        cost_classes: dict[float, int] = {}
        for v, vehicle in enumerate(vehicles):
            rate = vehicle.cost_per_distance
            if rate not in cost_classes:
                costs = distance if rate == 1.0 else np.rint(distance * rate).astype(np.int64)
                cost_classes[rate] = routing.RegisterTransitMatrix(costs.tolist())
            routing.SetArcCostEvaluatorOfVehicle(cost_classes[rate], v)
            routing.SetFixedCostOfVehicle(vehicle.fixed_cost, v)

        # Time: service at the origin plus the vehicle's travel time (the depot serves in 0).
        service = np.array([0] + [s.service_time for s in of_node[1:]], dtype=np.int64)
        time_classes: dict[tuple[float | None, float], int] = {}
        evaluators = []
        for vehicle in vehicles:
            key = (vehicle.speed, vehicle.time_factor)
            if key not in time_classes:
                travel = problem.vehicle_travel_times(vehicle)[np.ix_(locations, locations)]
                transit = travel + service[:, None]
                time_classes[key] = routing.RegisterTransitMatrix(transit.tolist())
            evaluators.append(time_classes[key])
        # Slack up to the horizon lets a vehicle wait for a window to open.
        routing.AddDimensionWithVehicleTransits(evaluators, horizon, horizon, False, "time")
        self.time = routing.GetDimensionOrDie("time")
        for node in range(1, len(self.node_stop)):
            window = node_window[node]
            self.time.CumulVar(self.manager.NodeToIndex(node)).SetRange(window.start, window.end)
        for v, vehicle in enumerate(vehicles):
            earliest, latest = problem.shift(vehicle)
            self.time.CumulVar(routing.Start(v)).SetRange(earliest, latest)
            self.time.CumulVar(routing.End(v)).SetRange(earliest, latest)
            if vehicle.max_duration is not None:
                self.time.SetSpanUpperBoundForVehicle(vehicle.max_duration, v)
            # Leave late and come back early, so the schedule read out has no idle waiting.
            routing.AddVariableMaximizedByFinalizer(self.time.CumulVar(routing.Start(v)))
            routing.AddVariableMinimizedByFinalizer(self.time.CumulVar(routing.End(v)))

        # Capacities; a dimension nobody uses is left out, it would only slow the search.
        for name, demand, capacity in (
            ("weight", [s.weight for s in of_node[1:]], [v.capacity_weight for v in vehicles]),
            ("volume", [s.volume for s in of_node[1:]], [v.capacity_volume for v in vehicles]),
        ):
            if any(demand):
                callback = routing.RegisterUnaryTransitVector([0, *demand])
                routing.AddDimensionWithVehicleCapacity(callback, 0, capacity, True, name)

        # Which vehicles may serve each stop: refrigeration, and whatever makes even a lone
        # trip impossible for a vehicle (too small, shift too short). Restricting the vehicle
        # variable spares the search from trying those vehicles at all; -1 stays allowed, it
        # means "not served".
        for stop, nodes in zip(stops, self.stop_nodes, strict=True):
            indices = [self.manager.NodeToIndex(node) for node in nodes.values()]
            if len(allowed[stop.id]) < len(vehicles):
                for index in indices:
                    routing.VehicleVar(index).SetValues([-1, *allowed[stop.id]])
            routing.AddDisjunction(indices, penalty_unit * stop.priority, 1)

    def stop_index(self, position: int, window: int) -> int:
        return self.manager.NodeToIndex(self.stop_nodes[position][window])

    def read_routes(self, assignment: pywrapcp.Assignment) -> list[list[int]]:
        """Positions in `self.stops` visited by each vehicle, in order."""
        routes = []
        for v in range(self.routing.vehicles()):
            index = assignment.Value(self.routing.NextVar(self.routing.Start(v)))
            route = []
            while not self.routing.IsEnd(index):
                route.append(self.node_stop[self.manager.IndexToNode(index)])
                index = assignment.Value(self.routing.NextVar(index))
            routes.append(route)
        return routes


def _penalty_unit(problem: Problem, stops: Sequence[Stop]) -> int:
    """More than any plan can cost: then dropping a stop never pays unless it is forced."""
    if not stops or not problem.vehicles:
        return 1
    locations = [problem.depot.location] + [s.location for s in stops]
    distance = np.asarray(problem.distance_matrix, dtype=np.int64)[np.ix_(locations, locations)]
    most_expensive_leg = int(distance.max()) * max(v.cost_per_distance for v in problem.vehicles)
    legs = len(stops) + len(problem.vehicles)
    unit = int(most_expensive_leg * legs) + sum(v.fixed_cost for v in problem.vehicles) + 1
    # OR-Tools sums costs in 64 bits (saturating); keep every drop at once well inside.
    if unit * sum(s.priority for s in stops) >= 2**62:
        raise InvalidProblem("costs too large: scale cost_per_distance or fixed costs down")
    return unit


def _search_parameters(
    *,
    strategy: str,
    time_limit_s: float,
    metaheuristic: str,
    swap_dropped: bool,
    mean_arc_cost: float,
) -> pywrapcp.RoutingSearchParameters:
    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = getattr(FirstSolution, strategy)
    parameters.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    operators = parameters.local_search_operators
    # Measured on the Solomon set: these heavy or pickup-and-delivery neighbourhoods cost more
    # time than they win; relocate, exchange, cross, 2-opt, or-opt and relocating the chain
    # around an expensive arc do the work.
    for name in (
        "use_lin_kernighan",
        "use_global_cheapest_insertion_path_lns",
        "use_local_cheapest_insertion_path_lns",
        "use_relocate_path_global_cheapest_insertion_insert_unperformed",
        "use_global_cheapest_insertion_visit_types_lns",
        "use_local_cheapest_insertion_visit_types_lns",
        "use_make_chain_inactive",
        "use_shortest_path_swap_active",
        "use_swap_active_chain",
        "use_shortest_path_two_opt",
        "use_relocate_subtrip",
        "use_exchange_subtrip",
        "use_relocate_pair",
        "use_light_relocate_pair",
        "use_exchange_pair",
        # Dropping a stop never pays (the penalty exceeds any plan's cost) ...
        "use_make_inactive",
    ):
        setattr(operators, name, pywrapcp.BOOL_FALSE)
    # ... but swapping a dropped node for a served one can: another window of the same stop,
    # or with mixed priorities a more important stop.
    operators.use_swap_active = pywrapcp.BOOL_TRUE if swap_dropped else pywrapcp.BOOL_FALSE
    if metaheuristic == "gls":
        parameters.local_search_metaheuristic = Metaheuristic.GUIDED_LOCAL_SEARCH
        return parameters
    parameters.use_iterated_local_search = True
    ils = parameters.iterated_local_search_parameters
    ils.perturbation_strategy = routing_ils_pb2.PerturbationStrategy.RUIN_AND_RECREATE
    ils.improve_perturbed_solution = True
    ruin = ils.ruin_recreate_parameters
    # SISR (Christiaens and Vanden Berghe 2020): remove strings of nearby stops from nearby
    # routes. 15 removed on average beat the paper's 10 on the Solomon set.
    sisr = ruin.ruin_strategies.add().sisr
    sisr.max_removed_sequence_size = 10
    sisr.avg_num_removed_visits = 15
    sisr.bypass_factor = 0.01
    ruin.recreate_strategy.heuristic = FirstSolution.LOCAL_CHEAPEST_INSERTION
    ruin.route_selection_neighbors_ratio = 1.0
    ruin.route_selection_min_neighbors = 10
    ruin.route_selection_max_neighbors = 100
    annealing = ils.reference_solution_acceptance_strategy.simulated_annealing
    annealing.cooling_schedule_strategy = routing_ils_pb2.CoolingScheduleStrategy.EXPONENTIAL
    # Accept a worse plan by about 3 % of an average leg early on, 100 times less at the end:
    # measured better on the Solomon set than OR-Tools' automatic temperatures (10 % -> 0.1 %).
    annealing.initial_temperature = max(1.0, 0.03 * mean_arc_cost)
    annealing.final_temperature = annealing.initial_temperature / 100
    ils.best_solution_acceptance_strategy.greedy_descent.SetInParent()
    return parameters


def solve(
    problem: Problem,
    *,
    time_limit_s: float = 10.0,
    seed: int = 0,
    initial_routes: InitialRoutes | None = None,
    on_progress: ProgressCallback | None = None,
    metaheuristic: str = "auto",
) -> Solution:
    """Plan routes for `problem` within `time_limit_s` seconds of wall time, single thread.

    Always returns a plan: stops that cannot be served are listed in `dropped` with a reason.

    `initial_routes` warm-starts the search from earlier routes (stop ids per vehicle: a
    mapping by vehicle id such as a previous plan's `routes_by_vehicle()`, or a list in
    `problem.vehicles` order). Stop ids no longer in the problem are ignored; if the routes
    are still feasible, the result costs no more than they do.

    OR-Tools' search is deterministic (its own random generator has a fixed seed), so `seed`
    varies what it is given: a non-zero seed shuffles the order of the stops in the model and
    of the first-solution heuristics, and picks the heuristic iterated local search starts
    from. Seed 0 keeps the problem's order. The same seed gives the same plan on an equally
    fast machine (the time limit decides how far the search gets).

    `metaheuristic` is "ils" (iterated local search), "gls" (guided local search from the best
    first solution or the warm start) or "auto" (the default: ILS up to ILS_MAX_STOPS stops,
    GLS above). `on_progress` is called from inside the search each time a better plan is found.

    Raises InvalidProblem for a malformed problem, and SolverBug when the plan fails the
    independent feasibility check (routing.feasibility), which would be a bug in this module.
    """
    started = time.monotonic()
    if metaheuristic not in ("auto", "ils", "gls"):
        raise InvalidProblem(f"unknown metaheuristic {metaheuristic!r}")
    rng = random.Random(seed)
    travel_by_vehicle = [problem.vehicle_travel_times(v) for v in problem.vehicles]

    dropped: list[DroppedStop] = []
    servable: list[Stop] = []
    allowed: dict[StopId, list[int]] = {}
    for stop in problem.stops:
        failures = [
            _alone_failure(problem, stop, vehicle, travel)
            for vehicle, travel in zip(problem.vehicles, travel_by_vehicle, strict=True)
        ]
        reason = _hopeless_reason(failures)
        if reason is None:
            servable.append(stop)
            allowed[stop.id] = [v for v, failure in enumerate(failures) if failure is None]
        else:
            dropped.append(_dropped(stop, reason, problem))
    if seed:
        rng.shuffle(servable)

    solution: Solution
    if not servable:
        solution = _assemble(problem, [], dropped, 0, started, "none", {}, False)
    else:
        solution = _search(
            problem,
            servable,
            dropped,
            started=started,
            time_limit_s=time_limit_s,
            rng=rng,
            seed=seed,
            allowed=allowed,
            initial_routes=initial_routes,
            on_progress=on_progress,
            metaheuristic=metaheuristic,
        )
    violations = check_solution(problem, solution)
    if violations:
        raise SolverBug(violations)
    return solution


def _search(
    problem: Problem,
    servable: list[Stop],
    dropped: list[DroppedStop],
    *,
    started: float,
    time_limit_s: float,
    rng: random.Random,
    seed: int,
    allowed: dict[StopId, list[int]],
    initial_routes: InitialRoutes | None,
    on_progress: ProgressCallback | None,
    metaheuristic: str,
) -> Solution:
    model = _Model(problem, servable, allowed, _penalty_unit(problem, servable))
    routing = model.routing
    swap_dropped = len({s.priority for s in servable}) > 1 or any(
        len(s.windows) > 1 for s in servable
    )
    deadline = (
        started
        + time_limit_s
        - EXTRACTION_RESERVE_S
        - EXTRACTION_RESERVE_PER_STOP_S * len(servable)
    )
    if metaheuristic == "auto":
        metaheuristic = "ils" if len(servable) <= ILS_MAX_STOPS else "gls"

    def parameters(strategy: str, seconds: float) -> pywrapcp.RoutingSearchParameters:
        return _search_parameters(
            strategy=strategy,
            time_limit_s=seconds,
            metaheuristic=metaheuristic,
            swap_dropped=swap_dropped,
            mean_arc_cost=model.mean_arc_cost,
        )

    best_seen: list[int | None] = [None]
    phase = ["first solution"]

    def report(searched: pywrapcp.RoutingModel) -> None:
        cost = searched.CostVar().Max()
        if on_progress is not None and (best_seen[0] is None or cost < best_seen[0]):
            best_seen[0] = cost
            on_progress(Progress(time.monotonic() - started, cost, phase[0]))

    if on_progress is not None:
        routing.AddAtSolutionCallback(lambda: report(routing))

    # First solutions: each heuristic alone (no local search), cheapest wins.
    strategies = list(FIRST_SOLUTION_STRATEGIES)
    if seed:
        rng.shuffle(strategies)
    costs: dict[str, int] = {}
    best_first = None
    budget_end = time.monotonic() + FIRST_SOLUTION_BUDGET * max(0.0, deadline - time.monotonic())
    for strategy in strategies:
        left = budget_end - time.monotonic()
        if left <= 0 and costs:
            break
        first = parameters(strategy, max(left, 0.001))
        first.use_iterated_local_search = False
        first.local_search_metaheuristic = Metaheuristic.GREEDY_DESCENT
        first.solution_limit = 1
        assignment = routing.SolveWithParameters(first)
        if assignment is not None:
            costs[strategy] = assignment.ObjectiveValue()
            if best_first is None or costs[strategy] < best_first.ObjectiveValue():
                # Copied: the solver reuses the assignment it returns on the next solve.
                best_first = routing.solver().Assignment(assignment)
    chosen = min(costs, key=costs.__getitem__) if costs else FIRST_SOLUTION_STRATEGIES[0]

    # Warm start: the previous plan, improved by plain descent. It is a candidate answer, so
    # the result never costs more, and the guided search below starts from it.
    warm = None
    if initial_routes is not None and any(
        initial_routes.values() if isinstance(initial_routes, Mapping) else initial_routes
    ):
        warm = _warm_start(model, initial_routes, parameters, deadline)

    phase[0] = "local search"
    searched = model
    if metaheuristic == "ils":
        # OR-Tools' ILS builds its own start with the chosen heuristic (deterministic, so
        # the same plan as above) and cannot take a given one. It runs on a fresh model:
        # on the one the heuristics were tried on, it inherits their one-solution limit for
        # its first descent and stops early.
        searched = _Model(problem, servable, allowed, model.penalty_unit)
        if on_progress is not None:
            searched.routing.AddAtSolutionCallback(lambda: report(searched.routing))
        # Where ILS ends up depends little on how cheap its start is: on the Solomon set it did
        # best from parallel cheapest insertion even where savings gave a cheaper first plan.
        # Other seeds start from another insertion heuristic, for variety.
        start_strategy = ILS_START_STRATEGIES[0] if not seed else rng.choice(ILS_START_STRATEGIES)
        main = parameters(start_strategy, max(0.01, deadline - time.monotonic()))
        found = searched.routing.SolveWithIteratedLocalSearch(main)
        name = f"{start_strategy} + iterated local search"
    else:
        start = min(
            (a for a in (best_first, warm) if a is not None),
            key=lambda a: a.ObjectiveValue(),
            default=None,
        )
        main = parameters(chosen, max(0.01, deadline - time.monotonic()))
        found = routing.SolveFromAssignmentWithParameters(start, main)
        name = f"{'previous plan' if start is warm else chosen} + guided local search"
    candidates = [
        (a, m) for a, m in ((found, searched), (best_first, model), (warm, model)) if a is not None
    ]
    if not candidates:
        # Cannot happen: with every stop optional, dropping all is always a solution.
        raise SolverBug(["OR-Tools returned no solution"])
    best, best_model = min(candidates, key=lambda pair: pair[0].ObjectiveValue())
    if best is best_first and best is not found:
        name = f"{chosen} (the search found nothing better)"
    elif best is warm and best is not found:
        name = "previous plan (the search found nothing better)"
    return _assemble(
        problem,
        [(v, [servable[p] for p in route]) for v, route in enumerate(best_model.read_routes(best))],
        dropped,
        best.ObjectiveValue(),
        started,
        name,
        costs,
        warm is not None,
        model=best_model,
        assignment=best,
    )


def _warm_start(
    model: _Model,
    initial_routes: InitialRoutes,
    parameters: Callable[[str, float], pywrapcp.RoutingSearchParameters],
    deadline: float,
) -> pywrapcp.Assignment | None:
    """The previous routes improved by greedy descent, or None if they are no longer valid."""
    position = {stop.id: p for p, stop in enumerate(model.stops)}
    vehicles = model.problem.vehicles
    if isinstance(initial_routes, Mapping):
        by_vehicle = [initial_routes.get(vehicle.id, ()) for vehicle in vehicles]
    else:
        by_vehicle = list(initial_routes)
    if len(by_vehicle) > len(vehicles):
        return None
    routes = []
    for vehicle, stop_ids in zip(vehicles, by_vehicle, strict=False):
        stops = [model.stops[position[i]] for i in stop_ids if i in position]
        # Pick, for a two-window stop, the window the route serves it in.
        times = model.problem.vehicle_travel_times(vehicle)
        passed = _forward_pass(model.problem, stops, times, model.problem.shift(vehicle)[0])
        if passed is None:
            return None
        route = []
        for stop, (_, start) in zip(stops, passed[0], strict=True):
            windows = model.problem.windows_of(stop)
            window = next(w for w, bounds in enumerate(windows) if start <= bounds.end)
            if window not in model.stop_nodes[position[stop.id]]:
                return None
            route.append(model.stop_index(position[stop.id], window))
        routes.append(route)
    routes += [[] for _ in range(len(vehicles) - len(routes))]
    start = model.routing.ReadAssignmentFromRoutes(routes, True)
    if start is None:
        return None
    # Enough time to at least re-read and cost the routes, a tenth of what is left otherwise.
    left = deadline - time.monotonic()
    descent = parameters("LOCAL_CHEAPEST_INSERTION", max(0.1 * left, min(1.0, 0.5 * left), 0.01))
    descent.use_iterated_local_search = False
    descent.local_search_metaheuristic = Metaheuristic.GREEDY_DESCENT
    improved = model.routing.SolveFromAssignmentWithParameters(start, descent)
    return None if improved is None else model.routing.solver().Assignment(improved)


def _assemble(
    problem: Problem,
    routes: Sequence[tuple[int, Sequence[Stop]]],
    dropped: list[DroppedStop],
    objective: int,
    started: float,
    strategy: str,
    first_solution_costs: dict[str, int],
    warm_start_used: bool,
    *,
    model: _Model | None = None,
    assignment: pywrapcp.Assignment | None = None,
) -> Solution:
    """The Solution for the given routes (vehicle position, stops), with timed schedules."""
    built = []
    served: set[StopId] = set()
    for v, stops in routes:
        if not stops:
            continue
        vehicle = problem.vehicles[v]
        hint = problem.shift(vehicle)[0]
        if model is not None and assignment is not None:
            hint = assignment.Min(model.time.CumulVar(model.routing.Start(v)))
        times = problem.vehicle_travel_times(vehicle)
        departure = _best_departure(problem, vehicle, stops, times, hint)
        built.append(build_route(problem, vehicle, stops, departure))
        served.update(s.id for s in stops)
    already = {d.stop_id for d in dropped}
    for stop in problem.stops:
        if stop.id in served or stop.id in already:
            continue
        # It could go alone, so other stops took the room, the time or the cold vehicles.
        reason = (
            DropReason.REFRIGERATED_VEHICLES_BUSY
            if stop.needs_refrigeration
            else DropReason.CAPACITY_OR_TIME_EXHAUSTED
        )
        dropped.append(DroppedStop(stop_id=stop.id, reason=reason, message=reason.message))
    return Solution(
        routes=tuple(built),
        dropped=tuple(dropped),
        objective=objective,
        total_distance=sum(r.distance for r in built),
        total_duration=sum(r.duration for r in built),
        vehicles_used=len(built),
        wall_time_s=time.monotonic() - started,
        strategy=strategy,
        first_solution_costs=first_solution_costs,
        warm_start_used=warm_start_used,
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
