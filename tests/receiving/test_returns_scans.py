"""Scanning returns: the inbound barcode rules, lots, refusals that write nothing, and the
discrepancies a return receipt reports (over, unexpected lot)."""

from __future__ import annotations

import pytest

from receiving.barcodes import build_gs1
from receiving.models import ReturnLine, ReturnScan
from shipping.models import Allocation
from tests.factories import receiving as rf
from tests.factories import returns as rtf
from tests.factories import shipping as sf
from tests.factories import warehouse as wf
from warehouse import selectors
from warehouse.models import StockBalance, StockMove
from warehouse.services import receive_stock

pytestmark = pytest.mark.django_db

API = "/api/v1"


def post(client, path: str, body: dict | None = None, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"{API}/{path}", body or {}, format="json", **headers)


def test_lots_over_returns_and_refused_scans(site, product, lot_product, api):
    first_lot = wf.make_lot(lot_product, "L1")
    wf.make_lot(lot_product, "L2")
    order = rtf.delivered_rows(sf.make_customer(site.warehouse), [(lot_product, 5), (product, 3)])
    chilled = order.lines.get(line_number=1)
    # Lot L1 is the one that left on the chilled line (as its shipped allocation says).
    receive_stock(
        location_id=site.chilled_bins[0].id,
        product_id=lot_product.id,
        quantity=1,
        lot_id=first_lot.id,
    )
    Allocation.objects.create(
        order_line=chilled,
        balance=StockBalance.objects.get(product=lot_product),
        location=site.chilled_bins[0],
        product=lot_product,
        lot=first_lot,
        quantity=5,
        status=Allocation.Status.SHIPPED,
    )
    body = {
        "order": order.id,
        "reason": "expired",
        "lines": [
            {"line_number": 1, "quantity": 2, "lot": "L2"},
            {"line_number": 2, "quantity": 1},
        ],
    }
    refused = post(api["dispatcher"], "returns/", body)
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"lot": ["Lot L2 was not delivered on this order line."]}
    body["lines"][0]["lot"] = "L1"
    rma = post(api["dispatcher"], "returns/", body).json()
    assert rma["lines"][0]["lot_code"] == "L1"
    post(api["manager"], f"returns/{rma['id']}/authorise/")
    receipt = post(api["dock"], "return-receipts/", {"rma": rma["id"], "door": site.doors[0].id})
    scans = f"return-receipts/{receipt.json()['id']}/scans/"

    moves_before = StockMove.objects.count()
    bad_check_digit = product.gtin[:-1] + str((int(product.gtin[-1]) + 1) % 10)
    for barcode, code in [
        (lot_product.gtin, "lot-required"),
        (wf.make_gtin(), "barcode-unknown-gtin"),
        (bad_check_digit, "barcode-bad-check-digit"),
    ]:
        response = post(api["dock"], scans, {"barcode": barcode}, key=f"bad-{code}")
        assert response.status_code == 422, (barcode, response.content)
        assert response.json()["code"] == code
    assert StockMove.objects.count() == moves_before
    assert ReturnScan.objects.count() == 0

    labelled = build_gs1(gtin=lot_product.gtin, lot="L1")
    assert (
        post(api["dock"], scans, {"barcode": labelled, "quantity": 2}, key="a").status_code == 201
    )
    other_lot = post(
        api["dock"], scans, {"barcode": build_gs1(gtin=lot_product.gtin, lot="L2")}, key="b"
    )
    assert other_lot.json()["line"]["is_expected"] is False
    assert other_lot.json()["lot"] == "L2"
    # A case of the ambient product: its pack size converts to base units (12), over the 1 asked.
    case = post(api["dock"], scans, {"barcode": product.gtin, "pack": "case"}, key="c")
    assert case.json()["quantity"] == 12
    assert case.json()["warnings"][0]["code"] == "over_return"

    report = post(api["dock"], f"return-receipts/{receipt.json()['id']}/close/").json()
    found = {(d["sku"], d["lot_code"], d["kind"]): d["difference"] for d in report["discrepancies"]}
    assert found == {
        (lot_product.sku, "L2", "unexpected_lot"): 1,
        (product.sku, None, "over"): 11,
    }
    unexpected = ReturnLine.objects.get(rma_id=rma["id"], is_expected=False)
    # An unannounced lot of an authorised product takes that line's reason.
    assert (unexpected.reason, unexpected.order_line_id) == ("expired", chilled.id)

    rf.make_supplier("acme")
    decide = f"returns/{rma['id']}/dispositions/"
    keep = {"line": unexpected.line_number, "disposition": "quarantine", "quantity": 1}
    assert post(api["inspector"], decide, keep, key="d1").status_code == 201
    back = {
        "line": 2,
        "disposition": "return_to_vendor",
        "quantity": 12,
        "reason": "Recalled batch",
        "supplier": "acme",
    }
    sent = post(api["inspector"], decide, back, key="d2")
    assert sent.status_code == 201, sent.content
    assert sent.json()["supplier_code"] == "acme"
    move = StockMove.objects.get(id=sent.json()["stock_move"])
    assert (move.reason, move.to_location, move.note) == ("return", None, "to acme: Recalled batch")
    assert move.actor.username == "inspector"
    assert selectors.list_ledger_mismatches() == []
