"""The daily on-time-delivery report: one warehouse's deliveries of one local day, kept as CSV
and a printable HTML page, optionally e-mailed to the warehouse's managers.

On time follows `shipping.services.dispatch.is_on_time` (the promised window widened by
DOCKSIDE["DELIVERY_WINDOW_TOLERANCE_MINUTES"] each side), judged here in SQL with the
tolerance in force when the report is produced. Early = before the widened window, late =
after it; minutes late are counted from the window's end (as the `minutes_late` KPI), minutes
early up to the window's start. OTIF = deliveries on time and in full / deliveries, as in the
outbound KPI endpoint.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.template.loader import render_to_string
from django.utils import timezone

from routing.models import RouteStop
from shipping.models import Delivery, KpiReport
from shipping.services.common import setting
from warehouse.models import Warehouse
from warehouse.roles import MANAGER, recorded_user

log = logging.getLogger(__name__)

# A warehouse's report for yesterday is produced once its local clock has passed this time, so
# late evening deliveries confirmed after midnight are in it.
REPORT_AFTER_LOCAL_TIME = dt.time(6, 0)
# How many carriers and routes the summary names as the worst of the day.
WORST_SHOWN = 3
OWN_FLEET = "Own fleet"

CSV_HEADER = (
    "Order",
    "Customer",
    "Carrier",
    "Vehicle",
    "Route",
    "Promised from",
    "Promised until",
    "Delivered at",
    "Minutes early",
    "Minutes late",
    "On time",
    "In full",
    "Exception",
)


@dataclass(frozen=True)
class ReportRow:
    """One delivery as the report shows it; times are local to the warehouse."""

    order: str
    customer: str
    carrier: str
    vehicle: str
    route: str
    promised_from: dt.datetime
    promised_until: dt.datetime
    delivered_at: dt.datetime
    minutes_early: int | None
    minutes_late: int | None
    timing: str  # "early", "on_time" or "late"
    is_in_full: bool
    exception: str

    @property
    def is_on_time(self) -> bool:
        return self.timing == "on_time"


def local_day_bounds(warehouse: Warehouse, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The warehouse's local `day` as [start, end) instants (23 or 25 hours across DST)."""
    tz = warehouse.tzinfo
    start = dt.datetime.combine(day, dt.time(0), tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz)
    return start, end


def _timing_filters(tolerance: dt.timedelta) -> dict[str, Q]:
    window_start = F("shipment__order__promised_window_start")
    window_end = F("shipment__order__promised_window_end")
    early = Q(delivered_at__lt=window_start - tolerance)
    late = Q(delivered_at__gt=window_end + tolerance)
    return {"early": early, "late": late, "on_time": ~early & ~late}


def _route_number() -> Subquery:
    # A shipment sits on one stop per plan; a re-planned day keeps the latest plan's route.
    return Subquery(
        RouteStop.objects.filter(shipments=OuterRef("shipment_id"), route__isnull=False)
        .order_by("-plan__delivery_date", "-plan_id")
        .values("route__number")[:1]
    )


def _day_deliveries(warehouse: Warehouse, day: dt.date) -> QuerySet:
    start, end = local_day_bounds(warehouse, day)
    return Delivery.objects.filter(
        shipment__warehouse=warehouse, delivered_at__gte=start, delivered_at__lt=end
    )


def _counts(tolerance: dt.timedelta) -> dict:
    timing = _timing_filters(tolerance)
    return {
        "deliveries": Count("id"),
        "on_time": Count("id", filter=timing["on_time"]),
        "early": Count("id", filter=timing["early"]),
        "late": Count("id", filter=timing["late"]),
    }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _worst(deliveries: QuerySet, key: str, tolerance: dt.timedelta) -> list[dict]:
    """The slices (carriers or routes) with the lowest on-time share of the day, worst first;
    only slices with at least one delivery off time."""
    rows = (
        deliveries.values(slice_key=F(key))
        .annotate(**_counts(tolerance))
        .filter(on_time__lt=F("deliveries"))
        .annotate(
            share=ExpressionWrapper(
                Cast("on_time", FloatField()) / Cast("deliveries", FloatField()),
                output_field=FloatField(),
            )
        )
        .order_by("share", "-late", "slice_key")[: WORST_SHOWN + 1]
    )
    # Deliveries without a route form one group with a NULL key, dropped here: a filter on the
    # route subquery in SQL would make PostgreSQL cost it for every delivery of the table.
    rows = [row for row in rows if row["slice_key"] is not None][:WORST_SHOWN]
    return [
        {
            "key": str(row["slice_key"]),
            "deliveries": row["deliveries"],
            "on_time": row["on_time"],
            "early": row["early"],
            "late": row["late"],
            "otd": row["share"],
        }
        for row in rows
    ]


