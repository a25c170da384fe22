"""Shipments (one per order per dispatch), their packages, SSCC serials and deliveries."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from warehouse.models import DockDoor, Location, Warehouse


class Shipment(models.Model):
    """What leaves the warehouse for one order on one dispatch.

    Loading follows ascending `load_sequence` (1 goes on the vehicle first). Routing sets it to
    the reverse of the route's stop order, so the last stop is loaded first and unloaded last;
    it stays null until a route exists.
    """

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        PACKED = "packed", "Packed"
        STAGED = "staged", "Staged"
        LOADED = "loaded", "Loaded"
        DISPATCHED = "dispatched", "Dispatched"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="shipments")
    order = models.ForeignKey("shipping.Order", on_delete=models.PROTECT, related_name="shipments")
    number = models.CharField(max_length=40)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PLANNED)
    planned_departure = models.DateTimeField()
    staging_lane = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    outbound_door = models.ForeignKey(
        DockDoor, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    load_sequence = models.PositiveIntegerField(
        null=True, blank=True, help_text="Loading order on the vehicle: 1 is loaded first."
    )
    vehicle_code = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    packed_at = models.DateTimeField(null=True, blank=True)
    staged_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["planned_departure", "load_sequence", "id"]
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "number"], name="shipment_number_unique"),
            # One live shipment per order at a time; a later dispatch gets a new row.
            models.UniqueConstraint(
                fields=["order"],
                condition=~Q(status__in=["dispatched", "delivered", "cancelled"]),
                name="shipment_one_open_per_order",
            ),
        ]
        indexes = [
            models.Index(fields=["warehouse", "status"], name="shipment_status"),
            # KPI recomputation reads a warehouse's shipments by dispatch time.
            models.Index(fields=["warehouse", "dispatched_at"], name="shipment_dispatched"),
        ]

    def __str__(self) -> str:
        return self.number


class ShipmentLine(models.Model):
    """Units of one order line that left on one shipment: what fill rate is measured on."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        "shipping.OrderLine", on_delete=models.PROTECT, related_name="shipment_lines"
    )
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["shipment", "order_line"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "order_line"], name="shipment_line_unique")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of line {self.order_line_id} on {self.shipment_id}"


class Package(models.Model):
    class Type(models.TextChoices):
        BOX = "box", "Box"
        CRATE = "crate", "Crate"
        PALLET = "pallet", "Pallet"
        ENVELOPE = "envelope", "Envelope"

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="packages")
    sscc = models.CharField(max_length=18, unique=True)
    package_type = models.CharField(max_length=10, choices=Type.choices, default=Type.BOX)
    weight_kg = models.DecimalField(max_digits=10, decimal_places=3)
    length_cm = models.DecimalField(max_digits=8, decimal_places=1)
    width_cm = models.DecimalField(max_digits=8, decimal_places=1)
    height_cm = models.DecimalField(max_digits=8, decimal_places=1)
    created_at = models.DateTimeField(auto_now_add=True)
    loaded_at = models.DateTimeField(null=True, blank=True)
    vehicle_code = models.CharField(max_length=32, blank=True)
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["shipment", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weight_kg__gt=0)
                & Q(length_cm__gt=0)
                & Q(width_cm__gt=0)
                & Q(height_cm__gt=0),
                name="package_dimensions_positive",
            )
        ]

    def __str__(self) -> str:
        return self.sscc


class SerialCounter(models.Model):
    """The next SSCC serial reference per GS1 company prefix, taken under a row lock."""

    company_prefix = models.CharField(max_length=12, unique=True)
    next_serial = models.BigIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.company_prefix}: next {self.next_serial}"


def proof_upload_to(instance: Delivery, filename: str) -> str:
    return f"proof-of-delivery/{instance.shipment_id}/{filename}"


class Delivery(models.Model):
    """The confirmation of one shipment's stop: when, to whom, what arrived, and how it went."""

    class ExceptionKind(models.TextChoices):
        NONE = "", "None"
        REFUSED = "refused", "Refused"
        DAMAGED = "damaged", "Damaged"
        NOT_HOME = "not_home", "Nobody home"

    shipment = models.OneToOneField(Shipment, on_delete=models.PROTECT, related_name="delivery")
    arrived_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField()
    recipient_name = models.CharField(max_length=120, blank=True)
    proof_file = models.FileField(upload_to=proof_upload_to, null=True, blank=True)
    exception = models.CharField(max_length=10, choices=ExceptionKind.choices, blank=True)
    note = models.CharField(max_length=200, blank=True)
    is_on_time = models.BooleanField()
    is_in_full = models.BooleanField()
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-delivered_at", "-id"]
        verbose_name_plural = "deliveries"
        # KPI recomputation and the daily report read deliveries by local day.
        indexes = [models.Index(fields=["delivered_at"], name="delivery_delivered_at")]

    def __str__(self) -> str:
        return f"delivery of {self.shipment}"


class DeliveryLine(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        "shipping.OrderLine", on_delete=models.PROTECT, related_name="delivery_lines"
    )
    quantity_delivered = models.PositiveIntegerField()

    class Meta:
        ordering = ["delivery", "order_line"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "order_line"], name="delivery_line_unique")
        ]

    def __str__(self) -> str:
        return f"{self.quantity_delivered} of line {self.order_line_id}"
