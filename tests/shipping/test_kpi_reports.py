"""The daily on-time-delivery report: a hand-built day with its figures worked out here."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from shipping.kpis import reports
from shipping.models import KpiReport
from shipping.tasks import produce_daily_otd_reports_task
from tests.conftest import make_user
from tests.factories import routing as rf
from tests.factories import shipping as sf
from tests.factories import warehouse as wf

# A Tuesday in winter: Amsterdam is UTC+1, so local midnight is 23:00 UTC the evening before.
DAY = dt.date(2026, 3, 10)
NEXT = DAY + dt.timedelta(days=1)
HOSTILE_NAME = "<b>Bakker & Zonen</b>"


def local(warehouse, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), warehouse.tzinfo)


@pytest.fixture
def day(site, product):
    """Eight deliveries on DAY, window 09:00-12:00 local, tolerance 15 minutes (the default),
    and two that are not DAY's: one after local midnight, one of another warehouse."""
    warehouse = site.warehouse
    plain = sf.make_customer(warehouse, name="Plain Foods")
    hostile = sf.make_customer(warehouse, name=HOSTILE_NAME)

    def deliver(number, customer, carrier, at, **extra):
        shipment = rf.make_shipment(
            customer, product, 2, day=DAY, window=(9, 12), number=number, carrier=carrier
        )
        sf.make_delivery(shipment, at, **extra)
        return shipment

    shipments = {
        # on time, in full
        "A": deliver("SO-A", plain, "DHL", local(warehouse, DAY, 10)),
        # 20 minutes after the window closed: past the 15 minutes' tolerance
        "B": deliver("SO-B", hostile, "DHL", local(warehouse, DAY, 12, 20)),
        # 30 minutes before the window opened: early
        "C": deliver("SO-C", plain, "", local(warehouse, DAY, 8, 30)),
        # exactly at the window's end, and exactly at the end of the tolerance: both on time
        "D": deliver("SO-D", plain, "DHL", local(warehouse, DAY, 12)),
        "E": deliver("SO-E", plain, "PostNL", local(warehouse, DAY, 12, 15)),
        # on time but short (partial) and refused: not in full
        "F": deliver("SO-F", plain, "PostNL", local(warehouse, DAY, 11), is_in_full=False),
        "G": deliver(
            "SO-G",
            plain,
            "PostNL",
            local(warehouse, DAY, 10, 30),
            is_in_full=False,
            exception="refused",
        ),
        # 23:30 local is still DAY (22:30 UTC): late by 11.5 hours
        "H": deliver("SO-H", plain, "DHL", local(warehouse, DAY, 23, 30)),
        # 00:10 local the next day is not DAY's, though it is still DAY in UTC (23:10)
        "I": deliver("SO-I", plain, "DHL", local(warehouse, NEXT, 0, 10)),
    }
    assert shipments["I"].delivery.delivered_at.astimezone(dt.UTC).date() == DAY
    rf.make_route(warehouse, DAY, 1, [shipments["A"], shipments["B"]])
    rf.make_route(warehouse, DAY, 2, [shipments["C"], shipments["D"], shipments["E"]])
    other = wf.make_site(code="RTM")
    stranger = sf.make_customer(other.warehouse)
    sf.make_delivery(
        rf.make_shipment(stranger, product, 1, day=DAY, window=(9, 12), number="SO-X"),
        local(warehouse, DAY, 10),
    )
    return shipments


def test_summary_of_the_hand_built_day(site, day):
    summary = reports.summarise_day(warehouse=site.warehouse, day=DAY)
    # A..H belong to the day; on time A, D, E, F, G; early C; late B (20 min), H (690 min).
    assert summary["deliveries"] == 8
    assert (summary["on_time"], summary["early"], summary["late"]) == (5, 1, 2)
    # in full: all but F (partial) and G (refused); on time and in full: A, D, E.
    assert summary["in_full"] == 6
    assert summary["on_time_in_full"] == 3
    assert summary["otd"] == pytest.approx(5 / 8)
    assert summary["otif"] == pytest.approx(3 / 8)
    assert summary["average_minutes_late"] == pytest.approx((20 + 690) / 2)
    assert summary["tolerance_minutes"] == 15
    # DHL: A, D on time, B, H late -> 50 %; own fleet: C early -> 0 %; PostNL all on time.
    assert [(c["key"], c["deliveries"], c["otd"]) for c in summary["worst_carriers"]] == [
        ("Own fleet", 1, 0.0),
        ("DHL", 4, 0.5),
    ]
    # Route 1: A on time, B late -> 50 %; route 2: C early, D and E on time -> 2/3.
    worst_routes = [(r["key"], r["late"], r["early"]) for r in summary["worst_routes"]]
    assert worst_routes == [("1", 1, 0), ("2", 0, 1)]
    assert summary["worst_routes"][1]["otd"] == pytest.approx(2 / 3)


