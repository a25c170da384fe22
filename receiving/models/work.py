"""Work that follows a receipt: inspections of quarantined stock and putaway tasks."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from warehouse.models import Location, Lot, Product


class Inspection(models.Model):
    """A quality check of the quarantined units of one product and lot of a receipt."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

    class Disposition(models.TextChoices):
        QUARANTINE = "quarantine", "Keep in quarantine"
        DAMAGED = "damaged", "Mark damaged"

    receipt = models.ForeignKey(
        "receiving.Receipt", on_delete=models.CASCADE, related_name="inspections"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(help_text="Quarantined units (the lot size).")
    sample_size = models.PositiveIntegerField(help_text="Units to inspect, from the AQL table.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    defects_found = models.PositiveIntegerField(null=True, blank=True)
    disposition = models.CharField(max_length=12, choices=Disposition.choices, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    inspected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    inspected_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["status", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sample_size__lte=models.F("quantity")),
                name="inspection_sample_within_lot",
            )
        ]

    def __str__(self) -> str:
        return f"Inspection {self.id} of {self.quantity} x {self.product_id} ({self.status})"


class PutawayTask(models.Model):
    """Move received (or restocked returned), available stock from the dock to a storage bin."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    # Exactly one of the two: stock from an inbound receipt, or restocked from a return.
    receipt = models.ForeignKey(
        "receiving.Receipt",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="putaway_tasks",
    )
    return_receipt = models.ForeignKey(
        "receiving.ReturnReceipt",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="putaway_tasks",
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = models.PositiveIntegerField()
    from_location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    proposed_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # Truck check-in to this task's putaway confirmation: the inbound KPI.
    dock_to_stock = models.DurationField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["status", "created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="putaway_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(status="done", confirmed_location__isnull=False) | ~Q(status="done"),
                name="putaway_done_has_bin",
            ),
            models.CheckConstraint(
                condition=Q(receipt__isnull=False, return_receipt__isnull=True)
                | Q(receipt__isnull=True, return_receipt__isnull=False),
                name="putaway_one_source",
            ),
        ]
        # Dock-to-stock KPIs read the putaway tasks confirmed on a day.
        indexes = [models.Index(fields=["confirmed_at"], name="putaway_confirmed_at")]

    def __str__(self) -> str:
        return f"Putaway {self.id}: {self.quantity} x {self.product_id} ({self.status})"

    @property
    def is_proposal_followed(self) -> bool | None:
        if self.confirmed_location_id is None:
            return None
        return self.confirmed_location_id == self.proposed_location_id