def summarise_day(*, warehouse: Warehouse, day: dt.date) -> dict:
    """The day's figures, aggregated in the database: counts, OTD, OTIF, average minutes late
    and the worst carriers and routes. Rates are fractions (0..1) or None without deliveries."""
    tolerance = dt.timedelta(minutes=int(setting("DELIVERY_WINDOW_TOLERANCE_MINUTES", 15)))
    timing = _timing_filters(tolerance)
    deliveries = _day_deliveries(warehouse, day)
    minutes_after_end = ExpressionWrapper(
        F("delivered_at") - F("shipment__order__promised_window_end"),
        output_field=DurationField(),
    )
    totals = deliveries.aggregate(
        **_counts(tolerance),
        in_full=Count("id", filter=Q(is_in_full=True)),
        on_time_in_full=Count("id", filter=timing["on_time"] & Q(is_in_full=True)),
        average_late=Avg(minutes_after_end, filter=timing["late"]),
    )
    carriers = deliveries.annotate(
        carrier_label=Case(
            When(shipment__order__carrier="", then=Value(OWN_FLEET)),
            default=F("shipment__order__carrier"),
            output_field=CharField(),
        )
    )
    routed = deliveries.annotate(route_number=_route_number())
    average_late = totals["average_late"]
    return {
        "warehouse": warehouse.code,
        "date": day.isoformat(),
        "time_zone": warehouse.time_zone,
        "tolerance_minutes": int(tolerance.total_seconds() // 60),
        "deliveries": totals["deliveries"],
        "on_time": totals["on_time"],
        "early": totals["early"],
        "late": totals["late"],
        "in_full": totals["in_full"],
        "on_time_in_full": totals["on_time_in_full"],
        "otd": _share(totals["on_time"], totals["deliveries"]),
        "otif": _share(totals["on_time_in_full"], totals["deliveries"]),
        "average_minutes_late": (
            round(average_late.total_seconds() / 60, 1) if average_late is not None else None
        ),
        "worst_carriers": _worst(carriers, "carrier_label", tolerance),
        "worst_routes": _worst(routed, "route_number", tolerance),
    }


def list_day_rows(*, warehouse: Warehouse, day: dt.date) -> list[ReportRow]:
    """The day's deliveries in delivery order, read in one query."""
    tolerance = dt.timedelta(minutes=int(setting("DELIVERY_WINDOW_TOLERANCE_MINUTES", 15)))
    timing = _timing_filters(tolerance)
    exceptions = dict(Delivery.ExceptionKind.choices)
    tz = warehouse.tzinfo
    values = (
        _day_deliveries(warehouse, day)
        .annotate(
            route_number=_route_number(),
            timing=Case(
                When(timing["early"], then=Value("early")),
                When(timing["late"], then=Value("late")),
                default=Value("on_time"),
                output_field=CharField(),
            ),
        )
        .order_by("delivered_at", "id")
        .values(
            "delivered_at",
            "is_in_full",
            "exception",
            "timing",
            "route_number",
            order_number=F("shipment__order__number"),
            customer_name=F("shipment__order__customer__name"),
            carrier=F("shipment__order__carrier"),
            vehicle=F("shipment__vehicle_code"),
            window_start=F("shipment__order__promised_window_start"),
            window_end=F("shipment__order__promised_window_end"),
        )
    )
    rows = []
    for value in values:
        delivered = value["delivered_at"]
        early = value["window_start"] - delivered
        late = delivered - value["window_end"]
        rows.append(
            ReportRow(
                order=value["order_number"],
                customer=value["customer_name"],
                carrier=value["carrier"] or OWN_FLEET,
                vehicle=value["vehicle"],
                route=str(value["route_number"]) if value["route_number"] is not None else "",
                promised_from=value["window_start"].astimezone(tz),
                promised_until=value["window_end"].astimezone(tz),
                delivered_at=delivered.astimezone(tz),
                minutes_early=_whole_minutes(early) if early > dt.timedelta(0) else None,
                minutes_late=_whole_minutes(late) if late > dt.timedelta(0) else None,
                timing=value["timing"],
                is_in_full=value["is_in_full"],
                exception=exceptions.get(value["exception"], value["exception"])
                if value["exception"]
                else "",
            )
        )
    return rows


def _whole_minutes(span: dt.timedelta) -> int:
    return int(span.total_seconds() // 60 + (1 if span.total_seconds() % 60 >= 30 else 0))


def _clock(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _cell(text: str) -> str:
    # A customer name like "=HYPERLINK(...)" would run as a formula in a spreadsheet.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_csv(rows: list[ReportRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow(
            [
                _cell(row.order),
                _cell(row.customer),
                _cell(row.carrier),
                _cell(row.vehicle),
                row.route,
                _clock(row.promised_from),
                _clock(row.promised_until),
                _clock(row.delivered_at),
                "" if row.minutes_early is None else row.minutes_early,
                "" if row.minutes_late is None else row.minutes_late,
                _yes(row.is_on_time),
                _yes(row.is_in_full),
                row.exception,
            ]
        )
    return out.getvalue()


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value}"


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f} %"


