#!/usr/bin/env python
"""Route planning quality on Solomon VRPTW instances, and a 1,000-stop scale run.

What it does, in one run:

1. Solves each Solomon instance in the data directory (default `<repo>/../shared/data/vrp/solomon`,
   or $DOCKSIDE_SOLOMON_DIR) with `routing.solver` at `--time-limit` seconds (default 10),
   single thread, DIMACS convention (distance truncated to one decimal, distance only).
2. In the same run, solves each with plain OR-Tools set up the way its guide shows: Python
   callbacks, PATH_CHEAPEST_ARC then GUIDED_LOCAL_SEARCH, the whole fleet available, every
   customer mandatory (no disjunctions), same time limit. Reports "no solution" when it finds
   none.
3. Optionally (when `import pyvrp` works) PyVRP at the same time limit, as a reference.
4. Checks every plan with `routing.feasibility`, prints vehicles, distance and gap to the best
   known DIMACS distance (bks.csv) per instance, the mean gap of each and their ratio.

`--scale` instead generates 1,000 stops and 50 vehicles (windows, two capacities, refrigerated
stops and vehicles) and reports the time to the first feasible plan, the final plan after
`--time-limit` (default 60 there), and the process's peak memory (getrusage).

Usage: .venv/bin/python bench/vrp_solomon.py [--time-limit 10] [--instances C101,R101]
                                             [--no-plain] [--seed 0]
       .venv/bin/python bench/vrp_solomon.py --scale [--time-limit 60]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from routing.feasibility import check_solution  # noqa: E402
from routing.solomon import SCALE, SolomonInstance, read_solomon  # noqa: E402
from routing.solver import (  # noqa: E402
    Depot,
    DropReason,
    Problem,
    Progress,
    Solution,
    Stop,
    TimeWindow,
    Vehicle,
    build_route,
    solve,
)


@dataclass
class Result:
    vehicles: int | None = None
    distance: float | None = None
    served_all: bool = False
    violations: int = 0
    seconds: float = 0.0

    def gap(self, bks: float) -> float | None:
        if self.distance is None or not self.served_all or self.violations:
            return None
        return 100 * (self.distance - bks) / bks


def data_dir() -> Path:
    return Path(os.environ.get("DOCKSIDE_SOLOMON_DIR", ROOT.parent / "shared/data/vrp/solomon"))


def read_bks(directory: Path) -> dict[str, float]:
    with open(directory / "bks.csv", newline="") as handle:
        return {row["instance"]: float(row["bks_distance"]) for row in csv.DictReader(handle)}


# --- Ours -----------------------------------------------------------------------------------


def run_ours(instance: SolomonInstance, time_limit: float, seed: int) -> Result:
    started = time.monotonic()
    solution = solve(instance.problem, time_limit_s=time_limit, seed=seed)
    seconds = time.monotonic() - started
    return Result(
        vehicles=solution.vehicles_used,
        distance=solution.total_distance / SCALE,
        served_all=not solution.dropped,
        violations=len(check_solution(instance.problem, solution)),
        seconds=seconds,
    )


# --- Plain OR-Tools, as its VRPTW guide sets it up --------------------------------------------


def run_plain_ortools(instance: SolomonInstance, time_limit: float) -> Result:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    problem = instance.problem
    distance = np.asarray(problem.distance_matrix).tolist()
    service = [0] + [s.service_time for s in problem.stops]
    manager = pywrapcp.RoutingIndexManager(len(distance), len(problem.vehicles), 0)
    routing = pywrapcp.RoutingModel(manager)

    def distance_callback(from_index: int, to_index: int) -> int:
        return distance[manager.IndexToNode(from_index)][manager.IndexToNode(to_index)]

    def time_callback(from_index: int, to_index: int) -> int:
        origin = manager.IndexToNode(from_index)
        return service[origin] + distance[origin][manager.IndexToNode(to_index)]

    def demand_callback(from_index: int) -> int:
        node = manager.IndexToNode(from_index)
        return 0 if node == 0 else problem.stops[node - 1].weight

    started = time.monotonic()
    transit = routing.RegisterTransitCallback(distance_callback)
    routing.SetArcCostEvaluatorOfAllVehicles(transit)
    demand = routing.RegisterUnaryTransitCallback(demand_callback)
    routing.AddDimensionWithVehicleCapacity(
        demand, 0, [v.capacity_weight for v in problem.vehicles], True, "Capacity"
    )
    horizon = problem.depot.window.end
    routing.AddDimension(
        routing.RegisterTransitCallback(time_callback), horizon, horizon, False, "Time"
    )
    time_dimension = routing.GetDimensionOrDie("Time")
    for node, stop in enumerate(problem.stops, start=1):
        (window,) = stop.windows
        time_dimension.CumulVar(manager.NodeToIndex(node)).SetRange(window.start, window.end)
    for v in range(len(problem.vehicles)):
        time_dimension.CumulVar(routing.Start(v)).SetRange(0, horizon)
        time_dimension.CumulVar(routing.End(v)).SetRange(0, horizon)
    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    parameters.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    parameters.time_limit.FromMilliseconds(int(time_limit * 1000))
    assignment = routing.SolveWithParameters(parameters)
    seconds = time.monotonic() - started
    if assignment is None:
        return Result(seconds=seconds)

    # Rebuild the plan as a Solution so the same independent checker judges it.
    routes = []
    for v, vehicle in enumerate(problem.vehicles):
        index = assignment.Value(routing.NextVar(routing.Start(v)))
        stops = []
        while not routing.IsEnd(index):
            stops.append(problem.stops[manager.IndexToNode(index) - 1])
            index = assignment.Value(routing.NextVar(index))
        if stops:
            routes.append(build_route(problem, vehicle, stops, problem.shift(vehicle)[0]))
    solution = _as_solution(routes, seconds, "PATH_CHEAPEST_ARC + guided local search")
    return Result(
        vehicles=len(routes),
        distance=solution.total_distance / SCALE,
        served_all=True,
        violations=len(check_solution(problem, solution)),
        seconds=seconds,
    )


# --- PyVRP, when installed -------------------------------------------------------------------


def pyvrp_available() -> bool:
    try:
        import pyvrp  # noqa: F401
    except ImportError:
        return False
    return True


def run_pyvrp(instance: SolomonInstance, time_limit: float, seed: int) -> Result:
    """PyVRP (0.14 API) on the same integer matrix; its plan is judged by the same checker."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    problem = instance.problem
    distance = np.asarray(problem.distance_matrix)
    model = pyvrp.Model()
    locations = [model.add_location(x=0, y=0) for _ in range(len(distance))]
    depot = model.add_depot(
        locations[0], tw_early=problem.depot.window.start, tw_late=problem.depot.window.end
    )
    model.add_vehicle_type(
        num_available=len(problem.vehicles),
        capacity=[problem.vehicles[0].capacity_weight],
        start_depot=depot,
        end_depot=depot,
        tw_early=problem.depot.window.start,
        tw_late=problem.depot.window.end,
    )
    for stop in problem.stops:
        model.add_client(
            locations[stop.location],
            delivery=[stop.weight],
            service_duration=stop.service_time,
            tw_early=stop.windows[0].start,
            tw_late=stop.windows[0].end,
        )
    for i, origin in enumerate(locations):
        for j, destination in enumerate(locations):
            if i != j:
                leg = int(distance[i, j])
                model.add_edge(origin, destination, distance=leg, duration=leg)
    started = time.monotonic()
    result = model.solve(stop=MaxRuntime(time_limit), seed=seed, display=False)
    seconds = time.monotonic() - started
    best = result.best
    if not best.is_feasible():
        return Result(seconds=seconds)
    # A client's index counts the clients in the order they were added.
    routes = []
    vehicles = iter(problem.vehicles)
    for route in best.routes():
        stops = [problem.stops[visit.idx] for visit in route if visit.is_client()]
        vehicle = next(vehicles)
        routes.append(build_route(problem, vehicle, stops, problem.shift(vehicle)[0]))
    solution = _as_solution(routes, seconds, "PyVRP")
    return Result(
        vehicles=len(routes),
        distance=solution.total_distance / SCALE,
        served_all=best.is_complete(),
        violations=len(check_solution(problem, solution)),
        seconds=seconds,
    )


