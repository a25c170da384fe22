"""The routing solver on small hand-made problems whose answer is known, and its checker.

No database: run with `pytest -p no:django tests/routing`.
"""

from __future__ import annotations

import dataclasses
import random
import time

import numpy as np
import pytest

from routing.feasibility import ViolationKind, check_solution
from routing.solver import (
    Depot,
    DroppedStop,
    DropReason,
    InvalidProblem,
    Problem,
    Progress,
    Solution,
    Stop,
    TimeWindow,
    Vehicle,
    route_for,
    solve,
)

DAY = TimeWindow(0, 10_000)
FAST = 0.5  # seconds: tiny problems are solved to optimality long before


def euclidean(points: list[tuple[float, float]]) -> np.ndarray:
    xy = np.array(points, dtype=float)
    return np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))).astype(int)


def truck(vehicle_id: str = "T1", **changes) -> Vehicle:
    return dataclasses.replace(
        Vehicle(vehicle_id, capacity_weight=1000, capacity_volume=1000), **changes
    )


def route_of(solution: Solution, vehicle_id: str) -> list:
    return solution.routes_by_vehicle().get(vehicle_id, [])


def served(solution: Solution) -> set:
    return {s.stop_id for route in solution.routes for s in route.stops}


def reasons(solution: Solution) -> dict:
    return {d.stop_id: d.reason for d in solution.dropped}


# --- Known optima ---------------------------------------------------------------------------


def test_stops_on_a_line_are_visited_in_order_by_one_vehicle() -> None:
    positions = [0, 30, 10, 50, 20, 40]  # location 0 is the depot
    distance = np.abs(np.subtract.outer(positions, positions))
    stops = [Stop(id=f"s{p}", location=i) for i, p in enumerate(positions) if i > 0]
    problem = Problem(Depot(DAY), stops, [truck()], distance)

    solution = solve(problem, time_limit_s=FAST)

    order = [int(stop_id[1:]) for stop_id in route_of(solution, "T1")]
    assert order in (sorted(order), sorted(order, reverse=True))
    assert len(order) == 5
    assert solution.total_distance == 2 * 50
    assert solution.dropped == ()


def test_two_clusters_two_vehicles_each_takes_one_cluster() -> None:
    west = [(-100 + dx, dy) for dx, dy in [(0, 0), (3, 4), (-3, 2), (1, -5), (4, 1)]]
    east = [(100 + dx, dy) for dx, dy in [(0, 0), (-2, 3), (3, -4), (-4, -1), (2, 5)]]
    distance = euclidean([(0, 0), *west, *east])
    stops = [Stop(id=i, location=i, weight=2) for i in range(1, 11)]
    # Each vehicle holds exactly one cluster's load, so mixing would only add driving.
    vehicles = [truck("A", capacity_weight=10), truck("B", capacity_weight=10)]
    problem = Problem(Depot(DAY), stops, vehicles, distance)

    solution = solve(problem, time_limit_s=FAST)

    clusters = sorted(sorted(ids) for ids in solution.routes_by_vehicle().values())
    assert clusters == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]


def test_fewer_vehicles_when_a_vehicle_costs_something() -> None:
    distance = euclidean([(0, 0), (0, 10), (10, 0)])
    stops = [Stop(id=1, location=1), Stop(id=2, location=2)]
    vehicles = [truck("A", fixed_cost=100), truck("B", fixed_cost=100)]

    solution = solve(Problem(Depot(DAY), stops, vehicles, distance), time_limit_s=FAST)

    assert solution.vehicles_used == 1


# --- Time -----------------------------------------------------------------------------------


def test_windows_force_the_order_against_geometry() -> None:
    positions = [0, 10, 20, 30]
    distance = np.abs(np.subtract.outer(positions, positions))
    stops = [
        Stop(id="near", location=1, windows=(TimeWindow(200, 220),)),
        Stop(id="middle", location=2, windows=(TimeWindow(100, 150),)),
        Stop(id="far", location=3, windows=(TimeWindow(30, 60),)),
    ]
    problem = Problem(Depot(DAY), stops, [truck()], distance)

    solution = solve(problem, time_limit_s=FAST)

    (route,) = solution.routes
    assert [s.stop_id for s in route.stops] == ["far", "middle", "near"]
    for planned, stop in zip(route.stops, reversed(stops), strict=True):
        (window,) = stop.windows
        assert window.start <= planned.service_start <= window.end
        assert planned.waiting == planned.service_start - planned.arrival
    assert check_solution(problem, solution) == []


