"""Stock: balances per (location, product, lot, status) and the append-only ledger of moves.

The database, not only the services, keeps the invariants: a balance can never be negative nor
allocated beyond its quantity, and only available stock can be allocated.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from warehouse.models.catalog import Lot, Product
from warehouse.models.layout import Location, Warehouse


class StockStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    QUARANTINE = "quarantine", "Quarantine"
    DAMAGED = "damaged", "Damaged"


class StockBalance(models.Model):
    """How much of a product (and lot) is in a location in one status, and how much is promised.

    Written only by `warehouse.services`, always together with a StockMove.
    """

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="balances")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="balances")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True)
    status = models.CharField(max_length=12, choices=StockStatus.choices)
    quantity = models.IntegerField(default=0)
    allocated = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["location", "product", "lot", "status"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=0), name="balance_quantity_gte_0"),
            models.CheckConstraint(condition=Q(allocated__gte=0), name="balance_allocated_gte_0"),
            models.CheckConstraint(
                condition=Q(allocated__lte=F("quantity")), name="balance_allocated_lte_quantity"
            ),
            models.CheckConstraint(
                condition=Q(allocated=0) | Q(status="available"),
                name="balance_only_available_is_allocated",
            ),
            # Two partial indexes instead of one because NULL lots are distinct in a plain
            # unique index, and NULLS NOT DISTINCT is PostgreSQL-only.
            models.UniqueConstraint(
                fields=["location", "product", "lot", "status"],
                condition=Q(lot__isnull=False),
                name="balance_unique_with_lot",
            ),
            models.UniqueConstraint(
                fields=["location", "product", "status"],
                condition=Q(lot__isnull=True),
                name="balance_unique_without_lot",
            ),
        ]
        indexes = [models.Index(fields=["product", "status"], name="balance_product_status")]

    def __str__(self) -> str:
        return f"{self.product.sku} @ {self.location.code}: {self.quantity} ({self.status})"

    @property
    def free(self) -> int:
        return self.quantity - self.allocated


class AppendOnlyError(Exception):
    pass


class StockMove(models.Model):
    """One entry in the inventory ledger: `quantity` units left `from` and arrived at `to`.

    A receipt has no `from`, a shipment or write-off no `to`; a status change has both on the
    same location. Never updated nor deleted (PostgreSQL enforces that with a trigger).
    """

    class Reason(models.TextChoices):
        RECEIPT = "receipt", "Receipt"
        PUTAWAY = "putaway", "Putaway"
        MOVE = "move", "Move"
        PICK = "pick", "Pick"
        SHIP = "ship", "Ship"
        ADJUST = "adjust", "Adjustment"
        COUNT = "count", "Cycle count"
        RETURN = "return", "Return"
        QUARANTINE = "quarantine", "Quarantine"
        RELEASE = "release", "Release"
        DAMAGE = "damage", "Damage"
        SCRAP = "scrap", "Scrap"

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="moves")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True)
    quantity = models.PositiveIntegerField()
    from_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="moves_out"
    )
    from_status = models.CharField(max_length=12, choices=StockStatus.choices, blank=True)
    to_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="moves_in"
    )
    to_status = models.CharField(max_length=12, choices=StockStatus.choices, blank=True)
    reason = models.CharField(max_length=12, choices=Reason.choices)
    # What caused the move, e.g. "receipt:42" or "order:SO-1001"; free text for adjustments.
    reference = models.CharField(max_length=64, blank=True, db_index=True)
    note = models.CharField(max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="move_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(from_location__isnull=False) | Q(to_location__isnull=False),
                name="move_has_a_side",
            ),
            models.CheckConstraint(
                condition=(Q(from_location__isnull=True) & Q(from_status=""))
                | (Q(from_location__isnull=False) & ~Q(from_status="")),
                name="move_from_status_with_location",
            ),
            models.CheckConstraint(
                condition=(Q(to_location__isnull=True) & Q(to_status=""))
                | (Q(to_location__isnull=False) & ~Q(to_status="")),
                name="move_to_status_with_location",
            ),
        ]
        indexes = [
            models.Index(fields=["product", "-created_at"], name="move_product_time"),
            models.Index(fields=["warehouse", "-created_at"], name="move_warehouse_time"),
        ]

    def __str__(self) -> str:
        source = self.from_location.code if self.from_location_id else "outside"
        target = self.to_location.code if self.to_location_id else "outside"
        return f"{self.reason} {self.quantity} {self.product.sku} {source} -> {target}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("Stock moves are append-only; post a correcting move instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Stock moves are append-only; post a correcting move instead.")