def _as_solution(routes: list, seconds: float, strategy: str) -> Solution:
    return Solution(
        routes=tuple(routes),
        dropped=(),
        objective=sum(r.distance for r in routes),
        total_distance=sum(r.distance for r in routes),
        total_duration=sum(r.duration for r in routes),
        vehicles_used=len(routes),
        wall_time_s=seconds,
        strategy=strategy,
    )


# --- The Solomon table -------------------------------------------------------------------------


def cell(result: Result | None, bks: float) -> str:
    if result is None:
        return f"{'':>24}"
    if result.distance is None:
        return f"{'no solution':>24}"
    gap = result.gap(bks)
    flag = "" if result.served_all else " part"
    flag += f" {result.violations}viol" if result.violations else ""
    gap_text = f"{gap:6.2f}%" if gap is not None else "   n/a "
    return f"{result.vehicles:3d} {result.distance:8.1f} {gap_text}{flag:>6}"


def mean_gap(results: list[Result | None], bks: list[float]) -> tuple[float | None, int]:
    gaps = [r.gap(b) for r, b in zip(results, bks, strict=True) if r is not None]
    solved = [g for g in gaps if g is not None]
    return (statistics.mean(solved) if solved else None), len(solved)


def solomon(args: argparse.Namespace) -> int:
    directory = data_dir()
    bks = read_bks(directory)
    names = args.instances.split(",") if args.instances else sorted(bks)
    with_pyvrp = not args.no_pyvrp and pyvrp_available()
    print(f"Solomon VRPTW, DIMACS distances, {args.time_limit:g} s per instance, single thread")
    print(f"data: {directory}")
    header = f"{'instance':8} {'BKS':>7} | {'ours: veh distance gap':>24}"
    header += "" if args.no_plain else f" | {'plain OR-Tools':>24}"
    header += f" | {'PyVRP':>24}" if with_pyvrp else ""
    print(header)
    ours: list[Result] = []
    plain: list[Result | None] = []
    reference: list[Result | None] = []
    for name in names:
        instance = read_solomon(directory / f"{name}.txt")
        ours.append(run_ours(instance, args.time_limit, args.seed))
        plain.append(None if args.no_plain else run_plain_ortools(instance, args.time_limit))
        reference.append(run_pyvrp(instance, args.time_limit, args.seed) if with_pyvrp else None)
        line = f"{name:8} {bks[name]:7.1f} | {cell(ours[-1], bks[name])}"
        line += "" if args.no_plain else f" | {cell(plain[-1], bks[name])}"
        line += f" | {cell(reference[-1], bks[name])}" if with_pyvrp else ""
        print(line, flush=True)

    targets = [bks[name] for name in names]
    ours_mean, ours_solved = mean_gap(list(ours), targets)
    print()
    print(f"ours:           mean gap {_pct(ours_mean)} ({ours_solved}/{len(names)} fully served)")
    if not args.no_plain:
        plain_mean, plain_solved = mean_gap(plain, targets)
        print(
            f"plain OR-Tools: mean gap {_pct(plain_mean)} over the {plain_solved}/{len(names)} "
            f"it solved; no solution on {sum(r is not None and r.distance is None for r in plain)}"
        )
        if ours_mean is not None and plain_mean is not None and ours_mean > 0:
            failed = len(names) - plain_solved
            note = f" (plain's mean leaves out the {failed} it failed)" if failed else ""
            print(f"ratio plain/ours mean gap: {plain_mean / ours_mean:.2f}{note}")
    if with_pyvrp:
        pyvrp_mean, pyvrp_solved = mean_gap(reference, targets)
        print(f"PyVRP:          mean gap {_pct(pyvrp_mean)} ({pyvrp_solved}/{len(names)})")
    elif not args.no_pyvrp:
        print("PyVRP: not installed, column skipped")
    failures = [n for n, r in zip(names, ours, strict=True) if not r.served_all or r.violations]
    if failures:
        print(f"NOT fully served or infeasible: {', '.join(failures)}")
    return 1 if failures else 0


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} %"