def test_service_time_counts_towards_the_shift() -> None:
    distance = np.array([[0, 10], [10, 0]])
    stop = Stop(id="s", location=1, service_time=50)
    fits = Problem(Depot(DAY), [stop], [truck(shift_start=0, shift_end=70)], distance)
    too_short = Problem(Depot(DAY), [stop], [truck(shift_start=0, shift_end=69)], distance)

    served_plan = solve(fits, time_limit_s=FAST)
    dropped_plan = solve(too_short, time_limit_s=FAST)

    (route,) = served_plan.routes
    assert route.stops[0].departure - route.stops[0].service_start == 50
    assert route.return_time - route.departure == 70
    assert reasons(dropped_plan) == {"s": DropReason.WINDOW_UNREACHABLE}


def test_departure_is_delayed_so_the_vehicle_does_not_wait() -> None:
    distance = np.array([[0, 10], [10, 0]])
    stop = Stop(id="s", location=1, windows=(TimeWindow(500, 600),), service_time=5)
    problem = Problem(Depot(DAY), [stop], [truck(shift_start=0)], distance)

    (route,) = solve(problem, time_limit_s=FAST).routes

    assert route.departure == 490
    assert route.stops[0].waiting == 0
    assert route.duration == 25


def test_two_windows_serve_in_the_second_when_the_first_is_out_of_reach() -> None:
    distance = np.array([[0, 100], [100, 0]])
    stop = Stop(id="s", location=1, windows=(TimeWindow(0, 50), TimeWindow(300, 400)))
    problem = Problem(Depot(DAY), [stop], [truck()], distance)

    (route,) = solve(problem, time_limit_s=FAST).routes

    assert 300 <= route.stops[0].service_start <= 400


def test_two_windows_the_gap_between_them_is_never_used() -> None:
    # Two stops at the same place, 10 apart in time: serving one then the other inside a
    # single window is impossible, so one lands in each window of the two-window stop.
    distance = np.array([[0, 20], [20, 0]])
    stops = [
        Stop(id="fixed", location=1, windows=(TimeWindow(100, 100),), service_time=30),
        Stop(
            id="either",
            location=1,
            windows=(TimeWindow(90, 110), TimeWindow(200, 250)),
            service_time=30,
        ),
    ]
    problem = Problem(Depot(DAY), stops, [truck()], distance)

    solution = solve(problem, time_limit_s=FAST)

    (route,) = solution.routes
    starts = {s.stop_id: s.service_start for s in route.stops}
    assert starts["fixed"] == 100
    assert 200 <= starts["either"] <= 250
    assert check_solution(problem, solution) == []


def test_max_route_duration_splits_a_long_day() -> None:
    positions = [0, 100, 100]
    distance = np.abs(np.subtract.outer(positions, positions))
    stops = [Stop(id=i, location=i, service_time=100) for i in (1, 2)]
    # One trip for both takes 100 + 100 + 100 + 100 = 400; the limit is 300.
    vehicles = [truck("A", max_duration=300), truck("B", max_duration=300)]

    solution = solve(Problem(Depot(DAY), stops, vehicles, distance), time_limit_s=FAST)

    assert solution.vehicles_used == 2
    assert all(route.duration <= 300 for route in solution.routes)


def test_slow_vehicle_speed_converts_distance_to_time() -> None:
    distance = np.array([[0, 1000], [1000, 0]])
    stop = Stop(id="s", location=1, windows=(TimeWindow(0, 150),))
    problem = Problem(
        Depot(DAY), [stop], [truck("slow", speed=5.0), truck("fast", speed=10.0)], distance
    )

    solution = solve(problem, time_limit_s=FAST)

    (route,) = solution.routes
    assert route.vehicle_id == "fast"
    assert route.stops[0].arrival - route.departure == 100


def test_time_matrix_scaled_by_the_vehicle_time_factor() -> None:
    distance = np.array([[0, 1000], [1000, 0]])
    travel = np.array([[0, 100], [100, 0]])
    stop = Stop(id="s", location=1)
    problem = Problem(Depot(DAY), [stop], [truck(time_factor=1.5)], distance, time_matrix=travel)

    (route,) = solve(problem, time_limit_s=FAST).routes

    assert route.stops[0].arrival - route.departure == 150
    assert route.distance == 2000


