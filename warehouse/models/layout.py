"""The physical warehouse: sites, zones, bins and dock doors."""

from __future__ import annotations

import zoneinfo
from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from warehouse.models.catalog import StorageClass


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone such as Europe/Amsterdam.")


class Warehouse(models.Model):
    """A site. Its coordinates are the depot that delivery routes start from and return to."""

    code = models.SlugField(max_length=16, unique=True)
    name = models.CharField(max_length=120)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    address = models.TextField(blank=True)
    latitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    # Staff see and act on the warehouses they belong to; superusers see all.
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="warehouses")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Zone(models.Model):
    class Kind(models.TextChoices):
        RECEIVING_DOCK = "receiving_dock", "Receiving dock"
        QUARANTINE = "quarantine", "Quarantine"
        STORAGE = "storage", "Storage"
        PICK_FACE = "pick_face", "Pick face"
        STAGING = "staging", "Staging"
        SHIPPING_DOCK = "shipping_dock", "Shipping dock"

    # Zones whose bins hold saleable stock and must match the product's storage class.
    STOCKING_KINDS = (Kind.STORAGE, Kind.PICK_FACE)

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="zones")
    code = models.SlugField(max_length=16)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    storage_class = models.CharField(
        max_length=10, choices=StorageClass.choices, default=StorageClass.AMBIENT
    )

    class Meta:
        ordering = ["warehouse", "code"]
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "code"], name="zone_code_unique")
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.get_kind_display()}, {self.storage_class})"

    @property
    def is_stocking(self) -> bool:
        return self.kind in self.STOCKING_KINDS


class Location(models.Model):
    """A bin or floor area that stock can be in. `code` is also its scannable label."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="locations")
    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="locations")
    code = models.CharField(max_length=32, help_text="e.g. A-03-02-1: aisle-bay-level-position")
    aisle = models.CharField(max_length=8, blank=True)
    bay = models.PositiveSmallIntegerField(null=True, blank=True)
    level = models.PositiveSmallIntegerField(null=True, blank=True)
    # Floor coordinates in metres, for walking distance from the dock and pick paths.
    x = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    y = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    # Empty means unlimited (dock floor, staging lanes).
    max_weight_kg = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    max_volume_m3 = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["warehouse", "code"]
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "code"], name="location_code_unique"),
            models.CheckConstraint(
                condition=models.Q(max_weight_kg__isnull=True) | models.Q(max_weight_kg__gt=0),
                name="location_max_weight_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(max_volume_m3__isnull=True) | models.Q(max_volume_m3__gt=0),
                name="location_max_volume_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        if self.zone_id and self.warehouse_id and self.zone.warehouse_id != self.warehouse_id:
            raise ValidationError({"zone": "The zone belongs to another warehouse."})


class DockDoor(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"
        BOTH = "both", "Inbound and outbound"

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="dock_doors")
    code = models.CharField(max_length=16)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    # The dock floor location where goods received or staged at this door are held.
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="dock_doors"
    )
    opens_at = models.TimeField(default=time(6, 0))
    closes_at = models.TimeField(default=time(22, 0))
    slot_minutes = models.PositiveSmallIntegerField(
        default=60, validators=[MinValueValidator(5), MaxValueValidator(24 * 60)]
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["warehouse", "code"]
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "code"], name="dock_door_code_unique"),
            models.CheckConstraint(
                condition=models.Q(closes_at__gt=models.F("opens_at")),
                name="dock_door_opens_before_closing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.warehouse.code} door {self.code}"

    @property
    def is_inbound(self) -> bool:
        return self.direction in (self.Direction.INBOUND, self.Direction.BOTH)

    @property
    def is_outbound(self) -> bool:
        return self.direction in (self.Direction.OUTBOUND, self.Direction.BOTH)
