"""Allocation that loses a race: stock emptied between the plan and the batch statement.

A competitor is simulated deterministically: just before the first `allocate_stock_batch`
statement of an allocation it takes units with `allocate_stock`, as another allocator
committing in between would. Only the orders that counted on that balance are planned again.
"""

from __future__ import annotations

import logging
import random
import threading

import pytest
from django.db import connection
from django.db.models import Sum

from shipping import services
from shipping.models import Allocation, Order
from shipping.services import allocation as allocation_module
from tests.factories import shipping as sf
from tests.factories import warehouse as wf
from warehouse import selectors
from warehouse.errors import InsufficientStock
from warehouse.models import StockBalance
from warehouse.services import allocate_stock, allocate_stock_batch, receive_stock


@pytest.fixture
def outbound(site):
    return sf.add_outbound_layout(site)


def stock(location, product, quantity: int) -> int:
    receive_stock(location_id=location.id, product_id=product.id, quantity=quantity)
    return StockBalance.objects.get(location=location, product=product).id


def competitor_takes(monkeypatch, balance_id: int, quantity: int) -> list[list[tuple[int, int]]]:
    """Right after the first (unlocked) read of free stock, someone else takes units.

    Returns the requests of every batch statement sent, sorted, as they are sent.
    """
    real_load = allocation_module._load_candidates
    reads: list[bool] = []
    statements: list[list[tuple[int, int]]] = []

    def load_then_race(**kwargs):
        found = real_load(**kwargs)
        if not reads:
            allocate_stock(balance_id=balance_id, quantity=quantity)
        reads.append(kwargs["lock"])
        return found

    def recording(*, requests):
        statements.append(sorted(requests))
        return allocate_stock_batch(requests=requests)

    monkeypatch.setattr(allocation_module, "_load_candidates", load_then_race)
    monkeypatch.setattr(allocation_module, "allocate_stock_batch", recording)
    return statements


def taken_by(order) -> dict[int, int]:
    totals: dict[int, int] = {}
    for allocation in Allocation.objects.filter(order_line__order=order):
        totals[allocation.balance_id] = totals.get(allocation.balance_id, 0) + allocation.quantity
    return totals


def allocated(balance_id: int) -> int:
    return StockBalance.objects.get(id=balance_id).allocated


def test_partial_order_replans_only_the_lost_units(outbound, product, monkeypatch):
    face = stock(outbound.pick_faces[0], product, 4)
    back = stock(outbound.site.bins[0], product, 10)
    order = sf.make_order(sf.make_customer(outbound.warehouse), [(product, 6)], allow_partial=True)
    statements = competitor_takes(monkeypatch, face, 3)

    result = services.allocate_order(order_id=order.id)

    # Planned face 4 + back 2; the face was refused and the statement undone; the back 2 is
    # kept in the plan and the 4 lost units are planned again on fresh figures (the 1 left on
    # the face first, then the back).
    assert statements == [sorted([(face, 4), (back, 2)]), sorted([(back, 2), (face, 1), (back, 3)])]
    assert (result.status, result.allocated, result.backordered) == (Order.Status.ALLOCATED, 6, 0)
    assert taken_by(order) == {face: 1, back: 5}
    assert (allocated(face), allocated(back)) == (3 + 1, 5)


def test_whole_order_gives_back_what_it_got_when_it_can_no_longer_be_whole(
    outbound, product, monkeypatch
):
    other = wf.make_product()
    first = stock(outbound.pick_faces[0], product, 4)
    second = stock(outbound.pick_faces[1], other, 2)
    order = sf.make_order(sf.make_customer(outbound.warehouse), [(product, 4), (other, 2)])
    statements = competitor_takes(monkeypatch, first, 1)

    result = services.allocate_order(order_id=order.id)

    # The second balance was granted in the first statement, which was undone: 3 of 4 left
    # on the first cannot make the order whole, so nothing is asked a second time.
    assert statements == [sorted([(first, 4), (second, 2)])]
    assert (result.status, result.allocated, result.backordered) == (
        Order.Status.BACKORDERED,
        0,
        6,
    )
    assert taken_by(order) == {}
    assert (allocated(first), allocated(second)) == (1, 0)