def test_a_window_after_every_shift_is_ignored() -> None:
    distance = np.array([[0, 10], [10, 0]])
    stop = Stop(id="s", location=1, windows=(TimeWindow(100, 200), TimeWindow(20_000, 21_000)))

    (route,) = solve(Problem(Depot(DAY), [stop], [truck()], distance), time_limit_s=FAST).routes

    assert 100 <= route.stops[0].service_start <= 200


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"distance_matrix": np.array([[0, -1], [1, 0]])}, "negative"),
        ({"distance_matrix": np.zeros((2, 3))}, "square"),
        ({"vehicles": [truck(shift_start=20_000)]}, "shift"),
        ({"stops": [Stop(id=1, location=1), Stop(id=1, location=1)]}, "unique"),
        ({"stops": [Stop(id=1, location=5)]}, "location"),
        ({"stops": [Stop(id=1, location=1, priority=0)]}, "priority"),
    ],
)
def test_malformed_problems_are_rejected(change: dict, match: str) -> None:
    fields = {
        "depot": Depot(DAY),
        "stops": [Stop(id=1, location=1)],
        "vehicles": [truck()],
        "distance_matrix": np.array([[0, 1], [1, 0]]),
    }
    with pytest.raises(InvalidProblem, match=match):
        Problem(**{**fields, **change})


def test_route_for_times_a_given_order_or_says_it_misses_a_window() -> None:
    positions = [0, 10, 20]
    distance = np.abs(np.subtract.outer(positions, positions))
    near = Stop(id="near", location=1, windows=(TimeWindow(100, 120),))
    far = Stop(id="far", location=2, windows=(TimeWindow(50, 60),))
    problem = Problem(Depot(DAY), [near, far], [truck()], distance)

    assert route_for(problem, problem.vehicles[0], [near, far]) is None
    route = route_for(problem, problem.vehicles[0], [far, near])
    assert route is not None
    # Back at 110 at the earliest; leaving at 40 instead of 0 still makes it, waiting less.
    assert [s.service_start for s in route.stops] == [60, 100]
    assert (route.departure, route.return_time) == (40, 110)


# --- Capacities and vehicle types -----------------------------------------------------------


@pytest.mark.parametrize("dimension", ["weight", "volume"])
def test_each_capacity_alone_forces_a_split(dimension: str) -> None:
    distance = euclidean([(0, 0), (10, 0), (11, 0)])
    demand = {"weight": 0, "volume": 0, dimension: 6}
    stops = [Stop(id=i, location=i, **demand) for i in (1, 2)]
    vehicles = [
        truck("A", capacity_weight=10, capacity_volume=10),
        truck("B", capacity_weight=10, capacity_volume=10),
    ]

    solution = solve(Problem(Depot(DAY), stops, vehicles, distance), time_limit_s=FAST)

    assert solution.vehicles_used == 2
    assert solution.dropped == ()
    for route in solution.routes:
        assert (route.load_weight, route.load_volume) == (demand["weight"], demand["volume"])


def test_loads_on_board_decrease_stop_by_stop() -> None:
    positions = [0, 10, 20]
    distance = np.abs(np.subtract.outer(positions, positions))
    stops = [Stop(id=1, location=1, weight=3, volume=5), Stop(id=2, location=2, weight=4, volume=1)]

    (route,) = solve(Problem(Depot(DAY), stops, [truck()], distance), time_limit_s=FAST).routes

    assert (route.load_weight, route.load_volume) == (7, 6)
    assert [(s.load_weight, s.load_volume) for s in route.stops][-1] == (0, 0)


def test_refrigerated_stops_ride_on_the_refrigerated_vehicle() -> None:
    rng = random.Random(3)
    points = [(0, 0)] + [(rng.uniform(-50, 50), rng.uniform(-50, 50)) for _ in range(12)]
    stops = [Stop(id=i, location=i, weight=1, needs_refrigeration=i % 3 == 0) for i in range(1, 13)]
    vehicles = [truck("dry", capacity_weight=20), truck("cold", is_refrigerated=True)]

    solution = solve(Problem(Depot(DAY), stops, vehicles, euclidean(points)), time_limit_s=FAST)

    cold_stops = {s.id for s in stops if s.needs_refrigeration}
    assert cold_stops <= set(solution.routes_by_vehicle()["cold"])
    assert served(solution) == {s.id for s in stops}


