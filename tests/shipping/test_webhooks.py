"""Webhooks: signed, delivered through the outbox in order per shipment, retried from the
database's schedule until the receiver acknowledges, replayed by hand with the same id."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import random

import pytest
from celery import current_app
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from shipping.admin_tracking import WebhookSubscriptionForm
from shipping.models import TrackingEvent, WebhookAttempt, WebhookDelivery
from shipping.services import webhooks
from shipping.webhook_signing import retry_delay, verify
from tests.factories import shipping as sf
from tests.factories import tracking as tf
from tests.factories import warehouse as wf
from warehouse.models import OutboxMessage

pytestmark = pytest.mark.django_db

SECRET = "s3cret-for-the-receiver"
STATUSES = [
    "allocated",
    "picked",
    "packed",
    "staged",
    "dispatched",
    "out_for_delivery",
    "delivered",
]


@pytest.fixture(autouse=True)
def loopback_receivers(settings):
    """The test receivers listen on 127.0.0.1, which webhooks reach only when allowed."""
    settings.DOCKSIDE = {**settings.DOCKSIDE, "WEBHOOK_ALLOWED_NETWORKS": ["127.0.0.0/8"]}


def only_public_targets(settings, *networks: str) -> None:
    settings.DOCKSIDE = {**settings.DOCKSIDE, "WEBHOOK_ALLOWED_NETWORKS": list(networks)}


@pytest.fixture
def layout(site):
    return sf.add_outbound_layout(site)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run each step's after-commit work (the outbox's inline tasks) as a commit would."""

    def step(call):
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    return step


def receiver_verifies(body: bytes, headers: dict[str, str], secret: str = SECRET) -> bool:
    """What a receiver does with the documented scheme, written here from the docs."""
    fields = dict(part.split("=", 1) for part in headers["Dockside-Signature"].split(","))
    signed = fields["t"].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(timezone.now().timestamp() - int(fields["t"])) < 300
    return fresh and hmac.compare_digest(expected, fields["v1"])


def run_flow(flow: tf.Flow) -> None:
    flow.allocate()
    flow.release()
    flow.pick()
    flow.pack_stage_load()
    flow.dispatch()
    flow.deliver()


def sweep(now: dt.datetime) -> None:
    """The beat task's work at `now`: every due queue."""
    for subscription_id, order_id in webhooks.due_queues(now=now):
        webhooks.deliver_queue(subscription_id=subscription_id, order_id=order_id, now=now)


def test_each_event_is_signed_and_delivered_once_in_order(layout, product, users, committed):
    with tf.Receiver([200]) as receiver:
        tf.make_subscription(layout.warehouse, receiver.url)
        flow = tf.stocked_flow(layout, product, users, step=committed)
        run_flow(flow)
    assert [json.loads(r.body)["event"]["status"] for r in receiver.received] == STATUSES
    for request in receiver.received:
        assert receiver_verifies(request.body, request.headers)
        assert verify(
            secret=SECRET, body=request.body, header=request.headers["Dockside-Signature"]
        )
        assert not receiver_verifies(request.body + b" ", request.headers)
        assert not receiver_verifies(request.body, request.headers, secret="another secret")
        body = json.loads(request.body)
        assert request.headers["Dockside-Delivery"] == body["delivery_id"]
        assert request.headers["Dockside-Event"] == body["type"]
        assert body["shipment"]["order_number"] == flow.order.number
        assert "/track/" in body["shipment"]["tracking_url"]
        assert users["picker"].username not in request.body.decode()
    assert len({r.headers["Dockside-Delivery"] for r in receiver.received}) == len(STATUSES)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_receiver_failing_five_times_gets_every_event_once_in_order(
    layout, product, users, committed
):
    """Down for well over an hour: nothing is lost, nothing is sent twice or out of order."""
    with tf.Receiver([500, 503, 500, 502, 500, 200]) as receiver:
        tf.make_subscription(layout.warehouse, receiver.url)
        flow = tf.stocked_flow(layout, product, users, step=committed)
        run_flow(flow)
        # Only the first event was tried: the rest wait behind it.
        assert len(receiver.received) == 1
        first = WebhookDelivery.objects.get(event__status="allocated")
        assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 500)
        # Nothing is due before the backoff has passed.
        sweep(timezone.now())
        assert len(receiver.received) == 1
        moment = timezone.now()
        for _ in range(8):
            moment += dt.timedelta(minutes=20)
            sweep(moment)
    ids = [r.headers["Dockside-Delivery"] for r in receiver.received]
    assert ids[:5] == [str(first.delivery_id)] * 5  # only event 1 until it was acknowledged
    acknowledged = receiver.acknowledged
    assert [json.loads(r.body)["event"]["status"] for r in acknowledged] == STATUSES
    assert len({r.headers["Dockside-Delivery"] for r in acknowledged}) == len(acknowledged)
    assert len(receiver.received) == 5 + len(STATUSES)
    # Every attempt's body is the same bytes (only the signature's timestamp changes).
    assert len({r.body for r in receiver.received[:6]}) == 1
    log = list(WebhookAttempt.objects.filter(delivery=first).order_by("number"))
    assert [a.status_code for a in log] == [500, 503, 500, 502, 500, 200]
    assert [a.number for a in log] == [1, 2, 3, 4, 5, 6]
    assert all(a.duration_ms >= 0 for a in log)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    # Acknowledged deliveries are never sent again by the retry sweep.
    sweep(moment + dt.timedelta(days=1))
    assert len(receiver.received) == 5 + len(STATUSES)


