"""ASNs (advance shipping notices), their expected lines, and dock appointments."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.db import models
from django.db.models import F, Func, Q

from warehouse.models import AuditEvent, DockDoor, Product, Warehouse


class InboundShipment(models.Model):
    """An ASN: what a supplier says is on its way, and where that delivery stands."""

    class Status(models.TextChoices):
        ANNOUNCED = "announced", "Announced"
        SCHEDULED = "scheduled", "Scheduled"
        ARRIVED = "arrived", "Arrived"
        RECEIVING = "receiving", "Receiving"
        RECEIVED = "received", "Received"
        CLOSED = "closed", "Closed"
        CANCELLED = "cancelled", "Cancelled"

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    supplier = models.ForeignKey(
        "receiving.Supplier", on_delete=models.PROTECT, related_name="shipments"
    )
    reference = models.CharField(max_length=40, help_text="The ASN number.")
    po_reference = models.CharField(max_length=40, blank=True)
    carrier = models.CharField(max_length=80, blank=True)
    expected_arrival = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ANNOUNCED)
    arrived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["expected_arrival", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["warehouse", "reference"], name="inbound_shipment_reference_unique"
            )
        ]
        indexes = [
            models.Index(fields=["warehouse", "status", "expected_arrival"], name="asn_day_status")
        ]

    def __str__(self) -> str:
        return f"ASN {self.reference} ({self.status})"


class InboundLine(models.Model):
    """One expected product (and lot, and pallet) of an ASN, and what was received against it.

    `received_quantity` and `damaged_quantity` are running totals kept by the scan service in
    the same transaction as the scan and its stock move. Lines with `is_expected=False` are
    created by scans of products or lots the ASN did not announce.
    """

    shipment = models.ForeignKey(InboundShipment, on_delete=models.CASCADE, related_name="lines")
    line_number = models.PositiveIntegerField()
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    expected_quantity = models.PositiveIntegerField(help_text="In the product's base unit.")
    lot_code = models.CharField(max_length=20, blank=True)
    expiry_date = models.DateField(null=True, blank=True)
    sscc = models.CharField(max_length=18, blank=True, help_text="The pallet's SSCC, if labelled.")
    is_expected = models.BooleanField(default=True)
    received_quantity = models.PositiveIntegerField(default=0)
    damaged_quantity = models.PositiveIntegerField(default=0)
    pallet_received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["shipment", "line_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "line_number"], name="inbound_line_number_unique"
            ),
            models.CheckConstraint(
                condition=Q(damaged_quantity__lte=F("received_quantity")),
                name="inbound_line_damaged_lte_received",
            ),
        ]
        indexes = [
            models.Index(fields=["shipment", "product"], name="inbound_line_product"),
            models.Index(fields=["sscc"], name="inbound_line_sscc", condition=~Q(sscc="")),
        ]

    def __str__(self) -> str:
        return f"{self.shipment.reference}/{self.line_number} {self.product.sku}"


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class DockAppointment(models.Model):
    """A door booked for a time slot to unload one ASN.

    Two booked appointments on one door never overlap: the booking service checks it (on every
    database), and on PostgreSQL an exclusion constraint refuses it too.
    """

    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        CANCELLED = "cancelled", "Cancelled"

    shipment = models.ForeignKey(
        InboundShipment, on_delete=models.CASCADE, related_name="appointments"
    )
    door = models.ForeignKey(DockDoor, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BOOKED)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    is_automatic = models.BooleanField(default=False, help_text="Assigned by the scheduler.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at", "door"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="dock_appointment_positive_length"
            ),
            models.UniqueConstraint(
                fields=["shipment"],
                condition=Q(status="booked"),
                name="dock_appointment_one_booked_per_asn",
            ),
            ExclusionConstraint(
                name="dock_appointment_no_overlap",
                expressions=[
                    ("door", RangeOperators.EQUAL),
                    (TsTzRange("starts_at", "ends_at", RangeBoundary()), RangeOperators.OVERLAPS),
                ],
                condition=Q(status="booked"),
                violation_error_message="The door is already booked for part of that slot.",
            ),
        ]
        indexes = [models.Index(fields=["door", "starts_at"], name="dock_appointment_door_time")]

    def __str__(self) -> str:
        return f"{self.door} {self.starts_at:%Y-%m-%d %H:%M} ASN {self.shipment_id}"


class InboundEvent(AuditEvent):
    """Audit row for each state change of inbound work: who did what, when, with what data."""

    shipment = models.ForeignKey(InboundShipment, on_delete=models.CASCADE, related_name="events")

    def __str__(self) -> str:
        return f"{self.kind} on ASN {self.shipment_id}"
