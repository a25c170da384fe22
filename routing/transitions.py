"""The route plan's state machine, as a table. Pure Python."""

from __future__ import annotations

from warehouse.errors import InvalidTransition

PLAN: dict[str, frozenset[str]] = {
    "draft": frozenset({"solving"}),
    "solving": frozenset({"solved", "failed"}),
    # A solved plan may be re-solved (warm start) or edited, until it is approved.
    "solved": frozenset({"solving", "approved"}),
    "failed": frozenset({"solving"}),
    "approved": frozenset({"dispatched"}),
    "dispatched": frozenset(),
}


def check_plan_transition(current: str, target: str) -> None:
    """Raise InvalidTransition unless a plan may go from `current` to `target`."""
    if target not in PLAN.get(current, frozenset()):
        raise InvalidTransition(f"A route plan cannot go from {current} to {target}.")
