"""Pick path sequencing: the order in which a picker visits the bins of a pick list.

Pure Python plus OR-Tools, no Django. The warehouse is modelled as parallel aisles joined by a
front and a back cross-aisle (the classic rectangular layout). A bin's (x, y) and its aisle
place it on that graph: walking between two bins of one aisle is the distance along it;
between aisles it is along the first aisle to the front or back cross-aisle, across, and
down the second aisle, whichever end is shorter. Points with no aisle (the staging area, the
depot) are open floor, reached over the cross-aisles.

Two methods:
- S-shape (traversal): enter every aisle that has a pick and walk it end to end, alternating
  direction. The classic baseline.
- Shortest path: a travelling-salesman tour from the start point over the distance matrix
  above, exact by enumeration up to 7 stops, otherwise OR-Tools routing (cheapest arc, then
  guided local search under a time limit). The S-shape result is kept when it is shorter, so
  this method is never worse than S-shape.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

__all__ = [
    "Layout",
    "PathResult",
    "Point",
    "infer_layout",
    "route_distance",
    "s_shape",
    "sequence_picks",
    "shortest_path",
    "walking_distance",
]

EXACT_LIMIT = 7
CROSS_AISLE_MARGIN = 1.0  # metres between the last bin of an aisle and the cross-aisle


@dataclass(frozen=True)
class Point:
    key: Hashable
    x: float
    y: float
    aisle: str = ""


@dataclass(frozen=True)
class Layout:
    along_x: bool  # True when aisles run along the x axis
    front: float
    back: float
    aisle_cross: dict[str, float]

    def along(self, point: Point) -> float:
        return point.x if self.along_x else point.y

    def cross(self, point: Point) -> float:
        if point.aisle in self.aisle_cross:
            return self.aisle_cross[point.aisle]
        return point.y if self.along_x else point.x

    def in_aisle(self, point: Point) -> bool:
        return point.aisle in self.aisle_cross


@dataclass(frozen=True)
class PathResult:
    keys: list[Hashable]
    method: str  # "tsp" or "s-shape"
    distance: float
    s_shape_distance: float
    given_order_distance: float

    @property
    def saving(self) -> float:
        """Share of walking saved against visiting the bins in the order given (0..1)."""
        if self.given_order_distance <= 0:
            return 0.0
        return 1 - self.distance / self.given_order_distance


def infer_layout(points: Sequence[Point]) -> Layout:
    """Aisle direction, cross-aisle positions and each aisle's position, from the bins."""
    by_aisle: dict[str, list[Point]] = defaultdict(list)
    for point in points:
        if point.aisle:
            by_aisle[point.aisle].append(point)
    spread_x = sum(max(p.x for p in ps) - min(p.x for p in ps) for ps in by_aisle.values())
    spread_y = sum(max(p.y for p in ps) - min(p.y for p in ps) for ps in by_aisle.values())
    along_x = spread_x >= spread_y
    alongs = [p.x if along_x else p.y for ps in by_aisle.values() for p in ps]
    if not alongs:
        return Layout(along_x=along_x, front=0.0, back=0.0, aisle_cross={})
    cross = {
        aisle: sum((p.y if along_x else p.x) for p in ps) / len(ps)
        for aisle, ps in by_aisle.items()
    }
    return Layout(
        along_x=along_x,
        front=min(alongs) - CROSS_AISLE_MARGIN,
        back=max(alongs) + CROSS_AISLE_MARGIN,
        aisle_cross=cross,
    )


def walking_distance(a: Point, b: Point, layout: Layout) -> float:
    """Metres walked from `a` to `b` along aisles and cross-aisles."""
    a_along, b_along = layout.along(a), layout.along(b)
    a_cross, b_cross = layout.cross(a), layout.cross(b)
    if layout.in_aisle(a) and layout.in_aisle(b) and a.aisle == b.aisle:
        return abs(a_along - b_along)
    if not layout.in_aisle(a) and not layout.in_aisle(b):
        return abs(a_along - b_along) + abs(a_cross - b_cross)
    return min(
        abs(a_along - end) + abs(a_cross - b_cross) + abs(b_along - end)
        for end in (layout.front, layout.back)
    )


