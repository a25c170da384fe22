"""Scans that must be refused write nothing; roles; closed receipts."""

from __future__ import annotations

import pytest

from receiving.barcodes import build_gs1
from receiving.models import InboundLine, ReceiptScan
from tests.factories import receiving as rf
from warehouse.models import IdempotencyRecord, Lot, StockBalance, StockMove


def written() -> tuple[int, int, int, int, int]:
    """Counts of every row a scan could write."""
    return (
        ReceiptScan.objects.count(),
        StockMove.objects.count(),
        StockBalance.objects.exclude(quantity=0).count(),
        Lot.objects.count(),
        InboundLine.objects.count(),
    )


BAD_BARCODES = [
    ("09501101530004", "barcode-bad-check-digit"),  # GTIN with a wrong check digit
    ("09501101599994", "barcode-unknown-gtin"),  # valid check digit, no such product
    ("]C10109501101530003" + "37" + "5", "barcode-forbidden-ai-combination"),  # 01 with 37
    ("]C101095011015300031732133110ABC", "barcode-malformed-gs1"),  # month 13
    ("]C10109501101530", "barcode-malformed-gs1"),  # truncated GTIN
    ("]C11095011015", "barcode-missing-gtin"),  # a lot alone says nothing of the product
    ("hello", "barcode-unknown-format"),
    ("095011010000000019", "barcode-bad-check-digit"),  # SSCC with a bad check digit
    ("095011010000000018", "barcode-unknown-sscc"),  # valid SSCC the ASN does not announce
]


@pytest.mark.django_db
@pytest.mark.parametrize(("barcode", "code"), BAD_BARCODES)
def test_unacceptable_barcode_is_422_and_writes_nothing(
    site, product, api, supplier, barcode, code
):
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 5}], supplier=supplier)
    before = written()
    response = rf.scan(api["dock"], receipt.id, barcode)
    assert response.status_code == 422, response.json()
    assert response.json()["code"] == code
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"]["barcode"]
    assert written() == before


@pytest.mark.django_db
def test_lot_tracked_product_without_lot_is_422(site, lot_product, api, supplier):
    receipt = rf.make_open_receipt(
        site, [{"product": lot_product, "quantity": 5}], supplier=supplier
    )
    before = written()
    response = rf.scan(api["dock"], receipt.id, lot_product.gtin)
    assert response.status_code == 422
    assert response.json()["code"] == "lot-required"
    assert written() == before


@pytest.mark.django_db
def test_unknown_pack_is_422(site, product, api, supplier):
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 5}], supplier=supplier)
    before = written()
    response = rf.scan(api["dock"], receipt.id, product.gtin, pack="pallet")
    assert response.status_code == 422
    assert response.json()["code"] == "unknown-pack"
    assert written() == before


@pytest.mark.django_db
def test_lot_is_created_on_first_scan_with_its_expiry(site, lot_product, api, supplier):
    from datetime import date

    receipt = rf.make_open_receipt(
        site, [{"product": lot_product, "quantity": 5}], supplier=supplier
    )
    label = build_gs1(gtin=lot_product.gtin, lot="NEW-1", expiry=date(2030, 5, 31))
    assert rf.scan(api["dock"], receipt.id, label).status_code == 201
    lot = Lot.objects.get(product=lot_product, code="NEW-1")
    assert lot.expiry_date == date(2030, 5, 31)
    assert rf.scan(api["dock"], receipt.id, label).status_code == 201
    assert Lot.objects.filter(product=lot_product, code="NEW-1").count() == 1


@pytest.mark.django_db
def test_scan_on_closed_receipt_is_409(site, product, api, supplier):
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 1}], supplier=supplier)
    rf.scan(api["dock"], receipt.id, product.gtin)
    assert api["dock"].post(f"/api/v1/receipts/{receipt.id}/close/", {}).status_code == 200
    before = written()
    response = rf.scan(api["dock"], receipt.id, product.gtin)
    assert response.status_code == 409
    assert response.json()["code"] == "receipt-closed"
    assert written() == before
    again = api["dock"].post(f"/api/v1/receipts/{receipt.id}/close/", {})
    assert again.status_code == 409
    assert again.json()["code"] == "invalid-transition"


@pytest.mark.django_db
def test_scan_needs_an_idempotency_key(site, product, api, supplier):
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 1}], supplier=supplier)
    response = api["dock"].post(f"/api/v1/receipts/{receipt.id}/scans/", {"barcode": product.gtin})
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency-key-required"
    assert not ReceiptScan.objects.exists()


@pytest.mark.django_db
def test_same_key_with_another_body_is_422(site, product, api, supplier):
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 5}], supplier=supplier)
    assert rf.scan(api["dock"], receipt.id, product.gtin, key="k1").status_code == 201
    reused = rf.scan(api["dock"], receipt.id, product.gtin, key="k1", quantity=3)
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency-key-reused"
    assert ReceiptScan.objects.count() == 1


