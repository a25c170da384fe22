"""Celery tasks of the outbound side: thin, idempotent, each calling one service."""

from __future__ import annotations

from celery import shared_task

from shipping import services
from shipping.kpis.compute import recompute_recent_kpis
from shipping.kpis.reports import produce_due_otd_reports


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
