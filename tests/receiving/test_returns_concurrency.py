"""Return requests under real concurrency: threads with their own connections, started together,
never return more of an order line than was delivered."""

from __future__ import annotations

import pytest

from receiving import services
from receiving.errors import OverReturn
from receiving.models import ReturnLine
from tests.factories import returns as rtf
from tests.factories import shipping as sf
from tests.factories import warehouse as wf
from tests.threads import run_together


def request(order_id: int, quantities: list[tuple[int, int]]):
    """A job requesting a return of (order line id, units) pairs, in the given order."""
    lines = [
        services.ReturnLineInput(order_line_id=line_id, quantity=quantity, reason="not_wanted")
        for line_id, quantity in quantities
    ]
    return lambda: services.request_return(order_id=order_id, lines=lines)


@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_never_return_more_than_was_delivered():
    site = wf.make_site()
    product = wf.make_product()
    order = rtf.delivered_rows(sf.make_customer(site.warehouse), [(product, 6)])
    line = order.lines.get()

    errors = run_together([request(order.id, [(line.id, 4)]) for _ in range(2)])

    assert [type(error) for error in errors] == [OverReturn]
    assert "At most 2" in errors[0].errors["lines[0].quantity"][0]
    assert list(ReturnLine.objects.values_list("quantity", flat=True)) == [4]


@pytest.mark.django_db(transaction=True)
def test_many_requests_for_two_lines_in_either_order_share_the_delivery_exactly():
    site = wf.make_site()
    first, second = wf.make_product(), wf.make_product()
    order = rtf.delivered_rows(sf.make_customer(site.warehouse), [(first, 5), (second, 5)])
    one, two = order.lines.order_by("line_number")
    jobs = [
        request(order.id, [(one.id, 1), (two.id, 1)] if index % 2 else [(two.id, 1), (one.id, 1)])
        for index in range(8)
    ]

    errors = run_together(jobs)

    # 8 requests of one unit of each line, 5 delivered of each: 5 succeed, 3 are refused, and
    # none dies as a deadlock victim (the lines are locked in id order whatever the request's).
    assert [type(error) for error in errors] == [OverReturn] * 3
    for order_line in (one, two):
        total = sum(
            ReturnLine.objects.filter(order_line=order_line).values_list("quantity", flat=True)
        )
        assert total == 5
