"""The putaway strategy's choices, and confirmations into bins that cannot take the stock."""

from __future__ import annotations

from decimal import Decimal

import pytest

from receiving.models import PutawayTask
from receiving.putaway import propose_bin, rank_bins
from tests.factories import receiving as rf
from tests.factories import warehouse as wf
from warehouse import services as inventory
from warehouse.models import Location, StockBalance
from warehouse.selectors import list_ledger_mismatches


def proposal(site, product, quantity: int, lot=None) -> str | None:
    found = propose_bin(
        warehouse_id=site.warehouse.id,
        product=product,
        lot_id=lot.id if lot else None,
        quantity=quantity,
        origin=site.dock,
    )
    return found.code if found else None


@pytest.mark.django_db
def test_nearest_bin_of_the_right_class(site, product, lot_product):
    # Dock at (0, 0); ambient bins at x = 2, 4, 6, 8 on y = 10; chilled at x = 2, 4 on y = 30.
    assert proposal(site, product, 10) == "A-01-01-1"
    assert proposal(site, lot_product, 10) == "C-01-01-1"
    site.dock.x, site.dock.y = Decimal(8), Decimal(10)
    site.dock.save()
    assert proposal(site, product, 10) == "A-04-01-1"


@pytest.mark.django_db
def test_bins_without_room_are_skipped(site, product):
    heavy = wf.make_product(
        sku="HEAVY", unit_weight_kg=Decimal(100), unit_volume_m3=Decimal("0.01")
    )
    inventory.receive_stock(location_id=site.bins[0].id, product_id=heavy.id, quantity=9)
    # A-01 holds 900 of 1000 kg: 10 x 1.5 kg fits, 100 x 1.5 kg does not.
    assert proposal(site, product, 10) == "A-01-01-1"
    assert proposal(site, product, 100) == "A-02-01-1"
    # Volume counts too: 2 m3 per bin, 0.001 m3 per unit of AMB-1.
    assert proposal(site, product, 2001) is None
    assert proposal(site, product, 600) == "A-02-01-1"


@pytest.mark.django_db
def test_consolidation_beats_distance_but_only_for_the_same_lot(site, lot_product):
    lot_a = wf.make_lot(lot_product, "A")
    lot_b = wf.make_lot(lot_product, "B")
    inventory.receive_stock(
        location_id=site.chilled_bins[1].id, product_id=lot_product.id, lot_id=lot_a.id, quantity=5
    )
    assert proposal(site, lot_product, 5, lot_a) == "C-02-01-1"
    assert proposal(site, lot_product, 5, lot_b) == "C-01-01-1"


@pytest.mark.django_db
def test_ranking_is_one_query_however_many_bins(site, product, django_assert_num_queries):
    for bay in range(5, 60):
        Location.objects.create(
            warehouse=site.warehouse,
            zone=site.zones["storage"],
            code=f"A-{bay:02d}-01-1",
            x=Decimal(bay * 2),
            y=Decimal(10),
            max_weight_kg=Decimal(1000),
            max_volume_m3=Decimal(2),
        )
        inventory.receive_stock(
            location_id=Location.objects.get(code=f"A-{bay:02d}-01-1").id,
            product_id=product.id,
            quantity=1,
        )
    with django_assert_num_queries(1):
        ranked = list(
            rank_bins(
                warehouse_id=site.warehouse.id,
                product=product,
                lot_id=None,
                quantity=1,
                origin=site.dock,
            )
        )
    # Bins holding AMB-1 come first (consolidation), nearest of them first.
    assert ranked[0].code == "A-05-01-1"
    assert ranked[0].holds_same_lot is True
    assert ranked[-1].holds_same_lot is False


def _task(site, product, api, supplier, quantity: int) -> PutawayTask:
    receipt = rf.make_open_receipt(
        site, [{"product": product, "quantity": quantity}], supplier=supplier
    )
    rf.scan(api["dock"], receipt.id, product.gtin, quantity=quantity)
    api["dock"].post(f"/api/v1/receipts/{receipt.id}/close/", {})
    return PutawayTask.objects.get(receipt=receipt)


