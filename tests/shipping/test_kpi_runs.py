"""A manager queues the KPIs and reports of named days (POST /outbound/kpi-runs/), and can
see when the background work is done (GET /background-work/). Tasks run inline in the tests,
after the commit: the run has happened when the answer comes."""

from __future__ import annotations

import datetime as dt

import pytest

from shipping.models import KpiReport, KpiSnapshot
from tests.factories import kpis as kf
from tests.factories import shipping as sf
from warehouse.models import OutboxMessage


@pytest.fixture
def delivered_day(site, product):
    day = dt.date.today() - dt.timedelta(days=20)  # out of beat's reach (today, yesterday)
    customer = sf.make_customer(site.warehouse)
    window = (kf.at(site.warehouse, day, 9), kf.at(site.warehouse, day, 12))
    kf.delivered_order(
        customer, product, window=window, delivered_at=kf.at(site.warehouse, day, 10)
    )
    kf.delivered_order(
        customer, product, window=window, delivered_at=kf.at(site.warehouse, day, 15)
    )
    return day


def test_a_run_recomputes_the_days_and_files_their_reports(
    site, delivered_day, api, django_capture_on_commit_callbacks
):
    body = {
        "warehouse": site.warehouse.code,
        "date_from": str(delivered_day - dt.timedelta(days=1)),
        "date_to": str(delivered_day),
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = api["manager"].post("/api/v1/outbound/kpi-runs/", body)
    assert response.status_code == 202, response.content
    assert response.json()["reports"] == [body["date_from"], body["date_to"]]
    otd = KpiSnapshot.objects.get(
        warehouse=site.warehouse, date=delivered_day, dimension="all", key="", metric="otd"
    )
    assert (otd.numerator, otd.denominator) == (1, 2)
    report = KpiReport.objects.get(warehouse=site.warehouse, date=delivered_day)
    assert report.summary["deliveries"] == 2
    assert OutboxMessage.objects.filter(task="shipping.tasks.recompute_kpis_task").count() == 1
    waiting = api["manager"].get("/api/v1/background-work/").json()
    assert waiting["waiting"] == 0 and waiting["unpublished"] == 0


def test_a_run_is_refused_for_a_long_or_reversed_range(site, api):
    url = "/api/v1/outbound/kpi-runs/"
    too_long = {
        "warehouse": site.warehouse.code,
        "date_from": "2026-01-01",
        "date_to": "2026-03-01",
    }
    reversed_ = {
        "warehouse": site.warehouse.code,
        "date_from": "2026-03-01",
        "date_to": "2026-02-01",
    }
    ancient = {"warehouse": site.warehouse.code, "date_from": "0001-01-01", "date_to": "0001-01-02"}
    for body in (too_long, reversed_, ancient):
        response = api["manager"].post(url, body)
        assert response.status_code == 400, body
    assert not OutboxMessage.objects.exists()


def test_waiting_work_is_counted_until_applied(db, users, api):
    # A message no relay published and no worker applied yet.
    OutboxMessage.objects.create(task="shipping.tasks.recompute_recent_kpis_task")
    waiting = api["manager"].get("/api/v1/background-work/").json()
    assert waiting["waiting"] == 1 and waiting["unpublished"] == 1
    assert waiting["oldest_waiting_at"] is not None
