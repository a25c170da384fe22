"""Customer returns: return authorisations (RMAs) against delivered orders, their return
receipts and scans, the discrepancies found, and what an inspector decided for each unit."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from warehouse.models import AuditEvent, DockDoor, Location, Lot, Product, StockMove, Warehouse


class ReturnReason(models.TextChoices):
    DAMAGED = "damaged", "Damaged"
    WRONG_ITEM = "wrong_item", "Wrong item"
    NOT_WANTED = "not_wanted", "Not wanted"
    EXPIRED = "expired", "Expired"
    OTHER = "other", "Other"


class ReturnAuthorisation(models.Model):
    """An RMA: a customer may send back some of what a delivered order brought them."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        AUTHORISED = "authorised", "Authorised"
        RECEIVED = "received", "Received"
        CLOSED = "closed", "Closed"
        REJECTED = "rejected", "Rejected"

    # Statuses whose lines hold their requested quantity against the delivered quantity; once
    # received, the units actually received count instead.
    PENDING = (Status.REQUESTED, Status.AUTHORISED)
    RETURNED = (Status.RECEIVED, Status.CLOSED)

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey("shipping.Order", on_delete=models.PROTECT, related_name="returns")
    customer = models.ForeignKey(
        "shipping.Customer", on_delete=models.PROTECT, related_name="returns"
    )
    number = models.CharField(max_length=40, help_text="The RMA number given to the customer.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    customer_reference = models.CharField(max_length=60, blank=True)
    note = models.CharField(max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who authorised or rejected it.",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = "return authorisation (RMA)"
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "number"], name="rma_number_unique")
        ]
        indexes = [models.Index(fields=["warehouse", "status"], name="rma_status")]

    def __str__(self) -> str:
        return f"{self.number} ({self.status})"


class ReturnLine(models.Model):
    """Units of one product (and lot, where known) coming back on an RMA, and what arrived.

    `received_quantity` and `damaged_quantity` are running totals kept by the return scan
    service, `dispositioned_quantity` by the disposition service, each in the transaction of
    the scan or disposition. Lines with `is_expected=False` are created by scans of products or
    lots the RMA did not authorise.
    """

    rma = models.ForeignKey(ReturnAuthorisation, on_delete=models.CASCADE, related_name="lines")
    line_number = models.PositiveIntegerField()
    order_line = models.ForeignKey(
        "shipping.OrderLine",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="return_lines",
        help_text="Empty for a product the customer sent back unannounced.",
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = models.PositiveIntegerField(help_text="Units authorised, in the base unit.")
    reason = models.CharField(max_length=12, choices=ReturnReason.choices)
    is_expected = models.BooleanField(default=True)
    received_quantity = models.PositiveIntegerField(default=0)
    damaged_quantity = models.PositiveIntegerField(default=0)
    dispositioned_quantity = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["rma", "line_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["rma", "line_number"], name="return_line_number_unique"
            ),
            models.CheckConstraint(
                condition=Q(damaged_quantity__lte=F("received_quantity")),
                name="return_line_damaged_lte_received",
            ),
            models.CheckConstraint(
                condition=Q(dispositioned_quantity__lte=F("received_quantity")),
                name="return_line_disposition_lte_received",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0) | Q(is_expected=False),
                name="return_line_expected_quantity_gt_0",
            ),
        ]
        indexes = [models.Index(fields=["order_line"], name="return_line_order_line")]

    def __str__(self) -> str:
        return f"{self.rma_id}/{self.line_number} {self.quantity} x {self.product_id}"

    @property
    def expected_quantity(self) -> int:
        """The units authorised: what the discrepancy report compares the receipt with."""
        return self.quantity


class ReturnReceipt(models.Model):
    """The unloading of one RMA's parcel or pallet at an inbound door."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    rma = models.ForeignKey(ReturnAuthorisation, on_delete=models.PROTECT, related_name="receipts")
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

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rma"], name="return_receipt_one_per_rma"),
        ]
        # The return-rate KPI reads the return receipts closed on a day.
        indexes = [models.Index(fields=["closed_at"], name="return_receipt_closed_at")]

    def __str__(self) -> str:
        return f"Return receipt {self.id} of RMA {self.rma_id} ({self.status})"


class ReturnScan(models.Model):
    """One accepted scan of returned goods and the stock move that brought them in."""

    receipt = models.ForeignKey(ReturnReceipt, on_delete=models.CASCADE, related_name="scans")
    line = models.ForeignKey(ReturnLine, on_delete=models.PROTECT, related_name="scans")
    barcode = models.CharField(max_length=200)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = models.PositiveIntegerField(help_text="Base units.")
    is_damaged = models.BooleanField(default=False)
    stock_move = models.ForeignKey(StockMove, on_delete=models.PROTECT, related_name="+")
    scanned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    scanned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["receipt", "scanned_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="return_scan_quantity_gt_0")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id} on return receipt {self.receipt_id}"


class ReturnDiscrepancy(models.Model):
    """A difference between the RMA and what arrived, found when the return receipt closed."""

    receipt = models.ForeignKey(
        ReturnReceipt, on_delete=models.CASCADE, related_name="discrepancies"
    )
    line = models.ForeignKey(ReturnLine, on_delete=models.PROTECT, related_name="discrepancies")
    # The same kinds as an inbound receipt's (receiving.models.Discrepancy.Kind).
    kind = models.CharField(max_length=20)
    expected_quantity = models.PositiveIntegerField()
    received_quantity = models.PositiveIntegerField()
    difference = models.IntegerField(help_text="Over (+) or short (-); damaged: damaged units.")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["receipt", "line", "kind"]
        verbose_name_plural = "return discrepancies"
        constraints = [
            models.UniqueConstraint(
                fields=["receipt", "line", "kind"], name="return_discrepancy_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.difference:+d} on return line {self.line_id}"


class ReturnDisposition(models.Model):
    """An inspector's decision for some received units of a return line, and its stock move."""

    class Kind(models.TextChoices):
        RESTOCK = "restock", "Restock"
        QUARANTINE = "quarantine", "Keep in quarantine"
        SCRAP = "scrap", "Scrap"
        RETURN_TO_VENDOR = "return_to_vendor", "Return to vendor"

    line = models.ForeignKey(ReturnLine, on_delete=models.PROTECT, related_name="dispositions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = models.PositiveIntegerField()
    reason = models.CharField(max_length=200, blank=True)
    supplier = models.ForeignKey(
        "receiving.Supplier",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Return to vendor: who takes the goods back.",
    )
    location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Where the units went (empty when they left the warehouse).",
    )
    stock_move = models.ForeignKey(StockMove, on_delete=models.PROTECT, related_name="+")
    putaway_task = models.ForeignKey(
        "receiving.PutawayTask", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["line", "decided_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="return_disposition_quantity_gt_0"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity} of return line {self.line_id}"


class ReturnEvent(AuditEvent):
    """Audit row for each state change of a return: who did what, when, with what data."""

    rma = models.ForeignKey(ReturnAuthorisation, on_delete=models.CASCADE, related_name="events")

    def __str__(self) -> str:
        return f"{self.kind} on RMA {self.rma_id}"
