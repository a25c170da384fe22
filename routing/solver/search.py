"""Solving: hopeless stops out first, first-solution heuristics, then local search to the time
limit, and the cheapest of what was found, checked before it is returned."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence

from ortools.constraint_solver import pywrapcp

from routing.feasibility import check_solution
from routing.solver.model import (
    EXTRACTION_RESERVE_PER_STOP_S,
    EXTRACTION_RESERVE_S,
    FIRST_SOLUTION_BUDGET,
    FIRST_SOLUTION_STRATEGIES,
    ILS_MAX_STOPS,
    ILS_START_STRATEGIES,
    Metaheuristic,
    _Model,
    _penalty_unit,
    _search_parameters,
)
from routing.solver.problem import (
    DroppedStop,
    DropReason,
    InitialRoutes,
    InvalidProblem,
    Problem,
    Progress,
    ProgressCallback,
    Solution,
    SolverBug,
    Stop,
    StopId,
)
from routing.solver.schedule import (
    _alone_failure,
    _best_departure,
    _dropped,
    _forward_pass,
    _hopeless_reason,
    build_route,
)


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
