"""Customer returns end to end through the API: request, authorise, receive with discrepancies,
dispositions and putaway, with the stock and the ledger checked at the end."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from receiving import services
from receiving.errors import OverReturn
from receiving.models import (
    PutawayTask,
    ReturnAuthorisation,
    ReturnDisposition,
    ReturnEvent,
    ReturnLine,
    ReturnReceipt,
)
from tests.factories import returns as rtf
from tests.factories import shipping as sf
from tests.factories import warehouse as wf
from warehouse import selectors
from warehouse.models import StockBalance, StockMove, StockStatus

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def layout(site) -> sf.OutboundSite:
    return sf.add_outbound_layout(site)


def post(client, path: str, body: dict | None = None, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"{API}/{path}", body or {}, format="json", **headers)


def balance(location, product, status: str) -> int:
    row = StockBalance.objects.filter(location=location, product=product, status=status).first()
    return row.quantity if row else 0


def test_a_return_from_request_to_restocked_shelves(site, layout, product, users, api):
    order = rtf.delivered_order(layout, product, users["picker"], quantity=6)
    stray = wf.make_product(sku="STRAY-1")
    line = order.lines.get()

    # Customer service asks for 4 back; a manager authorises.
    response = post(
        api["dispatcher"],
        "returns/",
        {
            "order": order.id,
            "reason": "damaged",
            "customer_reference": "Ticket 881",
            "lines": [{"sku": product.sku, "quantity": 4}],
        },
    )
    assert response.status_code == 201, response.content
    rma = response.json()
    assert rma["status"] == "requested"
    assert rma["lines"][0] | {"id": 0} == {
        "id": 0,
        "line_number": 1,
        "order_line": line.id,
        "order_line_number": 1,
        "product": product.id,
        "sku": product.sku,
        "lot": None,
        "lot_code": None,
        "quantity": 4,
        "reason": "damaged",
        "is_expected": True,
        "received_quantity": 0,
        "damaged_quantity": 0,
        "dispositioned_quantity": 0,
    }
    response = post(api["manager"], f"returns/{rma['id']}/authorise/")
    assert response.json()["status"] == "authorised"

    # The dock receives 3 (one torn) and a product nobody announced.
    response = post(api["dock"], "return-receipts/", {"rma": rma["id"], "door": site.doors[0].id})
    assert response.status_code == 201, response.content
    receipt_id = response.json()["id"]
    first = post(
        api["dock"],
        f"return-receipts/{receipt_id}/scans/",
        {"barcode": product.gtin, "quantity": 2},
        key="scan-1",
    )
    assert first.status_code == 201, first.content
    assert first.json()["status"] == "quarantine"
    replay = post(
        api["dock"],
        f"return-receipts/{receipt_id}/scans/",
        {"barcode": product.gtin, "quantity": 2},
        key="scan-1",
    )
    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    torn = post(
        api["dock"],
        f"return-receipts/{receipt_id}/scans/",
        {"barcode": product.gtin, "damaged": True},
        key="scan-2",
    )
    assert torn.status_code == 201, torn.content
    assert torn.json()["line"]["received_quantity"] == 3
    unexpected = post(
        api["dock"], f"return-receipts/{receipt_id}/scans/", {"barcode": stray.gtin}, key="scan-3"
    )
    assert unexpected.json()["warnings"][0]["code"] == "unexpected"

    report = post(api["dock"], f"return-receipts/{receipt_id}/close/").json()
    assert report["rma_status"] == "received"
    found = {(d["sku"], d["kind"]): d["difference"] for d in report["discrepancies"]}
    assert found == {
        (product.sku, "short"): -1,
        (product.sku, "damaged"): 1,
        (stray.sku, "unexpected_product"): 1,
    }
    dock = site.dock
    assert balance(dock, product, StockStatus.QUARANTINE) == 3
    assert balance(dock, stray, StockStatus.QUARANTINE) == 1

    # The inspector decides: 2 back on the shelf, the torn one scrapped, the stray to its vendor.
    path = f"returns/{rma['id']}/dispositions/"
    restock = {"line": 1, "disposition": "restock", "quantity": 2}
    done = post(api["inspector"], path, restock, key="d-1")
    assert done.status_code == 201, done.content
    assert post(api["inspector"], path, restock, key="d-1").json() == done.json()
    assert ReturnDisposition.objects.filter(kind="restock").count() == 1
    scrap = {"line": 1, "disposition": "scrap", "quantity": 1, "reason": "Torn carton"}
    assert post(api["inspector"], path, scrap, key="d-2").status_code == 201
    too_many = post(api["inspector"], path, restock | {"quantity": 1}, key="d-3")
    assert too_many.status_code == 400
    assert "quantity" in too_many.json()["errors"]
    to_vendor = {"line": 2, "disposition": "return_to_vendor", "quantity": 1, "reason": "Not ours"}
    assert post(api["inspector"], path, to_vendor, key="d-4").status_code == 201
    assert ReturnAuthorisation.objects.get(id=rma["id"]).status == "received"

    # Restocked units follow the inbound putaway flow; the last putaway closes the RMA.
    task = PutawayTask.objects.get(return_receipt_id=receipt_id)
    assert task.proposed_location is not None
    assert balance(dock, product, StockStatus.AVAILABLE) == 2
    response = post(
        api["dock"],
        f"putaway-tasks/{task.id}/confirm/",
        {"bin": task.proposed_location.code},
        key="p-1",
    )
    assert response.status_code == 200, response.content
    assert ReturnAuthorisation.objects.get(id=rma["id"]).status == "closed"

    assert selectors.list_ledger_mismatches() == []
    assert balance(dock, product, StockStatus.QUARANTINE) == 0
    assert balance(dock, product, StockStatus.AVAILABLE) == 0
    assert balance(dock, stray, StockStatus.QUARANTINE) == 0
    assert balance(task.proposed_location, product, StockStatus.AVAILABLE) == 2
    moves = StockMove.objects.filter(reference=f"rma:{rma['id']}")
    assert sorted(moves.values_list("reason", "quantity", "actor__username")) == [
        ("release", 2, "inspector"),
        ("return", 1, "dock"),
        ("return", 1, "dock"),
        ("return", 1, "inspector"),
        ("return", 2, "dock"),
        ("scrap", 1, "inspector"),
    ]
    kinds = list(
        ReturnEvent.objects.filter(rma_id=rma["id"]).values_list("kind", "actor__username")
    )
    assert kinds[:4] == [
        ("rma_requested", "dispatcher"),
        ("rma_authorised", "manager"),
        ("return_receipt_opened", "dock"),
        ("return_received", "dock"),
    ]
    assert kinds[-1] == ("rma_closed", "dock")
    detail = api["manager"].get(f"{API}/returns/{rma['id']}/").json()
    assert [d["kind"] for d in detail["dispositions"]] == ["restock", "scrap", "return_to_vendor"]
    assert detail["dispositions"][0]["decided_by"] == "inspector"


def test_more_than_delivered_is_refused_counting_other_returns(site, product):
    customer = sf.make_customer(site.warehouse)
    order = rtf.delivered_rows(customer, [(product, 6)])
    first = rtf.rma(order, 4)
    with pytest.raises(OverReturn) as refused:
        rtf.rma(order, 3)
    assert refused.value.http_status == 400
    assert list(refused.value.errors) == ["lines[0].quantity"]
    assert "At most 2" in refused.value.errors["lines[0].quantity"][0]
    rtf.rma(order, 2)
    # A rejected return frees its units; a received one holds what actually arrived.
    services.reject_return(rma_id=first.id, reason="Outside the return period")
    received = rtf.received_rma(site, order, 3, product=product)
    assert received.lines.get().received_quantity == 3
    with pytest.raises(OverReturn) as refused:
        rtf.rma(order, 2)
    assert "At most 1" in refused.value.errors["lines[0].quantity"][0]


def test_over_return_answers_400_with_a_field_message(site, product, api):
    order = rtf.delivered_rows(sf.make_customer(site.warehouse), [(product, 2)])
    body = {"order": order.id, "reason": "not_wanted", "lines": [{"line_number": 1, "quantity": 3}]}
    response = post(api["dispatcher"], "returns/", body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "over-return"
    assert response.json()["errors"]["lines[0].quantity"] == [
        "At most 2 of order line 1 can be returned (2 delivered, 0 on other returns)."
    ]
    assert ReturnAuthorisation.objects.count() == 0
    unknown_line = post(
        api["dispatcher"],
        "returns/",
        {**body, "lines": [{"line_number": 7, "quantity": 1}]},
    )
    assert unknown_line.status_code == 400
    assert "lines[0].line_number" in unknown_line.json()["errors"]


def test_illegal_transitions_answer_409(site, layout, product, users, api):
    undelivered = sf.make_order(sf.make_customer(site.warehouse), [(product, 1)])
    body = {
        "order": undelivered.id,
        "reason": "other",
        "lines": [{"line_number": 1, "quantity": 1}],
    }
    assert post(api["dispatcher"], "returns/", body).status_code == 409

    order = rtf.delivered_rows(sf.make_customer(site.warehouse), [(product, 5)])
    requested = rtf.rma(order, 1)
    door = {"rma": requested.id, "door": site.doors[0].id}
    assert post(api["dock"], "return-receipts/", door).status_code == 409
    assert post(api["manager"], f"returns/{requested.id}/authorise/").status_code == 200
    assert post(api["manager"], f"returns/{requested.id}/authorise/").status_code == 409
    disposition = {"line": 1, "disposition": "restock", "quantity": 1}
    response = post(api["inspector"], f"returns/{requested.id}/dispositions/", disposition, "x")
    assert response.status_code == 409
    receipt = post(api["dock"], "return-receipts/", door).json()
    assert post(api["dock"], "return-receipts/", door).status_code == 409
    reject = post(api["manager"], f"returns/{requested.id}/reject/", {"reason": "Too late"})
    assert reject.status_code == 409
    assert post(api["dock"], f"return-receipts/{receipt['id']}/close/").status_code == 200
    again = post(api["dock"], f"return-receipts/{receipt['id']}/close/")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid-transition"
    # Nothing arrived: the RMA is received and, with nothing to decide, closed.
    assert ReturnAuthorisation.objects.get(id=requested.id).status == "closed"
    scan = post(
        api["dock"], f"return-receipts/{receipt['id']}/scans/", {"barcode": product.gtin}, "s"
    )
    assert scan.status_code == 409

    other = rtf.rma(order, 1)
    assert post(api["manager"], f"returns/{other.id}/reject/", {"reason": "No"}).status_code == 200
    assert post(api["manager"], f"returns/{other.id}/authorise/").status_code == 409


def test_who_may_do_what(site, product, api):
    order = rtf.delivered_rows(sf.make_customer(site.warehouse), [(product, 5)])
    body = {"order": order.id, "reason": "expired", "lines": [{"line_number": 1, "quantity": 1}]}
    for role, expected in (("picker", 403), ("dock", 403), ("inspector", 403), ("outsider", 404)):
        assert post(api[role], "returns/", body).status_code == expected, role
    assert post(api["manager"], "returns/", body).status_code == 201
    rma_id = post(api["dispatcher"], "returns/", body).json()["id"]
    for role in ("dispatcher", "dock", "inspector", "picker"):
        assert post(api[role], f"returns/{rma_id}/authorise/").status_code == 403, role
    assert post(api["outsider"], f"returns/{rma_id}/authorise/").status_code == 404
    assert post(api["manager"], f"returns/{rma_id}/authorise/").status_code == 200
    door = {"rma": rma_id, "door": site.doors[0].id}
    assert post(api["inspector"], "return-receipts/", door).status_code == 403
    receipt = post(api["dock"], "return-receipts/", door).json()
    post(api["dock"], f"return-receipts/{receipt['id']}/scans/", {"barcode": product.gtin}, "k")
    post(api["dock"], f"return-receipts/{receipt['id']}/close/")
    decide = {"line": 1, "disposition": "scrap", "quantity": 1, "reason": "Expired"}
    path = f"returns/{rma_id}/dispositions/"
    for role in ("dispatcher", "dock", "picker"):
        assert post(api[role], path, decide, str(uuid.uuid4())).status_code == 403, role
    assert post(api["inspector"], path, decide, "d").status_code == 201
    assert ReturnLine.objects.get(rma_id=rma_id).dispositioned_quantity == 1
    assert api["outsider"].get(f"{API}/returns/").json()["count"] == 0
    assert api["picker"].get(f"{API}/returns/").json()["count"] == 2
    assert api["dock"].get(f"{API}/return-receipts/").json()["count"] == 1
    assert ReturnReceipt.objects.get().status == "closed"


def test_dispositions_need_a_reason_a_lot_and_a_quarantine_bin(site, product, api):
    order = rtf.delivered_rows(sf.make_customer(site.warehouse), [(product, 5)])
    rma = rtf.received_rma(site, order, 3, product=product)
    path = f"returns/{rma.id}/dispositions/"
    scrap = post(api["inspector"], path, {"line": 1, "disposition": "scrap", "quantity": 1}, "a")
    assert scrap.status_code == 400
    assert scrap.json()["errors"] == {"reason": ["Required."]}
    keep = post(
        api["inspector"], path, {"line": 1, "disposition": "quarantine", "quantity": 2}, "b"
    )
    assert keep.status_code == 201, keep.content
    assert keep.json()["location_code"] == site.quarantine.code
    assert balance(site.quarantine, product, StockStatus.QUARANTINE) == 2
    wrong_bin = post(
        api["inspector"],
        path,
        {"line": 1, "disposition": "quarantine", "quantity": 1, "bin": site.bins[0].code},
        "c",
    )
    assert wrong_bin.status_code == 422
    missing = post(
        api["inspector"],
        f"returns/{rma.id}/dispositions/",
        {"line": 9, "disposition": "scrap", "quantity": 1},
        "e",
    )
    assert missing.status_code == 404
    assert selectors.list_ledger_mismatches() == []


def test_lists_and_details_cost_the_same_queries_however_many_rows(site, product, api):
    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api["manager"].get(f"{API}/{path}").status_code == 200
        return len(captured)

    order = rtf.delivered_rows(sf.make_customer(site.warehouse), [(product, 20)])
    first = rtf.received_rma(site, order, 2, product=product)
    queries("returns/")  # the first request of a token also records its use
    few = (queries("returns/"), queries(f"returns/{first.id}/"), queries("return-receipts/"))
    for _ in range(3):
        rma = rtf.received_rma(site, order, 3, product=product)
        services.record_disposition(
            line_id=rma.lines.get().id, kind="scrap", quantity=1, reason="Crushed"
        )
    many = (queries("returns/"), queries(f"returns/{rma.id}/"), queries("return-receipts/"))
    assert many == few
