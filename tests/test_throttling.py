"""Throttles: scans per user, token issues per address, and failed logins per user name and per
address at every entrance (token endpoint, admin, pick pages); 429 with Retry-After, allowed
again once the window has passed (the clock is moved, never waited for). Counts live in
Django's cache, so every web process shares them; a cache that is down throttles nothing.
Session logins (admin, pick pages, the API in a browser) need their CSRF token.
"""

from __future__ import annotations

import uuid

import pytest
import redis
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client, override_settings
from rest_framework.throttling import SimpleRateThrottle

from config.api import throttling
from receiving.models import ReceiptScan
from tests.conftest import client_for, make_user
from tests.factories import shipping as sf
from tests.factories import states
from warehouse import logins
from warehouse.models import DeviceToken

pytestmark = pytest.mark.django_db

API = "/api/v1"
PROBLEM = "application/problem+json"
LOCKOUT = 15 * 60


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()
    yield
    cache.clear()


class Clock:
    """The time the throttles read; tests move it forward instead of sleeping."""

    def __init__(self, start: float = 1_900_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(SimpleRateThrottle, "timer", staticmethod(clock))
    monkeypatch.setattr(logins, "_clock", clock)
    return clock


@pytest.fixture
def rates(monkeypatch):
    """Set throttle rates for one test (DRF keeps the configured rates in a class attribute)."""

    def set_rate(scope: str, rate: str) -> None:
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, rate)

    return set_rate


def assert_throttled(response, *, at_most: int) -> int:
    assert response.status_code == 429, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    wait = int(response["Retry-After"])
    assert 0 < wait <= at_most
    return wait


# --- scans --------------------------------------------------------------------------------------


def test_scans_are_throttled_per_user_and_allowed_again_after_the_window(
    api, site, product, users, clock, rates
):
    rates("scan", "3/minute")
    receipt = states.open_receipt(site, product)
    url = f"{API}/receipts/{receipt.id}/scans/"

    def scan(client):
        return client.post(
            url,
            {"barcode": product.gtin},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )

    assert [scan(api["dock"]).status_code for _ in range(3)] == [201, 201, 201]
    wait = assert_throttled(scan(api["dock"]), at_most=60)
    assert ReceiptScan.objects.count() == 3
    # Another scanner's user has a budget of their own; reading is not a scan.
    colleague = client_for(make_user("dock2", "dock", site=site))
    assert scan(colleague).status_code == 201
    assert api["dock"].get(f"{API}/receipts/").status_code == 200
    clock.advance(wait)
    assert scan(api["dock"]).status_code == 201
    assert ReceiptScan.objects.count() == 5


def test_pick_confirmations_share_the_scan_budget(api, site, product, users, clock, rates):
    rates("scan", "1/minute")
    layout = sf.add_outbound_layout(site)
    task = states.started_pick_task(layout, product, users["picker"])

    def skip():
        return api["picker"].post(
            f"{API}/pick-tasks/{task.id}/skip/", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
        )

    assert skip().status_code == 200
    assert_throttled(skip(), at_most=60)
    clock.advance(60)
    assert skip().status_code == 200


def test_the_per_user_rates_count_per_window_in_one_cache_entry_each(
    api, site, product, users, clock, rates, redis_url
):
    # The scan and user rates keep one counter per user and window (config.api.throttling),
    # not the time of every request: in Redis an integer per throttle, whatever the rate.
    rates("scan", "2/minute")
    receipt = states.open_receipt(site, product)
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    shared = {"BACKEND": "config.cache.RedisCache", "LOCATION": redis_url, "KEY_PREFIX": prefix}
    server = redis.Redis.from_url(redis_url)

    def scan():
        return api["dock"].post(
            f"{API}/receipts/{receipt.id}/scans/",
            {"barcode": product.gtin},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )

    clock.advance(60 - clock.now % 60 - 1)  # one second before a window ends
    try:
        with override_settings(CACHES={"default": shared}):
            assert [scan().status_code for _ in range(2)] == [201, 201]
            assert assert_throttled(scan(), at_most=1) == 1
            counters = {key: server.get(key) for key in server.scan_iter(f"{prefix}:*")}
            assert sorted(counters.values()) == [b"3", b"3"], counters  # scan and user rate
            assert all(0 < server.ttl(key) <= 60 for key in counters)
            clock.advance(1)  # the next window has a budget of its own
            assert scan().status_code == 201
    finally:
        for key in server.scan_iter(f"{prefix}:*"):
            server.delete(key)
    assert ReceiptScan.objects.count() == 3


def test_the_default_scan_rate_is_generous():
    assert SimpleRateThrottle.THROTTLE_RATES["scan"] == "1200/minute"


# --- the token endpoint -------------------------------------------------------------------------


def issue(username: str, password: str, *, address: str = "10.0.0.7"):
    return client_for(None).post(
        f"{API}/auth/tokens/",
        {"username": username, "password": password, "device_name": "Scanner"},
        format="json",
        REMOTE_ADDR=address,
    )


def test_token_issues_per_address_are_throttled(users, clock):
    answers = [issue("dock", "wrong").status_code for _ in range(10)]
    # Five wrong passwords lock the user name; all ten count against the address's rate.
    assert answers[:5] == [401] * 5
    assert set(answers[5:]) == {429}
    assert_throttled(issue("picker", "pw-picker"), at_most=60)
    assert issue("picker", "pw-picker", address="10.0.0.8").status_code == 201
    clock.advance(60)
    assert issue("picker", "pw-picker").status_code == 201


