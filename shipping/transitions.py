"""The outbound state machines, as tables. Pure Python: services call `check_transition`."""

from __future__ import annotations

from warehouse.errors import InvalidTransition

ORDER: dict[str, frozenset[str]] = {
    "new": frozenset({"backordered", "partially_allocated", "allocated", "cancelled"}),
    "backordered": frozenset({"backordered", "partially_allocated", "allocated", "cancelled"}),
    "partially_allocated": frozenset(
        {"partially_allocated", "allocated", "backordered", "released", "cancelled"}
    ),
    "allocated": frozenset({"allocated", "released", "cancelled"}),
    # A released order whose every pick came up short goes back to waiting for stock.
    "released": frozenset({"picked", "backordered", "cancelled"}),
    "picked": frozenset({"packed"}),
    "packed": frozenset({"dispatched"}),
    "dispatched": frozenset({"delivered"}),
    "delivered": frozenset(),
    "cancelled": frozenset(),
}

WAVE: dict[str, frozenset[str]] = {
    "planned": frozenset({"released", "cancelled"}),
    "released": frozenset({"completed"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
}

PICK_LIST: dict[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "done", "cancelled"}),
    "in_progress": frozenset({"done", "cancelled"}),
    "done": frozenset(),
    "cancelled": frozenset(),
}

PICK_TASK: dict[str, frozenset[str]] = {
    "open": frozenset({"picked", "short", "cancelled"}),
    "picked": frozenset(),
    "short": frozenset(),
    "cancelled": frozenset(),
}

SHIPMENT: dict[str, frozenset[str]] = {
    "planned": frozenset({"packed", "cancelled"}),
    "packed": frozenset({"staged", "cancelled"}),
    "staged": frozenset({"loaded", "cancelled"}),
    "loaded": frozenset({"dispatched"}),
    "dispatched": frozenset({"delivered"}),
    "delivered": frozenset(),
    "cancelled": frozenset(),
}

MACHINES: dict[str, dict[str, frozenset[str]]] = {
    "order": ORDER,
    "wave": WAVE,
    "pick list": PICK_LIST,
    "pick task": PICK_TASK,
    "shipment": SHIPMENT,
}


def can_transition(machine: str, current: str, target: str) -> bool:
    return target in MACHINES[machine].get(current, frozenset())


def check_transition(
    machine: str,
    current: str,
    target: str,
    *,
    label: str = "",
    error: type[InvalidTransition] = InvalidTransition,
) -> None:
    """Raise `error` (an InvalidTransition, so 409) unless `machine` may go current -> target."""
    if not can_transition(machine, current, target):
        name = f"{machine} {label}".strip()
        raise error(
            f"{name.capitalize()} is {current.replace('_', ' ')}; "
            f"it cannot become {target.replace('_', ' ')}."
        )
