"""Cycle count requests: a bin (and optionally one product in it) that someone must count.

Other processes raise them (a short pick, a manager, a counting rule); the counting process
itself closes them. Until a request is done, allocation avoids that bin for that product.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from warehouse.models.catalog import Product
from warehouse.models.layout import Location, Warehouse


class CountRequest(models.Model):
    class Reason(models.TextChoices):
        SHORT_PICK = "short_pick", "Short pick"
        MANAGER = "manager", "Requested by a manager"
        RULE = "rule", "Counting rule"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="count_requests")
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=12, choices=Reason.choices)
    # What raised it, e.g. "pick-task:42".
    reference = models.CharField(max_length=64, blank=True)
    note = models.CharField(max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["warehouse", "product", "location"],
                condition=Q(status="open"),
                name="count_request_open",
            )
        ]

    def __str__(self) -> str:
        what = f" {self.product.sku}" if self.product_id else ""
        return f"count {self.location.code}{what} ({self.get_reason_display()}, {self.status})"