def render_html(*, warehouse: Warehouse, day: dt.date, summary: dict, rows) -> str:
    """A self-contained printable page (inline CSS, no scripts); every value is escaped."""
    return render_to_string(
        "shipping/otd_report.html",
        {
            "warehouse": warehouse,
            "day": day,
            "summary": summary,
            "otd": _percent(summary["otd"]),
            "otif": _percent(summary["otif"]),
            "worst_carriers": [
                {**slice_, "otd_text": _percent(slice_["otd"])}
                for slice_ in summary["worst_carriers"]
            ],
            "worst_routes": [
                {**slice_, "otd_text": _percent(slice_["otd"])}
                for slice_ in summary["worst_routes"]
            ],
            "rows": [
                {
                    "row": row,
                    "window": _window_text(row, day),
                    "delivered": _clock(row.delivered_at)
                    if row.delivered_at.date() != day
                    else row.delivered_at.strftime("%H:%M"),
                }
                for row in rows
            ],
        },
    )


def _window_text(row: ReportRow, day: dt.date) -> str:
    # Local clock strings made here: the template engine would shift datetimes to the server's
    # time zone.
    start, end = row.promised_from, row.promised_until
    if start.date() == end.date() == day:
        return f"{start:%H:%M}-{end:%H:%M}"
    return f"{_clock(start)} - {_clock(end)}"


def render_text(summary: dict) -> str:
    """The summary as plain text: the body of the e-mail."""
    lines = [
        f"On-time delivery, {summary['warehouse']}, {summary['date']} ({summary['time_zone']})",
        "",
        f"Deliveries: {summary['deliveries']}",
        f"On time: {summary['on_time']}  Early: {summary['early']}  Late: {summary['late']}",
        f"OTD: {_percent(summary['otd'])}  OTIF: {_percent(summary['otif'])}",
        f"Average minutes late: {_number(summary['average_minutes_late'])}",
        f"(on time = inside the promised window +/- {summary['tolerance_minutes']} minutes)",
    ]
    for title, slices in (
        ("Worst carriers", summary["worst_carriers"]),
        ("Worst routes", summary["worst_routes"]),
    ):
        if slices:
            lines += ["", f"{title}:"]
            lines += [
                f"  {s['key']}: {_percent(s['otd'])} on time "
                f"({s['late']} late, {s['early']} early of {s['deliveries']})"
                for s in slices
            ]
    lines += ["", "The full list is attached (CSV); the HTML version is in this message."]
    return "\n".join(lines) + "\n"


def report_filename(report: KpiReport, extension: str) -> str:
    return f"dockside-otd-{report.warehouse.code}-{report.date.isoformat()}.{extension}"


def is_emailing_on() -> bool:
    """DOCKSIDE["KPI_REPORT_EMAIL"]: whether produced reports go to the managers by default."""
    return bool(setting("KPI_REPORT_EMAIL", False))


