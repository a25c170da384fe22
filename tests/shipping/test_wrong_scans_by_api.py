"""Found by the simulated day (bench/simulate): a wrong bin or wrong item scanned through the
API was answered 422 but never counted, because the refusal rolled back the request's
transaction with the count in it; pick accuracy was overstated. Each refused scan now counts
once, its replays with the same Idempotency-Key not again."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from shipping import services
from shipping.errors import WrongBin
from shipping.models import PickList
from tests.factories import shipping as sf
from warehouse.services import receive_stock


@pytest.fixture
def pick_list(site, product, users) -> PickList:
    layout = sf.add_outbound_layout(site)
    receive_stock(location_id=layout.pick_faces[0].id, product_id=product.id, quantity=10)
    order = sf.make_order(sf.make_customer(layout.warehouse), [(product, 3)])
    services.allocate_order(order_id=order.id)
    wave = services.plan_wave(
        warehouse_id=layout.warehouse.id,
        dispatch_date=timezone.localdate(),
        cutoff_at=timezone.now(),
    )
    services.release_wave(wave_id=wave.id)
    pick_list = wave.pick_lists.get()
    services.assign_pick_list(pick_list_id=pick_list.id, picker_id=users["picker"].id)
    return pick_list


def test_wrong_bin_and_item_by_api_count_once_per_key(pick_list, product, api):
    task = pick_list.tasks.get()
    url = f"/api/v1/pick-tasks/{task.id}/confirm/"
    good = {"bin": task.location.code, "item": product.gtin, "quantity": 3}
    wrong_bin = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    for _ in range(2):  # the handheld lost the answer and sent it again
        response = api["picker"].post(url, {**good, "bin": "Z-99-99-9"}, **wrong_bin)
        assert response.status_code == 422 and response.json()["code"] == "wrong-bin"
    response = api["picker"].post(
        url, {**good, "item": "4006381333931"}, HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )
    assert response.status_code == 422 and response.json()["code"] == "wrong-item"
    task.refresh_from_db()
    assert (task.wrong_bin_scans, task.wrong_item_scans) == (1, 1)

    response = api["picker"].post(url, good, HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert response.status_code == 200
    kpis = api["manager"].get("/api/v1/outbound/kpis/").json()
    assert (kpis["pick_tasks"], kpis["pick_accuracy"]) == (1, 0.0)


def test_wrong_bin_outside_a_transaction_counts_once(pick_list, product, users):
    """The pick pages call the service without the API's transaction: still counted once."""
    task = pick_list.tasks.get()
    with pytest.raises(WrongBin):
        services.check_bin(task_id=task.id, code="Z-99-99-9")
    task.refresh_from_db()
    assert task.wrong_bin_scans == 1
