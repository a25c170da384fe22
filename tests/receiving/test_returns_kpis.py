"""The return rate KPI: units returned / units delivered per local day, by product, customer and
reason, with the figures worked out by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.test import Client

from receiving import services
from receiving.models import ReturnReceipt
from shipping.kpis import charts
from shipping.kpis.compute import recompute_kpis
from shipping.kpis.definitions import BY_NAME
from shipping.models import Dimension, KpiSnapshot, Order
from tests.factories import kpis as kf
from tests.factories import returns as rtf
from tests.factories import shipping as sf
from tests.factories import warehouse as wf

pytestmark = pytest.mark.django_db

DAY = dt.date(2024, 3, 5)  # Amsterdam is UTC+1 that day


def return_of(
    site,
    order: Order,
    lines: list[tuple[int, int, int, str]],
    *,
    closed_at: dt.datetime | None,
) -> None:
    """An RMA of `order` for (line number, units asked, units that arrive, reason) lines,
    authorised and scanned; its return receipt closed at `closed_at` (None: left open)."""
    order_lines = {line.line_number: line for line in order.lines.select_related("product")}
    rma = services.request_return(
        order_id=order.id,
        lines=[
            services.ReturnLineInput(
                order_line_id=order_lines[number].id, quantity=asked, reason=reason
            )
            for number, asked, _, reason in lines
        ],
    )
    services.authorise_return(rma_id=rma.id)
    receipt = services.open_return_receipt(rma_id=rma.id, door_id=site.doors[0].id)
    for number, _, arrived, _ in lines:
        services.receive_return_scan(
            return_receipt_id=receipt.id,
            barcode=order_lines[number].product.gtin,
            quantity=arrived,
        )
    if closed_at is not None:
        services.close_return_receipt(return_receipt_id=receipt.id)
        ReturnReceipt.objects.filter(id=receipt.id).update(closed_at=closed_at)


def rows(day: dt.date) -> dict[tuple[str, str], tuple[float, float, float | None]]:
    return {
        (row.dimension, row.key): (row.numerator, row.denominator, row.value)
        for row in KpiSnapshot.objects.filter(date=day, metric="return_rate")
    }


def test_return_rate_by_product_customer_and_reason(site):
    warehouse = site.warehouse
    at = lambda day, hour, minute=0: kf.at(warehouse, day, hour, minute)  # noqa: E731
    alpha = sf.make_customer(warehouse, code="alpha", name="Alpha Foods")
    beta = sf.make_customer(warehouse, code="beta", name="Beta Bistro")
    p = wf.make_product(sku="RET-P", name="Pasta")
    q = wf.make_product(sku="RET-Q", name="Quinoa")
    next_day = DAY + dt.timedelta(days=1)

    # Delivered on DAY: alpha 10 P + 10 Q, beta 20 P, beta 5 Q at 23:30 local (22:30 UTC, still
    # DAY here). Delivered at 00:30 local on the next day (23:30 UTC on DAY): alpha 8 P.
    order_a = rtf.delivered_rows(alpha, [(p, 10), (q, 10)], delivered_at=at(DAY, 10))
    order_b = rtf.delivered_rows(beta, [(p, 20)], delivered_at=at(DAY, 14))
    order_c = rtf.delivered_rows(beta, [(q, 5)], delivered_at=at(DAY, 23, 30))
    order_d = rtf.delivered_rows(alpha, [(p, 8)], delivered_at=at(next_day, 0, 30))

    # Returned (return receipt closed) on DAY: from A 3 P damaged and 1 Q wrong item; from B
    # 2 P not wanted of 4 asked, closed at 23:45 local. On the next day at 00:15 local: from D
    # 1 P expired. Still being received (not counted): 2 Q of C.
    return_of(site, order_a, [(1, 3, 3, "damaged"), (2, 1, 1, "wrong_item")], closed_at=at(DAY, 16))
    return_of(site, order_b, [(1, 4, 2, "not_wanted")], closed_at=at(DAY, 23, 45))
    return_of(site, order_d, [(1, 1, 1, "expired")], closed_at=at(next_day, 0, 15))
    return_of(site, order_c, [(1, 2, 2, "other")], closed_at=None)
    # Two days later, with no delivery at all that day: 2 more Q from A, reason other.
    later = DAY + dt.timedelta(days=2)
    return_of(site, order_a, [(2, 2, 2, "other")], closed_at=at(later, 9))

    recompute_kpis(date_from=DAY, date_to=later)

    # DAY: 6 returned of 45 delivered (P 30, Q 15; alpha 20, beta 25).
    assert rows(DAY) == {
        ("all", ""): (6, 45, pytest.approx(6 / 45)),
        ("product", "RET-P"): (5, 30, pytest.approx(5 / 30)),
        ("product", "RET-Q"): (1, 15, pytest.approx(1 / 15)),
        ("customer", "alpha"): (4, 20, pytest.approx(4 / 20)),
        ("customer", "beta"): (2, 25, pytest.approx(2 / 25)),
        # Each reason over every unit delivered that day: the reasons add up to the whole.
        ("reason", "damaged"): (3, 45, pytest.approx(3 / 45)),
        ("reason", "wrong_item"): (1, 45, pytest.approx(1 / 45)),
        ("reason", "not_wanted"): (2, 45, pytest.approx(2 / 45)),
    }
    assert rows(next_day) == {
        ("all", ""): (1, 8, pytest.approx(1 / 8)),
        ("product", "RET-P"): (1, 8, pytest.approx(1 / 8)),
        ("customer", "alpha"): (1, 8, pytest.approx(1 / 8)),
        ("reason", "expired"): (1, 8, pytest.approx(1 / 8)),
    }
    # Returns on a day without deliveries keep their units (no value that day), so a period's
    # sum(returned) / sum(delivered) counts them: 9 / 53 over the three days.
    assert rows(later) == {
        ("all", ""): (2, 0, None),
        ("product", "RET-Q"): (2, 0, None),
        ("customer", "alpha"): (2, 0, None),
        ("reason", "other"): (2, 0, None),
    }
    labels = dict(
        KpiSnapshot.objects.filter(metric="return_rate", date=DAY).values_list("key", "label")
    )
    assert labels["RET-P"] == "Pasta"
    assert labels["beta"] == "Beta Bistro"
    assert labels["not_wanted"] == "Not wanted"

    # Recomputing writes the same rows.
    before = rows(DAY)
    recompute_kpis(date_from=DAY, date_to=DAY)
    assert rows(DAY) == before


def test_return_rate_is_in_the_catalogue_with_its_slices():
    metric = BY_NAME["return_rate"]
    assert metric.dimensions == (
        Dimension.ALL,
        Dimension.PRODUCT,
        Dimension.CUSTOMER,
        Dimension.REASON,
    )
    assert not metric.higher_is_better


def test_the_dashboard_shows_the_return_rate_of_the_period(site, users):
    """The tile sums the period: returned units over delivered units."""
    warehouse = site.warehouse
    customer = sf.make_customer(warehouse, code="gamma")
    product = wf.make_product(sku="RET-T")
    order = rtf.delivered_rows(customer, [(product, 40)], delivered_at=kf.at(warehouse, DAY, 10))
    return_of(site, order, [(1, 6, 6, "damaged")], closed_at=kf.at(warehouse, DAY, 15))
    recompute_kpis(date_from=DAY, date_to=DAY)
    manager = users["manager"]
    User.objects.filter(id=manager.id).update(is_staff=True)
    client = Client()
    client.force_login(manager)

    page = client.get(
        "/admin/kpis/",
        {"warehouse": warehouse.id, "period": "custom", "start": str(DAY), "end": str(DAY)},
    ).content.decode()

    tile = page[page.index('id="tile-return_rate"') :]
    tile = tile[: tile.index('<div class="kpi-tile" ')]
    assert charts.format_number(6 / 40 * 100, "%") in tile  # 6 of 40 units came back