def test_lower_priority_is_dropped_when_capacity_forces_a_drop() -> None:
    distance = euclidean([(0, 0), (10, 0), (0, 10)])
    stops = [
        Stop(id="low", location=1, weight=6, priority=1),
        Stop(id="high", location=2, weight=6, priority=3),
    ]

    solution = solve(
        Problem(Depot(DAY), stops, [truck(capacity_weight=10)], distance), time_limit_s=FAST
    )

    assert served(solution) == {"high"}
    assert reasons(solution) == {"low": DropReason.CAPACITY_OR_TIME_EXHAUSTED}


# --- Stops that can never be served, with the reason ----------------------------------------


def test_hopeless_stops_are_dropped_with_the_right_reason() -> None:
    distance = euclidean([(0, 0), (10, 0), (0, 10), (-10, 0), (0, -10), (5, 5)])
    stops = [
        Stop(id="unreachable", location=1, windows=(TimeWindow(0, 5),)),
        Stop(id="heavy", location=2, weight=5000),
        Stop(id="bulky", location=3, volume=5000),
        Stop(id="cold", location=4, needs_refrigeration=True),
        Stop(id="fine", location=5),
    ]
    vehicles = [truck("A"), truck("B", capacity_weight=2000)]

    solution = solve(Problem(Depot(DAY), stops, vehicles, distance), time_limit_s=FAST)

    assert reasons(solution) == {
        "unreachable": DropReason.WINDOW_UNREACHABLE,
        "heavy": DropReason.TOO_HEAVY,
        "bulky": DropReason.TOO_BULKY,
        "cold": DropReason.NO_REFRIGERATED_VEHICLE,
    }
    messages = {d.stop_id: d.message for d in solution.dropped}
    assert "heavier than any vehicle" in messages["heavy"]
    assert "2000" in messages["heavy"]  # the largest capacity, to say by how much
    assert served(solution) == {"fine"}


def test_refrigerated_vehicle_busy_is_the_reason_when_it_is_full() -> None:
    distance = euclidean([(0, 0), (10, 0), (0, 10)])
    stops = [Stop(id=i, location=i, weight=6, needs_refrigeration=True) for i in (1, 2)]
    vehicles = [truck("cold", capacity_weight=10, is_refrigerated=True), truck("dry")]

    solution = solve(Problem(Depot(DAY), stops, vehicles, distance), time_limit_s=FAST)

    assert list(reasons(solution).values()) == [DropReason.REFRIGERATED_VEHICLES_BUSY]


def test_shift_too_short_for_any_vehicle_drops_with_reason() -> None:
    distance = euclidean([(0, 0), (100, 0)])
    stop = Stop(id="s", location=1, windows=(TimeWindow(500, 600),))
    vehicles = [truck("early", shift_start=0, shift_end=400), truck("late", shift_start=700)]

    solution = solve(Problem(Depot(DAY), [stop], vehicles, distance), time_limit_s=FAST)

    assert reasons(solution) == {"s": DropReason.WINDOW_UNREACHABLE}
    assert "window unreachable" in solution.dropped[0].message


def test_no_vehicles_at_all() -> None:
    problem = Problem(Depot(DAY), [Stop(id=1, location=1)], [], np.array([[0, 1], [1, 0]]))

    solution = solve(problem, time_limit_s=FAST)

    assert reasons(solution) == {1: DropReason.NO_VEHICLE}


# --- Search: time limit, warm start, progress ------------------------------------------------


