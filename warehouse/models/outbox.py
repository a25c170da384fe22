"""The transactional outbox: background work recorded in the transaction that causes it."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class OutboxMessage(models.Model):
    """A Celery task to run once the transaction that wrote this row has committed.

    API writes never talk to the broker: they insert this row, and the relay
    (`manage.py relay_outbox`) publishes it when the broker is reachable. A row is published
    at least once; consumers de-duplicate on its id (ProcessedMessage).
    """

    id = models.BigAutoField(primary_key=True)
    task = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"], condition=Q(published_at__isnull=True), name="outbox_unpublished"
            ),
            models.Index(fields=["published_at"], name="outbox_published_at"),
        ]

    def __str__(self) -> str:
        state = "published" if self.published_at else "pending"
        return f"#{self.id} {self.task} ({state})"


class ProcessedMessage(models.Model):
    """An outbox message a consumer has applied: written with the consumer's own effects."""

    message_id = models.BigIntegerField(primary_key=True)
    task = models.CharField(max_length=200)
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-processed_at"]

    def __str__(self) -> str:
        return f"#{self.message_id} {self.task}"
