"""Inbound KPIs: dock-to-stock time and receiving accuracy, per local day, carrier, supplier."""

from __future__ import annotations

import datetime as dt
import math
import random

import pytest
from django.utils import timezone

from receiving import services
from receiving.models import InboundLine, InboundShipment, PutawayTask, Receipt
from shipping.kpis.buckets import percentile
from shipping.kpis.compute import recompute_kpis
from shipping.models import KpiHistogram, KpiSnapshot
from tests.factories import kpis as kf
from tests.factories import receiving as rf
from tests.factories import warehouse as wf

DAY = dt.date(2024, 3, 5)
BUCKET_TOLERANCE = 2 ** (1 / 32) - 1  # half a bucket: a percentile read from the histograms


def nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def figures(metric: str, dimension: str = "all", key: str = "", day: dt.date = DAY):
    row = KpiSnapshot.objects.get(date=day, metric=metric, dimension=dimension, key=key)
    return row.numerator, row.denominator, row.value


def test_dock_to_stock_median_and_p90_from_histograms(site, product):
    rng = random.Random(7)
    warehouse = site.warehouse
    fresh = rf.make_supplier("fresh-farms")
    dry = rf.make_supplier("dry-goods")
    early_truck = kf.arrived_asn(
        site, fresh, arrived_at=kf.at(warehouse, DAY, 6), carrier="PostNL Cargo"
    )
    late_truck = kf.arrived_asn(site, dry, arrived_at=kf.at(warehouse, DAY, 9))
    minutes: dict[str, list[int]] = {"fresh-farms": [], "dry-goods": []}
    for receipt, supplier in [(early_truck, "fresh-farms"), (late_truck, "dry-goods")]:
        arrived = receipt.shipment.arrived_at
        for _ in range(12):
            taken = rng.randint(25, 13 * 60)
            # Confirmations after local midnight count on the next day: keep them on DAY.
            confirmed = min(arrived + dt.timedelta(minutes=taken), kf.at(warehouse, DAY, 23, 59))
            minutes[supplier].append(round((confirmed - arrived).total_seconds() / 60))
            kf.putaway(site, receipt, product, confirmed_at=confirmed)
    kf.putaway(site, late_truck, product, confirmed_at=None)  # still open: not counted
    # A truck nobody checked in has no arrival time: its putaways cannot be measured.
    unchecked = kf.arrived_asn(site, dry, arrived_at=kf.at(warehouse, DAY, 7))
    InboundShipment.objects.filter(id=unchecked.shipment_id).update(arrived_at=None)
    unchecked.shipment.refresh_from_db()
    PutawayTask.objects.create(
        receipt=unchecked,
        product=product,
        quantity=1,
        from_location=site.dock,
        confirmed_location=site.bins[0],
        status=PutawayTask.Status.DONE,
        confirmed_at=kf.at(warehouse, DAY, 8),
    )

    recompute_kpis(date_from=DAY, date_to=DAY)

    seconds = [60.0 * m for m in minutes["fresh-farms"] + minutes["dry-goods"]]
    total, count, median = figures("dock_to_stock")
    assert (total, count) == (pytest.approx(sum(seconds)), 24)
    exact_median = nearest_rank(seconds, 0.5)
    assert abs(median - exact_median) <= BUCKET_TOLERANCE * exact_median
    buckets = KpiHistogram.objects.filter(
        date=DAY, metric="dock_to_stock", dimension="all"
    ).values_list("bucket", "count")
    assert sum(count for _, count in buckets) == 24
    p90 = percentile(buckets, 0.9)
    exact_p90 = nearest_rank(seconds, 0.9)
    assert abs(p90 - exact_p90) <= BUCKET_TOLERANCE * exact_p90
    assert percentile(buckets, 0.5) == pytest.approx(median)

    by_supplier = {
        row.key: (row.label, row.denominator)
        for row in KpiSnapshot.objects.filter(metric="dock_to_stock", dimension="supplier")
    }
    assert by_supplier == {"fresh-farms": (fresh.name, 12), "dry-goods": (dry.name, 12)}
    by_carrier = {
        row.key: (row.label, row.denominator)
        for row in KpiSnapshot.objects.filter(metric="dock_to_stock", dimension="carrier")
    }
    assert by_carrier == {
        "PostNL Cargo": ("PostNL Cargo", 12),
        "none": ("No carrier given", 12),
    }
    fresh_median = figures("dock_to_stock", "supplier", "fresh-farms")[2]
    exact = nearest_rank([60.0 * m for m in minutes["fresh-farms"]], 0.5)
    assert abs(fresh_median - exact) <= BUCKET_TOLERANCE * exact