# --- Scale ------------------------------------------------------------------------------------


def scale_problem(seed: int, stops: int = 1000, vehicles: int = 50) -> Problem:
    """A city day: metres and seconds from midnight, depot open 06:00-20:00.

    Stops within ~25 km; windows of 1-4 hours, a fifth with a second afternoon window; weights
    in kg and volumes in litres; 15 % need refrigeration. The fleet: vans (1,500 kg, 12 m3,
    45 km/h) and trucks (6,000 kg, 35 m3, 35 km/h), one in five refrigerated, early and late
    shifts, 10-hour maximum routes, fixed cost per vehicle and cost per metre.
    """
    rng = random.Random(seed)
    hour = 3600
    points = [(0.0, 0.0)]
    for _ in range(stops):
        # Denser near the centre, like a city.
        radius = 25_000 * rng.random() ** 0.7
        angle = rng.uniform(0, 2 * np.pi)
        points.append((radius * np.cos(angle), radius * np.sin(angle)))
    xy = np.array(points)
    road_factor = 1.3
    distance = np.rint(
        road_factor * np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    ).astype(np.int64)
    stop_list = []
    for i in range(1, stops + 1):
        opens = rng.randrange(7 * hour, 16 * hour, 900)
        windows = [TimeWindow(opens, opens + rng.choice([1, 2, 3, 4]) * hour)]
        if rng.random() < 0.2 and windows[0].end + hour < 18 * hour:
            later = rng.randrange(windows[0].end + hour, 19 * hour, 900)
            windows.append(TimeWindow(later, min(20 * hour, later + 2 * hour)))
        stop_list.append(
            Stop(
                id=i,
                location=i,
                weight=rng.randint(5, 120),
                volume=rng.randint(20, 600),
                windows=tuple(windows),
                service_time=rng.choice([180, 300, 600]),
                needs_refrigeration=rng.random() < 0.15,
                priority=rng.choice([1, 1, 1, 2, 3]),
            )
        )
    fleet = []
    for v in range(vehicles):
        is_truck = v % 3 == 0
        early = v % 2 == 0
        fleet.append(
            Vehicle(
                id=f"{'T' if is_truck else 'V'}{v:02d}",
                capacity_weight=6000 if is_truck else 1500,
                capacity_volume=35_000 if is_truck else 12_000,
                is_refrigerated=v % 5 == 0,
                shift_start=(6 if early else 10) * hour,
                shift_end=(16 if early else 20) * hour,
                max_duration=10 * hour,
                speed=(35 if is_truck else 45) / 3.6,
                fixed_cost=(150 if is_truck else 80) * 1000,
                cost_per_distance=0.4 if is_truck else 0.25,
            )
        )
    return Problem(Depot(TimeWindow(6 * hour, 20 * hour)), stop_list, fleet, distance)


