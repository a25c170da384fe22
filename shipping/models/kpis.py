"""KPI snapshots: per local day, warehouse and slice, written by the KPI computation only."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from warehouse.models import Warehouse


class Dimension(models.TextChoices):
    """How a KPI is sliced. `all` is the whole warehouse; the others key rows by who or what."""

    ALL = "all", "Whole warehouse"
    CARRIER = "carrier", "Carrier"
    VEHICLE = "vehicle", "Vehicle"
    ROUTE = "route", "Route"
    CUSTOMER = "customer", "Customer"
    SUPPLIER = "supplier", "Supplier"
    PICKER = "picker", "Picker"
    PRODUCT = "product", "Product"
    REASON = "reason", "Reason"
    ZONE = "zone", "Zone"


class KpiSnapshot(models.Model):
    """One metric for one local day of one warehouse, for one slice (dimension, key).

    `value` is numerator / denominator for rates and averages; for durations it is the day's
    median (from the matching KpiHistogram rows) with numerator = total seconds. Rows are
    upserted by recomputation, so reading them never needs the source tables.
    """

    date = models.DateField(help_text="The warehouse's local day.")
    # No database constraint and no index of its own: a recompute writes millions of rows,
    # and a per-row foreign-key check cost as much as the insert itself. The recompute holds
    # the warehouse row (FOR KEY SHARE) instead, and the unique constraint, which leads with
    # the warehouse, serves lookups by warehouse. Deleting a warehouse still cascades.
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    key = models.CharField(max_length=64, blank=True, help_text="Blank for the whole warehouse.")
    label = models.CharField(max_length=120, blank=True)
    metric = models.CharField(max_length=40)
    numerator = models.FloatField()
    denominator = models.FloatField()
    value = models.FloatField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-date", "warehouse", "metric", "dimension", "key"]
        # One index serves the upsert, the dashboard's reads (a metric's slices over a date
        # range) and the recompute's clean-up; every extra index slows the millions of rows a
        # backfill writes.
        constraints = [
            models.UniqueConstraint(
                fields=["warehouse", "metric", "dimension", "date", "key"],
                name="kpi_snapshot_unique",
            )
        ]

    def __str__(self) -> str:
        where = f"{self.dimension}={self.key}" if self.key else self.dimension
        return f"{self.date} {self.metric} {where}: {self.value}"


class KpiHistogram(models.Model):
    """How many durations of one metric fell in one log-scale bucket on one day and slice.

    Buckets add up across days and slices, so a period's median and p90 come from the
    snapshots too (to within one bucket's width, see shipping/kpis/buckets.py).
    """

    date = models.DateField()
    # As KpiSnapshot.warehouse: no constraint, no index of its own.
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    key = models.CharField(max_length=64, blank=True)
    metric = models.CharField(max_length=40)
    bucket = models.SmallIntegerField()
    count = models.PositiveIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-date", "warehouse", "metric", "dimension", "key", "bucket"]
        constraints = [
            models.UniqueConstraint(
                fields=["warehouse", "metric", "dimension", "date", "key", "bucket"],
                name="kpi_histogram_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.metric} {self.dimension}={self.key} b{self.bucket}: {self.count}"


class KpiReport(models.Model):
    """A produced report kept for download, e.g. the daily on-time-delivery report."""

    class Kind(models.TextChoices):
        ON_TIME_DELIVERY = "otd_daily", "Daily on-time delivery"

    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    date = models.DateField(help_text="The local day the report covers.")
    csv = models.TextField()
    html = models.TextField()
    summary = models.JSONField(default=dict)
    emailed_to = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-date", "warehouse", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "kind", "date"], name="kpi_report_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.date}"
