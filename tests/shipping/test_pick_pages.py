"""The mobile pick pages through Django's test client: login, scans, errors, idempotency."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import timezone

from shipping import services
from shipping.models import Order, PickList, PickTask
from tests.conftest import make_user
from tests.factories import shipping as sf
from tests.factories import warehouse as wf
from warehouse.models import CountRequest, StockMove
from warehouse.services import receive_stock


@pytest.fixture
def two_task_list(site, users, product):
    """A released pick list of two tasks (two products, two bins) assigned to `picker`."""
    outbound = sf.add_outbound_layout(site)
    second = wf.make_product(sku="AMB-9")
    receive_stock(location_id=outbound.pick_faces[0].id, product_id=product.id, quantity=10)
    receive_stock(location_id=outbound.pick_faces[3].id, product_id=second.id, quantity=10)
    order = sf.make_order(sf.make_customer(site.warehouse), [(product, 3), (second, 4)])
    services.allocate_order(order_id=order.id)
    wave = services.plan_wave(
        warehouse_id=site.warehouse.id, dispatch_date=timezone.localdate(), cutoff_at=timezone.now()
    )
    services.release_wave(wave_id=wave.id)
    pick_list = wave.pick_lists.get()
    services.assign_pick_list(pick_list_id=pick_list.id, picker_id=users["picker"].id)
    return pick_list


def logged_in(username: str) -> Client:
    client = Client()
    response = client.post("/pick/login/", {"username": username, "password": f"pw-{username}"})
    assert response.status_code == 302
    return client


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


def test_login_page_and_roles(two_task_list, users):
    assert Client().get("/pick/").status_code == 302
    page = Client().get("/pick/login/")
    assert page.status_code == 200 and b"autofocus" in page.content
    client = logged_in("picker")
    home = client.get("/pick/")
    assert two_task_list.number in home.content.decode()
    assert logged_in("dispatcher").get("/pick/").status_code == 403
    make_user("picker2", "picker", site=None)
    assert logged_in("picker2").get(f"/pick/lists/{two_task_list.id}/task/").status_code == 404


def test_scan_errors_keep_input_and_confirm_is_idempotent(two_task_list, product):
    client = logged_in("picker")
    url = f"/pick/lists/{two_task_list.id}/task/"
    assert client.post(f"/pick/lists/{two_task_list.id}/start/").status_code == 302
    page = client.get(url).content.decode()
    first = two_task_list.tasks.order_by("sequence").first()
    assert first.location.code in page
    assert 'id="progress">1 of 2<' in page

    wrong = client.post(url, {"task": first.id, "step": "bin", "code": "A-04-01-1"})
    assert wrong.status_code == 422
    body = wrong.content.decode()
    assert "Wrong bin" in body and 'value="A-04-01-1"' in body

    right = client.post(url, {"task": first.id, "step": "bin", "code": first.location.code})
    assert 'name="step" value="item"' in right.content.decode()
    bad_item = client.post(
        url, {"task": first.id, "step": "item", "bin": first.location.code, "code": "4006381333931"}
    )
    assert bad_item.status_code == 422
    assert "Wrong item" in bad_item.content.decode()
    assert 'value="4006381333931"' in bad_item.content.decode()
    item = client.post(
        url,
        {"task": first.id, "step": "item", "bin": first.location.code, "code": first.product.gtin},
    ).content.decode()
    key = hidden(item, "key")
    assert hidden(item, "item") == first.product.gtin
    assert re.search(rf'id="quantity" name="quantity" value="{first.quantity}"', item)

    over = {
        "task": first.id,
        "step": "confirm",
        "bin": first.location.code,
        "item": first.product.gtin,
        "key": key,
        "quantity": first.quantity + 1,
    }
    response = client.post(url, over)
    assert response.status_code == 400 and "Over-pick" in response.content.decode()
    assert f'value="{first.quantity + 1}"' in response.content.decode()

    confirm = {**over, "quantity": first.quantity}
    assert client.post(url, confirm).status_code == 302
    # The handheld lost the answer and sends the same form again: applied once.
    assert client.post(url, confirm).status_code == 302
    assert StockMove.objects.filter(reason="pick").count() == 1
    first.refresh_from_db()
    assert first.status == PickTask.Status.PICKED
    page = client.get(url).content.decode()
    assert 'id="progress">2 of 2<' in page


def test_short_pick_and_finish_from_the_page(two_task_list, users):
    client = logged_in("picker")
    url = f"/pick/lists/{two_task_list.id}/task/"
    tasks = list(two_task_list.tasks.order_by("sequence"))
    # Skip the first task: it moves behind the second.
    page = client.get(url).content.decode()
    skip = client.post(url, {"task": tasks[0].id, "step": "skip", "key": hidden(page, "key")})
    assert skip.status_code == 302
    page = client.get(url).content.decode()
    assert tasks[1].location.code in page and 'id="progress">1 of 2<' in page

    form = client.post(url, {"task": tasks[1].id, "step": "short-form"}).content.decode()
    assert 'name="reason"' in form
    response = client.post(
        url,
        {"task": tasks[1].id, "step": "short", "reason": "empty_bin", "key": hidden(form, "key")},
    )
    assert response.status_code == 302
    count = CountRequest.objects.get()
    assert count.location_id == tasks[1].location_id
    page = client.get(url).content.decode()
    assert tasks[0].location.code in page and 'id="progress">2 of 2<' in page

    for step, code in (("bin", tasks[0].location.code), ("item", tasks[0].product.gtin)):
        page = client.post(
            url, {"task": tasks[0].id, "step": step, "code": code, "bin": tasks[0].location.code}
        ).content.decode()
    done = client.post(
        url,
        {
            "task": tasks[0].id,
            "step": "confirm",
            "bin": tasks[0].location.code,
            "item": tasks[0].product.gtin,
            "quantity": tasks[0].quantity,
            "key": hidden(page, "key"),
        },
        follow=True,
    )
    assert "is done" in done.content.decode()
    assert PickList.objects.get().status == PickList.Status.DONE
    # The finished list offers no start, only the way back.
    finished = client.get(f"/pick/lists/{two_task_list.id}/").content.decode()
    assert 'id="start"' not in finished and 'id="finished"' in finished
    assert Order.objects.get().status == Order.Status.PICKED
    assert Order.objects.get().lines.get(product=tasks[1].product).quantity_backordered == 4


def test_packing_slip_prints_packages(two_task_list, users):
    order = Order.objects.get()
    shipment = order.shipments.get()
    client = logged_in("dispatcher")
    page = client.get(f"/pick/shipments/{shipment.id}/slip/")
    assert page.status_code == 200
    assert order.number in page.content.decode() and "Not packed yet" in page.content.decode()
