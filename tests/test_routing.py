"""The API's URL patterns grouped by first segment (config.api.routing): every path resolves and
reverses as with the flat router patterns, and a scan's path tries a few dozen patterns."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.urls import Resolver404, URLPattern, URLResolver, resolve, reverse
from django.urls.resolvers import RegexPattern, RoutePattern

from config.api.routing import FirstSegmentPattern, by_first_segment, first_segment

APPS = ("warehouse", "shipping", "receiving", "routing")
PATHS = [
    "",
    ".json",
    "receipts/",
    "receipts.json",
    "receipts/12/",
    "receipts/12.json",
    "receipts/12/scans/",
    "receipts/12/scans.json",
    "receipts/x.y/scans/",
    "receiptsx/",
    "receipts",
    "return-receipts/4/scans/",
    "pick-tasks/7/confirm/",
    "stock/balances/",
    "stock/moves/3/",
    "auth/tokens/1/revoke/",
    "outbound/kpis/",
    "nothing/here/",
]


def _outcome(resolver: URLResolver, path: str):
    try:
        match = resolver.resolve(path)
    except Resolver404:
        return None
    return match.func.__name__, match.url_name, match.kwargs, getattr(match.func, "actions", None)


@pytest.mark.parametrize("app", APPS)
def test_grouped_patterns_resolve_every_path_as_the_flat_ones(app):
    flat = import_module(f"{app}.api.urls").urlpatterns
    grouped = by_first_segment(flat)
    assert len(grouped) < len(flat) / 3
    flat_resolver = URLResolver(RoutePattern("", is_endpoint=False), flat)
    grouped_resolver = URLResolver(RoutePattern("", is_endpoint=False), grouped)
    for path in PATHS:
        assert _outcome(grouped_resolver, path) == _outcome(flat_resolver, path), path


def test_urls_resolve_and_reverse_through_the_groups():
    assert reverse("receipt-scans", kwargs={"pk": 5}) == "/api/v1/receipts/5/scans/"
    assert reverse("receipt-scans", kwargs={"pk": 5, "format": "json"}) == (
        "/api/v1/receipts/5/scans.json"
    )
    assert reverse("stock-balance-list") == "/api/v1/stock/balances/"
    assert resolve("/api/v1/receipts/5/scans/").url_name == "receipt-scans"
    assert resolve("/api/v1/pick-tasks/9/confirm/").kwargs == {"pk": "9"}


def test_a_scan_path_tries_a_few_dozen_patterns(monkeypatch):
    tried = []
    original = URLPattern.resolve

    def counting(self, path):
        tried.append(self)
        return original(self, path)

    monkeypatch.setattr(URLPattern, "resolve", counting)
    assert resolve("/api/v1/receipts/5/scans/").url_name == "receipt-scans"
    # The flat router patterns of the apps before receiving made it ~130.
    assert len(tried) < 30


def test_the_first_segment_is_read_only_where_the_pattern_pins_it_down():
    def regex(text):
        return URLPattern(RegexPattern(text), lambda request: None)

    assert first_segment(regex(r"^receipts/(?P<pk>[^/.]+)/scans/$")) == "receipts"
    assert first_segment(regex(r"^receipts\.(?P<format>[a-z0-9]+)/?$")) == "receipts"
    assert first_segment(regex(r"^stock/balances/$")) == "stock"
    assert first_segment(regex(r"^count\-tasks/$")) == "count-tasks"
    assert first_segment(regex(r"^\Z")) is None
    assert first_segment(regex(r"^(?P<format>\.[a-z0-9]+/?)\Z")) is None
    assert first_segment(regex(r"^receipts?/$")) is None  # the "s" is optional
    assert first_segment(regex(r"receipts/$")) is None  # not anchored
    assert first_segment(regex(r"^[a-z]+/$")) is None
    path = URLPattern(RoutePattern("orders/<int:pk>/"), lambda request: None)
    assert first_segment(path) == "orders"
    assert first_segment(URLPattern(RoutePattern("<slug:code>/"), lambda r: None)) is None


def test_a_group_matches_its_segment_only_and_consumes_nothing():
    pattern = FirstSegmentPattern("receipts")
    assert pattern.match("receipts/1/scans/") == ("receipts/1/scans/", (), {})
    assert pattern.match("receipts.json") == ("receipts.json", (), {})
    assert pattern.match("receiptsx/") is None
    assert pattern.match("return-receipts/") is None
    assert str(pattern) == ""  # what the schema generator reads: like path("", include(...))