def scale(args: argparse.Namespace) -> int:
    problem = scale_problem(args.seed)
    print(
        f"Scale: {len(problem.stops)} stops, {len(problem.vehicles)} vehicles, "
        f"time limit {args.time_limit:g} s, single thread"
    )
    first: list[Progress] = []
    # Peak memory from the kernel (ru_maxrss covers OR-Tools' C++ side too); tracemalloc
    # would trace only Python objects and slow model building several-fold.
    started = time.monotonic()
    solution = solve(
        problem,
        time_limit_s=args.time_limit,
        seed=args.seed,
        on_progress=lambda p: first.append(p) if not first else None,
    )
    elapsed = time.monotonic() - started
    rss_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    violations = check_solution(problem, solution)
    by_reason: dict[DropReason, int] = {}
    for drop in solution.dropped:
        by_reason[drop.reason] = by_reason.get(drop.reason, 0) + 1
    if first:
        print(f"first feasible plan after {first[0].elapsed_s:.1f} s")
    print(f"solve time {elapsed:.1f} s (limit {args.time_limit:g} s), strategy {solution.strategy}")
    print(
        f"vehicles used {solution.vehicles_used}/{len(problem.vehicles)}, "
        f"distance {solution.total_distance / 1000:.1f} km, "
        f"served {len(problem.stops) - len(solution.dropped)}/{len(problem.stops)}"
    )
    for reason, count in sorted(by_reason.items()):
        print(f"  dropped {count}: {reason.message}")
    print(f"peak memory (process RSS, getrusage): {rss_peak_mb:.0f} MB")
    print(f"feasibility check: {'clean' if not violations else f'{len(violations)} violations'}")
    within = elapsed <= args.time_limit + 1.0
    return 0 if within and not violations else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per solve")
    parser.add_argument("--instances", help="comma-separated names, default all in bks.csv")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-plain", action="store_true", help="skip plain OR-Tools")
    parser.add_argument("--no-pyvrp", action="store_true", help="skip PyVRP even if installed")
    parser.add_argument("--scale", action="store_true", help="1,000 stops x 50 vehicles instead")
    args = parser.parse_args()
    if args.time_limit is None:
        args.time_limit = 60.0 if args.scale else 10.0
    return scale(args) if args.scale else solomon(args)


if __name__ == "__main__":
    sys.exit(main())
