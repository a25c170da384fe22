"""The Delivery KPIs dashboard: selectors over hand-built snapshot rows (answers worked out
here), the late deliveries behind them, and the admin page with its CSV exports."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from shipping.kpis import selectors as ks
from shipping.kpis.buckets import bucket_middle
from shipping.kpis.definitions import BY_NAME
from shipping.models import Dimension
from tests.factories import kpi_snapshots as kf
from tests.factories import routing as rf
from tests.factories import shipping as sf

# Monday 9 to Sunday 15 March 2026; the previous period is Monday 2 to Sunday 8 March.
# Amsterdam is UTC+1 then, so a local midnight is 23:00 UTC the evening before.
PERIOD = ks.Period(dt.date(2026, 3, 9), dt.date(2026, 3, 15))
PREVIOUS = ks.Period(dt.date(2026, 3, 2), dt.date(2026, 3, 8))
CUSTOM = {"period": "custom", "start": "2026-03-09", "end": "2026-03-15"}
DASHBOARD = "/admin/kpis/"


def day(number: int) -> dt.date:
    return dt.date(2026, 3, number)


def local(warehouse, date: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(hour, minute), warehouse.tzinfo)


@pytest.fixture(autouse=True)
def tolerance(settings):
    settings.DOCKSIDE = {**settings.DOCKSIDE, "DELIVERY_WINDOW_TOLERANCE_MINUTES": 15}


# Periods ------------------------------------------------------------------------------------


def test_presets_are_local_days_ending_today_or_yesterday():
    today = day(10)
    assert ks.period_for(ks.Preset.YESTERDAY, today=today) == ks.Period(day(9), day(9))
    assert ks.period_for(ks.Preset.LAST_7_DAYS, today=today) == ks.Period(day(4), day(10))
    assert ks.period_for(ks.Preset.LAST_30_DAYS, today=today).start == dt.date(2026, 2, 9)
    assert ks.period_for(ks.Preset.LAST_90_DAYS, today=today).days == 90
    assert ks.period_for(ks.Preset.THIS_YEAR, today=today) == ks.Period(dt.date(2026, 1, 1), today)
    assert ks.period_for(ks.Preset.CUSTOM, today=today, start=day(9), end=day(15)) == PERIOD
    with pytest.raises(ValueError):
        ks.period_for(ks.Preset.CUSTOM, today=today, start=day(15), end=day(9))
    with pytest.raises(ValueError):
        ks.period_for(ks.Preset.CUSTOM, today=today, start=day(9))
    assert PERIOD.previous() == PREVIOUS
    assert ks.Period(day(10), day(10)).previous() == ks.Period(day(9), day(9))


# Tiles --------------------------------------------------------------------------------------


@pytest.fixture
def tile_rows(site, users):
    """Whole-warehouse rows in PERIOD, in PREVIOUS and outside both, plus rows that must not
    count: a carrier slice and another warehouse."""
    warehouse = site.warehouse
    other = users["outsider"].warehouses.get()
    for date, on_time, deliveries in [
        (day(1), 0, 10),  # before the previous period
        (day(2), 9, 10),  # previous
        (day(9), 8, 10),
        (day(15), 1, 2),
        (day(16), 0, 10),  # after the period
    ]:
        kf.snapshot(warehouse, date, "otd", on_time, deliveries)
    kf.snapshot(warehouse, day(10), "otd", 0, 5, dimension=Dimension.CARRIER, key="DHL")
    kf.snapshot(other, day(10), "otd", 0, 5)
    kf.snapshot(warehouse, day(2), "late", 1, 10)
    kf.snapshot(warehouse, day(9), "late", 2, 10)
    kf.snapshot(warehouse, day(15), "late", 1, 2)
    kf.snapshot(warehouse, day(9), "minutes_late", 60, 2)
    # Cycle time: 5 orders in bucket 100 on the 10th, 4 in 120 and 1 in 140 on the 11th;
    # 2 in bucket 140 in the previous period.
    kf.durations(warehouse, day(10), "cycle_time_total", {100: 5})
    kf.durations(warehouse, day(11), "cycle_time_total", {120: 4, 140: 1})
    kf.durations(warehouse, day(3), "cycle_time_total", {140: 2})
    kf.durations(other, day(10), "cycle_time_total", {10: 50})
    return warehouse


def test_tiles_sum_the_period_and_compare_with_the_previous_one(
    tile_rows, django_assert_num_queries
):
    with django_assert_num_queries(2):  # one snapshot query, one bucket query
        tiles = {
            tile.metric.name: tile
            for tile in ks.list_tiles(warehouse_id=tile_rows.id, period=PERIOD)
        }
    otd = tiles["otd"]
    # 9 of 12 over the period: the ratio of sums, not the mean of 80 % and 50 %.
    assert (otd.current.numerator, otd.current.denominator) == (9, 12)
    assert otd.current.value == pytest.approx(0.75)
    assert otd.previous.value == pytest.approx(0.9)
    assert otd.change == pytest.approx(-0.15)
    assert otd.is_improvement is False
    late = tiles["late"]
    assert late.current.value == pytest.approx(3 / 12)
    assert late.change == pytest.approx(0.25 - 0.1)
    assert late.is_improvement is False  # more late deliveries is worse
    minutes = tiles["minutes_late"]
    assert minutes.current.value == pytest.approx(30)
    assert minutes.previous.value is None and minutes.change is None
    assert minutes.is_improvement is None
    cycle = tiles["cycle_time_total"]
    # 10 orders: the 5th (median) is in bucket 100, the 9th (p90) in bucket 120.
    assert cycle.current.count == 10
    assert cycle.current.value == pytest.approx(bucket_middle(100))
    assert cycle.current.p90 == pytest.approx(bucket_middle(120))
    assert cycle.previous.value == pytest.approx(bucket_middle(140))
    assert cycle.is_improvement is True  # shorter is better
    nothing = tiles["pick_accuracy"]
    assert nothing.current.value is None and nothing.current.count == 0
    assert list(tiles) == [metric.name for metric in BY_NAME.values()]


# Series -------------------------------------------------------------------------------------


@pytest.fixture
def series_rows(site):
    warehouse = site.warehouse
    kf.snapshot(warehouse, day(3), "otd", 0, 9)  # Tuesday before the period
    kf.snapshot(warehouse, day(4), "otd", 1, 2)
    kf.snapshot(warehouse, day(8), "otd", 3, 4)  # Sunday: still the week of Monday 2nd
    kf.snapshot(warehouse, day(9), "otd", 5, 5)
    kf.durations(warehouse, day(4), "cycle_time_total", {100: 1})
    kf.durations(warehouse, day(8), "cycle_time_total", {120: 2})
    kf.durations(warehouse, day(12), "cycle_time_total", {90: 1})
    return warehouse


def test_weekly_series_sum_iso_weeks_inside_the_period(series_rows, django_assert_num_queries):
    period = ks.Period(day(4), day(15))  # Wednesday 4 to Sunday 15
    metrics = [BY_NAME["otd"], BY_NAME["otif"], BY_NAME["cycle_time_total"]]
    with django_assert_num_queries(2):
        series = ks.list_series(
            warehouse_id=series_rows.id,
            period=period,
            granularity=ks.Granularity.WEEK,
            metrics=metrics,
        )
    assert series.axis == [day(2), day(9)]
    otd = series.figures["otd"]
    assert (otd[day(2)].numerator, otd[day(2)].denominator) == (4, 6)  # 4th and 8th, not 3rd
    assert otd[day(2)].value == pytest.approx(4 / 6)
    assert otd[day(9)].value == pytest.approx(1.0)
    assert series.figures["otif"] == {}
    cycle = series.figures["cycle_time_total"]
    # Week of the 2nd: buckets 100 x1 and 120 x2, so the 2nd of 3 (median) is in 120.
    assert cycle[day(2)].value == pytest.approx(bucket_middle(120))
    assert cycle[day(2)].p90 == pytest.approx(bucket_middle(120))
    assert cycle[day(9)].value == pytest.approx(bucket_middle(90))


def test_daily_series_leave_gaps_for_days_without_rows(series_rows):
    series = ks.list_series(
        warehouse_id=series_rows.id,
        period=ks.Period(day(4), day(15)),
        granularity=ks.Granularity.DAY,
        metrics=[BY_NAME["otd"]],
    )
    assert len(series.axis) == 12 and series.axis[0] == day(4)
    assert sorted(series.figures["otd"]) == [day(4), day(8), day(9)]
    assert series.figures["otd"][day(8)].value == pytest.approx(0.75)


# Breakdown ----------------------------------------------------------------------------------


@pytest.fixture
def carrier_rows(site):
    warehouse = site.warehouse

    def carrier(date, key, on_time, deliveries, metric="otd"):
        kf.snapshot(
            warehouse,
            date,
            metric,
            on_time,
            deliveries,
            dimension=Dimension.CARRIER,
            key=key,
            label=f"Carrier {key}",
        )

    carrier(day(9), "A", 4, 5)
    carrier(day(10), "A", 5, 5)  # A: 9 of 10
    carrier(day(9), "B", 1, 2)  # B: 1 of 2
    carrier(day(8), "B", 0, 100)  # before the period
    carrier(day(12), "C", 5, 10)  # C: 5 of 10, as bad as B but bigger
    carrier(day(12), "D", 0, 0)  # no value at all
    carrier(day(9), "A", 1, 10, metric="late")
    carrier(day(9), "B", 1, 2, metric="late")
    for key, bucket in (("1", 140), ("2", 100)):
        kf.durations(
            warehouse,
            day(10),
            "cycle_time_total",
            {bucket: 3},
            dimension=Dimension.ROUTE,
            key=key,
            label=f"Route {key}",
        )
    return warehouse


def test_breakdown_is_worst_first_with_counts(carrier_rows, django_assert_num_queries):
    with django_assert_num_queries(1):
        breakdown = ks.list_breakdown(
            warehouse_id=carrier_rows.id,
            period=PERIOD,
            metric=BY_NAME["otd"],
            dimension=Dimension.CARRIER,
        )
    rows = [(row.key, row.label, row.figure.count, row.figure.value) for row in breakdown.rows]
    assert rows == [
        ("C", "Carrier C", 10, pytest.approx(0.5)),
        ("B", "Carrier B", 2, pytest.approx(0.5)),
        ("A", "Carrier A", 10, pytest.approx(0.9)),
        ("D", "Carrier D", 0, None),
    ]
    assert not breakdown.is_truncated
    # Late deliveries: higher is worse, so the highest share comes first.
    late = ks.list_breakdown(
        warehouse_id=carrier_rows.id, period=PERIOD, metric=BY_NAME["late"], dimension="carrier"
    )
    assert [row.key for row in late.rows] == ["B", "A"]
    cut = ks.list_breakdown(
        warehouse_id=carrier_rows.id,
        period=PERIOD,
        metric=BY_NAME["otd"],
        dimension=Dimension.CARRIER,
        limit=2,
    )
    assert [row.key for row in cut.rows] == ["C", "B"] and cut.is_truncated


def test_duration_breakdown_is_longest_first(carrier_rows, django_assert_num_queries):
    with django_assert_num_queries(2):
        breakdown = ks.list_breakdown(
            warehouse_id=carrier_rows.id,
            period=PERIOD,
            metric=BY_NAME["cycle_time_total"],
            dimension=Dimension.ROUTE,
        )
    assert [(row.label, row.figure.value) for row in breakdown.rows] == [
        ("Route 1", pytest.approx(bucket_middle(140))),
        ("Route 2", pytest.approx(bucket_middle(100))),
    ]
    with pytest.raises(ValueError):
        ks.list_breakdown(
            warehouse_id=carrier_rows.id,
            period=PERIOD,
            metric=BY_NAME["cycle_time_total"],
            dimension=Dimension.CUSTOMER,
        )


# Late deliveries ----------------------------------------------------------------------------


@pytest.fixture
def late(site, product):
    """Deliveries against a 09:00-12:00 local window; two of them are late inside PERIOD."""
    warehouse = site.warehouse
    bakker = sf.make_customer(warehouse, code="bakker", name="Bakker & Zonen")
    visser = sf.make_customer(warehouse, code="visser", name="Visser")

    def deliver(number, customer, window_day, at, carrier="DHL"):
        shipment = rf.make_shipment(
            customer, product, 1, day=window_day, window=(9, 12), number=number, carrier=carrier
        )
        sf.make_delivery(shipment, at)
        return shipment

    shipments = {
        # exactly the window's end plus the tolerance: on time
        "edge": deliver("SO-EDGE", bakker, day(10), local(warehouse, day(10), 12, 15)),
        # a minute past it: late by 16 minutes
        "late": deliver("SO-LATE", bakker, day(10), local(warehouse, day(10), 12, 16)),
        "on_time": deliver("SO-OK", bakker, day(10), local(warehouse, day(10), 11)),
        # 00:30 local on the 16th is still the 15th in UTC: not in the period
        "after": deliver("SO-AFTER", visser, day(15), local(warehouse, day(16), 0, 30)),
        # 00:30 local on the 9th is the 8th in UTC: in the period, 12.5 hours late
        "night": deliver("SO-NIGHT", visser, day(8), local(warehouse, day(9), 0, 30), ""),
        # 23:30 local on the 8th: the day before the period
        "before": deliver("SO-BEFORE", visser, day(8), local(warehouse, day(8), 23, 30)),
    }
    route = rf.make_route(warehouse, day(10), 7, [shipments["late"], shipments["edge"]])
    shipments["late"].refresh_from_db()
    return {"warehouse": warehouse, "route": route, **shipments}


def numbers(deliveries) -> list[str]:
    return [delivery.shipment.order.number for delivery in deliveries]


def test_late_deliveries_use_the_tolerance_and_local_days(late):
    deliveries = list(ks.list_late_deliveries(warehouse=late["warehouse"], period=PERIOD))
    assert numbers(deliveries) == ["SO-LATE", "SO-NIGHT"]  # newest first
    assert [round(d.late_by.total_seconds() / 60) for d in deliveries] == [16, 750]
    ks.attach_stops(deliveries)
    assert deliveries[0].stop.route == late["route"] and deliveries[0].stop.sequence == 1
    assert deliveries[1].stop is None


@pytest.mark.parametrize(
    ("dimension", "key", "expected"),
    [
        ("carrier", "DHL", ["SO-LATE"]),
        ("carrier", "own-fleet", ["SO-NIGHT"]),
        ("customer", "visser", ["SO-NIGHT"]),
        ("route", "7", ["SO-LATE"]),
        ("route", "unrouted", ["SO-NIGHT"]),
        ("route", "8", []),
        ("route", "seven", []),
        ("vehicle", "none", ["SO-NIGHT"]),
        ("picker", "ana", []),
    ],
)
def test_late_deliveries_of_one_slice(late, dimension, key, expected):
    found = ks.list_late_deliveries(
        warehouse=late["warehouse"], period=PERIOD, slice_=ks.Slice(dimension, key)
    )
    assert numbers(found) == expected


def test_late_deliveries_of_a_vehicle(late):
    code = late["late"].vehicle_code
    found = ks.list_late_deliveries(
        warehouse=late["warehouse"], period=PERIOD, slice_=ks.Slice("vehicle", code)
    )
    assert code and numbers(found) == ["SO-LATE"]


# The page -----------------------------------------------------------------------------------


def admin_client(user: User) -> Client:
    User.objects.filter(id=user.id).update(is_staff=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def page_rows(tile_rows, carrier_rows, late):
    return tile_rows


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_manager_sees_tiles_charts_breakdown_and_late_deliveries(page_rows, users, late):
    client = admin_client(users["manager"])
    response = client.get(DASHBOARD, CUSTOM)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('class="kpi-chart"') == 4  # OTD/OTIF, two cycle times, the breakdown
    tile = page[page.index('id="tile-otd"') :]
    tile = tile[: tile.index('<div class="kpi-tile" ')]
    assert "75 %" in tile and "previous 90 %" in tile and "-15.0 pp" in tile
    assert 'kpi-tile-change bad"' in tile and "late deliveries behind this number" in tile
    # Carriers worst first, each with the late deliveries behind its bar.
    table = page[page.index('id="breakdown-table"') :]
    assert table.index("Carrier C") < table.index("Carrier B") < table.index("Carrier A")
    assert "late_by=carrier&amp;late_key=C#late" in table
    late_table = page[page.index('id="late-table"') :]
    assert "SO-LATE" in late_table and "SO-NIGHT" in late_table and "SO-EDGE" not in late_table
    order = late["late"].order
    assert reverse("admin:shipping_order_change", args=[order.id]) in late_table
    assert reverse("admin:shipping_shipment_change", args=[late["late"].id]) in late_table
    sheet = reverse("admin:routing_routeplan_route_sheet", args=[late["route"].plan_id, 7])
    stop = late["route"].stops.get(sequence=1)
    assert f'href="{sheet}"' in late_table and f'href="{sheet}#stop-{stop.id}"' in late_table
    assert f'id="stop-{stop.id}"' in client.get(sheet).content.decode()  # the link's target
    assert "Bakker &amp; Zonen" in late_table  # escaped
    assert "Snapshots last computed" in page


def test_a_bar_link_narrows_the_late_list_to_its_slice(page_rows, users):
    client = admin_client(users["manager"])
    page = client.get(DASHBOARD, {**CUSTOM, "late_by": "carrier", "late_key": "own-fleet"})
    late_table = page.content.decode().split('id="late-table"')[1]
    assert "SO-NIGHT" in late_table and "SO-LATE" not in late_table
    assert 'id="all-late"' in page.content.decode()


def test_late_deliveries_page_newest_first_and_count_up_to_a_cap(late, users, monkeypatch):
    from shipping.kpis import dashboard

    monkeypatch.setattr(dashboard, "LATE_PER_PAGE", 1)
    client = admin_client(users["manager"])
    first = client.get(DASHBOARD, CUSTOM).content.decode()
    assert '<strong id="late-count">2</strong>' in first
    assert "SO-LATE" in first and "SO-NIGHT" not in first
    assert 'id="late-older"' in first and 'id="late-newer"' not in first
    monkeypatch.setattr(dashboard, "LATE_COUNT_CAP", 1)
    second = client.get(DASHBOARD, {**CUSTOM, "page": "2"}).content.decode()
    assert '<strong id="late-count">more than 1</strong>' in second
    assert "SO-NIGHT" in second and "SO-LATE" not in second
    assert 'id="late-newer"' in second and 'id="late-older"' not in second
    assert "2&ndash;2, newest first" in second


def test_a_dimension_the_metric_is_not_kept_for_falls_back(page_rows, users):
    response = admin_client(users["manager"]).get(
        DASHBOARD, {**CUSTOM, "metric": "cycle_time_total", "dimension": "customer"}
    )
    page = response.content.decode()
    assert "is not kept per customer; showing it per carrier" in page
    assert "Order cycle time (to delivery) by carrier, worst first" in page


def test_only_managers_may_open_it(page_rows, users):
    for role in ("dock", "picker", "dispatcher"):
        assert admin_client(users[role]).get(DASHBOARD).status_code == 403, role
        assert admin_client(users[role]).get(DASHBOARD, {"export": "late"}).status_code == 403
    anonymous = Client().get(DASHBOARD)
    assert anonymous.status_code == 302
    assert anonymous["Location"] == f"{reverse('admin:login')}?next={DASHBOARD}"
    superuser = User.objects.create_superuser("root", "root@example.com", "pw")
    assert admin_client(superuser).get(DASHBOARD, CUSTOM).status_code == 200


def test_a_manager_sees_only_the_warehouses_they_are_staff_of(page_rows, users, site, late):
    outsider = admin_client(users["outsider"])
    response = outsider.get(DASHBOARD, {**CUSTOM, "warehouse": site.warehouse.id})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Select a valid choice" in page
    assert "<strong>OTHER " in page and "<strong>AMS " not in page
    assert "SO-LATE" not in page and "Carrier C" not in page
    # OTHER's own figures instead: none on time of its 5 deliveries.
    tile = page[page.index('id="tile-otd"') :]
    assert '<div class="kpi-tile-value">0 %' in tile
    export = outsider.get(DASHBOARD, {**CUSTOM, "warehouse": site.warehouse.id, "export": "late"})
    assert len(read_csv(export)) == 1  # the header only


def late_delivery_links(late) -> dict[str, str]:
    """The drill-down pages the late-deliveries table links to."""
    shipment = late["late"]
    return {
        "order": reverse("admin:shipping_order_change", args=[shipment.order_id]),
        "shipment": reverse("admin:shipping_shipment_change", args=[shipment.id]),
        "route sheet": reverse(
            "admin:routing_routeplan_route_sheet", args=[late["route"].plan_id, 7]
        ),
        "route plan": reverse("admin:routing_routeplan_change", args=[late["route"].plan_id]),
        "delivery": reverse("admin:shipping_delivery_change", args=[shipment.delivery.id]),
    }


def test_a_manager_follows_every_drill_down_link(page_rows, users, late):
    manager = users["manager"]
    assert not manager.is_superuser and not manager.user_permissions.exists()
    client = admin_client(manager)
    for page, url in late_delivery_links(late).items():
        response = client.get(url)
        assert response.status_code == 200, page
    assert "SO-LATE" in client.get(reverse("admin:shipping_order_changelist")).content.decode()


def test_drill_down_pages_never_show_another_warehouses_rows(page_rows, users, late):
    outsider = admin_client(users["outsider"])  # a manager of OTHER
    for page, url in late_delivery_links(late).items():
        response = outsider.get(url)
        # Not found: admin sends a missing object back to its index, a route sheet is a 404.
        assert response.status_code in (302, 404), page
        assert "SO-LATE" not in response.content.decode(), page
    for changelist in ("shipping_order", "shipping_shipment", "shipping_delivery"):
        listed = outsider.get(reverse(f"admin:{changelist}_changelist")).content.decode()
        assert "SO-LATE" not in listed and "SO-EDGE" not in listed, changelist


def test_other_staff_may_not_follow_the_links(page_rows, users, late):
    for role in ("dock", "picker", "dispatcher"):
        client = admin_client(users[role])
        for page, url in late_delivery_links(late).items():
            assert client.get(url).status_code == 403, (role, page)


def test_csv_exports(page_rows, users):
    client = admin_client(users["manager"])

    def export(kind: str, **extra) -> list[list[str]]:
        response = client.get(DASHBOARD, {**CUSTOM, "export": kind, **extra})
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"] == (
            f'attachment; filename="delivery-kpis-{kind}-AMS-20260309-20260315.csv"'
        )
        return read_csv(response)

    tiles = export("tiles")
    assert tiles[0][:6] == ["Metric", "Name", "Unit", "From", "To", "Value"]
    otd = next(row for row in tiles if row[0] == "otd")
    assert otd[2:10] == ["%", "2026-03-09", "2026-03-15", "75.0000", "", "90.0000", "", "-15.0000"]
    assert len(tiles) == 1 + len(BY_NAME)

    series = export("series", granularity="week")
    assert series[0] == [
        "Starts",
        "Granularity",
        "Metric",
        "Unit",
        "Value",
        "P90",
        "Numerator",
        "Denominator",
    ]
    assert ["2026-03-09", "week", "otd", "%", "75.0000", "", "9.0", "12.0"] in series

    breakdown = export("breakdown")
    # DHL's row from `tile_rows` (none of 5 on time) is the worst of all.
    assert [row[1] for row in breakdown[1:]] == ["DHL", "C", "B", "A", "D"]
    assert breakdown[2] == ["carrier", "C", "Carrier C", "otd", "%", "50.0000", "", "10"]

    late = export("late")
    assert late[0][:3] == ["Delivered at", "Order", "Shipment"]
    assert [row[1] for row in late[1:]] == ["SO-LATE", "SO-NIGHT"]
    assert late[1][0] == "2026-03-10T12:16+01:00"  # local time
    assert late[1][7:9] == ["Route 7", "#1"] and late[1][11] == "16"
    assert [row[1] for row in export("late", late_by="customer", late_key="visser")[1:]] == [
        "SO-NIGHT"
    ]


def test_exports_are_safe_to_open_in_a_spreadsheet(site, users):
    kf.snapshot(
        site.warehouse, day(10), "otd", 1, 2, dimension="customer", key="x", label="=HYPERLINK()"
    )
    response = admin_client(users["manager"]).get(
        DASHBOARD, {**CUSTOM, "export": "breakdown", "dimension": "customer"}
    )
    assert read_csv(response)[1][2] == "'=HYPERLINK()"


def test_empty_state_says_how_to_compute_snapshots(site, users):
    page = admin_client(users["manager"]).get(DASHBOARD, CUSTOM).content.decode()
    assert 'id="kpi-empty"' in page
    command = "python manage.py compute_kpis --from 2026-03-09 --to 2026-03-15 --warehouse AMS"
    assert command in page
    assert 'id="late-table"' in page and 'id="tile-otd"' not in page


def test_page_query_count_is_bounded(page_rows, users, django_assert_max_num_queries):
    client = admin_client(users["manager"])
    with django_assert_max_num_queries(15):
        assert client.get(DASHBOARD, CUSTOM).status_code == 200


def test_admin_index_links_managers_to_the_dashboard(site, users):
    link = 'href="/admin/kpis/"'
    assert link in admin_client(users["manager"]).get(reverse("admin:index")).content.decode()
    assert link not in admin_client(users["dock"]).get(reverse("admin:index")).content.decode()


def test_snapshot_admin_lists_the_managers_warehouses_only(tile_rows, users):
    url = reverse("admin:shipping_kpisnapshot_changelist")
    manager = admin_client(users["manager"])
    response = manager.get(url, {"metric": "otd", "dimension": "all"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 5
    outsider = admin_client(users["outsider"])
    # Opened bare, the list starts on the whole-warehouse rows.
    bare = outsider.get(url)
    assert bare.status_code == 302 and bare["Location"] == f"{url}?dimension__exact=all"
    assert outsider.get(bare["Location"]).context["cl"].result_count == 2
    assert admin_client(users["dock"]).get(url).status_code == 403


def test_recomputed_snapshots_agree_with_the_late_list_behind_them(late, users):
    """Through the real computation: the numbers on the page and the deliveries behind them."""
    from shipping.kpis.compute import recompute_kpis

    warehouse = late["warehouse"]
    recompute_kpis(date_from=day(1), date_to=day(16), warehouse_ids=[warehouse.id])
    tiles = {t.metric.name: t for t in ks.list_tiles(warehouse_id=warehouse.id, period=PERIOD)}
    # In the period: EDGE, LATE and OK on the 10th, NIGHT on the 9th; BEFORE is the 8th's.
    assert (tiles["otd"].current.numerator, tiles["otd"].current.denominator) == (2, 4)
    assert tiles["otd"].previous.value == 0.0
    late_list = ks.list_late_deliveries(warehouse=warehouse, period=PERIOD)
    assert tiles["late"].current.numerator == late_list.count() == 2
    by_carrier = ks.list_breakdown(
        warehouse_id=warehouse.id, period=PERIOD, metric=BY_NAME["late"], dimension="carrier"
    )
    assert [(row.key, row.figure.numerator, row.figure.count) for row in by_carrier.rows] == [
        ("own-fleet", 1, 1),
        ("DHL", 1, 3),
    ]
    by_route = ks.list_breakdown(
        warehouse_id=warehouse.id, period=PERIOD, metric=BY_NAME["late"], dimension="route"
    )
    assert {row.key for row in by_route.rows} == {"7", "unrouted"}
    for breakdown in (by_carrier, by_route):
        for row in breakdown.rows:
            behind = ks.list_late_deliveries(
                warehouse=warehouse, period=PERIOD, slice_=ks.Slice(breakdown.dimension, row.key)
            )
            assert behind.count() == row.figure.numerator, (breakdown.dimension, row.key)
    page = admin_client(users["manager"]).get(DASHBOARD, CUSTOM).content.decode()
    tile = page[page.index('id="tile-otd"') :]
    assert '<div class="kpi-tile-value">50 %' in tile
