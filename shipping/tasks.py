"""Celery tasks of the outbound side: thin, idempotent, each calling one service."""

from __future__ import annotations

from celery import shared_task

from shipping import services


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