def test_each_shipment_keeps_its_own_order(layout, product, users, committed):
    """A failing event holds back later events of its shipment, not other shipments'."""
    with tf.Receiver([500, 200]) as receiver:
        tf.make_subscription(layout.warehouse, receiver.url)
        held = tf.stocked_flow(layout, product, users, step=committed)
        held.allocate()
        other = tf.stocked_flow(layout, product, users, step=committed)
        other.allocate()
        held.release()
        held.pick()
        sent = [
            (json.loads(r.body)["shipment"]["order_number"], r.answered) for r in receiver.received
        ]
        assert sent == [(held.order.number, 500), (other.order.number, 200)]
        sweep(timezone.now() + dt.timedelta(minutes=5))
    numbers = [json.loads(r.body)["shipment"]["order_number"] for r in receiver.acknowledged]
    statuses = [json.loads(r.body)["event"]["status"] for r in receiver.acknowledged]
    assert list(zip(numbers, statuses, strict=True)) == [
        (other.order.number, "allocated"),
        (held.order.number, "allocated"),
        (held.order.number, "picked"),
    ]


def test_subscriptions_filter_by_customer_and_event_type(layout, product, users, committed):
    wanted = sf.make_customer(layout.warehouse)
    with tf.Receiver([200]) as all_of_them, tf.Receiver([200]) as picky:
        tf.make_subscription(layout.warehouse, all_of_them.url)
        tf.make_subscription(
            layout.warehouse, picky.url, customer=wanted, event_types=["picked", "delivered"]
        )
        mine = tf.stocked_flow(layout, product, users, customer=wanted, step=committed)
        mine.allocate()
        mine.release()
        mine.pick()
        others = tf.stocked_flow(layout, product, users, step=committed)
        others.allocate()
    assert len(all_of_them.received) == 3
    assert [json.loads(r.body)["event"]["status"] for r in picky.received] == ["picked"]


def test_a_redirect_is_not_followed(layout, product, users, committed):
    with tf.Receiver([302], redirect_to="http://example.invalid/elsewhere") as receiver:
        tf.make_subscription(layout.warehouse, receiver.url)
        flow = tf.stocked_flow(layout, product, users, step=committed)
        flow.allocate()
    assert len(receiver.received) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("pending", 302)
    assert "Redirect not followed" in delivery.last_error


