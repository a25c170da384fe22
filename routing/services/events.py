"""The route plans' audit trail: one event row per change, written in the change's transaction."""

from __future__ import annotations

from routing.models import RoutePlanEvent
from warehouse.roles import recorded_user


def record_plan_event(*, plan_id: int, kind: str, actor=None, **data) -> RoutePlanEvent:
    """Record that `actor` (None: the planner itself) made change `kind` to the plan."""
    return RoutePlanEvent.objects.create(
        plan_id=plan_id, kind=kind, actor=recorded_user(actor), data=data
    )