def confirm(api, task, bin_code, key):
    return api["dock"].post(
        f"/api/v1/putaway-tasks/{task.id}/confirm/", {"bin": bin_code}, HTTP_IDEMPOTENCY_KEY=key
    )


@pytest.mark.django_db
def test_confirm_refuses_bins_that_cannot_take_the_stock(site, product, api, supplier):
    task = _task(site, product, api, supplier, 100)  # 150 kg
    heavy = wf.make_product(sku="HEAVY", unit_weight_kg=Decimal(100))
    inventory.receive_stock(location_id=site.bins[1].id, product_id=heavy.id, quantity=9)

    full = confirm(api, task, "A-02-01-1", "k1")
    assert full.status_code == 409
    assert full.json()["code"] == "capacity-exceeded"
    assert "A-02-01-1 holds 900.0 of 1000" in full.json()["detail"]

    wrong_class = confirm(api, task, "C-01-01-1", "k2")
    assert wrong_class.status_code == 409
    assert wrong_class.json()["code"] == "wrong-storage-class"
    assert "ambient storage" in wrong_class.json()["detail"]

    staging = confirm(api, task, "STAGE-1", "k3")
    assert staging.status_code == 409
    assert staging.json()["code"] == "not-a-storage-bin"

    unknown = confirm(api, task, "Z-99", "k4")
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown-bin"

    task.refresh_from_db()
    assert task.status == "open"
    assert StockBalance.objects.get(location=site.dock, product=product).quantity == 100

    # A different valid bin than proposed is accepted and recorded; a replay changes nothing.
    assert task.proposed_location.code == "A-01-01-1"
    done = confirm(api, task, "a-03-01-1", "k5")
    assert done.status_code == 200, done.json()
    assert confirm(api, task, "a-03-01-1", "k5").json() == done.json()
    task.refresh_from_db()
    assert (task.status, task.confirmed_location.code) == ("done", "A-03-01-1")
    assert task.is_proposal_followed is False
    assert task.dock_to_stock is not None
    assert StockBalance.objects.get(location=site.bins[2], product=product).quantity == 100
    again = confirm(api, task, "A-01-01-1", "k6")
    assert again.status_code == 409
    assert list_ledger_mismatches() == []


@pytest.mark.django_db
def test_a_driver_who_finds_the_proposed_bin_full_asks_again(site, product, api, supplier):
    task = _task(site, product, api, supplier, 100)  # 150 kg
    assert task.proposed_location.code == "A-01-01-1"
    # Another door's goods filled A-01 since the proposal: 900 of its 1,000 kg.
    heavy = wf.make_product(sku="HEAVY", unit_weight_kg=Decimal(100))
    inventory.receive_stock(location_id=site.bins[0].id, product_id=heavy.id, quantity=9)
    assert confirm(api, task, "A-01-01-1", "k1").json()["code"] == "capacity-exceeded"

    again = api["dock"].post(f"/api/v1/putaway-tasks/{task.id}/propose/")
    assert again.status_code == 200
    assert again.json()["proposed_bin"] == "A-02-01-1"
    assert confirm(api, task, "A-02-01-1", "k2").status_code == 200
    task.refresh_from_db()
    assert (task.confirmed_location.code, task.is_proposal_followed) == ("A-02-01-1", True)
    # A finished task has nothing left to propose.
    assert api["dock"].post(f"/api/v1/putaway-tasks/{task.id}/propose/").status_code == 409


@pytest.mark.django_db
def test_no_bin_with_room_leaves_the_task_without_a_proposal(site, product, api, supplier):
    task = _task(site, product, api, supplier, 100)
    # Every ambient bin nearly full by weight.
    heavy = wf.make_product(sku="HEAVY", unit_weight_kg=Decimal(100))
    ambient = [b for b in Location.objects.filter(zone=site.bins[0].zone)]
    for location in ambient:
        inventory.receive_stock(location_id=location.id, product_id=heavy.id, quantity=9)
    again = api["dock"].post(f"/api/v1/putaway-tasks/{task.id}/propose/")
    assert again.status_code == 200
    assert again.json()["proposed_bin"] is None
    task.refresh_from_db()
    assert task.proposed_location is None
