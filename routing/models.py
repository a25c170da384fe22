"""Delivery route planning: vehicles, plans, routes and their stops."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from warehouse.models import AuditEvent, DockDoor, Location, Warehouse


class Vehicle(models.Model):
    """A delivery vehicle based at a warehouse (its depot)."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="vehicles")
    code = models.CharField(max_length=32)
    carrier = models.CharField(max_length=60, blank=True, help_text="Blank: own fleet.")
    capacity_weight_kg = models.DecimalField(
        max_digits=10, decimal_places=1, validators=[MinValueValidator(Decimal("0.1"))]
    )
    capacity_volume_m3 = models.DecimalField(
        max_digits=8, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    is_refrigerated = models.BooleanField(default=False)
    # Local time of the warehouse.
    shift_start = models.TimeField(default=time(6, 0))
    shift_end = models.TimeField(default=time(18, 0))
    max_route_minutes = models.PositiveIntegerField(default=10 * 60)
    average_speed_kmh = models.DecimalField(
        max_digits=5, decimal_places=1, default=Decimal(40), validators=[MinValueValidator(1)]
    )
    fixed_cost = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal(50))
    cost_per_km = models.DecimalField(max_digits=8, decimal_places=3, default=Decimal("0.5"))
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["warehouse", "code"]
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "code"], name="vehicle_code_unique"),
            models.CheckConstraint(
                condition=Q(shift_end__gt=F("shift_start")), name="vehicle_shift_start_before_end"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class RoutePlan(models.Model):
    """The delivery routes of one warehouse for one day, as planned by the solver."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SOLVING = "solving", "Solving"
        SOLVED = "solved", "Solved"
        APPROVED = "approved", "Approved"
        DISPATCHED = "dispatched", "Dispatched"
        FAILED = "failed", "Failed"

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="route_plans")
    delivery_date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    shipments = models.ManyToManyField("shipping.Shipment", related_name="route_plans", blank=True)
    time_limit_seconds = models.PositiveIntegerField(default=30)
    seed = models.PositiveIntegerField(default=0)
    # Each request to solve bumps the attempt; a task solves only the attempt it was sent for,
    # so a redelivered or duplicated task cannot plan twice.
    solve_attempt = models.PositiveIntegerField(default=0)
    # Progress while solving, and the result.
    solve_started_at = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    best_objective = models.BigIntegerField(null=True, blank=True)
    solutions_found = models.PositiveIntegerField(default=0)
    solve_seconds = models.FloatField(null=True, blank=True)
    strategy = models.CharField(max_length=60, blank=True)
    total_distance_m = models.PositiveIntegerField(default=0)
    total_duration_s = models.PositiveIntegerField(default=0)
    vehicles_used = models.PositiveSmallIntegerField(default=0)
    dropped_stops = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # Travel matrix between the plan's points, computed once and reused on re-solves.
    matrix_key = models.CharField(max_length=64, blank=True)
    distance_matrix = models.BinaryField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-delivery_date", "-id"]
        indexes = [models.Index(fields=["warehouse", "delivery_date"], name="plan_day")]

    def __str__(self) -> str:
        return f"{self.warehouse.code} {self.delivery_date:%Y-%m-%d} #{self.id} ({self.status})"

    @property
    def total_distance_km(self) -> float:
        return round(self.total_distance_m / 1000, 1)


class Route(models.Model):
    """One vehicle's trip: depot, stops in order, back to the depot."""

    plan = models.ForeignKey(RoutePlan, on_delete=models.CASCADE, related_name="routes")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.PROTECT, related_name="routes")
    number = models.PositiveSmallIntegerField()
    departure_at = models.DateTimeField()
    return_at = models.DateTimeField()
    distance_m = models.PositiveIntegerField()
    duration_s = models.PositiveIntegerField()
    load_weight_kg = models.DecimalField(max_digits=10, decimal_places=1, default=0)
    load_volume_m3 = models.DecimalField(max_digits=8, decimal_places=3, default=0)
    staging_lane = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    outbound_door = models.ForeignKey(
        DockDoor, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["plan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="route_number_unique"),
            models.UniqueConstraint(fields=["plan", "vehicle"], name="route_vehicle_once_per_plan"),
        ]

    def __str__(self) -> str:
        return f"Route {self.number} ({self.vehicle.code})"


class RouteStop(models.Model):
    """A delivery address on a plan: on a route in sequence, or unplanned with the reason why.

    Shipments to the same customer on the same plan share one stop.
    """

    plan = models.ForeignKey(RoutePlan, on_delete=models.CASCADE, related_name="stops")
    route = models.ForeignKey(
        Route, on_delete=models.CASCADE, null=True, blank=True, related_name="stops"
    )
    sequence = models.PositiveSmallIntegerField(null=True, blank=True)
    customer = models.ForeignKey("shipping.Customer", on_delete=models.PROTECT, related_name="+")
    shipments = models.ManyToManyField("shipping.Shipment", related_name="route_stops")
    weight_kg = models.DecimalField(max_digits=10, decimal_places=1)
    volume_m3 = models.DecimalField(max_digits=8, decimal_places=3)
    needs_refrigeration = models.BooleanField(default=False)
    priority = models.PositiveSmallIntegerField(default=1)
    service_seconds = models.PositiveIntegerField()
    # Delivery windows as offsets, in seconds from the plan day's local midnight.
    windows = models.JSONField(help_text="[[start_s, end_s], ...] from local midnight")
    planned_arrival = models.DateTimeField(null=True, blank=True)
    waiting_seconds = models.PositiveIntegerField(default=0)
    planned_departure = models.DateTimeField(null=True, blank=True)
    load_weight_after_kg = models.DecimalField(max_digits=10, decimal_places=1, null=True)
    load_volume_after_m3 = models.DecimalField(max_digits=8, decimal_places=3, null=True)
    distance_from_previous_m = models.PositiveIntegerField(null=True, blank=True)
    dropped_reason_code = models.CharField(max_length=40, blank=True)
    dropped_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["plan", "route__number", "sequence", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(route__isnull=True) & Q(sequence__isnull=True))
                | (Q(route__isnull=False) & Q(sequence__isnull=False)),
                name="stop_sequenced_when_routed",
            ),
            models.UniqueConstraint(
                fields=["route", "sequence"],
                condition=Q(route__isnull=False),
                name="stop_sequence_unique_on_route",
            ),
        ]

    def __str__(self) -> str:
        where = f"route {self.route.number} #{self.sequence}" if self.route_id else "unplanned"
        return f"{self.customer.code} ({where})"

    @property
    def is_planned(self) -> bool:
        return self.route_id is not None

    @property
    def actual_arrival(self):
        """When the stop was reached, from its deliveries' confirmations (earliest); None before.

        Reads `shipments` and their `delivery`: prefetch both for lists.
        """
        times = []
        for shipment in self.shipments.all():
            delivery = getattr(shipment, "delivery", None)
            if delivery is not None:
                times.append(delivery.arrived_at or delivery.delivered_at)
        return min(times) if times else None

    @property
    def arrival_delay_seconds(self) -> int | None:
        """Actual minus planned arrival, in seconds: plan against reality for the KPIs."""
        actual = self.actual_arrival
        if actual is None or self.planned_arrival is None:
            return None
        return int((actual - self.planned_arrival).total_seconds())

    @property
    def window_labels(self) -> list[str]:
        """The delivery windows as local clock times, e.g. ["09:00-11:00"]."""

        def clock(seconds: int) -> str:
            return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"

        return [f"{clock(start)}-{clock(end)}" for start, end in self.windows]


class RoutePlanEvent(AuditEvent):
    """Audit row for each change of a route plan: who did what, when, with what data.

    `actor` is empty for the planner's own work (a solve finishing, tomorrow's plan made by
    the beat task); every change a person makes names them.
    """

    plan = models.ForeignKey(RoutePlan, on_delete=models.CASCADE, related_name="events")

    def __str__(self) -> str:
        return f"{self.kind} on plan {self.plan_id}"