def test_an_unreachable_receiver_is_retried_and_finally_given_up(
    layout, product, users, committed, settings
):
    settings.DOCKSIDE = {**settings.DOCKSIDE, "WEBHOOK_GIVE_UP_AFTER_HOURS": 1}
    with tf.Receiver([200]) as receiver:
        url = receiver.url
    # The server is closed: connections are refused.
    tf.make_subscription(layout.warehouse, url)
    flow = tf.stocked_flow(layout, product, users, step=committed)
    flow.allocate()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and "ConnectionError" in delivery.last_error
    moment = timezone.now()
    for _ in range(6):
        moment += dt.timedelta(minutes=30)
        sweep(moment)
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.attempts == WebhookAttempt.objects.filter(delivery=delivery).count() > 1


def test_replay_by_hand_sends_the_same_delivery_again(layout, product, users, api, committed):
    with tf.Receiver([200]) as receiver:
        tf.make_subscription(layout.warehouse, receiver.url)
        flow = tf.stocked_flow(layout, product, users, step=committed)
        flow.allocate()
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == "delivered"
        answer = committed(
            lambda: api["manager"].post(f"/api/v1/webhook-deliveries/{delivery.id}/replay/")
        )
        assert answer.status_code == 202
        assert (
            api["dispatcher"].post(f"/api/v1/webhook-deliveries/{delivery.id}/replay/").status_code
            == 403
        )
        assert (
            api["outsider"].post(f"/api/v1/webhook-deliveries/{delivery.id}/replay/").status_code
            == 404
        )
    first, again = receiver.received
    assert (
        first.headers["Dockside-Delivery"]
        == again.headers["Dockside-Delivery"]
        == str(delivery.delivery_id)
    )
    assert first.body == again.body
    delivery.refresh_from_db()
    assert (delivery.status, delivery.replays, delivery.attempts) == ("delivered", 1, 2)
    log = api["manager"].get(f"/api/v1/webhook-deliveries/{delivery.id}/").json()["log"]
    assert [entry["status_code"] for entry in log] == [200, 200]


def test_the_backoff_schedule():
    """30 s doubling, capped at 30 minutes, each wait drawn between half and all of its step."""

    class Extremes(random.Random):
        def __init__(self, pick: str) -> None:
            super().__init__()
            self.pick = pick

        def uniform(self, a: float, b: float) -> float:
            return a if self.pick == "low" else b

    def schedule(pick: str) -> list[float]:
        return [retry_delay(n, base_s=30, cap_s=1800, rng=Extremes(pick)) for n in range(1, 11)]

    assert schedule("high") == [30, 60, 120, 240, 480, 960, 1800, 1800, 1800, 1800]
    assert schedule("low") == [15, 30, 60, 120, 240, 480, 900, 900, 900, 900]
    # Five failures in a row are retried within 30 + 60 + 120 + 240 + 480 s = 15.5 minutes.
    assert sum(schedule("high")[:5]) == 930
    # With the project's settings every wait stays below the broker's visibility timeout.
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert all(webhooks.next_delay_s(n) < visibility for n in range(1, 60))
    rng = random.Random(7)
    draws = [retry_delay(3, base_s=30, cap_s=1800, rng=rng) for _ in range(200)]
    assert all(60 <= d <= 120 for d in draws) and len(set(draws)) > 100


def test_the_cap_never_reaches_the_visibility_timeout(settings):
    settings.DOCKSIDE = {**settings.DOCKSIDE, "WEBHOOK_RETRY_CAP_SECONDS": 10_000}
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert webhooks.backoff_cap_s() == visibility - 60
    assert max(webhooks.next_delay_s(n) for n in range(1, 40)) <= visibility - 60


def test_a_subscription_hears_only_what_happens_after_it_was_made(
    layout, product, users, committed
):
    flow = tf.stocked_flow(layout, product, users, step=committed)
    flow.allocate()
    with tf.Receiver([200]) as receiver:
        tf.make_subscription(layout.warehouse, receiver.url)
        flow.release()
        flow.pick()
    assert [json.loads(r.body)["event"]["status"] for r in receiver.received] == ["picked"]
    assert TrackingEvent.objects.filter(order=flow.order).count() == 2


