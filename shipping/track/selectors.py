"""What the public tracking page may show: status, timeline, ETA window, proof of delivery.

Nothing else leaves here: no ids, no order or customer data, no staff names. Every field is
built explicitly below, so a new model field cannot leak onto the page by accident.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from shipping.models import Delivery, Tracking, TrackingEvent
from shipping.services.tracking import token_digest

# Longer input cannot be a token of ours: refused before hashing (same 404 as any wrong one).
MAX_TOKEN_LENGTH = 64


@dataclass(frozen=True)
class PublicStep:
    status: str
    label: str
    reason: str
    reason_label: str
    at: dt.datetime
    eta_start: dt.datetime | None
    eta_end: dt.datetime | None


@dataclass(frozen=True)
class PublicTracking:
    status: str | None
    label: str
    steps: list[PublicStep]
    eta_start: dt.datetime | None
    eta_end: dt.datetime | None
    proof_of_delivery: str  # "pending", "recorded" or "not_recorded"
    delivered_at: dt.datetime | None
    time_zone: ZoneInfo

    def as_json(self) -> dict:
        def iso(moment: dt.datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        def window(start, end) -> dict | None:
            return {"start": iso(start), "end": iso(end)} if start and end else None

        return {
            "status": self.status,
            "status_label": self.label,
            "eta": window(self.eta_start, self.eta_end),
            "proof_of_delivery": {"status": self.proof_of_delivery, "at": iso(self.delivered_at)},
            "timeline": [
                {
                    "status": step.status,
                    "label": step.label,
                    "reason": step.reason,
                    "reason_label": step.reason_label,
                    "at": iso(step.at),
                    "eta": window(step.eta_start, step.eta_end),
                }
                for step in self.steps
            ],
        }


def get_public_tracking(*, token: str) -> PublicTracking | None:
    """The tracking of the order whose link carries `token`; None for any other string.

    The lookup is by the token's SHA-256 digest (unique index), so the database compares
    digests, never the secret itself: timing the lookup tells nothing about a valid token.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    tracking = (
        Tracking.objects.filter(token_digest=token_digest(token))
        .select_related("order__warehouse")
        .first()
    )
    if tracking is None:
        return None
    events = list(TrackingEvent.objects.filter(order_id=tracking.order_id).order_by("id"))
    steps = [
        PublicStep(
            status=event.status,
            label=event.get_status_display(),
            reason=event.reason,
            reason_label=event.get_reason_display() if event.reason else "",
            at=event.occurred_at,
            eta_start=event.eta_start,
            eta_end=event.eta_end,
        )
        for event in events
    ]
    last = steps[-1] if steps else None
    eta_start, eta_end = tracking.eta_start, tracking.eta_end
    for step in reversed(steps):
        if step.eta_start and step.eta_end:
            eta_start, eta_end = step.eta_start, step.eta_end
            break
    delivery = (
        Delivery.objects.filter(shipment__order_id=tracking.order_id)
        .order_by("-delivered_at")
        .values("delivered_at", "recipient_name", "proof_file")
        .first()
    )
    if delivery is None:
        proof, delivered_at = "pending", None
    else:
        has_proof = bool(delivery["proof_file"]) or bool(delivery["recipient_name"])
        proof = "recorded" if has_proof else "not_recorded"
        delivered_at = delivery["delivered_at"]
    return PublicTracking(
        status=last.status if last else None,
        label=last.label if last else "Order received",
        steps=steps,
        eta_start=eta_start,
        eta_end=eta_end,
        proof_of_delivery=proof,
        delivered_at=delivered_at,
        time_zone=tracking.order.warehouse.tzinfo,
    )


@dataclass(frozen=True)
class StaffStep:
    status: str
    reason: str
    at: dt.datetime
    eta_start: dt.datetime | None
    eta_end: dt.datetime | None
    shipment: str | None
    actor: str | None


def list_staff_timeline(*, order_id: int) -> list[StaffStep]:
    """An order's timeline for staff: with the shipment and who made each change (one query)."""
    rows = (
        TrackingEvent.objects.filter(order_id=order_id)
        .order_by("id")
        .values_list(
            "status",
            "reason",
            "occurred_at",
            "eta_start",
            "eta_end",
            "shipment__number",
            "actor__username",
        )
    )
    return [StaffStep(*row) for row in rows]
