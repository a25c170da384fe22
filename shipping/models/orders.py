"""Customers, their orders and the stock allocated to each order line."""

from __future__ import annotations

from datetime import time

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from warehouse.models import Location, Lot, Product, StockBalance, Warehouse


class Customer(models.Model):
    """Someone we deliver to. Coordinates and the delivery window feed route planning."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="customers")
    code = models.SlugField(max_length=32)
    name = models.CharField(max_length=120)
    address = models.TextField(blank=True)
    latitude = models.DecimalField(
        max_digits=9, decimal_places=6, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    # The customer's usual receiving hours, in the warehouse's time zone.
    window_start = models.TimeField(default=time(8, 0))
    window_end = models.TimeField(default=time(17, 0))
    service_time_minutes = models.PositiveSmallIntegerField(
        default=10, help_text="Time spent at the stop unloading."
    )
    min_remaining_shelf_life_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Overrides the product's minimum remaining shelf life for this customer.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["warehouse", "code"]
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "code"], name="customer_code_unique"),
            models.CheckConstraint(
                condition=Q(window_end__gt=F("window_start")),
                name="customer_window_start_before_end",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Order(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        BACKORDERED = "backordered", "Backordered"
        PARTIALLY_ALLOCATED = "partially_allocated", "Partially allocated"
        ALLOCATED = "allocated", "Allocated"
        RELEASED = "released", "Released to a wave"
        PICKED = "picked", "Picked"
        PACKED = "packed", "Packed"
        DISPATCHED = "dispatched", "Dispatched"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"

    # Statuses in which allocation (and backorder re-allocation) may still change the order.
    ALLOCATABLE = (Status.NEW, Status.BACKORDERED, Status.PARTIALLY_ALLOCATED)
    # Statuses a wave may take the order in.
    WAVEABLE = (Status.ALLOCATED, Status.PARTIALLY_ALLOCATED)

    class Priority(models.IntegerChoices):
        URGENT = 1, "Urgent"
        HIGH = 2, "High"
        NORMAL = 3, "Normal"
        LOW = 4, "Low"

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="orders")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    number = models.CharField(max_length=32)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    requested_date = models.DateField(help_text="The day the customer wants it dispatched.")
    promised_window_start = models.DateTimeField()
    promised_window_end = models.DateTimeField()
    carrier = models.CharField(max_length=40, blank=True, help_text="Blank: own fleet.")
    allow_partial = models.BooleanField(
        default=False, help_text="Ship what can be allocated and backorder the rest."
    )
    wave = models.ForeignKey(
        "shipping.Wave", on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "number"], name="order_number_unique"),
            models.CheckConstraint(
                condition=Q(promised_window_end__gt=F("promised_window_start")),
                name="order_window_start_before_end",
            ),
        ]
        indexes = [
            models.Index(fields=["warehouse", "status", "requested_date"], name="order_status_day")
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    """What the customer ordered of one product, counted in base units.

    `pack`/`pack_quantity` keep what was ordered (e.g. 3 cases); `quantity` is that in base
    units. The other counters are kept by the services under the line's row lock.
    """

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    line_number = models.PositiveSmallIntegerField()
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    pack = models.CharField(max_length=16, blank=True)
    pack_quantity = models.PositiveIntegerField()
    quantity = models.PositiveIntegerField()
    quantity_allocated = models.PositiveIntegerField(default=0)
    quantity_backordered = models.PositiveIntegerField(default=0)
    quantity_picked = models.PositiveIntegerField(default=0)
    quantity_shipped = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "line_number"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_number"], name="order_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(quantity_allocated__lte=F("quantity")),
                name="order_line_not_over_allocated",
            ),
        ]
        indexes = [
            models.Index(
                fields=["product"],
                condition=Q(quantity_backordered__gt=0),
                name="order_line_backordered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.line_number} {self.quantity} x {self.product_id}"

    @property
    def quantity_unallocated(self) -> int:
        return self.quantity - self.quantity_allocated


class Allocation(models.Model):
    """Units of one balance promised to one order line.

    The balance moves with the goods: a bin's balance while RESERVED, the staging location's
    once PICKED, none once SHIPPED. RELEASED rows keep history after a deallocation.
    """

    class Status(models.TextChoices):
        RESERVED = "reserved", "Reserved in bin"
        PICKED = "picked", "Picked"
        SHIPPED = "shipped", "Shipped"
        RELEASED = "released", "Released"

    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="allocations")
    balance = models.ForeignKey(StockBalance, on_delete=models.PROTECT, related_name="+")
    # Where the promised units are now (the balance's location), kept for pick paths.
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RESERVED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order_line", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0) | Q(status="released"),
                name="allocation_quantity_gt_0",
            )
        ]
        indexes = [models.Index(fields=["balance", "status"], name="allocation_balance_status")]

    def __str__(self) -> str:
        return f"{self.quantity} of balance {self.balance_id} for line {self.order_line_id}"