def test_tolerance_setting_moves_the_boundary(site, day, settings):
    settings.DOCKSIDE = {**settings.DOCKSIDE, "DELIVERY_WINDOW_TOLERANCE_MINUTES": 25}
    summary = reports.summarise_day(warehouse=site.warehouse, day=DAY)
    # B (20 min late) is now on time; C (30 min early) still early.
    assert (summary["on_time"], summary["early"], summary["late"]) == (6, 1, 1)
    assert summary["average_minutes_late"] == 690


def test_rows_come_in_one_query_and_the_csv_parses(site, day, django_assert_num_queries):
    with django_assert_num_queries(1):
        rows = reports.list_day_rows(warehouse=site.warehouse, day=DAY)
    parsed = list(csv.reader(io.StringIO(reports.render_csv(rows))))
    assert tuple(parsed[0]) == reports.CSV_HEADER
    body = {line[0]: dict(zip(reports.CSV_HEADER, line, strict=True)) for line in parsed[1:]}
    assert sorted(body) == [f"SO-{x}" for x in "ABCDEFGH"]
    # In delivery order: C (08:30) first, H (23:30) last.
    order_numbers = [line[0] for line in parsed[1:]]
    assert (order_numbers[0], order_numbers[-1]) == ("SO-C", "SO-H")
    b = body["SO-B"]
    assert (b["Customer"], b["Carrier"], b["Route"]) == (HOSTILE_NAME, "DHL", "1")
    assert b["Vehicle"].startswith("VAN-")
    assert (b["Promised from"], b["Promised until"]) == ("2026-03-10 09:00", "2026-03-10 12:00")
    assert (b["Delivered at"], b["Minutes late"], b["On time"]) == ("2026-03-10 12:20", "20", "no")
    c = body["SO-C"]
    assert (c["Minutes early"], c["Minutes late"], c["On time"], c["Carrier"]) == (
        "30",
        "",
        "no",
        "Own fleet",
    )
    assert (body["SO-D"]["Minutes late"], body["SO-D"]["On time"]) == ("", "yes")
    assert (body["SO-E"]["Minutes late"], body["SO-E"]["On time"]) == ("15", "yes")
    assert (body["SO-F"]["In full"], body["SO-F"]["Exception"]) == ("no", "")
    assert (body["SO-G"]["In full"], body["SO-G"]["Exception"]) == ("no", "Refused")
    h = body["SO-H"]
    assert (h["Delivered at"], h["Minutes late"], h["Route"]) == ("2026-03-10 23:30", "690", "")
    assert body["SO-A"]["In full"] == "yes" and body["SO-A"]["On time"] == "yes"


def test_report_is_kept_once_and_its_html_escapes_names(site, day, product):
    first = reports.produce_daily_otd_report(warehouse=site.warehouse, day=DAY)
    html = first.html
    assert html.startswith("<!doctype html>") and "</html>" in html
    assert "&lt;b&gt;Bakker &amp; Zonen&lt;/b&gt;" in html
    assert HOSTILE_NAME not in html
    # self-contained: no external stylesheet, script or image
    assert "<link" not in html and "<script" not in html and "src=" not in html
    assert "62.5 %" in html and "37.5 %" in html
    assert first.summary["deliveries"] == 8 and first.emailed_to == []

    # A late confirmation arrives; producing again updates the one row.
    late = sf.make_customer(site.warehouse)
    sf.make_delivery(
        rf.make_shipment(late, product, 1, day=DAY, window=(9, 12)), local(site.warehouse, DAY, 9)
    )
    second = reports.produce_daily_otd_report(warehouse=site.warehouse, day=DAY)
    assert KpiReport.objects.count() == 1
    assert second.id == first.id
    assert second.summary["deliveries"] == 9 and second.summary["on_time"] == 6
    assert len(list(csv.reader(io.StringIO(second.csv)))) == 1 + 9


