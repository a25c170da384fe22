"""Celery tasks of the inbound side: thin, idempotent, enqueued after commit."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from receiving import services
from warehouse.models import Warehouse
from warehouse.outbox import enqueue


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def schedule_dock_appointments_task(warehouse_id: int, date: str) -> list[int]:
    """Give the announced ASNs of a warehouse's local day (ISO date) dock slots.

    Idempotent: ASNs already scheduled are left alone, so running it twice books nothing new.
    Returns the ids of the appointments it booked.
    """
    day = datetime.fromisoformat(date).date()
    booked = services.schedule_dock_appointments(warehouse_id=warehouse_id, day=day)
    return [appointment.id for appointment in booked]


@shared_task(acks_late=True)
def schedule_tomorrows_dock_appointments_task() -> int:
    """Beat entry: queue the scheduler for tomorrow (local) in every warehouse."""
    count = 0
    for warehouse in Warehouse.objects.all():
        tomorrow = timezone.localdate(timezone=warehouse.tzinfo) + timedelta(days=1)
        enqueue_scheduling(warehouse_id=warehouse.id, day=tomorrow)
        count += 1
    return count


def enqueue_scheduling(*, warehouse_id: int, day: date) -> None:
    """Queue `schedule_dock_appointments_task` once the current transaction commits."""
    enqueue("receiving.tasks.schedule_dock_appointments_task", warehouse_id, day.isoformat())
