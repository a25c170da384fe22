"""The inbound state machines as tables, and the one function that checks a change.

Pure Python: services call `check_transition` before they change a status, so an illegal
change raises `InvalidTransition` (HTTP 409) and nothing is written.
"""

from __future__ import annotations

from warehouse.errors import InvalidTransition

SHIPMENT: dict[str, frozenset[str]] = {
    "announced": frozenset({"scheduled", "arrived", "cancelled"}),
    # A cancelled appointment puts the ASN back to announced.
    "scheduled": frozenset({"announced", "arrived", "cancelled"}),
    "arrived": frozenset({"receiving"}),
    "receiving": frozenset({"received"}),
    # Closed once every putaway task and inspection is finished.
    "received": frozenset({"closed"}),
    "closed": frozenset(),
    "cancelled": frozenset(),
}

RECEIPT: dict[str, frozenset[str]] = {
    "open": frozenset({"closed"}),
    "closed": frozenset(),
}

INSPECTION: dict[str, frozenset[str]] = {
    "pending": frozenset({"passed", "failed"}),
    "passed": frozenset(),
    "failed": frozenset(),
}

PUTAWAY_TASK: dict[str, frozenset[str]] = {
    "open": frozenset({"done", "cancelled"}),
    "done": frozenset(),
    "cancelled": frozenset(),
}

APPOINTMENT: dict[str, frozenset[str]] = {
    "booked": frozenset({"cancelled"}),
    "cancelled": frozenset(),
}

# A customer return (RMA). Received when its return receipt closes; closed once every unit
# received has a disposition and its restock putaways are done.
RMA: dict[str, frozenset[str]] = {
    "requested": frozenset({"authorised", "rejected"}),
    # An authorised return that never comes (or may not come after all) is rejected.
    "authorised": frozenset({"received", "rejected"}),
    "received": frozenset({"closed"}),
    "closed": frozenset(),
    "rejected": frozenset(),
}

MACHINES: dict[str, dict[str, frozenset[str]]] = {
    "ASN": SHIPMENT,
    "receipt": RECEIPT,
    "inspection": INSPECTION,
    "putaway task": PUTAWAY_TASK,
    "dock appointment": APPOINTMENT,
    "RMA": RMA,
    "return receipt": RECEIPT,
}


def can_transition(machine: str, current: str, target: str) -> bool:
    return target in MACHINES[machine].get(current, frozenset())


def check_transition(machine: str, current: str, target: str) -> None:
    """Raise InvalidTransition unless `machine` (e.g. "ASN") may go from `current` to `target`."""
    if not can_transition(machine, current, target):
        allowed = ", ".join(sorted(MACHINES[machine].get(current, ()))) or "nothing"
        raise InvalidTransition(
            f"The {machine} is {current}; it cannot become {target} (from {current}: {allowed})."
        )