def test_repeated_bad_passwords_lock_the_user_name_for_the_window(users, clock):
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"):
        assert issue("dock", "guess", address=address).status_code == 401
    # Even the right password is refused now, from anywhere, without being checked.
    response = issue("dock", "pw-dock", address="10.0.0.6")
    wait = assert_throttled(response, at_most=LOCKOUT)
    assert "Too many failed logins" in response.json()["detail"]
    assert not DeviceToken.objects.filter(name="Scanner").exists()
    # Other user names are not locked.
    assert issue("picker", "pw-picker", address="10.0.0.6").status_code == 201
    clock.advance(wait)
    assert issue("dock", "pw-dock", address="10.0.0.6").status_code == 201


def test_a_good_login_forgets_the_failures_before_it(users, clock):
    for _ in range(4):
        assert issue("dock", "typo", address="10.0.1.1").status_code == 401
    assert issue("dock", "pw-dock", address="10.0.1.2").status_code == 201
    answers = [issue("dock", "typo", address="10.0.1.3").status_code for _ in range(4)]
    assert answers == [401] * 4


def test_many_user_names_from_one_address_are_throttled(users, clock, settings):
    settings.DOCKSIDE = {**settings.DOCKSIDE, "LOGIN_FAILURES_PER_ADDRESS": 3}
    for name in ("anna", "bert", "carl"):
        assert issue(name, "guess", address="10.0.2.1").status_code == 401
    response = issue("dock", "pw-dock", address="10.0.2.1")
    assert_throttled(response, at_most=LOCKOUT)
    assert issue("dock", "pw-dock", address="10.0.2.2").status_code == 201


# --- session logins: admin and pick pages --------------------------------------------------------


@pytest.fixture
def staff_manager(users) -> User:
    manager = users["manager"]
    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    return manager


@pytest.mark.parametrize(
    ("url", "username", "home"),
    [("/admin/login/", "manager", "/admin/"), ("/pick/login/", "picker", "/pick/")],
)
def test_session_logins_lock_a_user_name_after_repeated_failures(
    url, username, home, staff_manager, clock
):
    client = Client()
    for _ in range(5):
        response = client.post(url, {"username": username, "password": "guess", "next": home})
        assert response.status_code == 200  # the form again, with the error
    good = {"username": username, "password": f"pw-{username}", "next": home}
    response = client.post(url, good)
    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert 0 < wait <= LOCKOUT
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    clock.advance(wait)
    response = client.post(url, good)
    assert response.status_code == 302
    assert response["Location"].startswith(home)


def test_the_counts_are_in_the_shared_cache_not_in_the_process(users, clock):
    for _ in range(5):
        issue("dock", "guess", address="10.0.3.1")
    assert issue("dock", "pw-dock", address="10.0.3.2").status_code == 429
    cache.clear()  # what another process would see with an empty cache
    assert issue("dock", "pw-dock", address="10.0.3.2").status_code == 201


def test_with_redis_every_process_sees_the_same_counts(users, clock, redis_url):
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    shared = {
        "BACKEND": "config.cache.RedisCache",
        "LOCATION": redis_url,
        "KEY_PREFIX": prefix,
    }
    server = redis.Redis.from_url(redis_url)
    try:
        with override_settings(CACHES={"default": shared}):
            for _ in range(5):
                assert issue("dock", "guess", address="10.0.4.1").status_code == 401
            assert server.keys(f"{prefix}:*login-attempts*")
            assert issue("dock", "pw-dock", address="10.0.4.2").status_code == 429
    finally:
        for key in server.scan_iter(f"{prefix}:*"):
            server.delete(key)


def test_a_cache_that_is_down_throttles_nothing(api, site, product, users, monkeypatch):
    # The process leaves a failed cache alone for a while; the test's end makes it usable again.
    monkeypatch.setattr(throttling, "_cache_down_until", 0.0)
    down = {
        "BACKEND": "config.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
    receipt = states.open_receipt(site, product)
    with override_settings(CACHES={"default": down}):
        response = api["dock"].post(
            f"{API}/receipts/{receipt.id}/scans/",
            {"barcode": product.gtin},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
        assert response.status_code == 201, response.content
        assert issue("dock", "wrong").status_code == 401
        assert issue("dock", "pw-dock").status_code == 201
        login = Client().post("/pick/login/", {"username": "picker", "password": "pw-picker"})
        assert login["Location"].startswith("/pick/")


# --- sessions need CSRF -------------------------------------------------------------------------


def test_session_writes_need_the_csrf_token(users, site, product, staff_manager):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_manager)
    # The API in a logged-in browser: the session authenticates, the CSRF check applies.
    response = browser.post(
        f"{API}/stock/moves/adjustments/",
        {"warehouse": "AMS", "location": site.bins[0].code, "product": product.sku, "delta": 1},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    layout = sf.add_outbound_layout(site)
    pick_list = states.released_pick_list(layout, product, users["picker"])
    picker = Client(enforce_csrf_checks=True)
    picker.force_login(users["picker"])
    assert picker.post(f"/pick/lists/{pick_list.id}/start/").status_code == 403
    pick_list.refresh_from_db()
    assert pick_list.status == "open"
    anonymous = Client(enforce_csrf_checks=True)
    response = anonymous.post("/admin/login/", {"username": "manager", "password": "pw-manager"})
    assert response.status_code == 403
    # With the token from the form, the same login works.
    form = anonymous.get("/admin/login/")
    token = form.context["csrf_token"]
    response = anonymous.post(
        "/admin/login/",
        {
            "username": "manager",
            "password": "pw-manager",
            "csrfmiddlewaretoken": str(token),
            "next": "/admin/",
        },
    )
    assert response.status_code == 302
