"""Webhook delivery: fan tracking events out to subscriptions and send them, in order, until
each receiver acknowledges.

- Every transaction that adds a timeline step enqueues (through the outbox) the webhook task
  for its order. The task first creates the missing deliveries of the order's events for each
  matching subscription (idempotent: one row per subscription and event), then sends them.
- Per subscription and order, only the pending delivery of the earliest event is sent (its
  "head"): event n+1 waits until event n was acknowledged (or given up). Timeline rows of one
  order are written under the order's row lock, so their ids follow their commit order.
- A head is claimed with a short lease (its `next_attempt_at` pushed past the request's
  timeout) in its own transaction; the HTTP request runs outside any transaction. A 2xx marks
  it delivered and the next head is sent at once; anything else schedules the next attempt
  with exponential backoff and jitter. Delivery state is in the database: the beat task
  (`deliver_due_webhooks_task`) finds every due head even if the broker lost a retry.
- A receiver may see a request twice (a worker dying after the 2xx, before the mark): the
  `Dockside-Delivery` header is the same, so it can drop the duplicate.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterable

import requests
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from shipping.models import (
    TrackingEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from shipping.services.common import setting
from shipping.services.tracking import WEBHOOK_TASK, issue_tracking, tracking_url
from shipping.webhook_signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    retry_delay,
    sign,
)
from shipping.webhook_targets import TargetRefused, check_resolved_target
from warehouse.outbox import enqueue

log = logging.getLogger(__name__)

Status = WebhookDelivery.Status
CONNECT_TIMEOUT_S = 3.0


def read_timeout_s() -> float:
    return float(setting("WEBHOOK_TIMEOUT_SECONDS", 5))


def backoff_cap_s() -> float:
    """The longest wait between attempts: the configured cap, kept below the broker's
    visibility timeout (a countdown longer than that would be delivered twice by Redis)."""
    cap = float(setting("WEBHOOK_RETRY_CAP_SECONDS", 1800))
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    return min(cap, visibility - 60)


def next_delay_s(attempt: int) -> float:
    """Seconds before the attempt after failed attempt number `attempt` (jittered)."""
    return retry_delay(
        attempt, base_s=float(setting("WEBHOOK_RETRY_BASE_SECONDS", 30)), cap_s=backoff_cap_s()
    )


def _give_up_after() -> dt.timedelta:
    return dt.timedelta(hours=float(setting("WEBHOOK_GIVE_UP_AFTER_HOURS", 72)))


# --- fan-out ------------------------------------------------------------------------------------


def _subscribed(subscription: WebhookSubscription, event: dict) -> bool:
    return (
        subscription.warehouse_id == event["order__warehouse_id"]
        and subscription.customer_id in (None, event["order__customer_id"])
        and event["status"] in subscription.event_types
        # A subscription hears of what happens after it was made, not the history before.
        and event["occurred_at"] >= subscription.created_at
    )


def fan_out(*, order_ids: Iterable[int], now: dt.datetime | None = None) -> int:
    """Create the missing deliveries of these orders' timeline events for every active
    subscription that wants them. Idempotent. Returns the rows created."""
    now = now or timezone.now()
    events = list(
        TrackingEvent.objects.filter(order_id__in=set(order_ids))
        .order_by("id")
        .values(
            "id", "order_id", "status", "occurred_at", "order__warehouse_id", "order__customer_id"
        )
    )
    if not events:
        return 0
    subscriptions = list(
        WebhookSubscription.objects.filter(
            is_active=True, warehouse_id__in={event["order__warehouse_id"] for event in events}
        )
    )
    rows = [
        WebhookDelivery(
            subscription=subscription,
            event_id=event["id"],
            order_id=event["order_id"],
            next_attempt_at=now,
            retry_until=now + _give_up_after(),
        )
        for event in events
        for subscription in subscriptions
        if _subscribed(subscription, event)
    ]
    if not rows:
        return 0
    # Payloads carry the tracking link: orders tracked before links existed get theirs now.
    issue_tracking(order_ids={row.order_id for row in rows})
    return len(WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True))


def pending_queues(
    *, order_ids: Iterable[int], subscription_id: int | None = None
) -> list[tuple[int, int]]:
    """(subscription id, order id) of every queue with a pending delivery for these orders."""
    rows = WebhookDelivery.objects.filter(order_id__in=set(order_ids), status=Status.PENDING)
    if subscription_id is not None:
        rows = rows.filter(subscription_id=subscription_id)
    return sorted(set(rows.values_list("subscription_id", "order_id")))


def due_queues(*, now: dt.datetime | None = None, limit: int = 500) -> list[tuple[int, int]]:
    """(subscription id, order id) of queues whose head is due: what the beat task retries."""
    now = now or timezone.now()
    earlier = WebhookDelivery.objects.filter(
        subscription_id=OuterRef("subscription_id"),
        order_id=OuterRef("order_id"),
        status=Status.PENDING,
        event_id__lt=OuterRef("event_id"),
    )
    heads = (
        WebhookDelivery.objects.filter(
            status=Status.PENDING, next_attempt_at__lte=now, subscription__is_active=True
        )
        .exclude(Exists(earlier))
        .order_by("next_attempt_at", "id")
        .values_list("subscription_id", "order_id")[:limit]
    )
    return list(dict.fromkeys(heads))


# --- sending ------------------------------------------------------------------------------------


def payload(delivery: WebhookDelivery) -> bytes:
    """The JSON body of a delivery: the same bytes on every attempt and replay."""
    event = delivery.event
    order = event.order
    body = {
        "delivery_id": str(delivery.delivery_id),
        "type": f"shipment.{event.status}",
        "occurred_at": event.occurred_at.isoformat(),
        "shipment": {
            "order_number": order.number,
            "customer": order.customer.code,
            "shipment_number": event.shipment.number if event.shipment_id else None,
            "tracking_url": tracking_url(order.tracking.token),
        },
        "event": {
            "status": event.status,
            "label": event.get_status_display(),
            "reason": event.reason,
            "eta": (
                {"start": event.eta_start.isoformat(), "end": event.eta_end.isoformat()}
                if event.eta_start and event.eta_end
                else None
            ),
        },
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _claim_head(subscription_id: int, order_id: int, now: dt.datetime) -> WebhookDelivery | None:
    """Lease the queue's head if it is due; None when there is none, it is not due yet, or
    another worker holds it."""
    with transaction.atomic():
        head = (
            WebhookDelivery.objects.filter(
                subscription_id=subscription_id, order_id=order_id, status=Status.PENDING
            )
            .order_by("event_id")
            .values_list("id", flat=True)
            .first()
        )
        if head is None:
            return None
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related(
                "subscription",
                "event__order__customer",
                "event__order__tracking",
                "event__shipment",
            )
            .filter(
                id=head,
                status=Status.PENDING,
                next_attempt_at__lte=now,
                subscription__is_active=True,
            )
            .first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        # The lease: nobody else sends it while this request may still be running.
        delivery.next_attempt_at = now + dt.timedelta(
            seconds=CONNECT_TIMEOUT_S + read_timeout_s() + 60
        )
        delivery.save(update_fields=["attempts", "next_attempt_at"])
        return delivery


def _post(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """Send the delivery once; (status code or None, error text; empty when acknowledged)."""
    body = payload(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Dockside-Webhooks/1",
        SIGNATURE_HEADER: sign(
            secret=delivery.subscription.secret, body=body, timestamp=int(time.time())
        ),
        DELIVERY_HEADER: str(delivery.delivery_id),
        EVENT_HEADER: f"shipment.{delivery.event.status}",
    }
    try:
        check_resolved_target(delivery.subscription.target_url)
    except TargetRefused as refused:
        return None, f"Refused: {refused}"[:300]
    try:
        # Redirects are never followed: a receiver must give its final URL (a 3xx is a failure).
        response = requests.post(
            delivery.subscription.target_url,
            data=body,
            headers=headers,
            timeout=(CONNECT_TIMEOUT_S, read_timeout_s()),
            allow_redirects=False,
            # The answer's body is never read: a receiver cannot hold a worker by sending one.
            stream=True,
        )
    except requests.RequestException as error:
        return None, f"{type(error).__name__}: {error}"[:300]
    response.close()
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    if response.is_redirect:
        return response.status_code, "Redirect not followed: give the receiver's final URL."
    return response.status_code, f"HTTP {response.status_code}"


def _record(
    delivery: WebhookDelivery,
    code: int | None,
    error: str,
    started: dt.datetime,
    duration_ms: int,
    now: dt.datetime,
) -> bool:
    """Log the attempt and move the delivery on; True when the receiver acknowledged."""
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        attempted_at=started,
        status_code=code,
        error=error,
        duration_ms=duration_ms,
    )
    delivery.last_status_code = code
    delivery.last_error = error
    fields = ["last_status_code", "last_error", "status", "next_attempt_at", "delivered_at"]
    if not error:
        delivery.status = Status.DELIVERED
        delivery.delivered_at = now
    else:
        delay = next_delay_s(delivery.attempts)
        delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
        if delivery.next_attempt_at > delivery.retry_until:
            delivery.status = Status.FAILED
            log.warning(
                "Webhook %s given up after %s attempts", delivery.delivery_id, delivery.attempts
            )
    delivery.save(update_fields=fields)
    return not error


def _schedule_retry(delivery: WebhookDelivery) -> None:
    """With a broker, come back when the next attempt is due. The countdown never exceeds the
    backoff cap (below the visibility timeout); if this message is lost, the beat task finds the
    due delivery anyway. Without a broker (tasks inline) only the beat task retries: an inline
    countdown would run at once."""
    if current_app.conf.task_always_eager or delivery.status != Status.PENDING:
        return
    countdown = max(0.0, (delivery.next_attempt_at - timezone.now()).total_seconds())
    try:
        current_app.send_task(
            WEBHOOK_TASK,
            args=[[delivery.order_id]],
            kwargs={"subscription_id": delivery.subscription_id},
            countdown=min(countdown, backoff_cap_s()),
        )
    except Exception as error:  # the broker is down: the beat task will find it
        log.warning("Webhook retry of %s not scheduled: %s", delivery.delivery_id, error)


def deliver_queue(*, subscription_id: int, order_id: int, now: dt.datetime | None = None) -> int:
    """Send the subscription's pending deliveries of the order, oldest event first, while the
    receiver acknowledges. Returns how many were acknowledged. `now` is for tests."""
    acknowledged = 0
    while True:
        moment = now or timezone.now()
        delivery = _claim_head(subscription_id, order_id, moment)
        if delivery is None:
            return acknowledged
        started = timezone.now()
        clock = time.monotonic()
        code, error = _post(delivery)
        duration_ms = int((time.monotonic() - clock) * 1000)
        with transaction.atomic():
            ok = _record(delivery, code, error, started, duration_ms, now or timezone.now())
        if ok:
            acknowledged += 1
            continue
        if delivery.status == Status.PENDING:
            _schedule_retry(delivery)
            return acknowledged
        # Given up: the next event of the order is no longer held behind it.


def deliver_for_orders(*, order_ids: list[int], subscription_id: int | None = None) -> int:
    """The outbox task's work: fan the orders' events out, then send every queue."""
    fan_out(order_ids=order_ids)
    return sum(
        deliver_queue(subscription_id=subscription, order_id=order)
        for subscription, order in pending_queues(
            order_ids=order_ids, subscription_id=subscription_id
        )
    )


@transaction.atomic
def replay_delivery(*, delivery_id: int, actor=None) -> WebhookDelivery:
    """Send a delivery again by hand (same delivery id, same body), whatever its state.

    It goes back to pending, due now, with a fresh retry period; the send is enqueued through
    the outbox. If an earlier event of the same order is still pending it goes first.
    """
    delivery = WebhookDelivery.objects.select_for_update().get(id=delivery_id)
    now = timezone.now()
    delivery.status = Status.PENDING
    delivery.next_attempt_at = now
    delivery.retry_until = now + _give_up_after()
    delivery.replays += 1
    delivery.save(update_fields=["status", "next_attempt_at", "retry_until", "replays"])
    enqueue(WEBHOOK_TASK, [delivery.order_id], subscription_id=delivery.subscription_id)
    log.info("Webhook %s replayed by %s", delivery.delivery_id, getattr(actor, "pk", None))
    return delivery
