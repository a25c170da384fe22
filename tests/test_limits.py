"""Size limits: request bodies (413 before they are read), lists in a request (400 naming the
cap), and pages of a list (never more than the maximum page size)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from receiving.models import InboundLine, InboundShipment
from tests.factories import receiving as rf
from tests.factories import shipping as sf
from tests.factories import states
from warehouse.models import Location, Product, StockMove

pytestmark = pytest.mark.django_db

API = "/api/v1"
PROBLEM = "application/problem+json"
CAPS = settings.DOCKSIDE


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()


@pytest.fixture
def small_bodies(settings):
    """Bodies up to 2,000 bytes."""
    settings.DOCKSIDE = {**settings.DOCKSIDE, "MAX_REQUEST_BYTES": 2000}


def assert_too_large(response, limit: int) -> None:
    assert response.status_code == 413, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert (body["status"], body["code"]) == (413, "request-too-large")
    assert str(limit) in body["detail"]


def product_body(name: str) -> dict:
    return {"sku": "BIG-1", "name": name, "unit_weight_kg": "1", "unit_volume_m3": "0.001"}


# --- request bodies -----------------------------------------------------------------------------


def test_an_api_body_over_the_limit_is_413_and_is_not_read(api, small_bodies):
    response = api["manager"].post(f"{API}/products/", product_body("x" * 2500), format="json")
    assert_too_large(response, 2000)
    assert not Product.objects.filter(sku="BIG-1").exists()
    # Just under the limit is fine.
    response = api["manager"].post(f"{API}/products/", product_body("Oat milk"), format="json")
    assert response.status_code == 201, response.content


def test_the_limit_is_judged_before_authentication_and_the_view(api, small_bodies):
    """Content-Length alone decides: even anonymous callers are refused before any work."""
    response = api["anonymous"].post(f"{API}/products/", product_body("x" * 2500), format="json")
    assert_too_large(response, 2000)


def test_web_forms_and_uploads_count_too(small_bodies, users, api, site, product):
    pick_login = Client().post("/pick/login/", {"username": "picker", "password": "p" * 2500})
    assert_too_large(pick_login, 2000)
    admin_login = Client().post("/admin/login/", {"username": "manager", "password": "p" * 2500})
    assert_too_large(admin_login, 2000)
    # A proof-of-delivery photo is part of the body.
    layout = sf.add_outbound_layout(site)
    shipment = states.dispatched_shipment(layout, product, users["picker"])
    response = api["dispatcher"].post(
        f"{API}/shipments/{shipment.id}/deliver/",
        {"delivered_at": timezone.now().isoformat(), "proof_file": photo(3000)},
        format="multipart",
    )
    assert_too_large(response, 2000)
    shipment.refresh_from_db()
    assert shipment.status == "dispatched"


def photo(size: int) -> SimpleUploadedFile:
    return SimpleUploadedFile("proof.png", b"\x89PNG" + b"0" * size, content_type="image/png")


def test_the_default_limit_is_ten_mebibytes(api):
    limit = 10 * 1024 * 1024
    assert settings.DOCKSIDE["MAX_REQUEST_BYTES"] == limit
    body = json.dumps(product_body("x" * limit))
    response = api["manager"].post(f"{API}/products/", body, content_type="application/json")
    assert_too_large(response, limit)


def test_form_data_over_djangos_own_cap_is_413_as_well(api, users, site, product, settings):
    """Should DATA_UPLOAD_MAX_MEMORY_SIZE be set below the body limit, a form field over it is
    a 413 problem too (Django would answer a bare 400)."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    layout = sf.add_outbound_layout(site)
    shipment = states.dispatched_shipment(layout, product, users["picker"])
    response = api["dispatcher"].post(
        f"{API}/shipments/{shipment.id}/deliver/",
        {"delivered_at": timezone.now().isoformat(), "note": "n" * 1500},
        format="multipart",
    )
    assert_too_large(response, 1000)
    shipment.refresh_from_db()
    assert shipment.status == "dispatched"


# --- lists in a request -------------------------------------------------------------------------


def asn_body(product, lines: int) -> dict:
    return {
        "warehouse": "AMS",
        "supplier": rf.make_supplier().code,
        "reference": f"ASN-{lines}",
        "expected_arrival": (timezone.now() + dt.timedelta(days=1)).isoformat(),
        "lines": [{"sku": product.sku, "quantity": 1} for _ in range(lines)],
    }


def test_an_asn_of_a_thousand_lines_is_accepted(api, site, product):
    response = api["manager"].post(
        f"{API}/inbound-shipments/", asn_body(product, 1000), format="json"
    )
    assert response.status_code == 201, response.content
    assert InboundLine.objects.filter(shipment_id=response.json()["id"]).count() == 1000


def cap_error(response, cap: int) -> str:
    """The 400's message for the list that is too long; it names the cap."""
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == PROBLEM
    text = json.dumps(response.json()["errors"])
    assert f"no more than {cap} " in text, text
    return text


