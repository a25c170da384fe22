"""The whole inbound flow through the API, as dock staff, an inspector and a manager do it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from receiving.barcodes import GS, build_gs1
from receiving.models import InboundShipment, InspectionRule, PutawayTask, ReceiptScan
from tests.factories import receiving as rf
from tests.factories import warehouse as wf
from warehouse.gs1 import make_sscc
from warehouse.models import StockBalance, StockMove
from warehouse.selectors import list_ledger_mismatches


def balances(location, product) -> dict[str, int]:
    return {
        row.status: row.quantity
        for row in StockBalance.objects.filter(location=location, product=product, quantity__gt=0)
    }


@pytest.mark.django_db
def test_asn_to_stock_in_bins(site, product, lot_product, supplier, users, api, tomorrow):
    other = wf.make_product(sku="AMB-2")
    InspectionRule.objects.create(product=lot_product)
    far_expiry = date.today() + timedelta(days=400)

    # A manager announces the ASN: 2 cases of AMB-1, 30 CHL-1 of lot L1, 10 AMB-2.
    created = api["manager"].post(
        "/api/v1/inbound-shipments/",
        {
            "warehouse": "AMS",
            "supplier": "acme",
            "reference": "ASN-1",
            "po_reference": "PO-1",
            "carrier": "DHL",
            "expected_arrival": rf.local(site, tomorrow, 9).isoformat(),
            "lines": [
                {"sku": "AMB-1", "quantity": 2, "pack": "case"},
                {"sku": "CHL-1", "quantity": 30, "lot_code": "L1", "expiry_date": str(far_expiry)},
                {"sku": "AMB-2", "quantity": 10},
            ],
        },
    )
    assert created.status_code == 201, created.json()
    asn_id = created.json()["id"]
    detail = api["dock"].get(f"/api/v1/inbound-shipments/{asn_id}/").json()
    assert [line["expected_quantity"] for line in detail["lines"]] == [24, 30, 10]

    # Dock staff book door D1 at 10:00 local, check the truck in and open a receipt.
    booked = api["dock"].post(
        "/api/v1/dock-appointments/",
        {
            "shipment": asn_id,
            "door": site.doors[0].id,
            "starts_at": rf.local(site, tomorrow, 10).isoformat(),
        },
    )
    assert booked.status_code == 201, booked.json()
    assert InboundShipment.objects.get(id=asn_id).status == "scheduled"
    arrived = api["dock"].post(f"/api/v1/inbound-shipments/{asn_id}/check-in/", {})
    assert arrived.status_code == 200
    assert arrived.json()["arrived_at"] is not None
    opened = api["dock"].post("/api/v1/receipts/", {"shipment": asn_id, "door": site.doors[0].id})
    assert opened.status_code == 201, opened.json()
    receipt_id = opened.json()["id"]

    # Scans: 2 cases by EAN + pack, 1 extra damaged unit (over by 1, within the 5% tolerance),
    # CHL-1 by GS1-128 with lot and expiry (goes to quarantine), and only 6 of AMB-2 (short).
    first = rf.scan(api["dock"], receipt_id, "9501101530003", quantity=2, pack="case")
    assert first.status_code == 201, first.json()
    item = first.json()["items"][0]
    assert item["quantity"] == 24
    assert item["status"] == "available"
    assert item["line"]["received_quantity"] == 24
    assert item["line"]["expected_quantity"] == 24
    assert first.json()["warnings"] == []

    damaged = rf.scan(api["dock"], receipt_id, "09501101530003", damaged=True)
    assert damaged.status_code == 201
    assert damaged.json()["items"][0]["status"] == "damaged"
    assert [w["code"] for w in damaged.json()["warnings"]] == ["over_receipt"]

    label = "]C1" + build_gs1(gtin=lot_product.gtin, expiry=far_expiry, lot="L1", separator="|")
    chilled = rf.scan(api["dock"], receipt_id, label, quantity=30)
    assert chilled.status_code == 201, chilled.json()
    chilled_item = chilled.json()["items"][0]
    assert chilled_item["lot"] == "L1"
    assert chilled_item["expiry_date"] == str(far_expiry)
    assert chilled_item["status"] == "quarantine"

    assert rf.scan(api["dock"], receipt_id, other.gtin, quantity=6).status_code == 201

    # Closing returns the discrepancy report.
    closed = api["dock"].post(f"/api/v1/receipts/{receipt_id}/close/", {})
    assert closed.status_code == 200, closed.json()
    report = closed.json()
    found = {(d["sku"], d["kind"], d["difference"]) for d in report["discrepancies"]}
    assert found == {("AMB-1", "over", 1), ("AMB-1", "damaged", 1), ("AMB-2", "short", -4)}
    assert len(report["inspections"]) == 1
    assert len(report["putaway_tasks"]) == 2
    assert balances(site.dock, product) == {"available": 24, "damaged": 1}
    assert balances(site.dock, lot_product) == {"quarantine": 30}

    # The inspector samples (30 units -> 8 by the table) and passes the lot.
    inspection_id = report["inspections"][0]
    inspection = api["inspector"].get(f"/api/v1/inspections/{inspection_id}/").json()
    assert inspection["sample_size"] == 8
    passed = api["inspector"].post(
        f"/api/v1/inspections/{inspection_id}/record/", {"result": "pass", "defects_found": 0}
    )
    assert passed.status_code == 200, passed.json()
    assert balances(site.dock, lot_product) == {"available": 30}
    release = StockMove.objects.get(reference=f"inspection:{inspection_id}")
    assert (release.reason, release.from_status, release.to_status) == (
        "release",
        "quarantine",
        "available",
    )

    # Putaway: three tasks; AMB-2 goes to another bin than proposed, which is recorded.
    tasks = api["dock"].get("/api/v1/putaway-tasks/?status=open").json()["results"]
    by_sku = {task["sku"]: task for task in tasks}
    assert set(by_sku) == {"AMB-1", "AMB-2", "CHL-1"}
    assert by_sku["AMB-1"]["proposed_bin"] == "A-01-01-1"
    assert by_sku["CHL-1"]["proposed_bin"] == "C-01-01-1"
    for sku, bin_code in (("AMB-1", "A-01-01-1"), ("AMB-2", "A-03-01-1"), ("CHL-1", "C-01-01-1")):
        confirmed = api["dock"].post(
            f"/api/v1/putaway-tasks/{by_sku[sku]['id']}/confirm/",
            {"bin": bin_code},
            HTTP_IDEMPOTENCY_KEY=f"putaway-{sku}",
        )
        assert confirmed.status_code == 200, confirmed.json()
        assert confirmed.json()["confirmed_bin"] == bin_code
        assert confirmed.json()["dock_to_stock_seconds"] >= 0

    amb2 = PutawayTask.objects.get(product=other)
    assert amb2.proposed_location.code == "A-01-01-1"
    assert amb2.is_proposal_followed is False
    assert all(task.dock_to_stock is not None for task in PutawayTask.objects.all())

    # Stock is visible in the bins through the API; the dock keeps only the damaged unit.
    in_bin = api["dock"].get("/api/v1/stock/balances/?location=A-01-01-1").json()["results"]
    assert [(row["quantity"], row["status"]) for row in in_bin] == [(24, "available")]
    assert balances(site.bins[2], other) == {"available": 6}
    assert balances(site.chilled_bins[0], lot_product) == {"available": 30}
    assert balances(site.dock, product) == {"damaged": 1}
    assert balances(site.dock, lot_product) == {}
    assert list_ledger_mismatches() == []
    assert InboundShipment.objects.get(id=asn_id).status == "closed"
    assert ReceiptScan.objects.filter(receipt_id=receipt_id).count() == 4


@pytest.mark.django_db
def test_sscc_pallet_receives_its_announced_contents(site, product, lot_product, api, supplier):
    pallet = make_sscc(company_prefix="9501101", serial_reference=77)
    receipt = rf.make_open_receipt(
        site,
        [
            {"product": product, "quantity": 40, "sscc": pallet},
            {"product": lot_product, "quantity": 12, "lot_code": "P7", "sscc": pallet},
            {"product": product, "quantity": 5},
        ],
        supplier=supplier,
    )
    response = rf.scan(api["dock"], receipt.id, "]C100" + pallet)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["sscc"] == pallet
    assert [(i["quantity"], i["lot"]) for i in body["items"]] == [(40, None), (12, "P7")]
    assert balances(site.dock, product) == {"available": 40}
    assert balances(site.dock, lot_product) == {"available": 12}

    again = rf.scan(api["dock"], receipt.id, pallet)
    assert again.status_code == 409
    assert again.json()["code"] == "pallet-already-received"
    assert balances(site.dock, product) == {"available": 40}


@pytest.mark.django_db
def test_gs1_separator_and_ai37_count_with_case_gtin(site, product, api, supplier):
    case_gtin = wf.make_gtin()
    product.pack_sizes.filter(name="case").update(gtin=case_gtin)
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 60}], supplier=supplier)
    # AI 02 (content: cases) + AI 37 (5 of them), with a real GS as separator.
    label = build_gs1(content_gtin=case_gtin, lot="X", count=5, separator=GS)
    response = rf.scan(api["dock"], receipt.id, label)
    assert response.status_code == 201, response.json()
    assert response.json()["items"][0]["quantity"] == 60
    # A case GTIN scanned on its own counts 12 base units.
    assert rf.scan(api["dock"], receipt.id, case_gtin).json()["items"][0]["quantity"] == 12


@pytest.mark.django_db
def test_expired_and_short_dated_lots_warn(site, lot_product, api, supplier):
    lot_product.min_remaining_shelf_life_days = 30
    lot_product.save()
    receipt = rf.make_open_receipt(
        site, [{"product": lot_product, "quantity": 10}], supplier=supplier
    )
    expired = build_gs1(gtin=lot_product.gtin, expiry=date.today() - timedelta(days=3), lot="OLD")
    short = build_gs1(gtin=lot_product.gtin, expiry=date.today() + timedelta(days=10), lot="SHORT")
    codes = [w["code"] for w in rf.scan(api["dock"], receipt.id, expired).json()["warnings"]]
    assert codes == ["expired"]
    codes = [w["code"] for w in rf.scan(api["dock"], receipt.id, short).json()["warnings"]]
    assert codes == ["short_dated"]


@pytest.mark.django_db
def test_unexpected_product_and_lot_are_reported(site, product, lot_product, api, supplier):
    stranger = wf.make_product(sku="STRANGER")
    receipt = rf.make_open_receipt(
        site,
        [
            {"product": lot_product, "quantity": 5, "lot_code": "A"},
            {"product": product, "quantity": 3},
        ],
        supplier=supplier,
    )
    rf.scan(api["dock"], receipt.id, build_gs1(gtin=lot_product.gtin, lot="A"), quantity=5)
    rf.scan(api["dock"], receipt.id, build_gs1(gtin=lot_product.gtin, lot="B"), quantity=2)
    warned = rf.scan(api["dock"], receipt.id, stranger.gtin)
    assert [w["code"] for w in warned.json()["warnings"]] == ["unexpected"]
    rf.scan(api["dock"], receipt.id, product.gtin, quantity=3)
    report = api["dock"].post(f"/api/v1/receipts/{receipt.id}/close/", {}).json()
    found = {(d["sku"], d["lot_code"], d["kind"], d["difference"]) for d in report["discrepancies"]}
    assert found == {("CHL-1", "B", "unexpected_lot", 2), ("STRANGER", "", "unexpected_product", 1)}


@pytest.mark.django_db
def test_over_receipt_beyond_tolerance_needs_manager_override(
    site, product, users, api, supplier, settings
):
    settings.DOCKSIDE = {**settings.DOCKSIDE, "OVER_RECEIPT_TOLERANCE_PCT": 10}
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 10}], supplier=supplier)
    rf.scan(api["dock"], receipt.id, product.gtin, quantity=12)  # 20% over

    refused = api["dock"].post(f"/api/v1/receipts/{receipt.id}/close/", {})
    assert refused.status_code == 409
    assert refused.json()["code"] == "over-receipt-needs-override"
    assert "10% tolerance" in refused.json()["detail"]
    assert (
        api["dock"].post(f"/api/v1/receipts/{receipt.id}/close/", {"override": True}).status_code
        == 403
    )
    assert api["dock"].get(f"/api/v1/receipts/{receipt.id}/").json()["status"] == "open"

    accepted = api["manager"].post(f"/api/v1/receipts/{receipt.id}/close/", {"override": True})
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["receipt"]["override_by"] == users["manager"].id
    assert [d["kind"] for d in accepted.json()["discrepancies"]] == ["over"]


@pytest.mark.django_db
def test_over_receipt_within_tolerance_closes_without_override(site, product, api, supplier):
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 100}], supplier=supplier)
    rf.scan(api["dock"], receipt.id, product.gtin, quantity=105)  # exactly the 5% default
    closed = api["dock"].post(f"/api/v1/receipts/{receipt.id}/close/", {})
    assert closed.status_code == 200, closed.json()
    assert closed.json()["receipt"]["override_by"] is None


@pytest.mark.django_db
def test_failed_inspection_marks_damaged_or_keeps_quarantine(site, product, api):
    inspected = rf.make_supplier("inspect-all", requires_inspection=True)
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 20}], supplier=inspected)
    assert (
        rf.scan(api["dock"], receipt.id, product.gtin, quantity=20).json()["items"][0]["status"]
        == "quarantine"
    )
    report = api["dock"].post(f"/api/v1/receipts/{receipt.id}/close/", {}).json()
    assert report["putaway_tasks"] == []
    inspection_id = report["inspections"][0]

    no_reason = api["inspector"].post(
        f"/api/v1/inspections/{inspection_id}/record/", {"result": "fail"}
    )
    assert no_reason.status_code == 400
    failed = api["inspector"].post(
        f"/api/v1/inspections/{inspection_id}/record/",
        {
            "result": "fail",
            "reason": "Crushed cartons",
            "disposition": "damaged",
            "defects_found": 4,
        },
    )
    assert failed.status_code == 200, failed.json()
    assert failed.json()["status"] == "failed"
    assert balances(site.dock, product) == {"damaged": 20}
    assert not PutawayTask.objects.exists()
    again = api["inspector"].post(
        f"/api/v1/inspections/{inspection_id}/record/", {"result": "pass"}
    )
    assert again.status_code == 409
    assert list_ledger_mismatches() == []