def random_problem(stops: int, vehicles: int, seed: int) -> Problem:
    """Around a depot: windows of 1-3 hours in a 10-hour day, two capacities, some cold."""
    rng = random.Random(seed)
    points = [(0.0, 0.0)] + [
        (rng.uniform(-20_000, 20_000), rng.uniform(-20_000, 20_000)) for _ in range(stops)
    ]
    day = TimeWindow(0, 10 * 3600)
    stop_list = []
    for i in range(1, stops + 1):
        opens = rng.randrange(0, 8 * 3600)
        stop_list.append(
            Stop(
                id=i,
                location=i,
                weight=rng.randint(10, 300),
                volume=rng.randint(1, 40),
                windows=(TimeWindow(opens, min(day.end, opens + rng.choice([1, 2, 3]) * 3600)),),
                service_time=rng.choice([300, 600]),
                needs_refrigeration=rng.random() < 0.15,
                priority=rng.choice([1, 1, 2, 3]),
            )
        )
    fleet = [
        Vehicle(
            id=f"V{v}",
            capacity_weight=3000,
            capacity_volume=300,
            is_refrigerated=v % 4 == 0,
            speed=12.0,
            fixed_cost=20_000,
        )
        for v in range(vehicles)
    ]
    return Problem(Depot(day), stop_list, fleet, euclidean(points))


def test_time_limit_is_honoured_on_a_medium_instance() -> None:
    problem = random_problem(stops=200, vehicles=12, seed=7)

    started = time.monotonic()
    solution = solve(problem, time_limit_s=2.0)
    elapsed = time.monotonic() - started

    assert elapsed <= 2.0 + 0.5
    assert solution.wall_time_s <= 2.0 + 0.5
    assert check_solution(problem, solution) == []


def test_warm_start_from_the_previous_plan_is_never_worse() -> None:
    problem = random_problem(stops=120, vehicles=10, seed=11)
    first = solve(problem, time_limit_s=1.0)

    again = solve(problem, time_limit_s=1.0, initial_routes=first.routes_by_vehicle())

    assert again.warm_start_used
    assert again.objective <= first.objective


def test_warm_start_with_guided_local_search_is_never_worse() -> None:
    problem = random_problem(stops=80, vehicles=8, seed=13)
    first = solve(problem, time_limit_s=1.0, metaheuristic="gls")

    again = solve(
        problem, time_limit_s=1.0, metaheuristic="gls", initial_routes=first.routes_by_vehicle()
    )

    assert again.warm_start_used
    assert again.objective <= first.objective


def test_warm_start_survives_stops_that_disappeared() -> None:
    problem = random_problem(stops=40, vehicles=5, seed=5)
    first = solve(problem, time_limit_s=0.5)
    fewer = dataclasses.replace(problem, stops=list(problem.stops)[5:])

    again = solve(fewer, time_limit_s=0.5, initial_routes=first.routes_by_vehicle())

    assert check_solution(fewer, again) == []


def test_progress_reports_ever_better_objectives() -> None:
    problem = random_problem(stops=60, vehicles=6, seed=2)
    seen: list[Progress] = []

    solution = solve(problem, time_limit_s=1.0, on_progress=seen.append)

    assert seen
    objectives = [p.best_objective for p in seen]
    assert objectives == sorted(objectives, reverse=True)
    assert len(set(objectives)) == len(objectives)
    assert objectives[-1] >= solution.objective


def test_seed_changes_nothing_about_feasibility() -> None:
    problem = random_problem(stops=50, vehicles=6, seed=4)

    for seed in (0, 1, 2):
        assert check_solution(problem, solve(problem, time_limit_s=0.5, seed=seed)) == []


def test_guided_local_search_is_available() -> None:
    problem = random_problem(stops=30, vehicles=4, seed=8)

    solution = solve(problem, time_limit_s=0.5, metaheuristic="gls")

    assert "guided local search" in solution.strategy
    assert check_solution(problem, solution) == []


# --- The independent checker catches each kind of violation ---------------------------------


@pytest.fixture(scope="module")
def planned() -> tuple[Problem, Solution]:
    """Two routes, loads, windows and service times: a clean plan to break on purpose."""
    distance = euclidean([(0, 0), (10, 0), (20, 0), (0, 10), (0, 20)])
    stops = [
        Stop(id=i, location=i, weight=2, volume=3, windows=(TimeWindow(0, 1000),), service_time=5)
        for i in range(1, 5)
    ]
    vehicles = [truck("A", capacity_weight=4), truck("B", capacity_weight=4)]
    problem = Problem(Depot(DAY), stops, vehicles, distance)
    solution = solve(problem, time_limit_s=FAST)
    assert check_solution(problem, solution) == []
    assert solution.vehicles_used == 2
    return problem, solution


def kinds(problem: Problem, solution: Solution) -> set[ViolationKind]:
    return {v.kind for v in check_solution(problem, solution)}


