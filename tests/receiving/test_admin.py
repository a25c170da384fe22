"""The inbound admin pages render, and its actions go through the services."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from receiving.models import InboundShipment
from tests.factories import receiving as rf

PAGES = [
    "supplier",
    "inspectionrule",
    "inboundshipment",
    "dockappointment",
    "receipt",
    "receiptscan",
    "discrepancy",
    "inspection",
    "putawaytask",
    "inboundevent",
]


@pytest.fixture
def admin_client(db) -> Client:
    user = User.objects.create_superuser("root", password="pw")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_changelists_render(site, product, supplier, admin_client, api):
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 2}], supplier=supplier)
    rf.scan(api["dock"], receipt.id, product.gtin, quantity=2)
    api["dock"].post(f"/api/v1/receipts/{receipt.id}/close/", {})
    for page in PAGES:
        response = admin_client.get(f"/admin/receiving/{page}/")
        assert response.status_code == 200, page
    shipment = receipt.shipment
    assert (
        admin_client.get(f"/admin/receiving/inboundshipment/{shipment.id}/change/").status_code
        == 200
    )


@pytest.mark.django_db
def test_check_in_action_uses_the_service(site, product, supplier, admin_client):
    shipment = rf.make_shipment(site, [{"product": product, "quantity": 1}], supplier=supplier)
    response = admin_client.post(
        "/admin/receiving/inboundshipment/",
        {"action": "check_in", "_selected_action": [shipment.id]},
    )
    assert response.status_code == 302
    shipment.refresh_from_db()
    assert shipment.status == InboundShipment.Status.ARRIVED
    assert shipment.arrived_at is not None
    assert shipment.events.filter(kind="truck_arrived").exists()