# --- the subscriptions API -----------------------------------------------------------------


def test_managers_subscribe_and_see_the_secret_once(layout, users, api):
    body = {
        "warehouse": layout.warehouse.id,
        "target_url": "https://erp.example.com/hooks",
        "event_types": ["delivered", "allocated"],
    }
    created = api["manager"].post("/api/v1/webhook-subscriptions/", body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert len(data["secret"]) >= 32
    assert data["event_types"] == ["allocated", "delivered"]
    assert data["customer"] is None
    shown = api["manager"].get(f"/api/v1/webhook-subscriptions/{data['id']}/").json()
    assert "secret" not in shown
    assert api["dispatcher"].get("/api/v1/webhook-subscriptions/").status_code == 403
    assert api["outsider"].get("/api/v1/webhook-subscriptions/").json()["results"] == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://files.example.com/in",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "gopher://example.com/",
        "not a url",
        "https://",
    ],
)
def test_only_http_urls_may_be_subscribed(layout, users, api, url):
    body = {"warehouse": layout.warehouse.id, "target_url": url}
    answer = api["manager"].post("/api/v1/webhook-subscriptions/", body, format="json")
    assert answer.status_code == 400
    assert "target_url" in answer.json()["errors"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hooks",
        "http://localhost/hooks",
        "http://api.localhost/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "http://0.0.0.0/",
        "http://[::1]/hooks",
        "http://[::ffff:10.0.0.1]/hooks",
        "http://[fd00::1]/hooks",
    ],
)
def test_private_addresses_may_not_be_subscribed(layout, users, api, settings, url):
    only_public_targets(settings)
    body = {"warehouse": layout.warehouse.id, "target_url": url}
    answer = api["manager"].post("/api/v1/webhook-subscriptions/", body, format="json")
    assert answer.status_code == 400
    assert "private or reserved" in answer.json()["errors"]["target_url"][0]
    form = WebhookSubscriptionForm(
        data={**body, "secret": SECRET, "event_types": '["delivered"]', "is_active": True}
    )
    assert not form.is_valid()
    assert "private or reserved" in form.errors["target_url"][0]


def test_a_network_the_operator_allows_may_be_subscribed(layout, users, api, settings):
    only_public_targets(settings, "10.20.0.0/16")
    body = {"warehouse": layout.warehouse.id, "target_url": "http://10.20.1.5/erp/hooks"}
    answer = api["manager"].post("/api/v1/webhook-subscriptions/", body, format="json")
    assert answer.status_code == 201, answer.content
    body["target_url"] = "http://10.21.1.5/erp/hooks"
    answer = api["manager"].post("/api/v1/webhook-subscriptions/", body, format="json")
    assert answer.status_code == 400


def test_a_name_resolving_to_a_private_address_is_refused_when_sent(
    layout, product, users, committed, settings
):
    """A subscribed name may resolve to an internal address later: every attempt checks."""
    only_public_targets(settings)
    with tf.Receiver([200]) as receiver:
        tf.make_subscription(layout.warehouse, receiver.url.replace("127.0.0.1", "localhost"))
        flow = tf.stocked_flow(layout, product, users, step=committed)
        flow.allocate()
        assert receiver.received == []
        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.last_status_code) == ("pending", None)
        assert delivery.last_error.startswith("Refused: localhost (127.0.0.1)")
        only_public_targets(settings, "127.0.0.0/8", "::1/128")
        sweep(timezone.now() + dt.timedelta(hours=1))
    assert [json.loads(r.body)["event"]["status"] for r in receiver.received] == ["allocated"]


def test_a_subscription_names_a_customer_of_its_warehouse(layout, users, api):
    other = sf.make_customer(wf.make_site(code="OTH").warehouse)
    body = {
        "warehouse": layout.warehouse.id,
        "target_url": "https://x.example/h",
        "customer": other.id,
    }
    answer = api["manager"].post("/api/v1/webhook-subscriptions/", body, format="json")
    assert answer.status_code == 400 and "customer" in answer.json()["errors"]
    body["event_types"] = ["teleported"]
    body.pop("customer")
    answer = api["manager"].post("/api/v1/webhook-subscriptions/", body, format="json")
    assert answer.status_code == 400 and "event_types" in answer.json()["errors"]


