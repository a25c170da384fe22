"""Solomon VRPTW instances: read one into a routing problem, solve it, print the result.

DIMACS 2021 convention: the distance between two customers is their Euclidean distance
truncated to one decimal, travel time equals distance, service starts at max(ready, arrival)
and not after the due date, every route returns to the depot by its due date, and the objective
is total distance only (up to VEHICLE NUMBER vehicles, their count not minimised). The model
works in integer tenths of a unit for both distance and time.

    python -m routing.solomon FILE --time-limit 10 [--seed N] --json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from routing.solver import Depot, Problem, Solution, Stop, TimeWindow, Vehicle, solve

# Everything is kept in tenths of the instance's unit.
SCALE = 10


@dataclass(frozen=True)
class SolomonInstance:
    name: str
    fleet_size: int
    capacity: int
    problem: Problem


def _tenths_distance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """floor(10 * euclidean distance), exactly: integer square root on integer coordinates."""
    dx = x[:, None] - x[None, :]
    dy = y[:, None] - y[None, :]
    if np.all(x == np.round(x)) and np.all(y == np.round(y)):
        squares = (SCALE * SCALE) * (dx.astype(np.int64) ** 2 + dy.astype(np.int64) ** 2)
        return np.vectorize(math.isqrt, otypes=[np.int64])(squares)
    return np.floor(SCALE * np.hypot(dx, dy)).astype(np.int64)


def read_solomon(path: str | Path) -> SolomonInstance:
    """Parse a Solomon text file (CRLF or LF). Stop ids are the customer numbers (ints).

    Raises ValueError when the file does not look like a Solomon instance.
    """
    lines = Path(path).read_text().splitlines()
    name = lines[0].strip() if lines else Path(path).stem
    fleet_size = capacity = None
    rows: list[list[float]] = []
    for number, line in enumerate(lines):
        fields = line.split()
        if fields[:2] == ["NUMBER", "CAPACITY"]:
            fleet_size, capacity = (int(v) for v in lines[number + 1].split())
        elif len(fields) == 7 and fields[0].isdigit():
            rows.append([float(v) for v in fields])
    if fleet_size is None or capacity is None or len(rows) < 2 or rows[0][0] != 0:
        raise ValueError(f"{path}: not a Solomon VRPTW instance")
    table = np.array(rows)
    distance = _tenths_distance(table[:, 1], table[:, 2])
    depot = Depot(window=TimeWindow(int(SCALE * table[0, 4]), int(SCALE * table[0, 5])))
    stops = [
        Stop(
            id=int(row[0]),
            location=location,
            weight=int(row[3]),
            windows=(TimeWindow(int(SCALE * row[4]), int(SCALE * row[5])),),
            service_time=int(SCALE * row[6]),
        )
        for location, row in enumerate(rows[1:], start=1)
    ]
    # Fixed cost 0: the DIMACS objective is distance only.
    vehicles = [
        Vehicle(id=number, capacity_weight=capacity, capacity_volume=0)
        for number in range(1, fleet_size + 1)
    ]
    return SolomonInstance(
        name=name,
        fleet_size=fleet_size,
        capacity=capacity,
        problem=Problem(depot=depot, stops=stops, vehicles=vehicles, distance_matrix=distance),
    )


def solution_summary(solution: Solution) -> dict:
    """{"routes", "dropped", "distance" (real units, one decimal), "vehicles"}."""
    return {
        "routes": [[int(s.stop_id) for s in route.stops] for route in solution.routes],
        "dropped": [int(d.stop_id) for d in solution.dropped],
        "distance": round(solution.total_distance / SCALE, 1),
        "vehicles": solution.vehicles_used,
    }


def solve_solomon_file(path: str | Path, *, time_limit_s: float, seed: int = 0) -> dict:
    """Solve a Solomon instance file; the summary dict of `solution_summary`.

    Raises ValueError for an unreadable file and routing.solver.SolverBug if the plan found
    fails the feasibility check.
    """
    instance = read_solomon(path)
    return solution_summary(solve(instance.problem, time_limit_s=time_limit_s, seed=seed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Solve a Solomon VRPTW instance (DIMACS).")
    parser.add_argument("file", type=Path)
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = solve_solomon_file(args.file, time_limit_s=args.time_limit, seed=args.seed)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['vehicles']} vehicles, distance {result['distance']}")
        for number, route in enumerate(result["routes"], start=1):
            print(f"  {number:2d}: {' '.join(map(str, route))}")
        if result["dropped"]:
            print(f"  dropped: {' '.join(map(str, result['dropped']))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
