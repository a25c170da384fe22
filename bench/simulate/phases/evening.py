"""Evening: the KPIs of the day's work and of the deliveries computed by the Celery tasks
(queued with POST /outbound/kpi-runs/, which also produces the on-time-delivery reports),
then read back as the manager sees them: the Delivery KPIs page's CSV export (/admin/kpis/,
the tiles table), to compare with what the simulator counted itself."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from bench.simulate.client import Client, ServerError
from bench.simulate.day import PASSWORD, Day, wait_for_background

# (metric, what the simulator counted as numerator, as denominator), per period.
WORK_METRICS = (
    ("pick_accuracy", "tasks_picked_complete", "tasks_closed"),
    ("short_pick_rate", "tasks_short", "tasks_closed"),
    ("fill_rate_lines", "lines_shipped_full", "lines_shipped"),
    ("fill_rate_units", "units_shipped_capped", "units_ordered_shipped"),
    ("inventory_record_accuracy", "counts_accurate", "counts_done"),
)
# Returns are received on the day worked, the deliveries they come from are the next day's:
# the return rate is compared over both.
SPAN_METRICS = (("return_rate", "units_returned", "units_delivered"),)
DELIVERY_METRICS = (
    ("otd", "on_time", "deliveries"),
    ("late", "late", "deliveries"),
    ("otif", "on_time_in_full", "deliveries"),
)


def run(day: Day) -> None:
    days = sorted(day.work_days | {day.delivery_date})
    day.manager.expect(
        day.manager.post(
            "outbound/kpi-runs/",
            {
                "warehouse": day.warehouse_code,
                "date_from": str(days[0]),
                "date_to": str(days[-1]),
                "report": True,
            },
            operation="POST outbound/kpi-runs/",
        ),
        202,
        what="KPI run",
    )
    wait_for_background(day, what="KPI recompute and reports")
    admin = admin_session(day)
    work = (min(day.work_days), max(day.work_days)) if day.work_days else None
    if work:
        compare(day, admin, work, WORK_METRICS)
    compare(day, admin, (day.delivery_date, day.delivery_date), DELIVERY_METRICS)
    if work and day.counted.rmas:
        compare(day, admin, (work[0], day.delivery_date), SPAN_METRICS)
    report = admin.request(
        "GET",
        "/admin/shipping/kpireport/",
        params={"date": str(day.delivery_date)},
        operation="GET /admin/shipping/kpireport/",
        raw=True,
    )
    day.report_found = report.status == 200 and str(day.delivery_date) in str(report.body)


def admin_session(day: Day) -> Client:
    """Log in to the admin as the manager (a browser session with its CSRF token)."""
    client = Client(day.base_url, day.tally, name="manager (admin)")
    page = client.request("GET", "/admin/login/", operation="GET /admin/login/", raw=True)
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', str(page.body))
    if not match:
        raise ServerError("admin login page without a CSRF token")
    answer = client.request(
        "POST",
        "/admin/login/",
        form={
            "csrfmiddlewaretoken": match.group(1),
            "username": "manager",
            "password": PASSWORD,
            "next": "/admin/",
        },
        operation="POST /admin/login/",
        raw=True,
    )
    if answer.status != 302:
        raise ServerError(f"admin login answered {answer.status}")
    return client


def read_tiles(day: Day, admin: Client, period: tuple[dt.date, dt.date]) -> dict[str, dict]:
    answer = admin.request(
        "GET",
        "/admin/kpis/",
        params={
            "warehouse": day.warehouse_id,
            "period": "custom",
            "start": str(period[0]),
            "end": str(period[1]),
            "export": "tiles",
        },
        operation="GET /admin/kpis/?export=tiles",
        raw=True,
    )
    if answer.status != 200:
        raise ServerError(f"KPI export answered {answer.status}")
    return {row["Metric"]: row for row in csv.DictReader(io.StringIO(answer.body))}


def compare(day: Day, admin: Client, period, metrics) -> None:
    tiles = read_tiles(day, admin, period)
    for metric, numerator, denominator in metrics:
        row = tiles.get(metric)
        ours = (getattr(day.counted, numerator), getattr(day.counted, denominator))
        theirs = (
            (round(float(row["Numerator"] or 0)), round(float(row["Denominator"] or 0)))
            if row
            else (None, None)
        )
        day.kpi_checks.append((metric, period, ours, theirs))
