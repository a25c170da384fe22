"""Allocation rules: FEFO with shelf life, FIFO, pick faces first, partial vs whole, backorders."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import OperationalError
from django.utils import timezone

from shipping import services
from shipping.errors import ConcurrentUpdate
from shipping.models import Allocation, Order
from shipping.services.common import retry_on_conflict
from tests.factories import shipping as sf
from tests.factories import warehouse as wf
from warehouse import selectors
from warehouse.models import StockBalance, StockStatus
from warehouse.services import adjust_stock, change_stock_status, receive_stock


@pytest.fixture
def outbound(site):
    return sf.add_outbound_layout(site)


def test_order_quantity_in_packs_converts_to_base_units(outbound, product):
    customer = sf.make_customer(outbound.warehouse)
    order = sf.make_order(customer, [(product, 3, "case"), (product, 5)])
    assert [line.quantity for line in order.lines.order_by("line_number")] == [36, 5]


def test_fefo_skips_lots_too_short_for_the_customer(outbound, lot_product):
    lot_product.min_remaining_shelf_life_days = 10
    lot_product.save()
    today = timezone.localdate()
    short_lot = wf.make_lot(lot_product, "SHORT", today + dt.timedelta(days=5))
    early = wf.make_lot(lot_product, "EARLY", today + dt.timedelta(days=20))
    late = wf.make_lot(lot_product, "LATE", today + dt.timedelta(days=60))
    chilled = outbound.site.chilled_bins
    for lot, location in ((late, chilled[0]), (short_lot, chilled[0]), (early, chilled[1])):
        receive_stock(location_id=location.id, product_id=lot_product.id, quantity=5, lot_id=lot.id)
    customer = sf.make_customer(outbound.warehouse)
    order = sf.make_order(customer, [(lot_product, 7)])

    result = services.allocate_order(order_id=order.id)

    assert result.status == Order.Status.ALLOCATED
    taken = {a.lot.code: a.quantity for a in Allocation.objects.select_related("lot")}
    assert taken == {"EARLY": 5, "LATE": 2}


def test_customer_override_of_shelf_life_is_honoured(outbound, lot_product):
    today = timezone.localdate()
    lot = wf.make_lot(lot_product, "L20", today + dt.timedelta(days=20))
    receive_stock(
        location_id=outbound.site.chilled_bins[0].id,
        product_id=lot_product.id,
        quantity=5,
        lot_id=lot.id,
    )
    picky = sf.make_customer(outbound.warehouse, min_remaining_shelf_life_days=30)
    order = sf.make_order(picky, [(lot_product, 1)])
    assert services.allocate_order(order_id=order.id).status == Order.Status.BACKORDERED


def test_pick_face_first_and_never_quarantine(outbound, product):
    storage, face = outbound.site.bins[0], outbound.pick_faces[0]
    receive_stock(location_id=storage.id, product_id=product.id, quantity=10)
    receive_stock(location_id=face.id, product_id=product.id, quantity=4)
    receive_stock(
        location_id=outbound.site.quarantine.id,
        product_id=product.id,
        quantity=50,
        status=StockStatus.QUARANTINE,
    )
    customer = sf.make_customer(outbound.warehouse)
    order = sf.make_order(customer, [(product, 6)])
    services.allocate_order(order_id=order.id)
    taken = {a.location.code: a.quantity for a in Allocation.objects.select_related("location")}
    assert taken == {face.code: 4, storage.code: 2}


def test_all_or_nothing_versus_partial(outbound, product):
    other = wf.make_product()
    receive_stock(location_id=outbound.site.bins[0].id, product_id=product.id, quantity=5)
    customer = sf.make_customer(outbound.warehouse)
    whole = sf.make_order(customer, [(product, 3), (other, 2)])
    partial = sf.make_order(customer, [(product, 3), (other, 2)], allow_partial=True)

    assert services.allocate_order(order_id=whole.id).status == Order.Status.BACKORDERED
    result = services.allocate_order(order_id=partial.id)

    assert result.status == Order.Status.PARTIALLY_ALLOCATED
    assert (result.allocated, result.backordered) == (3, 2)
    assert not Allocation.objects.filter(order_line__order=whole).exists()
    assert StockBalance.objects.get(product=product).allocated == 3


def test_backorder_filled_when_stock_is_put_away(
    outbound, product, django_capture_on_commit_callbacks
):
    customer = sf.make_customer(outbound.warehouse)
    order = sf.make_order(customer, [(product, 4)])
    assert services.allocate_order(order_id=order.id).status == Order.Status.BACKORDERED

    # Stock arriving in quarantine is not available: nothing happens yet.
    receive_stock(
        location_id=outbound.site.quarantine.id,
        product_id=product.id,
        quantity=4,
        status=StockStatus.QUARANTINE,
    )
    order.refresh_from_db()
    assert order.status == Order.Status.BACKORDERED

    # Release from quarantine into a bin (the listener fires after commit; Celery is eager).
    change_stock_status(
        location_id=outbound.site.quarantine.id,
        product_id=product.id,
        quantity=4,
        from_status="quarantine",
        to_status="available",
        reason="release",
    )
    order.refresh_from_db()
    assert order.status == Order.Status.BACKORDERED  # quarantine is not a stocking zone

    # The stock listener runs on commit and enqueues the (eager) re-allocation task.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        adjust_stock(location_id=outbound.site.bins[1].id, product_id=product.id, delta=4)
    assert callbacks
    order.refresh_from_db()
    assert order.status == Order.Status.ALLOCATED
    assert order.lines.get().quantity_backordered == 0


def test_cancel_releases_the_allocation(outbound, product):
    receive_stock(location_id=outbound.site.bins[0].id, product_id=product.id, quantity=5)
    order = sf.make_order(sf.make_customer(outbound.warehouse), [(product, 5)])
    services.allocate_order(order_id=order.id)
    services.cancel_order(order_id=order.id)
    assert StockBalance.objects.get(product=product).allocated == 0
    assert Order.objects.get(id=order.id).status == Order.Status.CANCELLED
    assert selectors.list_ledger_mismatches() == []


class _Deadlock(Exception):
    sqlstate = "40P01"


@pytest.mark.django_db(transaction=True)
def test_deadlock_victims_are_retried_then_refused_cleanly():
    calls = []

    @retry_on_conflict
    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("deadlock detected") from _Deadlock()
        return "done"

    assert flaky() == "done"
    assert len(calls) == 3

    @retry_on_conflict
    def hopeless() -> None:
        raise OperationalError("deadlock detected") from _Deadlock()

    with pytest.raises(ConcurrentUpdate):
        hopeless()
