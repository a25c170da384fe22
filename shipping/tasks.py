"""Celery tasks of the outbound side: thin, idempotent, each calling one service."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from shipping import services
from shipping.kpis.compute import recompute_kpis, recompute_recent_kpis
from shipping.kpis.reports import produce_daily_otd_report, produce_due_otd_reports
from shipping.services import webhooks
from warehouse.models import Warehouse


# It runs its own retried transactions, so the outbox mark is written after it succeeds.
@shared_task(
    outbox_atomic=False,
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def reallocate_backorders_task(warehouse_id: int, product_id: int) -> int:
    """Stock of a product became available: allocate waiting backorders. Returns orders tried.

    Idempotent: a second run finds nothing backordered that the first could fill.
    """
    return len(services.reallocate_backorders(warehouse_id=warehouse_id, product_id=product_id))


@shared_task(acks_late=True)
def release_due_waves_task() -> list[int]:
    """Beat: release planned waves whose cut-off has passed. Released waves are skipped."""
    return services.release_due_waves()


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def produce_daily_otd_reports_task() -> list[int]:
    """Beat, hourly: yesterday's on-time-delivery report of each warehouse past 06:00 local.

    Idempotent: a warehouse with yesterday's report is skipped. Returns the reports' ids.
    """
    return [report.id for report in produce_due_otd_reports()]


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def recompute_recent_kpis_task() -> int:
    """Beat, every 15 minutes: today's and yesterday's KPI snapshots of every warehouse (local
    days). Idempotent: a rerun upserts the same rows. Returns the snapshot rows written."""
    return recompute_recent_kpis(days=2).total_rows


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def recompute_last_week_kpis_task() -> int:
    """Beat, nightly: the last 7 local days of every warehouse, catching late corrections
    (a delivery confirmed days later, a re-dated proof of delivery). Idempotent."""
    return recompute_recent_kpis(days=7).total_rows


# Sends HTTP requests outside transactions and keeps its state per delivery, so the outbox
# mark is written after it ran; a second run finds nothing pending that the first delivered.
@shared_task(outbox_atomic=False, acks_late=True)
def deliver_tracking_webhooks_task(order_ids: list[int], subscription_id: int | None = None) -> int:
    """Fan the orders' new timeline events out to webhook subscriptions and send them in order.
    Returns the deliveries acknowledged. Failures are retried from the database's schedule."""
    return webhooks.deliver_for_orders(order_ids=order_ids, subscription_id=subscription_id)


@shared_task(acks_late=True)
def deliver_due_webhooks_task() -> int:
    """Beat, every 30 seconds: send each webhook queue whose next attempt is due (retries
    whose scheduled message was lost included). Returns the queues handed out."""
    queues = webhooks.due_queues()
    for subscription_id, order_id in queues:
        deliver_tracking_webhooks_task.apply_async(
            args=[[order_id]], kwargs={"subscription_id": subscription_id}
        )
    return len(queues)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def recompute_kpis_task(warehouse_id: int, date_from: str, date_to: str) -> int:
    """A manager asked (POST /outbound/kpi-runs/): recompute one warehouse's local days
    [date_from, date_to]. Idempotent: a rerun upserts the same rows. Returns rows written."""
    return recompute_kpis(
        date_from=dt.date.fromisoformat(date_from),
        date_to=dt.date.fromisoformat(date_to),
        warehouse_ids=[warehouse_id],
    ).total_rows


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def produce_otd_report_task(warehouse_id: int, day: str) -> int:
    """A manager asked: (re)produce one day's on-time-delivery report. Idempotent (the report
    row is upserted). Returns the report's id."""
    warehouse = Warehouse.objects.get(id=warehouse_id)
    return produce_daily_otd_report(warehouse=warehouse, day=dt.date.fromisoformat(day)).id
