"""Allocation under real concurrency: threads with their own connections, started together."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from shipping import services
from shipping.models import Allocation, Order
from tests.factories import shipping as sf
from tests.factories import warehouse as wf
from tests.threads import run_together
from warehouse import selectors
from warehouse.models import StockBalance
from warehouse.services import receive_stock


@pytest.mark.django_db(transaction=True)
def test_fifty_pickers_for_ten_units_get_exactly_ten():
    site = sf.add_outbound_layout(wf.make_site())
    product = wf.make_product()
    # Two balances so allocation has to move on to a second bin under contention.
    receive_stock(location_id=site.pick_faces[0].id, product_id=product.id, quantity=6)
    receive_stock(location_id=site.site.bins[0].id, product_id=product.id, quantity=4)
    customer = sf.make_customer(site.warehouse)
    orders = [sf.make_order(customer, [(product, 1)]) for _ in range(50)]
    results = []

    def allocate(order_id: int):
        return lambda: results.append(services.allocate_order(order_id=order_id))

    errors = run_together([allocate(order.id) for order in orders])

    assert errors == []
    statuses = sorted(result.status for result in results)
    assert statuses.count(Order.Status.ALLOCATED) == 10
    assert statuses.count(Order.Status.BACKORDERED) == 40
    assert Allocation.objects.count() == 10
    assert sum(StockBalance.objects.values_list("allocated", flat=True)) == 10
    assert selectors.list_ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_multi_line_orders_in_opposite_sku_order_never_deadlock_out():
    site = sf.add_outbound_layout(wf.make_site())
    products = [wf.make_product() for _ in range(3)]
    for index, product in enumerate(products):
        receive_stock(location_id=site.site.bins[index].id, product_id=product.id, quantity=30)
        receive_stock(location_id=site.pick_faces[index].id, product_id=product.id, quantity=30)
    customer = sf.make_customer(site.warehouse)
    orders = []
    for index in range(40):
        ordered = products if index % 2 else list(reversed(products))
        orders.append(
            sf.make_order(customer, [(p, 2) for p in ordered], allow_partial=index % 3 == 0)
        )
    results = []

    def allocate(order_id: int):
        return lambda: results.append(services.allocate_order(order_id=order_id))

    errors = run_together([allocate(order.id) for order in orders])

    assert errors == []
    # 40 orders x 2 units of each SKU = 80 wanted of 60 per SKU: exactly 60 of each go out.
    assert len(results) == 40
    for product in products:
        allocated = sum(
            StockBalance.objects.filter(product=product).values_list("allocated", flat=True)
        )
        promised = sum(
            Allocation.objects.filter(product=product).values_list("quantity", flat=True)
        )
        # Every order wants 2 of each SKU, so free stock falls in step to exactly 0.
        assert allocated == promised == 60
    fully = sum(1 for result in results if result.status == Order.Status.ALLOCATED)
    assert fully == 30


ROUNDS = 100


@pytest.mark.django_db(transaction=True)
def test_fifty_against_ten_a_hundred_times_over():
    """The race above, 100 rounds, each on a fresh product: 50 threads (each keeping its own
    connection across rounds) start every round together on a barrier."""
    site = sf.add_outbound_layout(wf.make_site())
    customer = sf.make_customer(site.warehouse)
    start, end = sf.window()
    products, rounds = [], []
    for number in range(ROUNDS):
        product = wf.make_product(sku=f"RACE-{number}")
        receive_stock(location_id=site.pick_faces[0].id, product_id=product.id, quantity=6)
        receive_stock(location_id=site.site.bins[0].id, product_id=product.id, quantity=4)
        specs = [
            services.OrderSpec(
                warehouse_id=site.warehouse.id,
                customer_id=customer.id,
                number=f"RACE-{number}-{index}",
                requested_date=start.date(),
                promised_window_start=start,
                promised_window_end=end,
                lines=[services.LineSpec(product_id=product.id, quantity=1)],
            )
            for index in range(50)
        ]
        products.append(product)
        rounds.append([order.id for order in services.create_orders(specs=specs)])

    barrier = threading.Barrier(50)
    errors: list[BaseException] = []

    def picker(seat: int) -> None:
        try:
            for order_ids in rounds:
                barrier.wait()
                services.allocate_order(order_id=order_ids[seat])
        except BaseException as error:
            errors.append(error)
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=picker, args=(seat,)) for seat in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for product, order_ids in zip(products, rounds, strict=True):
        statuses = list(Order.objects.filter(id__in=order_ids).values_list("status", flat=True))
        assert statuses.count(Order.Status.ALLOCATED) == 10, product.sku
        assert statuses.count(Order.Status.BACKORDERED) == 40, product.sku
        assert Allocation.objects.filter(product=product).count() == 10
        held = StockBalance.objects.filter(product=product).values_list("allocated", flat=True)
        assert sum(held) == 10
    assert selectors.list_ledger_mismatches() == []
