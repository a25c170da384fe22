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

Modules: `problem` (the dataclasses in and out), `schedule` (timing one vehicle's stops),
`model` (the OR-Tools model and search parameters), `search` (solve).
"""

from routing.solver.problem import (
    Depot,
    DroppedStop,
    DropReason,
    InitialRoutes,
    InvalidProblem,
    PlannedStop,
    Problem,
    Progress,
    ProgressCallback,
    Route,
    Solution,
    SolverBug,
    Stop,
    StopId,
    TimeWindow,
    Vehicle,
    VehicleId,
)
from routing.solver.schedule import build_route, route_for
from routing.solver.search import solve

__all__ = [
    "Depot",
    "DropReason",
    "DroppedStop",
    "InitialRoutes",
    "InvalidProblem",
    "PlannedStop",
    "Problem",
    "Progress",
    "ProgressCallback",
    "Route",
    "Solution",
    "SolverBug",
    "Stop",
    "StopId",
    "TimeWindow",
    "Vehicle",
    "VehicleId",
    "build_route",
    "route_for",
    "solve",
]
