"""Fields the warehouse sets itself (states, quantities received, allocated or shipped, who and
when) cannot be set through the API: sent along, they are ignored, or the write is refused.

States change only through their transition endpoints, and quantities only through scans and
stock moves, so that the ledger, the audit trail and the state machines stay true.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.core.cache import cache
from django.utils import timezone

from receiving.models import DockAppointment, InboundShipment, Receipt
from routing.models import RoutePlan
from shipping.models import Order, Shipment, Wave
from tests.conftest import client_for, make_user
from tests.factories import receiving as rf
from tests.factories import routing as routing_f
from tests.factories import shipping as sf
from tests.factories import states
from tests.factories import warehouse as wf
from warehouse.models import DeviceToken, StockBalance, StockMove
from warehouse.services import receive_stock

pytestmark = pytest.mark.django_db

API = "/api/v1"
FOREVER = "2099-01-01T00:00:00Z"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()


@pytest.fixture
def layout(site):
    return sf.add_outbound_layout(site)


def tomorrow_at(site, hour: int) -> dt.datetime:
    return rf.local(site, timezone.localdate() + dt.timedelta(days=1), hour)


def test_balances_cannot_be_written_at_all(api, site, product):
    receive_stock(location_id=site.bins[0].id, product_id=product.id, quantity=5)
    balance = StockBalance.objects.get()
    forged = {"quantity": 500, "allocated": 5, "status": "damaged"}
    url = f"{API}/stock/balances/{balance.id}/"
    answers = [
        api["manager"].patch(url, forged, format="json").status_code,
        api["manager"].put(url, forged, format="json").status_code,
        api["manager"].post(f"{API}/stock/balances/", forged, format="json").status_code,
        api["manager"].delete(url).status_code,
    ]
    assert answers == [405, 405, 405, 405]
    balance.refresh_from_db()
    assert (balance.quantity, balance.allocated, balance.status) == (5, 0, "available")


def test_the_ledger_cannot_be_written_but_by_transfers_and_adjustments(api, site, product, users):
    receive_stock(location_id=site.bins[0].id, product_id=product.id, quantity=5)
    move = StockMove.objects.get()
    url = f"{API}/stock/moves/{move.id}/"
    assert api["manager"].patch(url, {"quantity": 50}, format="json").status_code == 405
    assert api["manager"].delete(url).status_code == 405
    # An adjustment records who made it and when, whatever the body claims.
    response = api["manager"].post(
        f"{API}/stock/moves/adjustments/",
        {
            "warehouse": "AMS",
            "location": site.bins[0].code,
            "product": product.sku,
            "delta": 2,
            "actor": "dock",
            "created_at": "2001-01-01T00:00:00Z",
            "from_status": "damaged",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    adjustment = StockMove.objects.get(id=response.json()["id"])
    assert adjustment.actor == users["manager"]
    assert adjustment.created_at > timezone.now() - dt.timedelta(minutes=1)
    assert StockBalance.objects.get().quantity == 7


def test_an_order_starts_new_with_nothing_allocated_whatever_it_says(api, layout, product):
    customer = sf.make_customer(layout.warehouse)
    start, end = sf.window()
    response = api["dispatcher"].post(
        f"{API}/orders/",
        {
            "warehouse": layout.warehouse.id,
            "customer": customer.id,
            "number": "SO-RO-1",
            "requested_date": str(timezone.localdate()),
            "promised_window_start": start.isoformat(),
            "promised_window_end": end.isoformat(),
            "status": "dispatched",
            "wave": 1,
            "created_at": "2001-01-01T00:00:00Z",
            "lines": [
                {
                    "product": product.id,
                    "quantity": 3,
                    "quantity_allocated": 3,
                    "quantity_picked": 3,
                    "quantity_shipped": 3,
                }
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    order = Order.objects.get(number="SO-RO-1")
    assert (order.status, order.wave_id) == (Order.Status.NEW, None)
    line = order.lines.get()
    assert (line.quantity, line.quantity_allocated, line.quantity_picked) == (3, 0, 0)
    assert line.quantity_shipped == 0
    url = f"{API}/orders/{order.id}/"
    assert api["manager"].patch(url, {"status": "allocated"}, format="json").status_code == 405
    assert api["manager"].put(url, {"status": "allocated"}, format="json").status_code == 405
    order.refresh_from_db()
    assert order.status == Order.Status.NEW


def test_shipments_waves_and_pick_work_change_state_only_by_their_actions(
    api, layout, product, users
):
    shipment = states.picked_shipment(layout, product, users["picker"])
    for field, value in (("status", "delivered"), ("vehicle_code", "VAN-9")):
        response = api["manager"].patch(
            f"{API}/shipments/{shipment.id}/", {field: value}, format="json"
        )
        assert response.status_code == 405
    # Packing ignores a status or a packed time sent along.
    response = api["dispatcher"].post(
        f"{API}/shipments/{shipment.id}/pack/",
        {
            "status": "dispatched",
            "packed_at": "2001-01-01T00:00:00Z",
            "packages": [
                {"weight_kg": "4.2", "length_cm": "40", "width_cm": "30", "height_cm": "20"}
            ],
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.PACKED
    assert shipment.packed_at > timezone.now() - dt.timedelta(minutes=1)

    order = states.allocated_order(layout, product)
    response = api["dispatcher"].post(
        f"{API}/waves/",
        {
            "warehouse": layout.warehouse.id,
            "dispatch_date": str(timezone.localdate()),
            "cutoff_at": (timezone.now() + dt.timedelta(hours=1)).isoformat(),
            "order_ids": [order.id],
            "status": "released",
            "released_at": "2001-01-01T00:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    wave = Wave.objects.get(id=response.json()["id"])
    assert (wave.status, wave.released_at) == (Wave.Status.PLANNED, None)
    url = f"{API}/waves/{wave.id}/"
    assert api["manager"].patch(url, {"status": "completed"}, format="json").status_code == 405

    task = states.started_pick_task(layout, product, users["picker"])
    url = f"{API}/pick-tasks/{task.id}/"
    forged = {"status": "picked", "quantity_picked": 2}
    assert api["picker"].patch(url, forged, format="json").status_code == 405
    # A confirmation picks what was scanned, not what the body says was picked.
    response = api["picker"].post(
        f"{url}confirm/",
        {
            "bin": task.location.code,
            "item": product.gtin,
            "quantity": 1,
            "quantity_picked": 2,
            "status": "picked",
            "picked_by": users["manager"].id,
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert response.status_code == 200, response.content
    task.refresh_from_db()
    assert task.quantity_picked == 1
    assert task.picked_by == users["picker"]


def test_an_asn_starts_announced_with_nothing_received(api, site, product):
    supplier = rf.make_supplier()
    response = api["manager"].post(
        f"{API}/inbound-shipments/",
        {
            "warehouse": "AMS",
            "supplier": supplier.code,
            "reference": "ASN-RO-1",
            "expected_arrival": tomorrow_at(site, 9).isoformat(),
            "status": "received",
            "arrived_at": "2001-01-01T00:00:00Z",
            "lines": [
                {
                    "sku": product.sku,
                    "quantity": 4,
                    "received_quantity": 4,
                    "damaged_quantity": 1,
                    "is_expected": False,
                }
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    shipment = InboundShipment.objects.get(reference="ASN-RO-1")
    assert (shipment.status, shipment.arrived_at) == (InboundShipment.Status.ANNOUNCED, None)
    line = shipment.lines.get()
    assert (line.expected_quantity, line.received_quantity, line.damaged_quantity) == (4, 0, 0)
    assert line.is_expected
    url = f"{API}/inbound-shipments/{shipment.id}/"
    assert api["manager"].patch(url, {"status": "arrived"}, format="json").status_code == 405

    response = api["dock"].post(
        f"{API}/dock-appointments/",
        {
            "shipment": shipment.id,
            "door": site.doors[0].id,
            "starts_at": tomorrow_at(site, 10).isoformat(),
            "status": "cancelled",
            "is_automatic": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    appointment = DockAppointment.objects.get(id=response.json()["id"])
    assert (appointment.status, appointment.is_automatic) == ("booked", False)

    arrived = states.arrived_asn(site, product)
    response = api["dock"].post(
        f"{API}/receipts/",
        {"shipment": arrived.id, "door": site.doors[0].id, "status": "closed"},
        format="json",
    )
    assert response.status_code == 201, response.content
    receipt = Receipt.objects.get(id=response.json()["id"])
    assert (receipt.status, receipt.closed_at) == (Receipt.Status.OPEN, None)


def test_a_route_plan_starts_as_a_draft(api, layout, product):
    day = states.delivery_day()
    shipment = routing_f.make_shipment(sf.make_customer(layout.warehouse), product, 2, day=day)
    response = api["dispatcher"].post(
        f"{API}/route-plans/",
        {
            "warehouse": "AMS",
            "delivery_date": day.isoformat(),
            "shipments": [shipment.number],
            "solve": False,
            "status": "approved",
            "approved_at": "2001-01-01T00:00:00Z",
            "total_distance_m": 1,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    plan = RoutePlan.objects.get(id=response.json()["id"])
    assert (plan.status, plan.approved_at, plan.approved_by) == ("draft", None, None)
    assert plan.total_distance_m == 0
    url = f"{API}/route-plans/{plan.id}/"
    assert api["manager"].patch(url, {"status": "approved"}, format="json").status_code == 405


def test_layout_load_figures_and_token_lifetimes_are_computed(api, site, users):
    response = api["manager"].patch(
        f"{API}/locations/{site.bins[0].id}/",
        {"used_weight_kg": "999", "free_weight_kg": "0", "zone_kind": "staging", "aisle": "Q"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["aisle"], body["used_weight_kg"], body["zone_kind"]) == ("Q", "0.00", "storage")

    response = api["anonymous"].post(
        f"{API}/auth/tokens/",
        {
            "username": "dock",
            "password": "pw-dock",
            "device_name": "Forever scanner",
            "expires_at": FOREVER,
            "user": "manager",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    token = DeviceToken.objects.get(id=response.json()["id"])
    assert token.user == users["dock"]
    assert token.expires_at < timezone.now() + dt.timedelta(days=181)
    url = f"{API}/auth/tokens/{token.id}/"
    forged = {"expires_at": FOREVER, "revoked_at": None}
    assert api["manager"].patch(url, forged, format="json").status_code == 405


def test_output_serializers_of_stateful_rows_are_read_only():
    """The serializers say so too: none would store a field a client sent."""
    from shipping.api.serializers import OrderSerializer, PickTaskSerializer, ShipmentSerializer
    from warehouse.api.serializers import StockBalanceSerializer

    for serializer in (
        StockBalanceSerializer,
        OrderSerializer,
        ShipmentSerializer,
        PickTaskSerializer,
    ):
        writable = [name for name, f in serializer().fields.items() if not f.read_only]
        assert writable == [], f"{serializer.__name__} has writable fields {writable}"


def test_bins_customers_and_vehicles_stay_in_their_warehouse(site, users):
    """Someone on the staff of two warehouses still cannot move a bin (with its stock), a
    customer (with its orders) or a vehicle (with its routes) from one to the other."""
    other = wf.make_site(code="NORTH")
    regional = make_user("regional", "manager", site=site)
    other.warehouse.staff.add(regional)
    client = client_for(regional)
    customer = sf.make_customer(site.warehouse)
    vehicle = routing_f.make_vehicle(site.warehouse)
    answers = [
        client.patch(
            f"{API}/locations/{site.bins[0].id}/",
            {"warehouse": "NORTH", "zone": "store"},
            format="json",
        ),
        client.patch(
            f"{API}/customers/{customer.id}/", {"warehouse": other.warehouse.id}, format="json"
        ),
        client.patch(f"{API}/vehicles/{vehicle.id}/", {"warehouse": "NORTH"}, format="json"),
    ]
    for response in answers:
        assert response.status_code == 400, response.content
        assert "cannot move to another warehouse" in response.json()["errors"]["warehouse"][0]
    site.bins[0].refresh_from_db()
    customer.refresh_from_db()
    vehicle.refresh_from_db()
    assert {site.bins[0].warehouse_id, customer.warehouse_id, vehicle.warehouse_id} == {
        site.warehouse.id
    }