def list_report_recipients(*, warehouse: Warehouse) -> list[str]:
    """E-mail addresses of the warehouse's active managers (staff of it, in the manager role)."""
    return list(
        get_user_model()
        .objects.filter(is_active=True, warehouses=warehouse, groups__name=MANAGER)
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
        .distinct()
    )


def produce_daily_otd_report(
    *,
    warehouse: Warehouse,
    day: dt.date,
    actor=None,
    email: bool | None = None,
    resend: bool = False,
) -> KpiReport:
    """Produce (or produce again) the on-time-delivery report of `warehouse`'s local `day`.

    The row is upserted on (warehouse, kind, date): producing it twice keeps one row with the
    latest figures. With `email` True, or None and DOCKSIDE["KPI_REPORT_EMAIL"] on, it is sent
    to the warehouse's managers and their addresses are recorded in `emailed_to`; a report
    already e-mailed is not sent again unless `resend`. Raises whatever the e-mail backend
    raises, with the report kept and `emailed_to` unchanged, so a retry sends it.
    """
    summary = summarise_day(warehouse=warehouse, day=day)
    rows = list_day_rows(warehouse=warehouse, day=day)
    with transaction.atomic():
        report, _ = KpiReport.objects.update_or_create(
            warehouse=warehouse,
            kind=KpiReport.Kind.ON_TIME_DELIVERY,
            date=day,
            defaults={
                "csv": render_csv(rows),
                "html": render_html(warehouse=warehouse, day=day, summary=summary, rows=rows),
                "summary": summary,
                "created_at": timezone.now(),
                "created_by": recorded_user(actor),
            },
        )
    if email is None:
        email = is_emailing_on()
    if email:
        report = email_report(report_id=report.id, resend=resend)
    return report


@transaction.atomic
def email_report(*, report_id: int, resend: bool = False) -> KpiReport:
    """Send a report to its warehouse's managers once: the row stays locked while sending, so
    two producers of the same report cannot both send it."""
    report = KpiReport.objects.select_for_update().select_related("warehouse").get(id=report_id)
    if report.emailed_to and not resend:
        return report
    recipients = list_report_recipients(warehouse=report.warehouse)
    if not recipients:
        return report
    summary = report.summary
    message = EmailMultiAlternatives(
        subject=(
            f"On-time delivery {report.warehouse.code} {report.date.isoformat()}: "
            f"{_percent(summary.get('otd'))} of {summary.get('deliveries', 0)}"
        ),
        body=render_text(summary),
        to=recipients,
    )
    message.attach_alternative(report.html, "text/html")
    message.attach(report_filename(report, "csv"), report.csv, "text/csv")
    message.send()
    report.emailed_to = recipients
    report.save(update_fields=["emailed_to"])
    return report


def produce_due_otd_reports(*, now: dt.datetime | None = None) -> list[KpiReport]:
    """Produce yesterday's report for every warehouse whose local clock has passed
    REPORT_AFTER_LOCAL_TIME and that has none for yesterday yet; with e-mail on, send one
    produced earlier whose sending failed. Safe to run often and twice.

    A failing warehouse does not stop the others: the first error is raised after all were
    tried, so the task's retry picks up only what is still missing.
    """
    now = now or timezone.now()
    send = is_emailing_on()
    produced = []
    failure: Exception | None = None
    for warehouse in Warehouse.objects.order_by("id"):
        if now.astimezone(warehouse.tzinfo).time() < REPORT_AFTER_LOCAL_TIME:
            continue
        yesterday = yesterday_of(warehouse, now=now)
        existing = (
            KpiReport.objects.filter(
                warehouse=warehouse, kind=KpiReport.Kind.ON_TIME_DELIVERY, date=yesterday
            )
            .values_list("id", "emailed_to")
            .first()
        )
        try:
            if existing is None:
                produced.append(produce_daily_otd_report(warehouse=warehouse, day=yesterday))
            elif send and not existing[1]:
                email_report(report_id=existing[0])
        except Exception as error:
            log.exception("On-time-delivery report of %s for %s failed", warehouse.code, yesterday)
            failure = failure or error
    if failure is not None:
        raise failure
    return produced


def yesterday_of(warehouse: Warehouse, *, now: dt.datetime | None = None) -> dt.date:
    """The warehouse's previous local day."""
    return (now or timezone.now()).astimezone(warehouse.tzinfo).date() - dt.timedelta(days=1)
