"""The tracking timeline: written by the outbound services in their own transactions.

Each function here is called from inside the transaction of the change it records (allocation,
picking, packing, staging, dispatch, delivery, cancellation), so the timeline row exists exactly
when the change commits. The same transaction enqueues, through the outbox, the webhook work
for the order (see `shipping.services.webhooks`). Callers write a row only where the
customer-facing status changes: a pick scan that does not finish its order writes nothing here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Sequence

from shipping.models import (
    Delivery,
    Order,
    Tracking,
    TrackingEvent,
    TrackingReason,
    TrackingStatus,
    WebhookSubscription,
)
from shipping.services.common import setting
from warehouse.outbox import enqueue
from warehouse.roles import recorded_user

WEBHOOK_TASK = "shipping.tasks.deliver_tracking_webhooks_task"
# 24 random bytes: 192 bits, 32 URL-safe characters.
TOKEN_BYTES = 24


def token_digest(token: str) -> str:
    """The indexed lookup key of a tracking token (SHA-256, hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _new_tracking(order_id: int) -> Tracking:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return Tracking(order_id=order_id, token=token, token_digest=token_digest(token))


def issue_tracking(*, order_ids: Iterable[int]) -> None:
    """Give each order a tracking link unless it has one (one INSERT ... ON CONFLICT)."""
    rows = [_new_tracking(order_id) for order_id in sorted(set(order_ids))]
    if rows:
        Tracking.objects.bulk_create(rows, ignore_conflicts=True)


def tracking_for(*, order_id: int) -> Tracking:
    """The order's tracking link, issued now if it has none yet."""
    issue_tracking(order_ids=[order_id])
    return Tracking.objects.get(order_id=order_id)


def tracking_url(token: str) -> str:
    """The public page of a token, absolute (DOCKSIDE["PUBLIC_URL"])."""
    return f"{str(setting('PUBLIC_URL', '')).rstrip('/')}/track/{token}/"


def record_tracking(
    *,
    order_id: int,
    status: str,
    shipment_id: int | None = None,
    reason: str = "",
    eta: tuple[dt.datetime | None, dt.datetime | None] = (None, None),
    actor=None,
) -> TrackingEvent:
    """Add a step to the order's timeline and enqueue its webhooks, in the caller's transaction."""
    event = TrackingEvent.objects.create(
        order_id=order_id,
        shipment_id=shipment_id,
        status=status,
        reason=reason,
        eta_start=eta[0],
        eta_end=eta[1],
        actor=recorded_user(actor),
    )
    _enqueue_webhooks([order_id])
    return event


def record_allocations(*, changes: Sequence[tuple[Order, str, str]], actor=None) -> None:
    """After `allocate_orders` set statuses: `changes` holds (order, status before, after).

    An order becomes "allocated" on the timeline when it first gets stock: from new, or from
    backordered if it never had any (one query for the whole batch, only when such orders are
    in it). Partially allocated to allocated is no change for the customer. One INSERT for the
    batch and one outbox message.
    """
    allocated = (Order.Status.ALLOCATED, Order.Status.PARTIALLY_ALLOCATED)
    first_time = [
        (order, before, after)
        for order, before, after in changes
        if after in allocated and before in (Order.Status.NEW, Order.Status.BACKORDERED)
    ]
    # A backordered order may have had stock before (a wave that found its bins empty).
    waited = [order.id for order, before, _ in first_time if before == Order.Status.BACKORDERED]
    seen: set[int] = set()
    if waited:
        seen = set(
            TrackingEvent.objects.filter(
                order_id__in=waited, status=TrackingStatus.ALLOCATED
            ).values_list("order_id", flat=True)
        )
    rows = [
        TrackingEvent(
            order_id=order.id,
            status=TrackingStatus.ALLOCATED,
            reason=(
                TrackingReason.PARTIAL_ALLOCATION
                if after == Order.Status.PARTIALLY_ALLOCATED
                else TrackingReason.NONE
            ),
            actor=recorded_user(actor),
        )
        for order, _, after in first_time
        if order.id not in seen
    ]
    if not rows:
        return
    issue_tracking(order_ids=[row.order_id for row in rows])
    TrackingEvent.objects.bulk_create(rows)
    _enqueue_webhooks([row.order_id for row in rows])


def _enqueue_webhooks(order_ids: Iterable[int]) -> None:
    """Enqueue the webhook work for these orders' new events, when anyone listens: most
    warehouses subscribe nothing, and a task per timeline step would find nothing to send.
    A subscription hears of what happens after it is made, so one made later misses nothing."""
    order_ids = sorted(set(order_ids))
    listening = WebhookSubscription.objects.filter(
        is_active=True,
        warehouse_id__in=Order.objects.filter(id__in=order_ids).values("warehouse_id"),
    ).exists()
    if listening:
        enqueue(WEBHOOK_TASK, order_ids)


def planned_eta(order_id: int) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The ETA window route planning gave the order, or (None, None)."""
    row = Tracking.objects.filter(order_id=order_id).values_list("eta_start", "eta_end").first()
    return row if row is not None else (None, None)


def set_planned_etas(*, arrivals: Sequence[tuple[Iterable[int], dt.datetime]]) -> None:
    """For route planning: each (order ids, planned arrival) gets the ETA window around it.

    The window is the arrival +/- DOCKSIDE["TRACKING_ETA_MARGIN_MINUTES"]; the public page shows
    it, and the "out for delivery" step carries it when the shipment leaves.
    """
    margin = dt.timedelta(minutes=int(setting("TRACKING_ETA_MARGIN_MINUTES", 30)))
    issue_tracking(order_ids=[order_id for ids, _ in arrivals for order_id in ids])
    for order_ids, arrival in arrivals:
        Tracking.objects.filter(order_id__in=list(order_ids)).update(
            eta_start=arrival - margin, eta_end=arrival + margin
        )


def delivery_outcome(*, exception: str, delivered: int, shipped: int) -> tuple[str, str]:
    """The timeline status and reason of a confirmed stop."""
    reasons = {
        Delivery.ExceptionKind.REFUSED: TrackingReason.REFUSED,
        Delivery.ExceptionKind.DAMAGED: TrackingReason.DAMAGED,
        Delivery.ExceptionKind.NOT_HOME: TrackingReason.FAILED_ATTEMPT,
    }
    if exception in reasons:
        return TrackingStatus.EXCEPTION, reasons[exception]
    if delivered < shipped:
        return TrackingStatus.EXCEPTION, TrackingReason.PARTIAL
    return TrackingStatus.DELIVERED, TrackingReason.NONE