def replace_stop(solution: Solution, **changes) -> Solution:
    route = solution.routes[0]
    first = dataclasses.replace(route.stops[0], **changes)
    routes = (dataclasses.replace(route, stops=(first, *route.stops[1:])), *solution.routes[1:])
    return dataclasses.replace(solution, routes=routes)


def test_checker_catches_overweight_and_overvolume(planned) -> None:
    problem, solution = planned
    smaller = [
        dataclasses.replace(v, capacity_weight=3, capacity_volume=5) for v in problem.vehicles
    ]

    assert kinds(dataclasses.replace(problem, vehicles=smaller), solution) == {
        ViolationKind.OVER_WEIGHT,
        ViolationKind.OVER_VOLUME,
    }


def test_checker_catches_late_and_early_service(planned) -> None:
    problem, solution = planned
    stop_id = solution.routes[0].stops[0].stop_id
    start = solution.routes[0].stops[0].service_start

    def with_window(window: TimeWindow) -> Problem:
        stops = [
            dataclasses.replace(s, windows=(window,)) if s.id == stop_id else s
            for s in problem.stops
        ]
        return dataclasses.replace(problem, stops=stops)

    assert kinds(with_window(TimeWindow(0, start - 1)), solution) == {ViolationKind.LATE}
    assert kinds(with_window(TimeWindow(start + 1, 2000)), solution) == {ViolationKind.EARLY}


def test_checker_catches_shift_and_duration(planned) -> None:
    problem, solution = planned
    route = solution.routes[0]
    tight = [
        dataclasses.replace(v, shift_end=route.return_time - 1, max_duration=route.duration - 1)
        for v in problem.vehicles
    ]

    found = kinds(dataclasses.replace(problem, vehicles=tight), solution)

    assert found == {ViolationKind.SHIFT, ViolationKind.MAX_DURATION}


def test_checker_catches_refrigeration(planned) -> None:
    problem, solution = planned
    cold = [dataclasses.replace(s, needs_refrigeration=True) for s in problem.stops]

    assert kinds(dataclasses.replace(problem, stops=cold), solution) == {
        ViolationKind.REFRIGERATION
    }


def test_checker_catches_stops_served_twice_or_forgotten(planned) -> None:
    problem, solution = planned
    route = solution.routes[0]
    twice = dataclasses.replace(solution, dropped=(_drop(route.stops[0].stop_id),))
    forgotten_route = dataclasses.replace(route, stops=route.stops[:-1])
    forgotten = dataclasses.replace(solution, routes=(forgotten_route, *solution.routes[1:]))

    assert ViolationKind.DUPLICATE_STOP in kinds(problem, twice)
    assert ViolationKind.MISSING_STOP in kinds(problem, forgotten)


def _drop(stop_id: int) -> DroppedStop:
    reason = DropReason.CAPACITY_OR_TIME_EXHAUSTED
    return DroppedStop(stop_id=stop_id, reason=reason, message=reason.message)


def test_checker_catches_wrong_figures(planned) -> None:
    problem, solution = planned
    first = solution.routes[0].stops[0]

    assert kinds(problem, replace_stop(solution, arrival=first.arrival + 1)) == {
        ViolationKind.WRONG_TIME
    }
    assert kinds(problem, replace_stop(solution, load_weight=first.load_weight + 1)) == {
        ViolationKind.WRONG_LOAD
    }
    assert kinds(
        problem, replace_stop(solution, distance_from_previous=first.distance_from_previous + 1)
    ) == {ViolationKind.WRONG_DISTANCE}
    assert kinds(problem, dataclasses.replace(solution, total_distance=0)) == {
        ViolationKind.WRONG_DISTANCE
    }
    assert kinds(problem, dataclasses.replace(solution, total_duration=0)) == {
        ViolationKind.WRONG_TIME
    }
    assert kinds(problem, dataclasses.replace(solution, vehicles_used=9)) == {
        ViolationKind.WRONG_COUNT
    }


def test_checker_catches_an_unknown_vehicle(planned) -> None:
    problem, solution = planned
    stray = dataclasses.replace(solution.routes[0], vehicle_id="ghost")
    broken = dataclasses.replace(solution, routes=(stray, *solution.routes[1:]))

    assert ViolationKind.UNKNOWN_VEHICLE in kinds(problem, broken)
