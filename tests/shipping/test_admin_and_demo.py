"""Admin pages render for every outbound model; the demo seed is idempotent."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from shipping import demo
from shipping.models import Customer, Order, Wave
from tests.factories import shipping as sf
from warehouse.services import receive_stock

MODELS = [
    "customer",
    "order",
    "allocation",
    "wave",
    "picklist",
    "picktask",
    "shipment",
    "package",
    "delivery",
    "serialcounter",
    "outboundevent",
]


@pytest.fixture
def admin_client_(db) -> Client:
    User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.login(username="root", password="pw")
    return client


def test_every_outbound_admin_page_renders(admin_client_, site, product):
    outbound = sf.add_outbound_layout(site)
    receive_stock(location_id=outbound.pick_faces[0].id, product_id=product.id, quantity=5)
    demo.seed(warehouse=site.warehouse, stdout=io.StringIO())
    for model in MODELS:
        response = admin_client_.get(reverse(f"admin:shipping_{model}_changelist"))
        assert response.status_code == 200, model
    order = Order.objects.first()
    assert (
        admin_client_.get(reverse("admin:shipping_order_change", args=[order.id])).status_code
        == 200
    )
    assert admin_client_.get(reverse("admin:warehouse_countrequest_changelist")).status_code == 200


def test_demo_seed_is_idempotent(site, product):
    outbound = sf.add_outbound_layout(site)
    receive_stock(location_id=outbound.pick_faces[0].id, product_id=product.id, quantity=50)
    out = io.StringIO()
    demo.seed(warehouse=site.warehouse, stdout=out)
    counts = (Customer.objects.count(), Order.objects.count(), Wave.objects.count())
    demo.seed(warehouse=site.warehouse, stdout=out)
    assert (Customer.objects.count(), Order.objects.count(), Wave.objects.count()) == counts
    assert counts[1] == demo.ORDERS and counts[2] == 1
