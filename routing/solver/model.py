"""The OR-Tools model of a Problem and the search parameters it is solved with."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2, routing_ils_pb2

from routing.solver.problem import InvalidProblem, Problem, Stop, StopId, TimeWindow

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
