"""Shipment tracking: the customer-facing timeline of an order and its public tracking link.

The tracked unit is the order: what the customer asked for, from the moment stock is promised
to it ("allocated") until it is handed over. A Shipment row only exists from wave release, and
an order whose wave picked nothing gets a new one later, so it cannot carry "allocated" or keep
one link; an order leaves on at most one dispatched Shipment, which the timeline rows name from
"packed" on. The timeline is its own table rather than a view of OutboundEvent: the audit trail
has a row per scan, internal kinds and staff data, while these rows are a public contract
written only when the customer-facing status changes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TrackingStatus(models.TextChoices):
    ALLOCATED = "allocated", "Allocated"
    PICKED = "picked", "Picked"
    PACKED = "packed", "Packed"
    STAGED = "staged", "Ready for loading"
    DISPATCHED = "dispatched", "Dispatched"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERED = "delivered", "Delivered"
    EXCEPTION = "exception", "Delivery exception"
    CANCELLED = "cancelled", "Cancelled"


class TrackingReason(models.TextChoices):
    NONE = "", "None"
    # allocated: part of the order waits for stock.
    PARTIAL_ALLOCATION = "partial_allocation", "Part of the order is backordered"
    # exception: how the delivery went wrong.
    REFUSED = "refused", "Refused by the recipient"
    DAMAGED = "damaged", "Damaged in transit"
    FAILED_ATTEMPT = "failed_attempt", "Nobody was there to receive it"
    PARTIAL = "partial", "Delivered in part"


class Tracking(models.Model):
    """An order's tracking link. The token is shown to staff (they send the link); the public
    page is looked up by the token's SHA-256 digest, so the indexed comparison never works on
    the secret itself. The ETA window is set by route planning when a plan is approved."""

    order = models.OneToOneField(
        "shipping.Order", on_delete=models.CASCADE, related_name="tracking"
    )
    token = models.CharField(max_length=64, editable=False)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    eta_start = models.DateTimeField(null=True, blank=True)
    eta_end = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"tracking of order {self.order_id}"


class TrackingEvent(models.Model):
    """One step of an order's timeline, written in the transaction of the change it records."""

    order = models.ForeignKey(
        "shipping.Order", on_delete=models.CASCADE, related_name="tracking_events"
    )
    shipment = models.ForeignKey(
        "shipping.Shipment",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tracking_events",
    )
    status = models.CharField(max_length=20, choices=TrackingStatus.choices)
    reason = models.CharField(max_length=20, choices=TrackingReason.choices, blank=True)
    eta_start = models.DateTimeField(null=True, blank=True)
    eta_end = models.DateTimeField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    occurred_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "id"]
        indexes = [models.Index(fields=["order", "id"], name="tracking_event_order")]

    def __str__(self) -> str:
        return f"{self.status} of order {self.order_id}"