def test_an_asn_over_the_cap_is_400_naming_it(api, site, product):
    cap = CAPS["MAX_ASN_LINES"]
    assert cap == 10_000
    response = api["manager"].post(
        f"{API}/inbound-shipments/", asn_body(product, cap + 1), format="json"
    )
    assert "lines" in cap_error(response, cap)
    assert not InboundShipment.objects.exists()


@pytest.fixture
def layout(site):
    return sf.add_outbound_layout(site)


def order(layout, product, number: str, lines: int = 1) -> dict:
    start, end = sf.window()
    return {
        "warehouse": layout.warehouse.id,
        "customer": sf.make_customer(layout.warehouse).id,
        "number": number,
        "requested_date": str(timezone.localdate()),
        "promised_window_start": start.isoformat(),
        "promised_window_end": end.isoformat(),
        "lines": [{"product": product.id, "quantity": 1}] * lines,
    }


def test_bulk_orders_over_the_cap_are_400_naming_it(api, layout, product):
    cap = CAPS["MAX_BULK_ORDERS"]
    one = order(layout, product, "SO-1")
    orders = [{**one, "number": f"SO-{n}"} for n in range(cap + 1)]
    response = api["dispatcher"].post(f"{API}/orders/bulk/", {"orders": orders}, format="json")
    assert "orders" in cap_error(response, cap)


def test_every_other_list_in_a_request_is_capped(api, layout, product, users):
    cap = CAPS["MAX_LIST_ITEMS"]
    too_many = cap + 1
    picked = states.picked_shipment(layout, product, users["picker"])
    dispatched = states.dispatched_shipment(layout, product, users["picker"])
    package = {"weight_kg": "1", "length_cm": "10", "width_cm": "10", "height_cm": "10"}
    requests = {
        "order lines": (
            f"{API}/orders/",
            order(layout, product, "SO-LONG", lines=too_many),
            "lines",
            cap,
        ),
        "wave orders": (
            f"{API}/waves/",
            {
                "warehouse": layout.warehouse.id,
                "dispatch_date": str(timezone.localdate()),
                "cutoff_at": timezone.now().isoformat(),
                "order_ids": list(range(1, too_many + 1)),
            },
            "order_ids",
            cap,
        ),
        "packages": (
            f"{API}/shipments/{picked.id}/pack/",
            {"packages": [package] * (CAPS["MAX_PACKAGES_PER_SHIPMENT"] + 1)},
            "packages",
            CAPS["MAX_PACKAGES_PER_SHIPMENT"],
        ),
        "delivered lines": (
            f"{API}/shipments/{dispatched.id}/deliver/",
            {
                "delivered_at": timezone.now().isoformat(),
                "lines": [{"order_line": 1, "quantity": 1}] * too_many,
            },
            "lines",
            cap,
        ),
        "route plan shipments": (
            f"{API}/route-plans/",
            {
                "warehouse": "AMS",
                "delivery_date": str(timezone.localdate()),
                "shipments": [f"SH-{n}" for n in range(too_many)],
            },
            "shipments",
            cap,
        ),
        "pack sizes": (
            f"{API}/products/",
            {
                **product_body("Many packs"),
                "pack_sizes": [{"name": f"p{n}", "quantity": n + 2} for n in range(too_many)],
            },
            "pack_sizes",
            cap,
        ),
    }
    for name, (url, body, field, limit) in requests.items():
        client = api["manager"]
        text = cap_error(client.post(url, body, format="json"), limit)
        assert field in text, name
    picked.refresh_from_db()
    dispatched.refresh_from_db()
    assert (picked.status, dispatched.status) == ("planned", "dispatched")
    assert not Product.objects.filter(sku="BIG-1").exists()


# --- pages --------------------------------------------------------------------------------------


def test_a_page_never_holds_more_than_the_maximum(api, site):
    zone = site.zones["storage"]
    Location.objects.bulk_create(
        Location(warehouse=site.warehouse, zone=zone, code=f"P-{n:04d}") for n in range(520)
    )
    body = api["dock"].get(f"{API}/locations/", {"page_size": 100_000}).json()
    assert body["count"] > 500
    assert len(body["results"]) == 500


def test_a_ledger_page_never_holds_more_than_the_maximum(api, site, product):
    # Ledger rows written directly: only the paging is under test here.
    StockMove.objects.bulk_create(
        StockMove(
            warehouse=site.warehouse,
            product=product,
            quantity=1,
            to_location=site.bins[0],
            to_status="available",
            reason=StockMove.Reason.RECEIPT,
        )
        for _ in range(1010)
    )
    body = api["dock"].get(f"{API}/stock/moves/", {"page_size": 100_000}).json()
    assert len(body["results"]) == 1000
    assert body["next"]


def test_every_list_is_paginated():
    """No list endpoint can answer with all its rows at once (the KPI summary and the count of
    background work waiting are one object each, not rows)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    unpaged = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if get is None or "{" in path:
            continue
        parameters = {p["name"] for p in get.get("parameters", [])}
        summaries = ("/api/v1/outbound/kpis/", "/api/v1/background-work/")
        if not {"page", "cursor"} & parameters and path not in summaries:
            unpaged.append(path)
    assert unpaged == []