def test_orders_that_lost_nothing_keep_their_allocation(outbound, product, monkeypatch):
    face = stock(outbound.pick_faces[0], product, 5)
    back = stock(outbound.site.bins[0], product, 5)
    customer = sf.make_customer(outbound.warehouse)
    first = sf.make_order(customer, [(product, 5)], allow_partial=True)
    second = sf.make_order(customer, [(product, 5)], allow_partial=True)
    competitor_takes(monkeypatch, face, 2)

    results = services.allocate_orders(order_ids=[first.id, second.id])

    # The first order had the face, which lost 2 units; the second had the back bin and keeps
    # it: the first is re-planned on what is left (3 on the face, the back is taken).
    assert [(r.order_id, r.status, r.allocated) for r in results] == [
        (first.id, Order.Status.PARTIALLY_ALLOCATED, 3),
        (second.id, Order.Status.ALLOCATED, 5),
    ]
    assert taken_by(first) == {face: 3}
    assert taken_by(second) == {back: 5}
    assert (allocated(face), allocated(back)) == (5, 5)


@pytest.mark.django_db(transaction=True)
def test_a_batch_refused_even_on_locked_figures_writes_nothing(monkeypatch):
    outbound = sf.add_outbound_layout(wf.make_site())
    product = wf.make_product()
    face = stock(outbound.pick_faces[0], product, 5)
    order = sf.make_order(sf.make_customer(outbound.warehouse), [(product, 2)])
    calls = []

    def refusing(*, requests):
        calls.append(requests)
        return set()

    monkeypatch.setattr(allocation_module, "allocate_stock_batch", refusing)

    with pytest.raises(InsufficientStock):
        services.allocate_order(order_id=order.id)

    # The optimistic statements, then the one on locked figures; then the order rolls back.
    assert len(calls) == allocation_module.OPTIMISTIC_ATTEMPTS + 1
    order.refresh_from_db()
    assert order.status == Order.Status.NEW
    assert not Allocation.objects.exists()
    assert allocated(face) == 0


@pytest.mark.django_db(transaction=True)
def test_batches_racing_for_the_same_stock_never_over_promise_or_deadlock(caplog):
    site = sf.add_outbound_layout(wf.make_site())
    products = [wf.make_product() for _ in range(4)]
    for index, product in enumerate(products):
        receive_stock(location_id=site.pick_faces[index].id, product_id=product.id, quantity=9)
        receive_stock(location_id=site.site.bins[index].id, product_id=product.id, quantity=12)
    customer = sf.make_customer(site.warehouse)
    rng = random.Random(7)
    orders = [
        sf.make_order(
            customer,
            [(product, rng.randint(1, 3)) for product in rng.sample(products, 3)],
            allow_partial=index % 2 == 0,
        )
        for index in range(48)
    ]
    batches = [[order.id for order in orders[start::6]] for start in range(6)]
    barrier = threading.Barrier(len(batches), timeout=60)
    errors: list[BaseException] = []

    def allocate(order_ids: list[int]) -> None:
        try:
            barrier.wait()
            services.allocate_orders(order_ids=order_ids)
        except BaseException as error:  # any failure, a deadlock included, fails the test
            errors.append(error)
        finally:
            connection.close()

    with caplog.at_level(logging.INFO, logger="shipping.services.common"):
        threads = [threading.Thread(target=allocate, args=(batch,)) for batch in batches]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    # Each statement takes its locks in id order holding none: no deadlock victim to retry.
    assert [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()] == []
    # 48 orders x 3 lines x 2 units on average = about 288 wanted of 84: stock runs out.
    for product in products:
        rows = StockBalance.objects.filter(product=product)
        assert all(row.allocated <= row.quantity for row in rows)
        promised = Allocation.objects.filter(product=product).aggregate(total=Sum("quantity"))
        assert sum(row.allocated for row in rows) == promised["total"]
    for order in Order.objects.prefetch_related("lines"):
        lines = list(order.lines.all())
        taken = sum(line.quantity_allocated for line in lines)
        assert taken == sum(a.quantity for a in Allocation.objects.filter(order_line__order=order))
        if not order.allow_partial:
            # Whole or nothing, even when its plan lost a race half-way.
            assert taken in (0, sum(line.quantity for line in lines))
    assert sum(StockBalance.objects.values_list("allocated", flat=True)) == 84
    assert selectors.list_ledger_mismatches() == []