def route_distance(start: Point, stops: Sequence[Point], layout: Layout) -> float:
    """Walk from `start` through `stops` in order and back to `start`."""
    if not stops:
        return 0.0
    path = [start, *stops, start]
    return sum(walking_distance(a, b, layout) for a, b in itertools.pairwise(path))


def s_shape(start: Point, stops: Sequence[Point], layout: Layout) -> list[Point]:
    """Traverse each aisle with picks end to end, alternating direction, nearest aisle first."""
    in_aisles: dict[str, list[Point]] = defaultdict(list)
    floor: list[Point] = []
    for point in stops:
        (in_aisles[point.aisle] if layout.in_aisle(point) else floor).append(point)
    start_cross = layout.cross(start)
    aisles = sorted(in_aisles, key=lambda a: layout.aisle_cross[a])
    if aisles and abs(layout.aisle_cross[aisles[-1]] - start_cross) < abs(
        layout.aisle_cross[aisles[0]] - start_cross
    ):
        aisles.reverse()
    ordered = sorted(floor, key=lambda p: walking_distance(start, p, layout))
    forward = abs(layout.along(start) - layout.front) <= abs(layout.along(start) - layout.back)
    for aisle in aisles:
        ordered.extend(sorted(in_aisles[aisle], key=layout.along, reverse=not forward))
        forward = not forward
    return ordered


def shortest_path(
    start: Point, stops: Sequence[Point], layout: Layout, *, time_limit_ms: int = 100
) -> list[Point]:
    """A shortest closed walk from `start` through every stop (TSP over the aisle graph)."""
    if len(stops) <= 1:
        return list(stops)
    if len(stops) <= EXACT_LIMIT:
        return list(
            min(
                itertools.permutations(stops),
                key=lambda order: route_distance(start, order, layout),
            )
        )
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    nodes = [start, *stops]
    # Centimetres: the solver wants integers.
    matrix = [[round(walking_distance(a, b, layout) * 100) for b in nodes] for a in nodes]
    manager = pywrapcp.RoutingIndexManager(len(nodes), 1, 0)
    routing = pywrapcp.RoutingModel(manager)

    def transit(from_index: int, to_index: int) -> int:
        return matrix[manager.IndexToNode(from_index)][manager.IndexToNode(to_index)]

    callback = routing.RegisterTransitCallback(transit)
    routing.SetArcCostEvaluatorOfAllVehicles(callback)
    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    parameters.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    parameters.time_limit.FromMilliseconds(max(10, time_limit_ms))
    solution = routing.SolveWithParameters(parameters)
    if solution is None:
        return s_shape(start, stops, layout)
    order: list[Point] = []
    index = routing.Start(0)
    while not routing.IsEnd(index):
        node = manager.IndexToNode(index)
        if node:
            order.append(nodes[node])
        index = solution.Value(routing.NextVar(index))
    return order


def sequence_picks(
    start: Point,
    stops: Sequence[Point],
    *,
    layout: Layout | None = None,
    time_limit_ms: int = 100,
) -> PathResult:
    """Sequence `stops` (given in order-line order) for a walk from and back to `start`.

    Returns the keys in walking order, the method that won and the distances of the shortest
    path, the S-shape and the order given, so callers can report the saving.
    """
    layout = layout or infer_layout([start, *stops])
    given = route_distance(start, stops, layout)
    traversal = s_shape(start, stops, layout)
    traversal_distance = route_distance(start, traversal, layout)
    tour = shortest_path(start, stops, layout, time_limit_ms=time_limit_ms)
    tour_distance = route_distance(start, tour, layout)
    if tour_distance <= traversal_distance:
        best, method, distance = tour, "tsp", tour_distance
    else:
        best, method, distance = traversal, "s-shape", traversal_distance
    return PathResult(
        keys=[point.key for point in best],
        method=method,
        distance=distance,
        s_shape_distance=traversal_distance,
        given_order_distance=given,
    )