def test_a_day_without_deliveries(site):
    report = reports.produce_daily_otd_report(warehouse=site.warehouse, day=DAY)
    assert report.summary["deliveries"] == 0
    assert report.summary["otd"] is None and report.summary["average_minutes_late"] is None
    assert report.csv.strip() == ",".join(reports.CSV_HEADER)
    assert "No deliveries on this day." in report.html


@pytest.fixture
def managers(site, role_groups):
    """Who should and should not get the e-mail."""
    other = wf.make_site(code="UTR")
    return {
        "boss": make_user("boss", "manager", site=site, email="boss@example.com"),
        "deputy": make_user("deputy", "manager", site=site, email="deputy@example.com"),
        "no-address": make_user("noaddress", "manager", site=site),
        "gone": make_user("gone", "manager", site=site, email="gone@example.com", is_active=False),
        "dispatcher": make_user("disp", "dispatcher", site=site, email="disp@example.com"),
        "elsewhere": make_user("far", "manager", site=other, email="far@example.com"),
        "no-site": make_user("nosite", "manager", email="nosite@example.com"),
    }


def test_email_goes_to_the_warehouse_managers_once(site, day, managers):
    report = reports.produce_daily_otd_report(warehouse=site.warehouse, day=DAY, email=True)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["boss@example.com", "deputy@example.com"]
    assert report.emailed_to == ["boss@example.com", "deputy@example.com"]
    assert "2026-03-10" in message.subject and "62.5 %" in message.subject
    assert "OTD: 62.5 %" in message.body and "Worst carriers:" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and html == report.html
    filename, content, mimetype = message.attachments[0]
    assert filename == "dockside-otd-AMS-2026-03-10.csv"
    assert mimetype == "text/csv" and content == report.csv

    reports.produce_daily_otd_report(warehouse=site.warehouse, day=DAY, email=True)
    assert len(mail.outbox) == 1, "an e-mailed report is not sent again"
    reports.produce_daily_otd_report(warehouse=site.warehouse, day=DAY, email=True, resend=True)
    assert len(mail.outbox) == 2


def test_email_follows_the_setting(site, day, managers, settings):
    reports.produce_daily_otd_report(warehouse=site.warehouse, day=DAY)
    assert mail.outbox == []
    settings.DOCKSIDE = {**settings.DOCKSIDE, "KPI_REPORT_EMAIL": True}
    report = reports.produce_daily_otd_report(warehouse=site.warehouse, day=DAY)
    assert len(mail.outbox) == 1 and report.emailed_to == mail.outbox[0].to
    reports.produce_daily_otd_report(warehouse=site.warehouse, day=DAY, email=False)
    assert len(mail.outbox) == 1


def test_due_reports_wait_for_six_local_and_are_made_once(site, day, managers, settings):
    settings.DOCKSIDE = {**settings.DOCKSIDE, "KPI_REPORT_EMAIL": True}
    eastern = wf.make_warehouse("NYC", time_zone="America/New_York")
    before = local(site.warehouse, NEXT, 5, 50)
    assert reports.produce_due_otd_reports(now=before) == []
    after = local(site.warehouse, NEXT, 6, 10)  # 00:10 in New York: not yet there
    produced = reports.produce_due_otd_reports(now=after)
    # AMS and the other two Dutch warehouses (RTM of `day`, UTR of `managers`); not NYC.
    assert [(r.warehouse.code, r.date) for r in produced] == [
        ("AMS", DAY),
        ("RTM", DAY),
        ("UTR", DAY),
    ]
    assert [r.summary["deliveries"] for r in produced] == [8, 1, 0]
    # AMS's two managers and UTR's; RTM has no manager with an address.
    assert [m.to for m in mail.outbox] == [
        ["boss@example.com", "deputy@example.com"],
        ["far@example.com"],
    ]
    assert reports.produce_due_otd_reports(now=after) == []
    assert len(mail.outbox) == 2
    # Later that day New York passes 06:00 and gets its (empty) report for its yesterday.
    noon_in_new_york = dt.datetime.combine(NEXT, dt.time(12), eastern.tzinfo)
    produced = reports.produce_due_otd_reports(now=noon_in_new_york)
    assert [(r.warehouse.code, r.date, r.summary["deliveries"]) for r in produced] == [
        ("NYC", DAY, 0)
    ]
    assert KpiReport.objects.count() == 4


