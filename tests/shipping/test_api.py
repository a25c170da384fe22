"""The outbound API: roles, status codes, idempotent scans, bulk intake, query counts."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from shipping import services
from shipping.models import Delivery, Order, PickList, PickTask, Shipment
from tests.conftest import client_for, make_user
from tests.factories import shipping as sf
from warehouse import selectors
from warehouse.models import StockMove
from warehouse.services import receive_stock


@pytest.fixture
def outbound(site):
    return sf.add_outbound_layout(site)


def order_payload(site, customer, product, number: str, **extra) -> dict:
    start, end = sf.window()
    return {
        "warehouse": site.warehouse.id,
        "customer": customer.id,
        "number": number,
        "requested_date": str(timezone.localdate()),
        "promised_window_start": start.isoformat(),
        "promised_window_end": end.isoformat(),
        "lines": [{"product": product.id, "quantity": 2, "pack": "case"}],
        **extra,
    }


def released_list(outbound, product, users, quantity: int = 3) -> PickList:
    receive_stock(location_id=outbound.pick_faces[0].id, product_id=product.id, quantity=10)
    order = sf.make_order(sf.make_customer(outbound.warehouse), [(product, quantity)])
    services.allocate_order(order_id=order.id)
    wave = services.plan_wave(
        warehouse_id=outbound.warehouse.id,
        dispatch_date=timezone.localdate(),
        cutoff_at=timezone.now(),
    )
    services.release_wave(wave_id=wave.id)
    pick_list = wave.pick_lists.get()
    services.assign_pick_list(pick_list_id=pick_list.id, picker_id=users["picker"].id)
    return pick_list


def test_bulk_creates_500_orders_in_bounded_queries(
    outbound, product, users, api, django_assert_max_num_queries
):
    customer = sf.make_customer(outbound.warehouse)
    payload = {
        "orders": [
            order_payload(outbound.site, customer, product, f"BULK-{n:04d}") for n in range(500)
        ]
    }
    # Auth + 4 look-ups + orders + lines + events + savepoints: independent of the count.
    with django_assert_max_num_queries(16):
        response = api["dispatcher"].post("/api/v1/orders/bulk/", payload, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 500
    assert Order.objects.count() == 500
    assert {line.quantity for o in Order.objects.all()[:5] for line in o.lines.all()} == {24}


def test_bulk_is_all_or_nothing_with_field_errors(outbound, product, api):
    customer = sf.make_customer(outbound.warehouse)
    good = order_payload(outbound.site, customer, product, "A-1")
    bad = order_payload(outbound.site, customer, product, "A-1")  # duplicate number
    response = api["dispatcher"].post("/api/v1/orders/bulk/", {"orders": [good, bad]})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "number" in response.json()["errors"]["orders"]["1"]
    assert not Order.objects.exists()


def test_order_create_roles_and_quantities(outbound, product, api):
    customer = sf.make_customer(outbound.warehouse)
    payload = order_payload(outbound.site, customer, product, "SO-1")
    assert api["picker"].post("/api/v1/orders/", payload).status_code == 403
    zero = {**payload, "lines": [{"product": product.id, "quantity": 0}]}
    response = api["dispatcher"].post("/api/v1/orders/", zero)
    assert response.status_code == 400
    assert "lines" in response.json()["errors"]
    unknown_pack = {**payload, "lines": [{"product": product.id, "quantity": 1, "pack": "crate"}]}
    assert api["dispatcher"].post("/api/v1/orders/", unknown_pack).status_code == 400
    response = api["dispatcher"].post("/api/v1/orders/", payload)
    assert response.status_code == 201
    assert response.json()["lines"][0]["quantity"] == 24
    order_id = response.json()["id"]
    # Another warehouse's manager cannot see it.
    assert api["outsider"].get(f"/api/v1/orders/{order_id}/").status_code == 404


def test_order_list_query_count_is_fixed(outbound, product, api, django_assert_max_num_queries):
    customer = sf.make_customer(outbound.warehouse)
    for _ in range(30):
        sf.make_order(customer, [(product, 1), (product, 2)])
    with django_assert_max_num_queries(7):
        response = api["manager"].get("/api/v1/orders/?page_size=30")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 30


def test_allocate_and_cancel_by_api(outbound, product, api):
    receive_stock(location_id=outbound.site.bins[0].id, product_id=product.id, quantity=5)
    order = sf.make_order(sf.make_customer(outbound.warehouse), [(product, 5)])
    response = api["dispatcher"].post(f"/api/v1/orders/{order.id}/allocate/")
    assert response.json()["status"] == "allocated"
    response = api["dispatcher"].post(f"/api/v1/orders/{order.id}/cancel/", {"reason": "dup"})
    assert response.json()["status"] == "cancelled"
    response = api["dispatcher"].post(f"/api/v1/orders/{order.id}/cancel/")
    assert response.status_code == 409


def test_wave_planning_roles(outbound, product, api):
    receive_stock(location_id=outbound.site.bins[0].id, product_id=product.id, quantity=5)
    order = sf.make_order(sf.make_customer(outbound.warehouse), [(product, 5)])
    services.allocate_order(order_id=order.id)
    payload = {
        "warehouse": outbound.warehouse.id,
        "dispatch_date": str(timezone.localdate()),
        "cutoff_at": (timezone.now() + dt.timedelta(hours=1)).isoformat(),
        "max_lines": 10,
    }
    assert api["picker"].post("/api/v1/waves/", payload).status_code == 403
    response = api["dispatcher"].post("/api/v1/waves/", payload)
    assert response.status_code == 201, response.content
    wave_id = response.json()["id"]
    assert response.json()["order_count"] == 1
    assert api["dispatcher"].post("/api/v1/waves/", payload).status_code == 409  # none left
    response = api["dispatcher"].post(f"/api/v1/waves/{wave_id}/release/")
    assert response.json()["status"] == "released"
    assert api["dispatcher"].post(f"/api/v1/waves/{wave_id}/release/").status_code == 409


def test_picker_sees_only_own_lists_and_manager_reassigns(outbound, product, users, api):
    pick_list = released_list(outbound, product, users)
    other = make_user("picker2", "picker", site=outbound.site)
    other_api = client_for(other)
    assert other_api.get("/api/v1/pick-lists/").json()["count"] == 0
    assert other_api.get(f"/api/v1/pick-lists/{pick_list.id}/").status_code == 404
    assert api["picker"].get("/api/v1/pick-lists/").json()["count"] == 1
    url = f"/api/v1/pick-lists/{pick_list.id}/assign/"
    assert api["picker"].post(url, {"picker": other.id}).status_code == 403
    assert api["manager"].post(url, {"picker": users["dispatcher"].id}).status_code == 400
    response = api["manager"].post(url, {"picker": other.id})
    assert response.json()["picker"] == other.id
    assert other_api.get("/api/v1/pick-lists/").json()["count"] == 1
    assert api["picker"].get("/api/v1/pick-lists/").json()["count"] == 0


def test_confirm_by_api_is_idempotent_and_checks_scans(outbound, product, users, api):
    pick_list = released_list(outbound, product, users)
    task = pick_list.tasks.get()
    url = f"/api/v1/pick-tasks/{task.id}/confirm/"
    good = {"bin": task.location.code, "item": product.gtin, "quantity": 3}
    assert api["picker"].post(url, good).status_code == 400  # no Idempotency-Key
    key = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    wrong_bin = {**good, "bin": "A-01-01-1"}
    response = api["picker"].post(url, wrong_bin, HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert response.status_code == 422 and response.json()["code"] == "wrong-bin"
    over = {**good, "quantity": 4}
    response = api["picker"].post(url, over, HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert response.status_code == 400 and response.json()["code"] == "over-pick"
    assert api["dispatcher"].post(url, good, **key).status_code == 403
    first = api["picker"].post(url, good, **key)
    again = api["picker"].post(url, good, **key)
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert first.json() == again.json()
    assert StockMove.objects.filter(reason="pick").count() == 1
    # A new key for the done task is an illegal transition.
    response = api["picker"].post(url, good, HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert response.status_code == 409


def test_short_pick_by_api(outbound, product, users, api):
    pick_list = released_list(outbound, product, users)
    task = pick_list.tasks.get()
    response = api["picker"].post(
        f"/api/v1/pick-tasks/{task.id}/short/",
        {"short_reason": "empty_bin", "quantity_picked": 0},
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert response.status_code == 200, response.content
    # The same bin is the only stock: it is blocked by the count, so the line backorders.
    assert response.json()["backordered"] == 3
    assert Order.objects.get().status == Order.Status.BACKORDERED


def test_shipment_flow_by_api(outbound, product, users, api):
    pick_list = released_list(outbound, product, users)
    task = pick_list.tasks.get()
    shipment = Shipment.objects.get()
    base = f"/api/v1/shipments/{shipment.id}"
    response = api["dispatcher"].post(f"{base}/dispatch/")
    assert response.status_code == 409 and response.json()["code"] == "shipment-not-packed"
    services.confirm_pick(
        task_id=task.id,
        bin_code=task.location.code,
        item_scan=product.gtin,
        quantity=task.quantity,
        actor=users["picker"],
    )
    box = {"weight_kg": "2.5", "length_cm": "30", "width_cm": "20", "height_cm": "10"}
    assert api["picker"].post(f"{base}/pack/", {"packages": []}).status_code == 400
    response = api["picker"].post(f"{base}/pack/", {"packages": [box]})
    assert response.status_code == 200, response.content
    sscc = response.json()["packages"][0]["sscc"]
    assert api["picker"].post(f"{base}/stage/", {"staging_lane": 1}).status_code == 403
    bad_lane = {"staging_lane": outbound.site.bins[0].id}
    assert api["dispatcher"].post(f"{base}/stage/", bad_lane).status_code == 400
    lane = {"staging_lane": outbound.lanes[1].id, "outbound_door": outbound.door.id}
    assert api["dispatcher"].post(f"{base}/stage/", lane).json()["status"] == "staged"
    load = {"sscc": sscc, "vehicle": "VAN-7"}
    key = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    assert api["dispatcher"].post("/api/v1/shipments/load/", load, **key).status_code == 200
    unknown = {"sscc": "009501100000099999", "vehicle": "VAN-7"}
    response = api["dispatcher"].post(
        "/api/v1/shipments/load/", unknown, HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )
    assert response.status_code == 404
    assert api["dispatcher"].post(f"{base}/dispatch/").json()["status"] == "dispatched"

    order = shipment.order
    line = order.lines.get()
    late = order.promised_window_end + dt.timedelta(hours=2)
    photo = SimpleUploadedFile("pod.jpg", b"\xff\xd8\xff fake jpeg", content_type="image/jpeg")
    payload = {
        "delivered_at": late.isoformat(),
        "recipient_name": "A. Receiver",
        "exception": "damaged",
        "proof_file": photo,
        "lines": json.dumps([{"order_line": line.id, "quantity": 2}]),
    }
    assert api["picker"].post(f"{base}/deliver/", payload, format="multipart").status_code == 403
    photo.seek(0)
    too_many = {**payload, "lines": json.dumps([{"order_line": line.id, "quantity": 9}])}
    response = api["dispatcher"].post(f"{base}/deliver/", too_many, format="multipart")
    assert response.status_code == 400
    photo.seek(0)
    response = api["dispatcher"].post(f"{base}/deliver/", payload, format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["is_on_time"], body["is_in_full"]) == (False, False)
    assert Delivery.objects.get().proof_file.read() == b"\xff\xd8\xff fake jpeg"
    assert selectors.list_ledger_mismatches() == []
    period = {"since": (timezone.now() - dt.timedelta(days=1)).isoformat()}
    assert api["picker"].get("/api/v1/outbound/kpis/", period).status_code == 403
    kpis = api["manager"].get("/api/v1/outbound/kpis/", {**period, "until": "2999-01-01T00:00Z"})
    kpis = kpis.json()
    assert kpis["deliveries"] == 1 and kpis["on_time"] == 0.0 and kpis["pick_accuracy"] == 1.0


def test_schema_renders_with_outbound_paths(api):
    response = api["manager"].get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    for path in (
        "/api/v1/orders/bulk/",
        "/api/v1/pick-tasks/{id}/confirm/",
        "/api/v1/shipments/{id}/deliver/",
        "/api/v1/shipments/load/",
    ):
        assert path in paths


def test_only_the_task_picker_can_pick(outbound, product, users):
    pick_list = released_list(outbound, product, users)
    task = PickTask.objects.get(pick_list=pick_list)
    stranger = make_user("picker3", "picker", site=outbound.site)
    with pytest.raises(Exception) as caught:
        services.confirm_pick(
            task_id=task.id,
            bin_code=task.location.code,
            item_scan=product.gtin,
            quantity=task.quantity,
            actor=stranger,
        )
    assert getattr(caught.value, "http_status", None) == 403