@pytest.mark.django_db
def test_roles(site, product, api, supplier):
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 3}], supplier=supplier)
    for role in ("picker", "dispatcher", "inspector"):
        assert rf.scan(api[role], receipt.id, product.gtin).status_code == 403
        assert api[role].post(f"/api/v1/receipts/{receipt.id}/close/", {}).status_code == 403
    assert api["anonymous"].get("/api/v1/receipts/").status_code == 401
    # A manager of another warehouse does not see the receipt at all.
    assert rf.scan(api["outsider"], receipt.id, product.gtin).status_code == 404
    assert not ReceiptScan.objects.exists()
    # Only managers announce ASNs.
    asn = {
        "warehouse": "AMS",
        "supplier": supplier.code,
        "reference": "R",
        "expected_arrival": "2030-01-01T10:00:00Z",
        "lines": [{"sku": product.sku, "quantity": 1}],
    }
    assert api["dock"].post("/api/v1/inbound-shipments/", asn).status_code == 403
    assert api["manager"].post("/api/v1/inbound-shipments/", asn).status_code == 201

    assert rf.scan(api["dock"], receipt.id, product.gtin, quantity=3).status_code == 201
    report = api["dock"].post(f"/api/v1/receipts/{receipt.id}/close/", {}).json()
    task_id = report["putaway_tasks"][0]
    confirm = f"/api/v1/putaway-tasks/{task_id}/confirm/"
    for role in ("picker", "inspector", "dispatcher"):
        response = api[role].post(confirm, {"bin": "A-01-01-1"}, HTTP_IDEMPOTENCY_KEY=role)
        assert response.status_code == 403

    inspected = rf.make_supplier("qa-sup", requires_inspection=True)
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 1}], supplier=inspected)
    rf.scan(api["dock"], receipt.id, product.gtin)
    inspection_id = (
        api["dock"].post(f"/api/v1/receipts/{receipt.id}/close/", {}).json()["inspections"][0]
    )
    record = f"/api/v1/inspections/{inspection_id}/record/"
    for role in ("dock", "picker", "dispatcher"):
        assert api[role].post(record, {"result": "pass"}).status_code == 403
    assert api["inspector"].post(record, {"result": "pass"}).status_code == 200
    assert IdempotencyRecord.objects.filter(response_status=403).count() == 0


# One scan of a known product, measured: authentication (the token with the user's roles), the
# idempotency record (claimed by one INSERT ... ON CONFLICT DO NOTHING, response stored by one
# UPDATE), ONE query for the receipt (SHARE lock, visibility), its dock location, the scanned
# product with its inspection flag and its lot (an existing lot is not read again), the ASN
# lines locked, the inventory service's receive (ONE statement: balance upsert and ledger row;
# the dock floor has no capacity limit, so it is not locked, and product, lot and location are
# passed in, not re-read) and ONE statement for the line totals and the scan row. No savepoint
# is taken: the one pair counted here is the request's own transaction, a savepoint only
# because this test runs inside a transaction (BEGIN/COMMIT when live).
SCAN_STATEMENTS = {"plain": 7, "lot": 7}
SCAN_SAVEPOINT_STATEMENTS = 2


@pytest.mark.django_db
def test_scan_query_count_is_pinned(site, product, lot_product, api, supplier):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    receipt = rf.make_open_receipt(
        site,
        [{"product": product, "quantity": 50}, {"product": lot_product, "quantity": 50}],
        supplier=supplier,
    )
    lot_label = build_gs1(gtin=lot_product.gtin, lot="L1")
    rf.scan(api["dock"], receipt.id, lot_label)  # creates the lot and the dock balance rows
    rf.scan(api["dock"], receipt.id, product.gtin)
    for kind, barcode in (("plain", product.gtin), ("lot", lot_label)):
        with CaptureQueriesContext(connection) as queries:
            assert rf.scan(api["dock"], receipt.id, barcode).status_code == 201
        statements = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]
        assert len(statements) == SCAN_STATEMENTS[kind], "\n".join(q[:100] for q in statements)
        savepoints = [q["sql"] for q in queries if "SAVEPOINT" in q["sql"]]
        assert len(savepoints) == SCAN_SAVEPOINT_STATEMENTS, savepoints


@pytest.mark.django_db
def test_inspection_rule_for_one_supplier_only(site, product, api, supplier):
    from receiving.models import InspectionRule

    other = rf.make_supplier("other")
    InspectionRule.objects.create(product=product, supplier=other)
    mine = rf.make_open_receipt(site, [{"product": product, "quantity": 1}], supplier=supplier)
    theirs = rf.make_open_receipt(site, [{"product": product, "quantity": 1}], supplier=other)
    assert rf.scan(api["dock"], mine.id, product.gtin).json()["items"][0]["status"] == "available"
    assert (
        rf.scan(api["dock"], theirs.id, product.gtin).json()["items"][0]["status"] == "quarantine"
    )
    # A damaged unit is damaged whatever the inspection rules say.
    damaged = rf.scan(api["dock"], theirs.id, product.gtin, damaged=True)
    assert damaged.json()["items"][0]["status"] == "damaged"
