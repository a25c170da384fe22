"""The outbound audit trail: one row per state change, written by the service that made it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from warehouse.models import Warehouse


class OutboundEvent(models.Model):
    """Who changed what, when. A scan's idempotency key makes its confirmation apply once."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=40)
    order = models.ForeignKey(
        "shipping.Order", on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    wave = models.ForeignKey(
        "shipping.Wave", on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    pick_task = models.ForeignKey(
        "shipping.PickTask", on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    shipment = models.ForeignKey(
        "shipping.Shipment", on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    data = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=128, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="outbound_event_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} at {self.created_at:%Y-%m-%d %H:%M}"
