"""Receipts: the unloading of one ASN at a door, its scans and the discrepancies found."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from warehouse.models import DockDoor, Lot, Product, StockMove, StockStatus


class Receipt(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    shipment = models.ForeignKey(
        "receiving.InboundShipment", on_delete=models.PROTECT, related_name="receipts"
    )
    door = models.ForeignKey(DockDoor, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(auto_now_add=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Set when a manager accepted an over-receipt beyond the tolerance.
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            # One receipt per ASN: a second truck for the same ASN is a second ASN.
            models.UniqueConstraint(fields=["shipment"], name="receipt_one_per_asn"),
        ]
        # Receiving accuracy KPIs read the receipts closed on a day.
        indexes = [models.Index(fields=["closed_at"], name="receipt_closed_at")]

    def __str__(self) -> str:
        return f"Receipt {self.id} of ASN {self.shipment_id} ({self.status})"


class ReceiptScan(models.Model):
    """One accepted scan: what was read, what it counted as, and the stock move it made."""

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="scans")
    line = models.ForeignKey(
        "receiving.InboundLine", on_delete=models.PROTECT, related_name="scans"
    )
    barcode = models.CharField(max_length=200)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = models.PositiveIntegerField(help_text="Base units.")
    status = models.CharField(max_length=12, choices=StockStatus.choices)
    is_damaged = models.BooleanField(default=False)
    sscc = models.CharField(max_length=18, blank=True)
    stock_move = models.ForeignKey(StockMove, on_delete=models.PROTECT, related_name="+")
    scanned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    scanned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["receipt", "scanned_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="receipt_scan_quantity_gt_0")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id} on receipt {self.receipt_id}"


class Discrepancy(models.Model):
    """A difference between the ASN and what was received, found when the receipt closed."""

    class Kind(models.TextChoices):
        SHORT = "short", "Short"
        OVER = "over", "Over"
        DAMAGED = "damaged", "Damaged"
        UNEXPECTED_PRODUCT = "unexpected_product", "Unexpected product"
        UNEXPECTED_LOT = "unexpected_lot", "Unexpected lot"

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="discrepancies")
    line = models.ForeignKey(
        "receiving.InboundLine", on_delete=models.PROTECT, related_name="discrepancies"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    expected_quantity = models.PositiveIntegerField()
    received_quantity = models.PositiveIntegerField()
    # Units over (+) or short (-) of expected; for damaged, the damaged units.
    difference = models.IntegerField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["receipt", "line", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["receipt", "line", "kind"], name="discrepancy_unique_per_line_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.difference:+d} on line {self.line_id}"
