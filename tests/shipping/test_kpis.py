"""KPI recomputation: hand-worked scenarios, idempotency, and a randomized direct computation.

Expected figures are worked out in each test from the definitions in docs/kpis.md.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import defaultdict
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from shipping import services
from shipping.errors import WrongBin
from shipping.kpis.buckets import bucket_middle, bucket_of, percentile
from shipping.kpis.compute import MAX_CHUNK_DAYS, _chunks, recompute_kpis
from shipping.kpis.dialect import KPI_LOCK_CLASS, day_lock_key
from shipping.models import Delivery, KpiHistogram, KpiSnapshot, Order, PickTask, Shipment
from shipping.tasks import recompute_last_week_kpis_task, recompute_recent_kpis_task
from tests.conftest import make_user
from tests.factories import kpis as kf
from tests.factories import shipping as sf
from tests.factories import warehouse as wf
from warehouse.services import receive_stock

DAY = dt.date(2024, 3, 5)
# Half a bucket's width: how far a percentile read from the histograms may be from the exact one.
BUCKET_TOLERANCE = 2 ** (1 / 32) - 1


@pytest.fixture(autouse=True)
def tolerance_15(settings) -> None:
    settings.DOCKSIDE = {**settings.DOCKSIDE, "DELIVERY_WINDOW_TOLERANCE_MINUTES": 15}


def snapshot(metric: str, dimension: str = "all", key: str = "", day: dt.date = DAY):
    return KpiSnapshot.objects.get(date=day, dimension=dimension, key=key, metric=metric)


def figures(metric: str, dimension: str = "all", key: str = "", day: dt.date = DAY):
    row = snapshot(metric, dimension, key, day)
    return row.numerator, row.denominator, row.value


def window(warehouse, day: dt.date = DAY, start: int = 9, end: int = 12):
    return kf.at(warehouse, day, start), kf.at(warehouse, day, end)


def recompute(day_from: dt.date = DAY, day_to: dt.date | None = None, **kwargs):
    return recompute_kpis(date_from=day_from, date_to=day_to or day_from, **kwargs)


def test_window_edges_tolerance_and_partial_delivery(site, product):
    warehouse = site.warehouse
    customer = sf.make_customer(warehouse)
    promised = window(warehouse)  # 09:00-12:00 local, tolerance 15 minutes
    for clock, in_full in [
        ((12, 0), True),  # exactly at the window's end: on time
        ((12, 15), True),  # exactly at the end of the tolerance: still on time
        ((12, 16), True),  # a minute beyond: late, 16 minutes after the window's end
        ((8, 50), True),  # 10 minutes before the start, inside the tolerance: on time
        ((8, 40), True),  # 20 minutes before the start: early
        ((10, 0), False),  # on time but partial: counts for OTD, not for OTIF
    ]:
        kf.delivered_order(
            customer,
            product,
            window=promised,
            delivered_at=kf.at(warehouse, DAY, *clock),
            is_in_full=in_full,
        )

    result = recompute()

    assert figures("otd") == (4, 6, pytest.approx(4 / 6))
    assert figures("early") == (1, 6, pytest.approx(1 / 6))
    assert figures("late") == (1, 6, pytest.approx(1 / 6))
    assert figures("minutes_late") == (pytest.approx(16.0), 1, pytest.approx(16.0))
    # First deliveries on time and in full: 12:00, 12:15, 08:50 (the partial one is not).
    assert figures("otif") == (3, 6, pytest.approx(0.5))
    assert result.rows["otd"] == 5  # all, carrier, vehicle, route, customer: one slice each
    assert result.seconds > 0


def test_tolerance_is_read_when_computing(site, product, settings):
    warehouse = site.warehouse
    customer = sf.make_customer(warehouse)
    for clock in [(12, 15), (8, 50), (10, 0)]:
        kf.delivered_order(
            customer, product, window=window(warehouse), delivered_at=kf.at(warehouse, DAY, *clock)
        )
    recompute()
    assert figures("otd")[:2] == (3, 3)

    settings.DOCKSIDE = {**settings.DOCKSIDE, "DELIVERY_WINDOW_TOLERANCE_MINUTES": 0}
    recompute()
    assert figures("otd")[:2] == (1, 3)
    assert figures("late")[:2] == (1, 3)
    assert figures("early")[:2] == (1, 3)
    assert figures("minutes_late")[:2] == (pytest.approx(15.0), 1)


def _site_in(zone: str, code: str) -> wf.Site:
    site = wf.make_site(code)
    site.warehouse.time_zone = zone
    site.warehouse.save(update_fields=["time_zone"])
    return site


def test_deliveries_count_on_the_warehouse_local_day(db, product):
    # Tokyo is UTC+9: 00:30 local on the 6th is 15:30 UTC on the 5th.
    tokyo = _site_in("Asia/Tokyo", "TYO").warehouse
    customer = sf.make_customer(tokyo)
    next_day = DAY + dt.timedelta(days=1)
    after_midnight = kf.delivered_order(
        customer,
        product,
        window=(kf.at(tokyo, next_day, 0), kf.at(tokyo, next_day, 2)),
        delivered_at=kf.at(tokyo, next_day, 0, 30),
    )
    assert after_midnight.delivered_at.astimezone(dt.UTC).date() == DAY
    kf.delivered_order(
        customer,
        product,
        window=(kf.at(tokyo, DAY, 21), kf.at(tokyo, DAY, 23)),
        delivered_at=kf.at(tokyo, DAY, 23, 30),
    )
    # New York is UTC-5 in winter: 23:30 local on the 5th is 04:30 UTC on the 6th.
    new_york = _site_in("America/New_York", "NYC").warehouse
    kf.delivered_order(
        sf.make_customer(new_york),
        product,
        window=(kf.at(new_york, DAY, 21), kf.at(new_york, DAY, 23)),
        delivered_at=kf.at(new_york, DAY, 23, 30),
    )

    recompute(DAY, DAY)
    tokyo_day = KpiSnapshot.objects.get(warehouse=tokyo, dimension="all", metric="otd")
    assert (tokyo_day.date, tokyo_day.denominator, tokyo_day.numerator) == (DAY, 1, 0)
    new_york_day = KpiSnapshot.objects.get(warehouse=new_york, dimension="all", metric="otd")
    assert (new_york_day.date, new_york_day.denominator) == (DAY, 1)

    recompute(DAY, next_day)
    tokyo_days = KpiSnapshot.objects.filter(warehouse=tokyo, dimension="all", metric="otd")
    assert sorted(tokyo_days.values_list("date", "numerator", "denominator")) == [
        (DAY, 0, 1),  # 23:30, 30 minutes after the window and beyond the tolerance
        (next_day, 1, 1),
    ]
    assert not KpiSnapshot.objects.filter(warehouse=new_york, date=next_day).exists()


def test_days_without_deliveries_have_no_rows(site):
    result = recompute(DAY, DAY + dt.timedelta(days=6))
    assert result.rows == {} and result.histogram_rows == {}
    assert result.warehouses == 1
    assert not KpiSnapshot.objects.exists() and not KpiHistogram.objects.exists()


def test_slices_by_carrier_vehicle_route_and_customer(site, product):
    warehouse = site.warehouse
    alice = sf.make_customer(warehouse, code="alice", name="Alice's Deli")
    bob = sf.make_customer(warehouse, code="bob", name="Bob's Bakery")
    on_time, late = kf.at(warehouse, DAY, 10), kf.at(warehouse, DAY, 13)

    def deliver(customer, carrier, vehicle, delivered_at):
        return kf.delivered_order(
            customer,
            product,
            window=window(warehouse),
            delivered_at=delivered_at,
            carrier=carrier,
            vehicle_code=vehicle,
        )

    first = deliver(alice, "DHL", "VAN-1", on_time)
    second = deliver(alice, "", "VAN-1", late)
    third = deliver(bob, "", "VAN-2", on_time)
    deliver(bob, "DHL", "", on_time)  # not on any route, no vehicle
    kf.route(warehouse, DAY, 1, [first.shipment, second.shipment])
    kf.route(warehouse, DAY, 2, [third.shipment])
    # Re-planned later the same day: the third shipment moved to route 5. The latest plan wins.
    kf.route(warehouse, DAY, 5, [third.shipment])

    recompute()

    def slices(dimension):
        return {
            row.key: (row.label, row.numerator, row.denominator)
            for row in KpiSnapshot.objects.filter(date=DAY, metric="otd", dimension=dimension)
        }

    assert slices("carrier") == {"DHL": ("DHL", 2, 2), "own-fleet": ("Own fleet", 1, 2)}
    assert slices("vehicle") == {
        "VAN-1": ("VAN-1", 1, 2),
        "VAN-2": ("VAN-2", 1, 1),
        "none": ("No vehicle", 1, 1),
    }
    assert slices("route") == {
        "1": ("Route 1", 1, 2),
        "5": ("Route 5", 1, 1),
        "unrouted": ("Not routed", 1, 1),
    }
    assert slices("customer") == {
        "alice": ("Alice's Deli", 1, 2),
        "bob": ("Bob's Bakery", 2, 2),
    }
    assert slices("all") == {"": ("Whole warehouse", 3, 4)}
    # Durations are not kept per customer (a histogram per customer and day is a row per order).
    assert not KpiSnapshot.objects.filter(metric="cycle_time_total", dimension="customer")
    assert set(
        KpiSnapshot.objects.filter(metric="cycle_time_total", dimension="route").values_list(
            "key", flat=True
        )
    ) == {"1", "5", "unrouted"}


def test_fill_rate_on_time_shipment_and_cycle_time_from_first_shipments(site, product):
    warehouse = site.warehouse
    customer = sf.make_customer(warehouse)
    other = wf.make_product()
    dispatched = kf.at(warehouse, DAY, 8)
    planned = kf.at(warehouse, DAY, 8, 30)
    short = kf.dispatched_order(
        customer,
        [kf.Line(product, 10), kf.Line(other, 5, shipped=3)],
        window=window(warehouse),
        dispatched_at=dispatched,
        planned_departure=planned,
        created_at=dispatched - dt.timedelta(hours=20),
    )
    kf.dispatched_order(
        customer,
        [kf.Line(product, 4)],
        window=window(warehouse),
        dispatched_at=dispatched,
        planned_departure=dispatched - dt.timedelta(minutes=1),  # a minute late
        created_at=dispatched - dt.timedelta(hours=30),
    )
    kf.dispatched_order(
        customer,
        [kf.Line(product, 6, shipped=1)],
        window=window(warehouse),
        dispatched_at=dispatched,
        planned_departure=planned,
        created_at=dispatched - dt.timedelta(hours=10),
        status=Order.Status.CANCELLED,  # cancelled after leaving: not a fill-rate order
    )
    # The backordered two units of the short line leave the next day: not the first shipment.
    second_line = short.order.lines.get(product=other)
    next_day = DAY + dt.timedelta(days=1)
    kf.ship(short.order, {second_line.id: 2}, dispatched_at=kf.at(warehouse, next_day, 8))

    recompute(DAY, next_day)

    # Lines complete on the first shipment: 10 of 10 yes, 3 of 5 no, 4 of 4 yes.
    assert figures("fill_rate_lines") == (2, 3, pytest.approx(2 / 3))
    assert figures("fill_rate_units") == (17, 19, pytest.approx(17 / 19))
    assert figures("on_time_shipment") == (2, 3, pytest.approx(2 / 3))
    assert figures("on_time_shipment", day=next_day)[:2] == (1, 1)
    assert not KpiSnapshot.objects.filter(date=next_day, metric__startswith="fill_rate")
    # Created -> first dispatch: 20 h, 30 h and 10 h; the median (nearest rank) is 20 h.
    total, count, median = figures("cycle_time_internal")
    assert (total, count) == (60 * 3600, 3)
    assert median == pytest.approx(bucket_middle(bucket_of(20 * 3600)))
    assert median == pytest.approx(20 * 3600, rel=BUCKET_TOLERANCE)
    assert not KpiSnapshot.objects.filter(date=next_day, metric="cycle_time_internal")


def test_pick_accuracy_short_picks_and_lines_per_picker_hour(site, product, role_groups):
    warehouse = site.warehouse
    setup = kf.pick_setup(site, product, sf.make_customer(warehouse))
    ann = make_user("ann", "picker", site=site, first_name="Ann", last_name="Lee")
    ben = make_user("ben", "picker", site=site)
    morning = kf.pick_list(
        setup,
        ann,
        started_at=kf.at(warehouse, DAY, 8),
        completed_at=kf.at(warehouse, DAY, 10),
    )
    at_nine = kf.at(warehouse, DAY, 9)
    kf.pick_task(setup, morning, picked_at=at_nine)  # clean
    kf.pick_task(setup, morning, picked_at=at_nine, wrong_bin_scans=1)
    kf.pick_task(setup, morning, picked_at=at_nine, status="short", quantity_picked=1)
    kf.pick_task(setup, morning, picked_at=at_nine, wrong_item_scans=2)
    kf.pick_task(setup, morning, picked_at=None, status="cancelled", quantity_picked=0)
    afternoon = kf.pick_list(
        setup,
        ben,
        started_at=kf.at(warehouse, DAY, 13),
        completed_at=kf.at(warehouse, DAY, 13, 30),
    )
    for _ in range(3):
        kf.pick_task(setup, afternoon, picked_at=kf.at(warehouse, DAY, 13, 15))
    unfinished = kf.pick_list(
        setup, ben, started_at=kf.at(warehouse, DAY, 15), completed_at=None, status="in_progress"
    )
    kf.pick_task(setup, unfinished, picked_at=kf.at(warehouse, DAY, 15, 5))
    kf.pick_task(setup, unfinished, picked_at=None, status="open", quantity_picked=0)

    recompute()

    # Closed tasks: Ann 4 (1 clean), Ben 4 (all clean). Ann had one short pick.
    assert figures("pick_accuracy") == (5, 8, pytest.approx(5 / 8))
    assert figures("pick_accuracy", "picker", "ann")[:2] == (1, 4)
    assert snapshot("pick_accuracy", "picker", "ann").label == "Ann Lee"
    assert figures("pick_accuracy", "picker", "ben")[:2] == (4, 4)
    assert figures("short_pick_rate") == (1, 8, pytest.approx(1 / 8))
    # Completed lists only: Ann 4 tasks in 2 h, Ben 3 tasks in half an hour.
    assert figures("lines_per_picker_hour", "picker", "ann") == (4, 2, pytest.approx(2.0))
    assert figures("lines_per_picker_hour", "picker", "ben") == (3, 0.5, pytest.approx(6.0))
    assert figures("lines_per_picker_hour") == (7, 2.5, pytest.approx(2.8))


def _table(metrics=None) -> dict:
    rows = KpiSnapshot.objects.all()
    if metrics:
        rows = rows.filter(metric__in=metrics)
    return {
        (r.date, r.warehouse_id, r.dimension, r.key, r.metric): (
            r.label,
            r.numerator,
            r.denominator,
            r.value,
        )
        for r in rows
    }


def test_recompute_is_idempotent_and_deletes_stale_slices(site, product):
    warehouse = site.warehouse
    customer = sf.make_customer(warehouse)
    next_day = DAY + dt.timedelta(days=1)
    moved = kf.delivered_order(
        customer,
        product,
        window=window(warehouse),
        delivered_at=kf.at(warehouse, DAY, 10),
        carrier="DHL",
    )
    kf.delivered_order(
        customer,
        product,
        window=window(warehouse),
        delivered_at=kf.at(warehouse, DAY, 11),
        carrier="UPS",
    )

    first = recompute(DAY, next_day)
    before = _table()
    histograms = set(
        KpiHistogram.objects.values_list("date", "dimension", "key", "metric", "bucket", "count")
    )
    second = recompute(DAY, next_day)
    assert _table() == before
    assert first.rows == second.rows and second.deleted_rows == 0
    assert (
        set(
            KpiHistogram.objects.values_list(
                "date", "dimension", "key", "metric", "bucket", "count"
            )
        )
        == histograms
    )
    assert KpiSnapshot.objects.count() == sum(second.rows.values())
    assert KpiSnapshot.objects.values("computed_at").distinct().count() == 1

    # The DHL delivery is re-dated to the next day: its DHL slice of the first day goes.
    Delivery.objects.filter(id=moved.id).update(delivered_at=kf.at(warehouse, next_day, 10))
    third = recompute(DAY, next_day)
    assert third.deleted_rows > 0
    assert set(
        KpiSnapshot.objects.filter(metric="otd", dimension="carrier").values_list("date", "key")
    ) == {(DAY, "UPS"), (next_day, "DHL")}
    assert figures("otd")[:2] == (1, 1)
    assert figures("otd", day=next_day)[:2] == (0, 1)  # a day after its window now
    assert not KpiHistogram.objects.filter(
        date=DAY, metric="cycle_time_total", dimension="carrier", key="DHL"
    ).exists()
    # Its shipment still left on the first day: the dispatch-day metrics keep their DHL slice.
    assert snapshot("on_time_shipment", "carrier", "DHL").denominator == 1

    # Days outside the range are left alone.
    recompute(next_day, next_day, warehouse_ids=[warehouse.id])
    assert figures("otd")[:2] == (1, 1)


def test_recompute_holds_a_lock_per_day_of_its_range(site):
    with transaction.atomic():
        recompute(DAY, DAY + dt.timedelta(days=2))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
                "AND pid = pg_backend_pid() AND granted ORDER BY objid",
                [KPI_LOCK_CLASS],
            )
            held = [objid for (objid,) in cursor.fetchall()]
    first = day_lock_key(site.warehouse.id, DAY)
    assert held == [first, first + 1, first + 2]


@pytest.mark.django_db(transaction=True)
def test_parallel_backfill_writes_what_one_connection_writes(site, product):
    """Chunks on several connections give exactly the rows of one transaction."""
    warehouse = site.warehouse
    rng = random.Random(7)
    first = DAY - dt.timedelta(days=40)
    for number in range(80):
        day = first + dt.timedelta(days=number)
        promised = (kf.at(warehouse, day, 9), kf.at(warehouse, day, 12))
        shipment = kf.dispatched_order(
            sf.make_customer(warehouse, code=f"p{number}"),
            [kf.Line(product, rng.randint(1, 5))],
            window=promised,
            dispatched_at=kf.at(warehouse, day, 6),
            planned_departure=kf.at(warehouse, day, 6),
            created_at=kf.at(warehouse, day, 6) - dt.timedelta(hours=rng.randint(2, 60)),
            carrier=rng.choice(["", "DHL"]),
            vehicle_code=rng.choice(["VAN-1", "VAN-2"]),
        )
        delivered_at = promised[0] + dt.timedelta(minutes=rng.randint(-60, 300))
        kf.deliver(shipment, delivered_at=delivered_at, is_in_full=rng.random() < 0.8)
    last = first + dt.timedelta(days=79)

    recompute_kpis(date_from=first, date_to=last, jobs=1)
    alone = (_table(), sorted(KpiHistogram.objects.values_list(*HISTOGRAM_FIELDS)))
    KpiSnapshot.objects.all().delete()
    KpiHistogram.objects.all().delete()
    result = recompute_kpis(date_from=first, date_to=last, jobs=2)  # 2 chunks of 40 days

    assert (_table(), sorted(KpiHistogram.objects.values_list(*HISTOGRAM_FIELDS))) == alone
    assert result.total_rows == len(alone[0]) > 0


HISTOGRAM_FIELDS = ("date", "warehouse_id", "dimension", "key", "metric", "bucket", "count")


def test_backfill_is_cut_into_one_chunk_per_job_within_bounds(site):
    warehouse = site.warehouse
    first, last = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
    year = [(start, end) for _, start, end in _chunks([(warehouse, first, last)], 2)]
    assert year == [(first, dt.date(2025, 7, 2)), (dt.date(2025, 7, 3), last)]
    # A decade keeps half-year chunks, back to back; a short range keeps month-long ones.
    decade = [
        (start, end) for _, start, end in _chunks([(warehouse, first, dt.date(2034, 12, 31))], 2)
    ]
    assert decade[0][0] == first and decade[-1][1] == dt.date(2034, 12, 31)
    assert all(end - start == dt.timedelta(days=MAX_CHUNK_DAYS - 1) for start, end in decade[:-1])
    assert all(b[0] - a[1] == dt.timedelta(days=1) for a, b in itertools.pairwise(decade))
    weeks = [
        (start, end)
        for _, start, end in _chunks([(warehouse, first, first + dt.timedelta(days=39))], 4)
    ]
    assert weeks == [(first, dt.date(2025, 1, 31)), (dt.date(2025, 2, 1), dt.date(2025, 2, 9))]


def test_range_must_not_run_backwards(site):
    with pytest.raises(ValueError, match="starts"):
        recompute(DAY, DAY - dt.timedelta(days=1))


# --- the randomized scenario, computed again in plain Python -----------------------------------


def _nearest_rank_buckets(seconds: list[float]) -> dict[int, int]:
    buckets: dict[int, int] = defaultdict(int)
    for value in seconds:
        buckets[bucket_of(max(value, 0))] += 1
    return buckets


def _expected(warehouse, deliveries, shipments, routes, tolerance: float) -> tuple[dict, dict]:
    """Every snapshot row (numerator, denominator, value) and histogram bucket, from the rows."""
    tz = warehouse.tzinfo
    sums: dict = defaultdict(lambda: [0.0, 0.0])
    durations: dict = defaultdict(list)

    def slices(shipment, dimensions):
        order = shipment.order
        number = routes.get(shipment.id)
        keys = {
            "all": "",
            "carrier": order.carrier or "own-fleet",
            "vehicle": shipment.vehicle_code or "none",
            "route": str(number) if number else "unrouted",
            "customer": order.customer.code,
        }
        return [(dimension, keys[dimension]) for dimension in dimensions]

    def add(day, shipment, dimensions, metric, numerator, denominator):
        for dimension, key in slices(shipment, dimensions):
            pair = sums[(day, dimension, key, metric)]
            pair[0] += numerator
            pair[1] += denominator

    deliveries_by_order = defaultdict(list)
    for delivery in deliveries:
        deliveries_by_order[delivery.shipment.order_id].append(delivery)
    first_deliveries = {
        min(ds, key=lambda d: (d.delivered_at, d.id)).id for ds in deliveries_by_order.values()
    }
    every = ("all", "carrier", "vehicle", "route", "customer")
    timed = ("all", "carrier", "route")
    by_shipment = ("all", "carrier", "vehicle", "customer")
    # Per customer only OTD, OTIF and line fill rate are kept (see definitions.py).
    detail = ("all", "carrier", "vehicle", "route")
    shipment_detail = ("all", "carrier", "vehicle")
    for delivery in deliveries:
        shipment, order = delivery.shipment, delivery.shipment.order
        day = delivery.delivered_at.astimezone(tz).date()
        before = (order.promised_window_start - delivery.delivered_at).total_seconds()
        after = (delivery.delivered_at - order.promised_window_end).total_seconds()
        on_time = before <= tolerance and after <= tolerance
        add(day, shipment, every, "otd", on_time, 1)
        add(day, shipment, detail, "early", before > tolerance, 1)
        add(day, shipment, detail, "late", after > tolerance, 1)
        if after > tolerance:
            add(day, shipment, detail, "minutes_late", after / 60, 1)
        if delivery.id in first_deliveries:
            add(day, shipment, every, "otif", on_time and delivery.is_in_full, 1)
            seconds = (delivery.delivered_at - order.created_at).total_seconds()
            add(day, shipment, timed, "cycle_time_total", seconds, 1)
            for slice_ in slices(shipment, timed):
                durations[(day, *slice_, "cycle_time_total")].append(seconds)
    shipments_by_order = defaultdict(list)
    for shipment in shipments:
        shipments_by_order[shipment.order_id].append(shipment)
    for order_shipments in shipments_by_order.values():
        first = min(order_shipments, key=lambda s: (s.dispatched_at, s.id))
        for shipment in order_shipments:
            day = shipment.dispatched_at.astimezone(tz).date()
            on_time = shipment.dispatched_at <= shipment.planned_departure
            add(day, shipment, shipment_detail, "on_time_shipment", on_time, 1)
            if shipment is not first:
                continue
            order = shipment.order
            seconds = (shipment.dispatched_at - order.created_at).total_seconds()
            add(day, shipment, timed, "cycle_time_internal", seconds, 1)
            for slice_ in slices(shipment, timed):
                durations[(day, *slice_, "cycle_time_internal")].append(seconds)
            on_it = {line.order_line_id: line.quantity for line in shipment.lines.all()}
            for line in order.lines.all():
                shipped = on_it.get(line.id, 0)
                add(day, shipment, by_shipment, "fill_rate_lines", shipped >= line.quantity, 1)
                add(
                    day,
                    shipment,
                    shipment_detail,
                    "fill_rate_units",
                    min(shipped, line.quantity),
                    line.quantity,
                )
    expected = {}
    for (day, dimension, key, metric), (numerator, denominator) in sums.items():
        if denominator <= 0:
            continue
        value = numerator / denominator
        if metric.startswith("cycle_time"):
            counts = _nearest_rank_buckets(durations[(day, dimension, key, metric)])
            value = percentile(counts.items(), 0.5)
        expected[(day, warehouse.id, dimension, key, metric)] = (numerator, denominator, value)
    histograms = {}
    for (day, dimension, key, metric), seconds in durations.items():
        for bucket, count in _nearest_rank_buckets(seconds).items():
            histograms[(day, dimension, key, metric, bucket)] = count
    return expected, histograms


def test_recompute_matches_a_direct_computation(site, product):
    rng = random.Random(20240331)
    warehouse = site.warehouse  # Europe/Amsterdam; the range spans the switch to summer time
    days = [dt.date(2024, 3, 29) + dt.timedelta(days=n) for n in range(4)]
    customers = [sf.make_customer(warehouse, code=f"c{n}") for n in range(6)]
    other = wf.make_product()
    deliveries, shipments, routes = [], [], {}

    def minute(day, earliest, latest):
        return kf.at(warehouse, day, 0) + dt.timedelta(minutes=rng.randint(earliest, latest))

    for _ in range(260):
        day = rng.choice(days)
        start = rng.randint(7, 15)
        promised = (kf.at(warehouse, day, start), kf.at(warehouse, day, start + rng.randint(1, 3)))
        dispatched = minute(day, 5 * 60, 7 * 60)
        ordered_other = rng.randint(1, 6)
        shipment = kf.dispatched_order(
            rng.choice(customers),
            [
                kf.Line(product, rng.randint(1, 9)),
                kf.Line(other, ordered_other, shipped=rng.randint(0, ordered_other)),
            ],
            window=promised,
            dispatched_at=dispatched,
            planned_departure=minute(day, 5 * 60, 7 * 60),
            created_at=dispatched - dt.timedelta(minutes=rng.randint(30, 3 * 24 * 60)),
            carrier=rng.choice(["", "DHL", "UPS", "PostNL"]),
            vehicle_code=rng.choice(["", "VAN-1", "VAN-2", "TRUCK-1"]),
        )
        shipments.append(shipment)
        delivered_at = promised[0] + dt.timedelta(minutes=rng.randint(-90, 240))
        deliveries.append(
            kf.deliver(shipment, delivered_at=delivered_at, is_in_full=rng.random() < 0.8)
        )
        if rng.random() < 0.15:
            # A later shipment of the same order (the rest of a short line), delivered later.
            later = kf.ship(
                shipment.order,
                {shipment.order.lines.get(product=other).id: 1},
                dispatched_at=dispatched + dt.timedelta(days=1, minutes=rng.randint(0, 600)),
                vehicle_code="VAN-2",
            )
            shipments.append(later)
            deliveries.append(kf.deliver(later, delivered_at=delivered_at + dt.timedelta(days=1)))
    for day in days:
        routed = [
            s for s in shipments if s.dispatched_at.astimezone(warehouse.tzinfo).date() == day
        ]
        for number in (1, 2, 3):
            on_route = [s for s in routed if s.id % 4 == number]
            kf.route(warehouse, day, number, on_route)
            routes.update({s.id: number for s in on_route})

    recompute(days[0], days[-1] + dt.timedelta(days=2))  # later shipments and deliveries too

    deliveries = list(Delivery.objects.select_related("shipment__order__customer").order_by("id"))
    shipments = list(
        Shipment.objects.select_related("order__customer").prefetch_related("lines", "order__lines")
    )
    expected, histograms = _expected(warehouse, deliveries, shipments, routes, 15 * 60.0)
    actual = {key: row[1:] for key, row in _table().items()}
    assert set(actual) == set(expected)
    for key, (numerator, denominator, value) in expected.items():
        assert actual[key] == (
            pytest.approx(numerator, abs=1e-6),
            pytest.approx(denominator),
            pytest.approx(value, rel=1e-9),
        ), key
    assert {
        (h.date, h.dimension, h.key, h.metric, h.bucket): h.count
        for h in KpiHistogram.objects.all()
    } == histograms


# --- through the real services --------------------------------------------------------------


def test_services_write_what_the_kpis_read(site, users, product):
    outbound = sf.add_outbound_layout(site)
    other = wf.make_product(sku="AMB-2")
    receive_stock(location_id=outbound.pick_faces[0].id, product_id=product.id, quantity=5)
    receive_stock(location_id=outbound.pick_faces[1].id, product_id=other.id, quantity=2)
    customer = sf.make_customer(site.warehouse)
    full = sf.make_order(customer, [(product, 3)])
    short = sf.make_order(customer, [(product, 2), (other, 4)], allow_partial=True)
    for order in (full, short):
        services.allocate_order(order_id=order.id)
    wave = services.plan_wave(
        warehouse_id=site.warehouse.id, dispatch_date=timezone.localdate(), cutoff_at=timezone.now()
    )
    services.release_due_waves()
    pick_list = wave.pick_lists.get()
    picker = users["picker"]
    services.start_pick_list(pick_list_id=pick_list.id, actor=picker)
    tasks = list(pick_list.tasks.order_by("sequence"))
    misread = next(task for task in tasks if task.product_id == product.id)
    with pytest.raises(WrongBin):  # one wrong bin scan before the right one
        services.check_bin(task_id=misread.id, code="NOT-A-BIN")
    for task in tasks:
        # The other product is picked one unit short of its task.
        services.confirm_pick(
            task_id=task.id,
            bin_code=task.location.code,
            item_scan=task.product.gtin,
            quantity=task.quantity if task.product_id == product.id else task.quantity - 1,
            actor=picker,
        )
    box = services.PackageSpec("box", Decimal("4.2"), Decimal(40), Decimal(30), Decimal(20))
    delivered = {}
    for order in (full, short):
        shipment = Shipment.objects.get(order=order)
        services.pack_shipment(shipment_id=shipment.id, packages=[box])
        services.stage_shipment(
            shipment_id=shipment.id,
            staging_lane_id=outbound.lanes[1].id,
            outbound_door_id=outbound.door.id,
        )
        for package in shipment.packages.all():
            services.load_package(sscc=package.sscc, vehicle_code="VAN-1")
        services.dispatch_shipment(shipment_id=shipment.id)
        order.refresh_from_db()
        delivered[order.id] = services.confirm_delivery(
            shipment_id=shipment.id,
            delivered_at=order.promised_window_end
            + dt.timedelta(minutes=16 if order == full else 5),
        )

    tz = site.warehouse.tzinfo
    stamps = [d.delivered_at for d in delivered.values()]
    stamps += list(Shipment.objects.values_list("dispatched_at", flat=True))
    stamps += list(PickTask.objects.values_list("picked_at", flat=True))
    local_days = sorted({stamp.astimezone(tz).date() for stamp in stamps})
    recompute(local_days[0], local_days[-1])

    delivery_day = delivered[full.id].delivered_at.astimezone(tz).date()
    dispatch_day = Shipment.objects.get(order=full).dispatched_at.astimezone(tz).date()
    # The full order was 16 minutes late; the short one on time but not in full.
    assert figures("otd", day=delivery_day)[:2] == (1, 2)
    assert figures("otif", day=delivery_day)[:2] == (0, 2)
    # What dispatch recorded on ShipmentLine: 3 of 3, 2 of 2, 1 of 4 (the short pick).
    assert figures("fill_rate_lines", day=dispatch_day)[:2] == (2, 3)
    assert figures("fill_rate_units", day=dispatch_day)[:2] == (6, 9)
    assert figures("on_time_shipment", day=dispatch_day)[1] == 2
    pick_day = PickTask.objects.first().picked_at.astimezone(tz).date()
    # Three tasks: one with a wrong bin scan, one short, one clean.
    assert figures("pick_accuracy", day=pick_day)[:2] == (1, 3)
    assert figures("short_pick_rate", day=pick_day)[:2] == (1, 3)
    assert figures("pick_accuracy", "picker", picker.username, day=pick_day)[:2] == (1, 3)


# --- tasks and the management command ----------------------------------------------------------


def test_beat_tasks_recompute_recent_days_and_last_week(site, product, settings):
    warehouse = site.warehouse
    today = timezone.localtime(timezone.now(), warehouse.tzinfo).date()
    customer = sf.make_customer(warehouse)
    for back in (1, 4):
        day = today - dt.timedelta(days=back)
        kf.delivered_order(
            customer, product, window=window(warehouse, day), delivered_at=kf.at(warehouse, day, 10)
        )

    assert recompute_recent_kpis_task() >= 5
    assert set(KpiSnapshot.objects.filter(metric="otd").values_list("date", flat=True)) == {
        today - dt.timedelta(days=1)
    }
    assert recompute_last_week_kpis_task() >= 10
    assert set(KpiSnapshot.objects.filter(metric="otd").values_list("date", flat=True)) == {
        today - dt.timedelta(days=1),
        today - dt.timedelta(days=4),
    }
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "shipping.tasks.recompute_recent_kpis_task",
        "shipping.tasks.recompute_last_week_kpis_task",
    } <= schedule


def test_compute_kpis_command(site, product):
    warehouse = site.warehouse
    kf.delivered_order(
        sf.make_customer(warehouse),
        product,
        window=window(warehouse),
        delivered_at=kf.at(warehouse, DAY, 10),
    )
    out = StringIO()
    call_command(
        "compute_kpis",
        "--from",
        "2024-03-01",
        "--to",
        "2024-03-31",
        "--warehouse",
        warehouse.code,
        stdout=out,
    )
    assert "otd: 5 rows" in out.getvalue()
    assert KpiSnapshot.objects.filter(metric="otd").count() == 5

    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("compute_kpis", "--from", "2024-13-01", "--to", "2024-03-31")
    with pytest.raises(CommandError, match="after"):
        call_command("compute_kpis", "--from", "2024-03-31", "--to", "2024-03-01")
    with pytest.raises(CommandError, match="NOPE"):
        call_command(
            "compute_kpis", "--from", "2024-03-01", "--to", "2024-03-31", "--warehouse", "NOPE"
        )
