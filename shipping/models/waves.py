"""Waves, the pick lists a released wave is cut into, and their pick tasks."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from warehouse.models import Location, Lot, Product, Warehouse


class Wave(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        RELEASED = "released", "Released"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="waves")
    number = models.CharField(max_length=32)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    dispatch_date = models.DateField()
    cutoff_at = models.DateTimeField(help_text="Released automatically at this time.")
    carrier = models.CharField(max_length=40, blank=True)
    # Where pickers bring the goods: a location in a staging zone.
    staging_location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    max_lines_per_list = models.PositiveIntegerField()
    max_weight_kg_per_list = models.DecimalField(max_digits=10, decimal_places=2)
    max_volume_m3_per_list = models.DecimalField(max_digits=10, decimal_places=4)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-cutoff_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "number"], name="wave_number_unique"),
            models.CheckConstraint(
                condition=Q(max_lines_per_list__gt=0), name="wave_max_lines_gt_0"
            ),
        ]
        indexes = [models.Index(fields=["status", "cutoff_at"], name="wave_due")]

    def __str__(self) -> str:
        return self.number


class PickList(models.Model):
    """One picker-sized batch of a wave, its tasks sequenced along a walking path."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    wave = models.ForeignKey(Wave, on_delete=models.PROTECT, related_name="pick_lists")
    number = models.CharField(max_length=40)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    picker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pick_lists",
    )
    staging_location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    path_method = models.CharField(max_length=16, blank=True)
    path_distance_m = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal(0))
    order_line_distance_m = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal(0))
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["wave", "number"]
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "number"], name="pick_list_number_unique")
        ]
        indexes = [
            models.Index(fields=["picker", "status"], name="pick_list_picker_status"),
            # Picker-hours for the KPIs: lists completed on a day.
            models.Index(fields=["warehouse", "completed_at"], name="pick_list_completed"),
        ]

    def __str__(self) -> str:
        return self.number


class PickTask(models.Model):
    """Pick `quantity` of a product from one bin for one allocation.

    The accuracy fields record how the pick went: wrong bin/item scans before the right one,
    whether the scanned item was the task's, and how many units were short.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PICKED = "picked", "Picked"
        SHORT = "short", "Short picked"
        CANCELLED = "cancelled", "Cancelled"

    class ShortReason(models.TextChoices):
        EMPTY_BIN = "empty_bin", "Bin empty"
        NOT_ENOUGH = "not_enough", "Not enough in bin"
        DAMAGED = "damaged", "Damaged goods"
        CANNOT_FIND = "cannot_find", "Cannot find item"

    pick_list = models.ForeignKey(PickList, on_delete=models.CASCADE, related_name="tasks")
    allocation = models.OneToOneField(
        "shipping.Allocation", on_delete=models.PROTECT, related_name="pick_task"
    )
    order_line = models.ForeignKey(
        "shipping.OrderLine", on_delete=models.PROTECT, related_name="pick_tasks"
    )
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = models.PositiveIntegerField()
    sequence = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    quantity_picked = models.PositiveIntegerField(default=0)
    short_reason = models.CharField(max_length=12, choices=ShortReason.choices, blank=True)
    scanned_item = models.CharField(max_length=64, blank=True)
    is_item_match = models.BooleanField(null=True)
    wrong_bin_scans = models.PositiveSmallIntegerField(default=0)
    wrong_item_scans = models.PositiveSmallIntegerField(default=0)
    skip_count = models.PositiveSmallIntegerField(default=0)
    picked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    picked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pick_list", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["pick_list", "sequence"], name="pick_task_sequence"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="pick_task_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(quantity_picked__lte=models.F("quantity")),
                name="pick_task_no_over_pick",
            ),
        ]
        # Pick accuracy KPIs read the tasks closed on a day.
        indexes = [models.Index(fields=["picked_at"], name="pick_task_picked_at")]

    def __str__(self) -> str:
        return f"{self.pick_list.number}#{self.sequence}"

    @property
    def is_done(self) -> bool:
        return self.status != self.Status.OPEN
