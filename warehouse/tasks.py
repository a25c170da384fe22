"""Housekeeping tasks of the platform: thin, idempotent, scheduled by beat."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from warehouse import outbox
from warehouse.counts.rules import create_daily_counts
from warehouse.models import IdempotencyRecord


@shared_task(acks_late=True)
def purge_outbox_task() -> int:
    """Delete outbox messages published more than a week ago; returns how many."""
    return outbox.purge_published(older_than_days=7)


@shared_task(acks_late=True)
def purge_idempotency_records_task() -> int:
    """Forget idempotency keys older than the retention (72 hours at least): a scanner that
    retries later than that gets a fresh effect, as documented in the README."""
    hours = max(72, int(settings.DOCKSIDE["IDEMPOTENCY_KEY_RETENTION_HOURS"]))
    cutoff = timezone.now() - timedelta(hours=hours)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@shared_task(acks_late=True)
def create_cycle_counts_task() -> int:
    """Create each warehouse's cycle counts for its local today; returns how many were new
    (none when today's were already created: safe to run hourly)."""
    return create_daily_counts()
