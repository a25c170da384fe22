"""Webhooks: integrations subscribe to tracking events; each delivery and attempt is logged.

Delivery state lives here, not in the broker: a delivery is pending until its receiver answers
2xx, and `next_attempt_at` says when it is due again, so a beat task finds every retry even if
the broker lost the message that scheduled it.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q

from shipping.models.tracking import TrackingStatus
from warehouse.models import Warehouse


def all_event_types() -> list[str]:
    return list(TrackingStatus.values)


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class WebhookSubscription(models.Model):
    """Send a warehouse's tracking events (of one customer, or of all) to `target_url`."""

    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, related_name="webhook_subscriptions"
    )
    customer = models.ForeignKey(
        "shipping.Customer",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="webhook_subscriptions",
        help_text="Blank: every customer of the warehouse.",
    )
    event_types = models.JSONField(default=all_event_types)
    target_url = models.URLField(
        max_length=500, validators=[URLValidator(schemes=["http", "https"])]
    )
    secret = models.CharField(
        max_length=128, default=new_webhook_secret, help_text="Signs every payload (HMAC-SHA256)."
    )
    description = models.CharField(max_length=120, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["warehouse", "id"]
        indexes = [models.Index(fields=["warehouse", "is_active"], name="webhook_sub_active")]

    def __str__(self) -> str:
        return f"{self.target_url} ({self.warehouse_id})"


class WebhookDelivery(models.Model):
    """One tracking event for one subscription, sent until the receiver acknowledges it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Given up"

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(
        "shipping.TrackingEvent", on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    # Kept from the event, so that finding a subscription's next delivery per order is one index.
    order = models.ForeignKey("shipping.Order", on_delete=models.CASCADE, related_name="+")
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # Retried until then, then given up (a replay by hand starts a new period).
    retry_until = models.DateTimeField()
    replays = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event"], name="webhook_delivery_once_per_event"
            )
        ]
        indexes = [
            models.Index(
                fields=["subscription", "order", "event"],
                condition=Q(status="pending"),
                name="webhook_delivery_queue",
            ),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_due",
            ),
        ]

    def __str__(self) -> str:
        return str(self.delivery_id)


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: the delivery log."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField()

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}: {self.status_code or self.error}"