def test_receiving_accuracy_and_dock_to_stock_through_the_services(site, product, api):
    """Scans through the API, the receipt closed and a putaway confirmed by the services: the
    Discrepancy and PutawayTask rows they write are what the inbound KPIs read."""
    short, damaged, stranger = (wf.make_product() for _ in range(3))
    supplier = rf.make_supplier("acme")
    asn = rf.make_shipment(
        site,
        [
            {"product": product, "quantity": 10},
            {"product": short, "quantity": 10},
            {"product": damaged, "quantity": 10},
        ],
        supplier=supplier,
    )
    InboundShipment.objects.filter(id=asn.id).update(carrier="DHL Freight")
    arrived = timezone.now() - dt.timedelta(hours=2)
    services.check_in_shipment(shipment_id=asn.id, arrived_at=arrived)
    receipt = services.open_receipt(shipment_id=asn.id, door_id=site.doors[0].id)
    assert rf.scan(api["dock"], receipt.id, product.gtin, quantity=10).status_code == 201
    rf.scan(api["dock"], receipt.id, short.gtin, quantity=7)
    rf.scan(api["dock"], receipt.id, damaged.gtin, quantity=9)
    rf.scan(api["dock"], receipt.id, damaged.gtin, damaged=True)
    rf.scan(api["dock"], receipt.id, stranger.gtin, quantity=2)  # not on the ASN
    closed = services.close_receipt(receipt_id=receipt.id)
    task = PutawayTask.objects.filter(receipt=receipt, product=product).get()
    services.confirm_putaway(task_id=task.id, bin_code=site.bins[1].code)
    task.refresh_from_db()

    tz = site.warehouse.tzinfo
    closed_day = closed.closed_at.astimezone(tz).date()
    putaway_day = task.confirmed_at.astimezone(tz).date()
    recompute_kpis(date_from=min(closed_day, putaway_day), date_to=max(closed_day, putaway_day))

    # Four lines: AMB-1 exact; short 7 of 10; 1 damaged; the stranger (unexpected product).
    assert figures("receiving_accuracy", day=closed_day)[:2] == (1, 4)
    assert figures("receiving_accuracy", "supplier", "acme", day=closed_day)[:2] == (1, 4)
    assert figures("receiving_accuracy", "carrier", "DHL Freight", day=closed_day)[:2] == (1, 4)
    total, count, median = figures("dock_to_stock", day=putaway_day)
    measured = (task.confirmed_at - arrived).total_seconds()
    assert count == 1 and total == pytest.approx(measured, abs=0.01)
    assert task.dock_to_stock.total_seconds() == pytest.approx(total, abs=0.01)
    assert abs(median - measured) <= BUCKET_TOLERANCE * measured


def test_only_closed_receipts_count_on_their_closing_day(site, product):
    warehouse = site.warehouse
    supplier = rf.make_supplier()
    still_open = kf.arrived_asn(site, supplier, arrived_at=kf.at(warehouse, DAY, 8))
    closed = kf.arrived_asn(site, supplier, arrived_at=kf.at(warehouse, DAY, 9))
    for receipt in (still_open, closed):
        InboundLine.objects.create(
            shipment=receipt.shipment, line_number=1, product=product, expected_quantity=5
        )
    # Closed at 00:30 local on the next day (23:30 UTC on DAY): it counts on the next day.
    closed_at = kf.at(warehouse, DAY + dt.timedelta(days=1), 0, 30)
    Receipt.objects.filter(id=closed.id).update(status=Receipt.Status.CLOSED, closed_at=closed_at)

    recompute_kpis(date_from=DAY, date_to=DAY + dt.timedelta(days=1))

    rows = KpiSnapshot.objects.filter(metric="receiving_accuracy", dimension="all")
    assert list(rows.values_list("date", "numerator", "denominator")) == [
        (DAY + dt.timedelta(days=1), 1, 1)
    ]