def test_due_reports_send_one_whose_email_failed(site, day, managers, settings, monkeypatch):
    settings.DOCKSIDE = {**settings.DOCKSIDE, "KPI_REPORT_EMAIL": True}
    after = local(site.warehouse, NEXT, 7)

    def broken(self, fail_silently=False):
        raise ConnectionRefusedError("mail server down")

    with monkeypatch.context() as patch:
        patch.setattr("django.core.mail.EmailMessage.send", broken)
        with pytest.raises(ConnectionRefusedError):
            reports.produce_due_otd_reports(now=after)
    # Every warehouse was tried; the reports are kept, none marked as e-mailed.
    assert sorted(KpiReport.objects.values_list("warehouse__code", "emailed_to")) == [
        ("AMS", []),
        ("RTM", []),
        ("UTR", []),
    ]
    assert mail.outbox == []
    assert reports.produce_due_otd_reports(now=after) == []
    assert [m.to for m in mail.outbox] == [
        ["boss@example.com", "deputy@example.com"],
        ["far@example.com"],
    ]
    kept = KpiReport.objects.get(warehouse=site.warehouse)
    assert kept.emailed_to == ["boss@example.com", "deputy@example.com"]


def test_task_uses_the_clock(site, day, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: local(site.warehouse, NEXT, 5, 59))
    assert produce_daily_otd_reports_task() == []
    monkeypatch.setattr(timezone, "now", lambda: local(site.warehouse, NEXT, 6))
    ids = produce_daily_otd_reports_task()
    assert sorted(KpiReport.objects.values_list("id", "warehouse__code", "date")) == [
        (ids[0], "AMS", DAY),
        (ids[1], "RTM", DAY),
    ]
    assert produce_daily_otd_reports_task() == []


def admin_client(user: User) -> Client:
    User.objects.filter(id=user.id).update(is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def test_download_views_for_managers_only(site, day, users):
    report = reports.produce_daily_otd_report(warehouse=site.warehouse, day=DAY)
    csv_url = reverse("admin:shipping_kpireport_csv", args=[report.id])
    html_url = reverse("admin:shipping_kpireport_html", args=[report.id])

    manager = admin_client(users["manager"])
    response = manager.get(csv_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"] == 'attachment; filename="dockside-otd-AMS-2026-03-10.csv"'
    )
    assert response.content.decode() == report.csv
    response = manager.get(html_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "Content-Disposition" not in response
    assert response.content.decode() == report.html
    listing = manager.get(reverse("admin:shipping_kpireport_changelist"))
    assert listing.status_code == 200
    assert csv_url in listing.content.decode() and "62.5 %" in listing.content.decode()

    dock = admin_client(users["dock"])
    assert dock.get(csv_url).status_code == 403
    assert dock.get(html_url).status_code == 403
    assert dock.get(reverse("admin:shipping_kpireport_changelist")).status_code == 403
    # A manager of another warehouse does not see this warehouse's reports.
    assert admin_client(users["outsider"]).get(csv_url).status_code == 404


def test_admin_produces_a_report(site, day, users):
    manager = admin_client(users["manager"])
    url = reverse("admin:shipping_kpireport_produce")
    assert manager.get(url).status_code == 200
    response = manager.post(url, {"warehouse": site.warehouse.id, "day": "2026-03-10"})
    assert response.status_code == 302
    report = KpiReport.objects.get(warehouse=site.warehouse)
    assert (report.date, report.created_by, report.summary["deliveries"]) == (
        DAY,
        users["manager"],
        8,
    )
    assert admin_client(users["dock"]).get(url).status_code == 403
