"""Announcing ASNs through the API: validation, pack conversion, and a 1,000-line bulk create."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from receiving.models import InboundLine, InboundShipment
from tests.factories import receiving as rf
from tests.factories import warehouse as wf
from warehouse.gs1 import make_sscc

# Everything one bulk create costs, whatever the number of lines (measured: 13 statements plus
# 7 SAVEPOINT/RELEASE): authentication (token, its last-used stamp, roles), the idempotency
# record (insert, update), the warehouse and supplier lookups, the reference check, one query
# for products and one for pack sizes, the shipment, ONE bulk INSERT of the 1,000 lines and the
# event row.
BULK_STATEMENT_BUDGET = 13


def asn(reference: str, lines: list[dict], **extra) -> dict:
    return {
        "warehouse": "AMS",
        "supplier": "acme",
        "reference": reference,
        "expected_arrival": "2030-03-01T09:00:00+01:00",
        "lines": lines,
        **extra,
    }


@pytest.mark.django_db
def test_bulk_asn_of_1000_lines_in_bounded_queries(site, api, supplier):
    products = [wf.make_product(sku=f"BULK-{i:03d}") for i in range(50)]
    lines = [
        {
            "sku": products[i % 50].sku,
            "quantity": 1 + i % 7,
            "pack": "case" if i % 3 == 0 else "",
            "sscc": make_sscc(company_prefix="9501101", serial_reference=i) if i % 10 == 0 else "",
        }
        for i in range(1000)
    ]
    with CaptureQueriesContext(connection) as queries:
        response = api["manager"].post(
            "/api/v1/inbound-shipments/", asn("BULK-1", lines), HTTP_IDEMPOTENCY_KEY="bulk-1"
        )
    assert response.status_code == 201, response.json()
    sql = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]
    assert len(sql) <= BULK_STATEMENT_BUDGET, "\n".join(q[:90] for q in sql)
    assert sum(q.startswith('INSERT INTO "receiving_inboundline"') for q in sql) == 1
    shipment = InboundShipment.objects.get(reference="BULK-1")
    assert shipment.lines.count() == 1000
    assert response.json()["line_count"] == 1000
    expected = sum((1 + i % 7) * (12 if i % 3 == 0 else 1) for i in range(1000))
    assert sum(shipment.lines.values_list("expected_quantity", flat=True)) == expected
    assert InboundLine.objects.filter(shipment=shipment).exclude(sscc="").count() == 100


@pytest.mark.django_db
def test_bad_lines_are_all_reported_and_nothing_written(site, product, api, supplier):
    response = api["manager"].post(
        "/api/v1/inbound-shipments/",
        asn(
            "BAD-1",
            [
                {"sku": product.sku, "quantity": 1},
                {"sku": "NOPE", "quantity": 1},
                {"sku": product.sku, "quantity": 1, "pack": "pallet"},
                {"sku": product.sku, "quantity": 1, "sscc": "123456789012345678"},
            ],
        ),
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    # Field-level problems (a bad SSCC) are caught by the serializer, per line.
    assert errors["lines"]["3"] == {"sscc": ["Not an 18-digit SSCC with a valid check digit."]}
    assert not InboundShipment.objects.exists()

    response = api["manager"].post(
        "/api/v1/inbound-shipments/",
        asn(
            "BAD-2",
            [{"sku": "NOPE", "quantity": 1}, {"sku": product.sku, "quantity": 2, "pack": "pallet"}],
        ),
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"lines[0].sku", "lines[1].pack"}
    assert not InboundShipment.objects.exists()


@pytest.mark.django_db
def test_duplicate_reference_and_invisible_warehouse(site, product, api, supplier):
    body = asn("DUP", [{"sku": product.sku, "quantity": 1}])
    assert api["manager"].post("/api/v1/inbound-shipments/", body).status_code == 201
    again = api["manager"].post("/api/v1/inbound-shipments/", body)
    assert again.status_code == 400
    assert "reference" in again.json()["errors"]
    # A manager of another warehouse cannot announce into this one.
    assert (
        api["outsider"].post("/api/v1/inbound-shipments/", asn("X", body["lines"])).status_code
        == 404
    )


@pytest.mark.django_db
def test_list_query_count_does_not_grow_with_asns(
    site, product, api, supplier, django_assert_max_num_queries
):
    for _ in range(3):
        rf.make_shipment(site, [{"product": product, "quantity": 1}], supplier=supplier)
    with CaptureQueriesContext(connection) as few:
        assert api["dock"].get("/api/v1/inbound-shipments/").status_code == 200
    for _ in range(20):
        rf.make_shipment(site, [{"product": product, "quantity": 1}], supplier=supplier)
    with django_assert_max_num_queries(len(few)):
        response = api["dock"].get("/api/v1/inbound-shipments/")
    assert response.json()["count"] == 23


@pytest.mark.django_db
def test_cancel_only_before_arrival(site, product, api, supplier):
    shipment = rf.make_shipment(site, [{"product": product, "quantity": 1}], supplier=supplier)
    assert api["dock"].post(f"/api/v1/inbound-shipments/{shipment.id}/cancel/").status_code == 403
    assert (
        api["dock"].post(f"/api/v1/inbound-shipments/{shipment.id}/check-in/", {}).status_code
        == 200
    )
    refused = api["manager"].post(f"/api/v1/inbound-shipments/{shipment.id}/cancel/")
    assert refused.status_code == 409
    assert refused.json()["code"] == "invalid-transition"
    other = rf.make_shipment(site, [{"product": product, "quantity": 1}], supplier=supplier)
    assert api["manager"].post(f"/api/v1/inbound-shipments/{other.id}/cancel/").json()[
        "status"
    ] == ("cancelled")
