"""What the warehouse stocks: products, their pack sizes and lots."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from warehouse.gs1 import InvalidGTIN, normalize_gtin


class StorageClass(models.TextChoices):
    AMBIENT = "ambient", "Ambient"
    CHILLED = "chilled", "Chilled"
    FROZEN = "frozen", "Frozen"
    HAZMAT = "hazmat", "Hazardous"


def validate_gtin(value: str) -> None:
    try:
        normalize_gtin(value)
    except InvalidGTIN as error:
        raise ValidationError(str(error)) from error


class Product(models.Model):
    """A stock-keeping unit. Quantities of it are integers in `base_unit`."""

    sku = models.CharField(max_length=40, unique=True)
    # Stored as GTIN-14 so that EAN-13, UPC-A and GTIN-14 scans of the same item all match.
    gtin = models.CharField(
        max_length=14, unique=True, null=True, blank=True, validators=[validate_gtin]
    )
    name = models.CharField(max_length=200)
    base_unit = models.CharField(max_length=16, default="each")
    unit_weight_kg = models.DecimalField(
        max_digits=12, decimal_places=4, default=0, validators=[MinValueValidator(0)]
    )
    unit_volume_m3 = models.DecimalField(
        max_digits=12, decimal_places=6, default=0, validators=[MinValueValidator(0)]
    )
    storage_class = models.CharField(
        max_length=10, choices=StorageClass.choices, default=StorageClass.AMBIENT
    )
    is_lot_tracked = models.BooleanField(default=False)
    is_expiry_tracked = models.BooleanField(default=False)
    min_remaining_shelf_life_days = models.PositiveIntegerField(
        default=0, help_text="Shelf life a customer must still get on delivery."
    )
    # What one base unit is worth to the business: values count variances against the
    # threshold (0 = unknown, then only the units threshold applies).
    unit_cost = models.DecimalField(
        max_digits=12, decimal_places=4, default=0, validators=[MinValueValidator(0)]
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_expiry_tracked=False) | models.Q(is_lot_tracked=True),
                name="product_expiry_needs_lots",
                violation_error_message="Expiry-tracked products must be lot-tracked.",
            ),
            models.CheckConstraint(
                condition=models.Q(unit_weight_kg__gte=0) & models.Q(unit_volume_m3__gte=0),
                name="product_dimensions_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(unit_cost__gte=0), name="product_unit_cost_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"

    def save(self, *args, **kwargs) -> None:
        if self.gtin:
            self.gtin = normalize_gtin(self.gtin)
        else:
            self.gtin = None
        super().save(*args, **kwargs)

    def units_per(self, pack: str | None) -> int:
        """Base units in one `pack` (a pack size name such as "case"); None is the base unit.

        Raises PackSize.DoesNotExist for a pack this product does not come in.
        """
        if pack in (None, "", self.base_unit):
            return 1
        return self.pack_sizes.get(name=pack).quantity


class PackSize(models.Model):
    """A pack the product is handled in, e.g. case = 12, pallet = 480 base units."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="pack_sizes")
    name = models.CharField(max_length=16)
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(2)])
    gtin = models.CharField(
        max_length=14, unique=True, null=True, blank=True, validators=[validate_gtin]
    )

    class Meta:
        ordering = ["product", "quantity"]
        constraints = [
            models.UniqueConstraint(fields=["product", "name"], name="pack_size_name_unique"),
            models.CheckConstraint(condition=models.Q(quantity__gte=2), name="pack_size_min_2"),
        ]

    def __str__(self) -> str:
        return f"{self.name} = {self.quantity} {self.product.base_unit}"

    def save(self, *args, **kwargs) -> None:
        self.gtin = normalize_gtin(self.gtin) if self.gtin else None
        super().save(*args, **kwargs)


class Lot(models.Model):
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="lots")
    code = models.CharField(max_length=20)
    expiry_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["product", "expiry_date", "code"]
        constraints = [models.UniqueConstraint(fields=["product", "code"], name="lot_code_unique")]

    def __str__(self) -> str:
        expiry = f" exp {self.expiry_date:%Y-%m-%d}" if self.expiry_date else ""
        return f"{self.code}{expiry}"
