"""Cycle counts: a bin (and optionally one product in it) that someone must count, blind.

A `CountRequest` is the count task. Other processes raise them (a short pick, a manager, the
ABC counting rule); the counting process (`warehouse.counts`) closes them. Until a request is
done, allocation avoids that bin for that product when a short pick raised it.

Each time a counter takes the bin, a `CountAttempt` records who counted, the ledger position
when they started and, per product and lot, a `CountLine` with the figure they counted. The
expected figures on those rows are never shown to the counter. Details in docs/counts.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from warehouse.models.catalog import Lot, Product
from warehouse.models.layout import Location, Warehouse


class CountRequest(models.Model):
    class Reason(models.TextChoices):
        SHORT_PICK = "short_pick", "Short pick"
        MANAGER = "manager", "Requested by a manager"
        RULE = "rule", "Counting rule"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    class Stage(models.TextChoices):
        """Where an open request is in the counting process (`closed` once done or cancelled)."""

        TO_COUNT = "to_count", "To count"
        COUNTING = "counting", "Being counted"
        TO_RECOUNT = "to_recount", "Recount by another counter"
        REVIEW = "review", "Variance to review"
        CLOSED = "closed", "Closed"

    class AbcClass(models.TextChoices):
        A = "A", "A (fast movers)"
        B = "B", "B"
        C = "C", "C (slow movers)"

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="count_requests")
    # Empty: count everything in the bin.
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
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.TO_COUNT)
    # The product's class when the counting rule raised it.
    abc_class = models.CharField(max_length=1, choices=AbcClass.choices, blank=True)
    # The warehouse's local day the counting rule scheduled it for.
    due_date = models.DateField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Set when done: units adjusted (sum of |variance|) and whether the record was right.
    variance_units = models.PositiveIntegerField(null=True, blank=True)
    is_accurate = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["warehouse", "product", "location"],
                condition=Q(status="open"),
                name="count_request_open",
            ),
            models.Index(fields=["warehouse", "done_at"], name="count_request_done"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open", done_at__isnull=True) | ~Q(status="open"),
                name="count_request_open_not_done",
            ),
            models.CheckConstraint(
                condition=Q(status="open") & ~Q(stage="closed")
                | ~Q(status="open") & Q(stage="closed"),
                name="count_request_stage_matches_status",
            ),
            # The daily rule run is idempotent: one request per bin and product and day.
            models.UniqueConstraint(
                fields=["location", "product", "due_date"],
                condition=Q(reason="rule"),
                name="count_request_rule_once_a_day",
            ),
        ]

    def __str__(self) -> str:
        what = f" {self.product.sku}" if self.product_id else ""
        return f"count {self.location.code}{what} ({self.get_reason_display()}, {self.status})"


class CountAttempt(models.Model):
    """One counter's count of the bin of a request: started, then submitted (or abandoned)."""

    class Status(models.TextChoices):
        COUNTING = "counting", "Counting"
        SUBMITTED = "submitted", "Submitted"
        ABANDONED = "abandoned", "Abandoned"

    request = models.ForeignKey(CountRequest, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    counter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.COUNTING)
    started_at = models.DateTimeField()
    # The ledger position at the start: the highest StockMove id, read with the bin locked.
    start_move_id = models.BigIntegerField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    # The ledger position at the submission, read with the bin locked again.
    end_move_id = models.BigIntegerField(null=True, blank=True)
    # The key of the submission (API Idempotency-Key or the page's form key).
    submit_key = models.CharField(max_length=128, blank=True)
    is_over_threshold = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["request", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "number"], name="count_attempt_number_unique"
            ),
            # One counter at a time per request.
            models.UniqueConstraint(
                fields=["request"],
                condition=Q(status="counting"),
                name="count_attempt_one_counting",
            ),
        ]

    def __str__(self) -> str:
        return f"count {self.request_id} #{self.number} by {self.counter} ({self.status})"


class CountLine(models.Model):
    """One product (and lot) of an attempt: what the ledger expected and what was counted.

    `expected_at_start` and `ledger_moves` are for managers only; the counter never sees them.
    """

    attempt = models.ForeignKey(CountAttempt, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # Units in the bin (every status) when the counter started.
    expected_at_start = models.IntegerField(default=0)
    # Net units moved into (+) or out of (-) the bin by the ledger between start and submission.
    ledger_moves = models.IntegerField(default=0)
    counted = models.IntegerField(default=0)
    # counted - (expected_at_start + ledger_moves), set on submission.
    variance = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["attempt", "product", "lot"]
        constraints = [
            models.UniqueConstraint(
                fields=["attempt", "product", "lot"],
                condition=Q(lot__isnull=False),
                name="count_line_unique_with_lot",
            ),
            models.UniqueConstraint(
                fields=["attempt", "product"],
                condition=Q(lot__isnull=True),
                name="count_line_unique_without_lot",
            ),
            models.CheckConstraint(condition=Q(counted__gte=0), name="count_line_counted_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.product.sku}: counted {self.counted}"

    @property
    def expected(self) -> int:
        return self.expected_at_start + self.ledger_moves


class CountEntry(models.Model):
    """One scan or typed quantity of a counter, kept so a retried scan is applied once."""

    attempt = models.ForeignKey(CountAttempt, on_delete=models.CASCADE, related_name="entries")
    line = models.ForeignKey(CountLine, on_delete=models.CASCADE, related_name="entries")
    # Units added (negative when the counter corrected the item's total down).
    quantity = models.IntegerField()
    scanned = models.CharField(max_length=128, blank=True)
    key = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["attempt", "id"]
        constraints = [
            models.UniqueConstraint(fields=["attempt", "key"], name="count_entry_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.quantity:+d} ({self.scanned})"
