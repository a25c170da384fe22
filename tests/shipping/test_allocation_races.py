"""Allocation that loses a race: stock emptied between the plan and the batch statement.

A competitor is simulated deterministically: just before the first `allocate_stock_batch`
statement of an allocation it takes units with `allocate_stock`, as another allocator
committing in between would. Only the orders that counted on that balance are planned again.
"""

from __future__ import annotations

import pytest

from shipping import services
from shipping.errors import ConcurrentUpdate
from shipping.models import Allocation, Order
from shipping.services import allocation as allocation_module
from tests.factories import shipping as sf
from tests.factories import warehouse as wf
from warehouse.models import StockBalance
from warehouse.services import allocate_stock, allocate_stock_batch, receive_stock


@pytest.fixture
def outbound(site):
    return sf.add_outbound_layout(site)


def stock(location, product, quantity: int) -> int:
    receive_stock(location_id=location.id, product_id=product.id, quantity=quantity)
    return StockBalance.objects.get(location=location, product=product).id


def competitor_takes(monkeypatch, balance_id: int, quantity: int) -> list[list[tuple[int, int]]]:
    """Before the first batch statement, someone else takes `quantity` of `balance_id`."""
    statements: list[list[tuple[int, int]]] = []

    def racing(*, requests):
        if not statements:
            allocate_stock(balance_id=balance_id, quantity=quantity)
        statements.append(sorted(requests))
        return allocate_stock_batch(requests=requests)

    monkeypatch.setattr(allocation_module, "allocate_stock_batch", racing)
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

    # Planned face 4 + back 2; the face was refused, the back kept; the 4 lost units were
    # planned again on fresh figures (1 left on the face first, then the back).
    assert statements == [sorted([(face, 4), (back, 2)]), sorted([(face, 1), (back, 3)])]
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

    # The second balance was granted in the first statement, then released: 3 of 4 left on
    # the first cannot make the order whole, so nothing is asked a second time.
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
def test_a_batch_refused_every_time_is_refused_cleanly(monkeypatch, settings):
    settings.DOCKSIDE = {**settings.DOCKSIDE, "ALLOCATION_MAX_ATTEMPTS": 3}
    outbound = sf.add_outbound_layout(wf.make_site())
    product = wf.make_product()
    face = stock(outbound.pick_faces[0], product, 5)
    order = sf.make_order(sf.make_customer(outbound.warehouse), [(product, 2)])
    calls = []

    def refusing(*, requests):
        calls.append(requests)
        return set()

    monkeypatch.setattr(allocation_module, "allocate_stock_batch", refusing)

    with pytest.raises(ConcurrentUpdate):
        services.allocate_order(order_id=order.id)

    assert len(calls) == 3
    order.refresh_from_db()
    assert order.status == Order.Status.NEW
    assert not Allocation.objects.exists()
    assert allocated(face) == 0
