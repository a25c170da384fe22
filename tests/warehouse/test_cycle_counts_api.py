"""The cycle count API and the mobile count pages: blind to the counter, idempotent, scoped."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import client_for, make_user
from tests.factories import shipping as sf
from warehouse import services as inventory
from warehouse.models import CountAttempt, CountRequest, StockBalance, StockMove
from warehouse.selectors import list_ledger_mismatches

pytestmark = pytest.mark.django_db

API = "/api/v1/count-tasks"
# An expected figure no id, date or count in these tests can collide with.
EXPECTED = 4321


@pytest.fixture
def pick_face(site):
    """A pick-face bin (no weight limit) holding EXPECTED units of the product."""
    return sf.add_outbound_layout(site).pick_faces[0]


@pytest.fixture
def stocked(pick_face, product):
    inventory.receive_stock(location_id=pick_face.id, product_id=product.id, quantity=EXPECTED)
    return pick_face


def request_bin(api, site, bin_, **extra) -> dict:
    body = {"warehouse": site.warehouse.code, "location": bin_.code, **extra}
    response = api["manager"].post(f"{API}/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()[0]


def key() -> dict:
    return {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}


def assert_blind(content: bytes | str) -> None:
    text = content.decode() if isinstance(content, bytes) else content
    # As a figure of its own: random tokens on the page (CSRF, idempotency keys) may hold the
    # same digits by chance.
    for figure in (str(EXPECTED), f"{EXPECTED:,}", f"{EXPECTED:,}".replace(",", " ")):
        assert not re.search(rf"(?<![\w-]){figure}(?![\w-])", text)
    assert not re.search(r"expected|variance|ledger_moves", text, re.IGNORECASE)


def test_a_blind_count_through_the_api(site, users, api, product, stocked):
    task = request_bin(api, site, stocked)
    assert (task["location"], task["zone"], task["reason"], task["stage"]) == (
        stocked.code,
        "pick",
        "manager",
        "to_count",
    )
    counter = api["inspector"]
    started = counter.post(f"{API}/{task['id']}/start/", {"bin": stocked.code}, format="json")
    assert started.status_code == 200, started.content
    assert started.json()["attempt"] == 1 and started.json()["counted"] == []
    assert_blind(started.content)
    listed = counter.get(f"{API}/", {"stage": "counting"})
    assert [row["counting_by"] for row in listed.json()["results"]] == ["inspector"]
    assert_blind(listed.content)

    scan = {"scan": product.gtin, "quantity": 4000}
    headers = key()
    first = counter.post(f"{API}/{task['id']}/scan/", scan, format="json", **headers)
    replay = counter.post(f"{API}/{task['id']}/scan/", scan, format="json", **headers)
    assert first.status_code == replay.status_code == 200
    assert replay["Idempotent-Replayed"] == "true"
    assert first.json()["counted"] == [
        {"sku": "AMB-1", "name": product.name, "lot": "", "counted": 4000}
    ]
    assert_blind(first.content)
    more = counter.post(
        f"{API}/{task['id']}/scan/", {"scan": product.sku, "quantity": 320}, format="json", **key()
    )
    assert more.json()["counted"][0]["counted"] == 4320
    assert_blind(more.content)

    # Variance -1 is within 2 units: posted at once. A replayed submission posts nothing more.
    headers = key()
    submitted = counter.post(f"{API}/{task['id']}/submit/", **headers)
    again = counter.post(f"{API}/{task['id']}/submit/", **headers)
    assert submitted.status_code == again.status_code == 200, submitted.content
    assert submitted.json() == again.json()
    assert submitted.json()["status"] == "done"
    assert_blind(submitted.content)
    assert StockMove.objects.filter(reason="count").count() == 1
    assert StockBalance.objects.get(location=stocked, product=product).quantity == 4320
    assert list_ledger_mismatches() == []

    # The manager's review has the figures; the counter may not read it.
    assert counter.get(f"{API}/{task['id']}/review/").status_code == 403
    review = api["manager"].get(f"{API}/{task['id']}/review/").json()
    (line,) = review["attempts"][0]["lines"]
    assert (line["expected"], line["counted"], line["variance"]) == (EXPECTED, 4320, -1)
    assert (review["variance_units"], review["is_accurate"]) == (1, False)


def test_recount_refusals_and_approval_through_the_api(site, users, api, product, stocked):
    task = request_bin(api, site, stocked)
    counter = api["inspector"]
    counter.post(f"{API}/{task['id']}/start/", {"bin": stocked.code}, format="json")
    counter.post(f"{API}/{task['id']}/scan/", {"scan": product.sku, "quantity": 1}, **key())
    outcome = counter.post(f"{API}/{task['id']}/submit/", **key())
    assert outcome.json()["stage"] == "to_recount"
    assert_blind(outcome.content)

    same = counter.post(f"{API}/{task['id']}/start/", {"bin": stocked.code}, format="json")
    assert same.status_code == 403
    assert same["Content-Type"].startswith("application/problem+json")
    assert "different counter" in same.json()["detail"]
    # Managers: a recount request needs a count in review (409); approval works from here.
    assert api["manager"].post(f"{API}/{task['id']}/recount/").status_code == 409
    approved = api["manager"].post(f"{API}/{task['id']}/approve/")
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "done"
    assert StockBalance.objects.get(location=stocked, product=product).quantity == 1
    move = StockMove.objects.get(reason="count")
    assert (move.quantity, move.actor) == (EXPECTED - 1, users["manager"])
    assert api["manager"].post(f"{API}/{task['id']}/approve/").status_code == 409


def test_requests_for_a_zone_and_bad_input(site, users, api, product):
    body = {"warehouse": site.warehouse.code, "zone": "store"}
    made = api["manager"].post(f"{API}/", body, format="json")
    assert made.status_code == 201
    assert sorted(row["location"] for row in made.json()) == [b.code for b in site.bins]
    # Again: every bin already has an open count.
    assert api["manager"].post(f"{API}/", body, format="json").json() == []
    assert api["inspector"].post(f"{API}/", body, format="json").status_code == 403
    bad = [
        ({"warehouse": site.warehouse.code}, 400),
        ({"warehouse": site.warehouse.code, "zone": "nope"}, 400),
        ({"warehouse": site.warehouse.code, "zone": "stage"}, 400),
        ({"warehouse": site.warehouse.code, "location": site.bins[0].code}, 409),
        ({"warehouse": "OTHER", "location": "A-01-01-1"}, 404),
    ]
    for payload, expected in bad:
        response = api["manager"].post(f"{API}/", payload, format="json")
        assert response.status_code == expected, (payload, response.content)
    # The other warehouse's manager does not see these tasks.
    assert api["outsider"].get(f"{API}/").json()["results"] == []
    task_id, task_bin = made.json()[0]["id"], made.json()[0]["location"]
    assert api["outsider"].get(f"{API}/{task_id}/").status_code == 404
    # Scans need a key, a started count and a known item.
    assert api["inspector"].post(f"{API}/{task_id}/scan/", {"scan": "x"}).status_code == 400
    not_started = api["inspector"].post(f"{API}/{task_id}/scan/", {"scan": product.sku}, **key())
    assert not_started.status_code == 409
    api["inspector"].post(f"{API}/{task_id}/start/", {"bin": task_bin}, format="json")
    unknown = api["inspector"].post(f"{API}/{task_id}/scan/", {"scan": "NOPE"}, **key())
    assert unknown.status_code == 422
    wrong_bin = api["inspector"].post(f"{API}/{task_id}/start/", {"bin": "X"}, format="json")
    assert wrong_bin.status_code == 422


# --- the mobile pages ---------------------------------------------------------------------------


def form_key(page: str, form_id: str) -> str:
    form = page[page.index(f'id="{form_id}"') :]
    return re.search(r'name="key" value="([^"]+)"', form).group(1)


def test_the_count_pages_blind_with_csrf(site, users, api, product, stocked):
    task = request_bin(api, site, stocked)
    page = Client(enforce_csrf_checks=True)
    assert page.get(reverse("counts:home"))["Location"].startswith(reverse("pick:login"))
    page.force_login(users["inspector"])
    home = page.get(reverse("counts:home")).content.decode()
    assert stocked.code in home
    assert_blind(home)
    url = reverse("counts:count", args=[task["id"]])
    first = page.get(url)
    text = first.content.decode()
    assert 'id="scan"' in text and "autofocus" in text
    assert_blind(text)
    csrf = page.cookies["csrftoken"].value
    # Without the CSRF token the post is refused.
    assert page.post(url, {"step": "bin", "code": stocked.code}).status_code == 403
    post = {"csrfmiddlewaretoken": csrf}
    wrong = page.post(url, {**post, "step": "bin", "code": "B-99"})
    assert wrong.status_code == 422 and "Wrong bin" in wrong.content.decode()
    assert page.post(url, {**post, "step": "bin", "code": stocked.code}).status_code == 302
    counting_page = page.get(url).content.decode()
    assert_blind(counting_page)
    item_key = form_key(counting_page, "item-form")
    for _ in range(2):  # the same form sent twice (a retry): counted once
        sent = page.post(
            url, {**post, "step": "item", "code": product.gtin, "quantity": "4300", "key": item_key}
        )
        assert sent.status_code == 302
    after = page.get(url).content.decode()
    assert "4300" in after
    assert_blind(after)
    bad = page.post(url, {**post, "step": "item", "code": product.gtin, "quantity": "x"})
    assert bad.status_code == 400
    assert_blind(bad.content)
    page.post(url, {**post, "step": "item", "code": product.sku, "quantity": "21", "key": "k2"})
    submit_key = form_key(page.get(url).content.decode(), "submit-form")
    done = page.post(url, {**post, "step": "submit", "key": submit_key}, follow=True)
    text = done.content.decode()
    assert "Count accepted" in text
    assert_blind(text)
    # A resubmit of the same form is replayed, not applied again.
    page.post(url, {**post, "step": "submit", "key": submit_key})
    assert StockMove.objects.filter(reason="count").count() == 0  # 4321 counted: no variance
    assert CountRequest.objects.get(id=task["id"]).is_accurate is True


def test_count_pages_are_for_counters_of_the_warehouse(site, users, api, product, stocked):
    task = request_bin(api, site, stocked)
    url = reverse("counts:count", args=[task["id"]])
    for role, expected in (("picker", 403), ("dock", 403), ("outsider", 404), ("manager", 200)):
        page = Client()
        page.force_login(users[role])
        assert page.get(url).status_code == expected, role
    recounter = make_user("inspector2", "inspector", site=site)
    page = Client()
    page.force_login(recounter)
    assert page.get(reverse("counts:home")).status_code == 200
    # A token does not open the pages: they are session-only.
    assert client_for(users["inspector"]).get(url).status_code == 302


def test_admin_lists_filters_and_approves(site, users, api, product, stocked):
    task = request_bin(api, site, stocked)
    counter = api["inspector"]
    counter.post(f"{API}/{task['id']}/start/", {"bin": stocked.code}, format="json")
    counter.post(f"{API}/{task['id']}/scan/", {"scan": product.sku, "quantity": 1}, **key())
    counter.post(f"{API}/{task['id']}/submit/", **key())
    admin_user = make_user("root", is_staff=True, is_superuser=True)
    page = Client()
    page.force_login(admin_user)
    changelist = reverse("admin:warehouse_countrequest_changelist")
    listed = page.get(changelist, {"stage": "to_recount", "zone": stocked.zone_id})
    assert listed.status_code == 200
    assert stocked.code in listed.content.decode()
    assert page.get(changelist, {"stage": "review"}).content.decode().count(stocked.code) == 0
    detail = page.get(reverse("admin:warehouse_countrequest_change", args=[task["id"]]))
    assert detail.status_code == 200 and "Count attempts" in detail.content.decode()
    attempt = CountAttempt.objects.get(request_id=task["id"])
    lines = page.get(reverse("admin:warehouse_countattempt_change", args=[attempt.id]))
    assert lines.status_code == 200 and str(EXPECTED) in lines.content.decode()
    assert 'name="lines-0-counted"' not in lines.content.decode()  # read-only
    done = page.post(
        changelist,
        {"action": "approve_variance", "_selected_action": [task["id"]]},
        follow=True,
    )
    assert "1 count(s) done" in done.content.decode()
    assert CountRequest.objects.get(id=task["id"]).status == "done"
    assert StockBalance.objects.get(location=stocked, product=product).quantity == 1
    move = StockMove.objects.get(reason="count")
    assert move.actor == admin_user
    assert list_ledger_mismatches() == []
