"""Who ships to us, and which of their goods must be inspected before they are sold."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from warehouse.models import Product


class Supplier(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    # Everything this supplier delivers lands in quarantine until an inspector releases it.
    requires_inspection = models.BooleanField(default=False)
    contact_email = models.EmailField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class InspectionRule(models.Model):
    """Goods of one product (from any supplier, or from one supplier) must be inspected.

    Kept in the receiving app rather than as a flag on Product: inspection is an inbound
    concern, and a rule may be narrowed to a single supplier.
    """

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    supplier = models.ForeignKey(
        Supplier,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="inspection_rules",
        help_text="Empty: the product is inspected whoever delivers it.",
    )
    requires_inspection = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["product", "supplier"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "supplier"],
                condition=Q(supplier__isnull=False),
                name="inspection_rule_unique_per_supplier",
            ),
            models.UniqueConstraint(
                fields=["product"],
                condition=Q(supplier__isnull=True),
                name="inspection_rule_unique_any_supplier",
            ),
        ]

    def __str__(self) -> str:
        who = self.supplier.code if self.supplier_id else "any supplier"
        return f"{self.product} from {who}: inspect={self.requires_inspection}"