def test_with_a_broker_a_failed_attempt_schedules_its_retry_below_the_visibility_timeout(
    layout, product, users, committed, monkeypatch
):
    sent = []
    monkeypatch.setattr(
        current_app, "send_task", lambda name, **options: sent.append((name, options))
    )
    with tf.Receiver([500]) as receiver:
        tf.make_subscription(layout.warehouse, receiver.url)
        flow = tf.stocked_flow(layout, product, users, step=committed)
        flow.allocate()
        delivery = WebhookDelivery.objects.get()
        monkeypatch.setitem(current_app.conf, "task_always_eager", False)
        sweep(delivery.next_attempt_at)
    ((name, options),) = sent
    assert name == "shipping.tasks.deliver_tracking_webhooks_task"
    assert options["args"] == [[flow.order.id]]
    assert options["kwargs"] == {"subscription_id": delivery.subscription_id}
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert 0 < options["countdown"] < visibility


def test_the_delivery_log_and_replay_in_admin(layout, product, users, committed):
    User.objects.create_superuser("root", "root@example.com", "pw")
    admin = Client()
    admin.login(username="root", password="pw")
    with tf.Receiver([503, 200]) as receiver:
        tf.make_subscription(layout.warehouse, receiver.url)
        flow = tf.stocked_flow(layout, product, users, step=committed)
        flow.allocate()
        sweep(timezone.now() + dt.timedelta(minutes=5))
        delivery = WebhookDelivery.objects.get()
        for model in ("trackingevent", "tracking", "webhooksubscription", "webhookdelivery"):
            assert admin.get(reverse(f"admin:shipping_{model}_changelist")).status_code == 200
        page = admin.get(reverse("admin:shipping_webhookdelivery_change", args=[delivery.id]))
        html = page.content.decode()
        assert page.status_code == 200 and "503" in html and "HTTP 503" in html
        answer = committed(
            lambda: admin.post(
                reverse("admin:shipping_webhookdelivery_changelist"),
                {"action": "replay", "_selected_action": [delivery.id]},
            )
        )
        assert answer.status_code == 302
    ids = [r.headers["Dockside-Delivery"] for r in receiver.received]
    assert ids == [str(delivery.delivery_id)] * 3
    assert [r.answered for r in receiver.received] == [503, 200, 200]


def test_the_command_sends_what_is_due(layout, product, users, committed):
    with tf.Receiver([500, 200]) as receiver:
        tf.make_subscription(layout.warehouse, receiver.url)
        flow = tf.stocked_flow(layout, product, users, step=committed)
        flow.allocate()
        out = io.StringIO()
        call_command("deliver_webhooks", stdout=out)
        assert len(receiver.received) == 1  # not due yet
        WebhookDelivery.objects.update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))
        call_command("deliver_webhooks", stdout=out)
    assert [r.answered for r in receiver.received] == [500, 200]
    assert "1 delivery(ies) acknowledged" in out.getvalue()


def test_no_webhook_work_is_queued_where_nobody_subscribed(layout, product, users, committed):
    other_site = wf.make_site(code="SUB")
    tf.make_subscription(other_site.warehouse, "https://erp.example.com/hooks")
    flow = tf.stocked_flow(layout, product, users, step=committed)
    flow.allocate()
    flow.release()
    assert TrackingEvent.objects.filter(order=flow.order).count() == 1
    assert not OutboxMessage.objects.filter(task=webhooks.WEBHOOK_TASK).exists()

    tf.make_subscription(layout.warehouse, "https://erp.example.com/hooks")
    flow.pick()
    (message,) = OutboxMessage.objects.filter(task=webhooks.WEBHOOK_TASK)
    assert message.args == [[flow.order.id]]
