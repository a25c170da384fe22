"""Reading Solomon instances (DIMACS convention) and a short solve of C101.

No database: run with `pytest -p no:django tests/routing/test_solomon.py`.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from routing.feasibility import check_solution
from routing.solomon import main, read_solomon, solve_solomon_file
from routing.solver import solve

DATA = Path(
    os.environ.get(
        "DOCKSIDE_SOLOMON_DIR",
        Path(__file__).resolve().parents[2].parent / "shared/data/vrp/solomon",
    )
)
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="Solomon data not available")


def bks(name: str) -> float:
    with open(DATA / "bks.csv", newline="") as handle:
        return next(
            float(r["bks_distance"]) for r in csv.DictReader(handle) if r["instance"] == name
        )


def test_reads_fleet_windows_and_truncated_distances() -> None:
    instance = read_solomon(DATA / "C101.txt")
    problem = instance.problem

    assert (instance.fleet_size, instance.capacity) == (25, 200)
    assert len(problem.stops) == 100
    assert problem.depot.window.end == 12360  # 1236 in tenths
    first = problem.stops[0]
    assert (first.id, first.weight, first.service_time) == (1, 10, 900)
    assert (first.windows[0].start, first.windows[0].end) == (9120, 9670)
    # Depot (40, 50) to customer 1 (45, 68): sqrt(349) = 18.681 -> 18.6 -> 186 tenths.
    assert problem.distance_matrix[0][1] == 186
    # An exact integer distance stays exact: (40, 50) to (40, 66) is 16.0.
    assert problem.distance_matrix[0][7] == 160


def test_c101_short_solve_serves_everyone_close_to_the_best_known() -> None:
    problem = read_solomon(DATA / "C101.txt").problem

    solution = solve(problem, time_limit_s=2.0)

    assert solution.dropped == ()
    assert check_solution(problem, solution) == []
    gap = (solution.total_distance / 10 - bks("C101")) / bks("C101")
    assert gap < 0.05


def test_solve_solomon_file_returns_the_summary() -> None:
    result = solve_solomon_file(DATA / "C201.txt", time_limit_s=1.0)

    assert set(result) == {"routes", "dropped", "distance", "vehicles"}
    assert sorted(c for route in result["routes"] for c in route) == list(range(1, 101))
    assert result["vehicles"] == len(result["routes"])
    assert result["distance"] == round(result["distance"], 1)


def test_command_line_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(DATA / "C101.txt"), "--time-limit", "1", "--seed", "3", "--json"]) == 0

    printed = json.loads(capsys.readouterr().out)
    assert printed["dropped"] == []
    assert printed["vehicles"] == len(printed["routes"])
