"""The returns admin: pages render, an RMA can be requested there, and its actions call the
services."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from receiving.models import ReturnAuthorisation
from tests.factories import returns as rtf
from tests.factories import shipping as sf

pytestmark = pytest.mark.django_db

PAGES = [
    "returnauthorisation",
    "returnreceipt",
    "returnscan",
    "returndiscrepancy",
    "returndisposition",
    "returnevent",
    "putawaytask",
]


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw"))
    return client


def test_pages_render_with_a_received_return(site, product, admin_client):
    order = rtf.delivered_rows(sf.make_customer(site.warehouse), [(product, 5)])
    rma = rtf.received_rma(site, order, 2, product=product)
    for page in PAGES:
        assert admin_client.get(f"/admin/receiving/{page}/").status_code == 200, page
    filtered = admin_client.get("/admin/receiving/returnauthorisation/?status=received&q=RMA")
    assert rma.number in filtered.content.decode()
    detail = admin_client.get(f"/admin/receiving/returnauthorisation/{rma.id}/change/")
    assert detail.status_code == 200
    assert product.sku in detail.content.decode()


def test_request_in_admin_goes_through_the_service(site, product, admin_client):
    order = rtf.delivered_rows(sf.make_customer(site.warehouse), [(product, 3)])
    form = {"order": order.id, "reason": "wrong_item", "customer_reference": "", "note": ""}
    too_many = admin_client.post(
        "/admin/receiving/returnauthorisation/add/", {**form, "lines_text": "1 4"}
    )
    assert too_many.status_code == 200
    assert "At most 3 of order line 1 can be returned" in too_many.content.decode()
    assert ReturnAuthorisation.objects.count() == 0

    response = admin_client.post(
        "/admin/receiving/returnauthorisation/add/", {**form, "lines_text": "1 2"}
    )
    assert response.status_code == 302
    rma = ReturnAuthorisation.objects.get()
    assert rma.requested_by.username == "root"
    assert list(rma.lines.values_list("quantity", "reason")) == [(2, "wrong_item")]

    response = admin_client.post(
        "/admin/receiving/returnauthorisation/",
        {"action": "authorise", "_selected_action": [rma.id]},
    )
    assert response.status_code == 302
    rma.refresh_from_db()
    assert rma.status == "authorised"
    assert rma.events.filter(kind="rma_authorised", actor__username="root").exists()
    admin_client.post(
        "/admin/receiving/returnauthorisation/",
        {"action": "reject", "_selected_action": [rma.id]},
    )
    rma.refresh_from_db()
    assert rma.status == "rejected"
    assert rma.rejection_reason == "Rejected in admin by root."
