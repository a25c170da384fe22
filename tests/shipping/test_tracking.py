"""The tracking timeline through the real outbound flow, the public page and JSON behind their
tokens, and the staff view."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.api.throttling import TrackingRateThrottle
from shipping import services
from shipping.models import PickTask, Tracking, TrackingEvent
from shipping.services.tracking import token_digest, tracking_for
from tests.factories import shipping as sf
from tests.factories import tracking as tf
from warehouse.services import receive_stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def layout(site):
    return sf.add_outbound_layout(site)


@pytest.fixture(autouse=True)
def fresh_throttles():
    cache.clear()


def timeline(order) -> list[tuple[str, str]]:
    return list(
        TrackingEvent.objects.filter(order=order).order_by("id").values_list("status", "reason")
    )


def test_the_timeline_follows_the_order_from_allocation_to_delivery(layout, product, users):
    flow = tf.stocked_flow(layout, product, users)
    assert timeline(flow.order) == []
    flow.allocate()
    flow.release()
    assert timeline(flow.order) == [("allocated", "")]  # a wave release is no customer news
    flow.pick()
    arrival = timezone.now() + dt.timedelta(hours=3)
    flow.route(arrival)
    flow.pack_stage_load()
    flow.dispatch()
    flow.deliver()
    assert timeline(flow.order) == [
        ("allocated", ""),
        ("picked", ""),
        ("packed", ""),
        ("staged", ""),
        ("dispatched", ""),
        ("out_for_delivery", ""),
        ("delivered", ""),
    ]
    events = {e.status: e for e in TrackingEvent.objects.filter(order=flow.order)}
    # Who made each change, and from packing on, which shipment.
    assert events["allocated"].actor == users["dispatcher"]
    assert events["picked"].actor == users["picker"]
    assert events["allocated"].shipment_id is None
    assert events["packed"].shipment_id == flow.shipment.id
    # The route's planned arrival +/- 30 minutes is the ETA window "out for delivery" carries.
    out = events["out_for_delivery"]
    assert (out.eta_start, out.eta_end) == (
        arrival - dt.timedelta(minutes=30),
        arrival + dt.timedelta(minutes=30),
    )
    times = [e.occurred_at for e in TrackingEvent.objects.filter(order=flow.order).order_by("id")]
    assert times == sorted(times)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"exception": "refused"}, ("exception", "refused")),
        ({"exception": "not_home"}, ("exception", "failed_attempt")),
        ({"exception": "damaged"}, ("exception", "damaged")),
        ("partial", ("exception", "partial")),
    ],
)
def test_a_delivery_that_went_wrong_ends_in_an_exception(layout, product, users, extra, expected):
    flow = tf.stocked_flow(layout, product, users)
    flow.allocate()
    flow.release()
    flow.pick()
    flow.pack_stage_load()
    flow.dispatch()
    if extra == "partial":
        line = flow.order.lines.get()
        extra = {"delivered_quantities": {line.id: 1}}
    flow.deliver(**extra)
    assert timeline(flow.order)[-1] == expected


def test_a_carrier_shipment_is_dispatched_but_not_out_for_delivery_with_us(layout, product, users):
    flow = tf.stocked_flow(layout, product, users)
    flow.order.carrier = "DHL"
    flow.order.save(update_fields=["carrier"])
    flow.allocate()
    flow.release()
    flow.pick()
    flow.pack_stage_load()
    flow.dispatch()
    assert [status for status, _ in timeline(flow.order)][-1] == "dispatched"


def test_a_partial_allocation_says_so_and_completing_it_adds_nothing(layout, product, users):
    receive_stock(location_id=layout.pick_faces[0].id, product_id=product.id, quantity=1)
    order = sf.make_order(sf.make_customer(layout.warehouse), [(product, 3)], allow_partial=True)
    services.allocate_order(order_id=order.id)
    assert timeline(order) == [("allocated", "partial_allocation")]
    receive_stock(location_id=layout.pick_faces[1].id, product_id=product.id, quantity=5)
    services.allocate_order(order_id=order.id)
    assert order.__class__.objects.get(id=order.id).status == "allocated"
    assert timeline(order) == [("allocated", "partial_allocation")]


def test_a_cancelled_order_says_so(layout, product, users):
    flow = tf.stocked_flow(layout, product, users)
    flow.allocate()
    services.cancel_order(order_id=flow.order.id, actor=users["dispatcher"])
    assert timeline(flow.order) == [("allocated", ""), ("cancelled", "")]


def test_pick_scans_write_nothing_for_tracking_until_the_last_one(layout, product, users):
    """Pick confirmation is a hot path: a scan that does not finish its order touches neither
    the timeline nor the outbox; the one that does adds one timeline row."""
    receive_stock(location_id=layout.pick_faces[0].id, product_id=product.id, quantity=2)
    second_bin = layout.pick_faces[1]
    receive_stock(location_id=second_bin.id, product_id=product.id, quantity=2)
    order = sf.make_order(sf.make_customer(layout.warehouse), [(product, 4)])
    flow = tf.Flow(layout, order, users["picker"], users["dispatcher"])
    flow.allocate()
    flow.release()
    tasks = list(PickTask.objects.filter(order_line__order=order).order_by("sequence"))
    assert len(tasks) == 2

    def confirm(task) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            services.confirm_pick(
                task_id=task.id,
                bin_code=task.location.code,
                item_scan=product.gtin,
                quantity=task.quantity,
                actor=users["picker"],
            )
        return [q["sql"] for q in queries.captured_queries]

    first = confirm(tasks[0])
    assert not [sql for sql in first if re.search(r"trackingevent|outboxmessage|_tracking\b", sql)]
    last = confirm(tasks[1])
    inserts = [sql for sql in last if sql.startswith('INSERT INTO "shipping_trackingevent"')]
    assert len(inserts) == 1
    assert not [sql for sql in last if "shipping_trackingevent" in sql and sql not in inserts]
    assert timeline(order)[-1] == ("picked", "")


# --- the public page and JSON ---------------------------------------------------------------


def tracked(layout, product, users, customer=None) -> tuple[tf.Flow, str]:
    flow = tf.stocked_flow(layout, product, users, customer=customer)
    flow.allocate()
    flow.release()
    flow.pick()
    return flow, Tracking.objects.get(order=flow.order).token


def test_tokens_are_long_random_and_stored_for_an_indexed_digest_lookup(layout, product, users):
    flow, token = tracked(layout, product, users)
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token)  # 24 random bytes = 192 bits
    tracking = Tracking.objects.get(order=flow.order)
    assert tracking.token_digest == token_digest(token) != token
    assert Tracking._meta.get_field("token_digest").unique
    # Issuing again keeps the link the customer already has.
    assert tracking_for(order_id=flow.order.id).token == token


def test_a_token_shows_its_own_shipment_and_nothing_of_anyone_else(layout, product, users):
    mine, my_token = tracked(
        layout, product, users, sf.make_customer(layout.warehouse, name="Alpha Bakery")
    )
    theirs = tf.stocked_flow(
        layout, product, users, customer=sf.make_customer(layout.warehouse, name="Zeta Foods")
    )
    theirs.allocate()
    their_token = Tracking.objects.get(order=theirs.order).token
    client = Client()

    page = client.get(f"/track/{my_token}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Picked" in html and "Allocated" in html
    for secret in (
        "Zeta Foods",
        theirs.order.number,
        their_token,
        "Alpha Bakery",  # not even the customer's own name: only status, timeline, ETA, POD
        mine.order.number,
        users["picker"].username,
        users["dispatcher"].username,
        mine.shipment.number,
    ):
        assert secret not in html, secret
    assert page["Cache-Control"] == "no-store"
    assert page["Referrer-Policy"] == "no-referrer"

    data = client.get(f"/track/{my_token}.json").json()
    assert data["status"] == "picked"
    assert [step["status"] for step in data["timeline"]] == ["allocated", "picked"]
    assert set(data) == {"status", "status_label", "eta", "proof_of_delivery", "timeline"}
    assert set(data["timeline"][0]) == {"status", "label", "reason", "reason_label", "at", "eta"}

    # No ids of any kind: every value is a status, a label, a time or null.
    def values(node):
        if isinstance(node, dict):
            return [v for item in node.values() for v in values(item)]
        if isinstance(node, list):
            return [v for item in node for v in values(item)]
        return [node]

    assert not [v for v in values(data) if isinstance(v, int | float) and not isinstance(v, bool)]
    assert "Zeta" not in str(data)
    assert client.get(f"/track/{their_token}.json").json()["status"] == "allocated"


def test_every_wrong_token_is_the_same_404(layout, product, users):
    _, token = tracked(layout, product, users)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    client = Client()
    answers = set()
    for wrong in (flipped, token[:-1], token + "x", "x" * 500, "nothing", token.upper()):
        if wrong == token:
            continue
        json_answer = client.get(f"/track/{wrong}.json")
        page_answer = client.get(f"/track/{wrong}/")
        assert (json_answer.status_code, page_answer.status_code) == (404, 404)
        assert wrong not in page_answer.content.decode()
        answers.add((json_answer.content, page_answer.content))
    assert len(answers) == 1


def test_the_page_shows_the_eta_window_and_proof_of_delivery(layout, product, users):
    flow = tf.stocked_flow(layout, product, users)
    flow.allocate()
    flow.release()
    flow.pick()
    arrival = timezone.now() + dt.timedelta(hours=5)
    flow.route(arrival)
    flow.pack_stage_load()
    flow.dispatch()
    token = Tracking.objects.get(order=flow.order).token
    client = Client()
    data = client.get(f"/track/{token}.json").json()
    assert data["status"] == "out_for_delivery"
    assert data["eta"] == {
        "start": (arrival - dt.timedelta(minutes=30)).isoformat(),
        "end": (arrival + dt.timedelta(minutes=30)).isoformat(),
    }
    assert data["proof_of_delivery"] == {"status": "pending", "at": None}
    local = timezone.localtime(arrival - dt.timedelta(minutes=30), layout.warehouse.tzinfo)
    assert f"between {local:%H:%M}" in client.get(f"/track/{token}/").content.decode()
    flow.deliver()
    data = client.get(f"/track/{token}.json").json()
    assert data["status"] == "delivered"
    assert data["proof_of_delivery"]["status"] == "recorded"
    assert "J. Jansen" not in client.get(f"/track/{token}/").content.decode()


def test_the_public_tracking_is_throttled_per_address(layout, product, users, monkeypatch):
    _, token = tracked(layout, product, users)
    monkeypatch.setattr(TrackingRateThrottle, "rate", "3/minute", raising=False)
    client = Client()
    answers = [client.get(f"/track/{token}.json").status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    refused = client.get(f"/track/{token}.json")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert client.get(f"/track/{token}/").status_code == 429
    # Wrong tokens count too: guessing is throttled like reading.
    assert client.get("/track/guess.json").status_code == 429


def test_only_reads_are_allowed_on_the_public_urls(layout, product, users):
    _, token = tracked(layout, product, users)
    assert Client().post(f"/track/{token}.json").status_code == 405


# --- staff ----------------------------------------------------------------------------------


def test_staff_read_an_orders_timeline_and_tracking_link(layout, product, users, api):
    flow, token = tracked(layout, product, users)
    answer = api["dispatcher"].get(f"/api/v1/orders/{flow.order.id}/tracking/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["tracking_url"].endswith(f"/track/{token}/")
    assert body["json_url"].endswith(f"/track/{token}.json")
    assert body["status"] == "picked"
    assert [(s["status"], s["actor"]) for s in body["timeline"]] == [
        ("allocated", "dispatcher"),
        ("picked", "picker"),
    ]
    by_shipment = api["manager"].get(f"/api/v1/shipments/{flow.shipment.id}/tracking/").json()
    assert by_shipment == api["manager"].get(f"/api/v1/orders/{flow.order.id}/tracking/").json()
    assert api["picker"].get(f"/api/v1/orders/{flow.order.id}/tracking/").status_code == 403
    assert api["outsider"].get(f"/api/v1/orders/{flow.order.id}/tracking/").status_code == 404


def test_an_order_without_a_link_gets_one_when_staff_ask(layout, product, users, api):
    order = sf.make_order(sf.make_customer(layout.warehouse), [(product, 1)])
    body = api["manager"].get(f"/api/v1/orders/{order.id}/tracking/").json()
    token = Tracking.objects.get(order=order).token
    assert body["tracking_url"].endswith(f"/track/{token}/")
    assert (body["status"], body["timeline"]) == (None, [])
    page = Client().get(f"/track/{token}/")
    assert page.status_code == 200 and "Order received" in page.content.decode()
