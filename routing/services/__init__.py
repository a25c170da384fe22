"""Route planning: create a plan from the day's shipments, solve it, edit it, approve it.

The OR-Tools model lives in `routing.solver` (pure Python); these modules turn plans into
solver problems and solutions back into routes and stops, and drive the plan's state machine.
"""

from routing.services.editing import approve_route_plan, move_stop
from routing.services.plans import (
    create_route_plan,
    list_plannable_shipments,
    local_midnight,
    plan_due_warehouses,
    request_solve,
)
from routing.services.solving import solve_route_plan

__all__ = [
    "approve_route_plan",
    "create_route_plan",
    "list_plannable_shipments",
    "local_midnight",
    "move_stop",
    "plan_due_warehouses",
    "request_solve",
    "solve_route_plan",
]
