from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from config.api.scoping import VisibleWarehouseField, refuse_warehouse_change
from routing.models import Route, RoutePlan, RouteStop, Vehicle
from shipping.models import Shipment


class VehicleSerializer(serializers.ModelSerializer):
    warehouse = VisibleWarehouseField()

    class Meta:
        model = Vehicle
        fields = [
            "id",
            "warehouse",
            "code",
            "carrier",
            "capacity_weight_kg",
            "capacity_volume_m3",
            "is_refrigerated",
            "shift_start",
            "shift_end",
            "max_route_minutes",
            "average_speed_kmh",
            "fixed_cost",
            "cost_per_km",
            "is_active",
        ]

    def validate(self, attrs: dict) -> dict:
        refuse_warehouse_change(self, attrs, "vehicle")
        # A side left out keeps its value, or on create takes the model's default, as the
        # database will (else the check constraint, not this, refuses the vehicle).
        start, end = (
            attrs.get(name, getattr(self.instance, name, Vehicle._meta.get_field(name).default))
            for name in ("shift_start", "shift_end")
        )
        if end <= start:
            raise serializers.ValidationError(
                {"shift_end": ["The shift must end after it starts."]}
            )
        return attrs


class RouteStopSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.code", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    latitude = serializers.DecimalField(
        source="customer.latitude", max_digits=9, decimal_places=6, read_only=True
    )
    longitude = serializers.DecimalField(
        source="customer.longitude", max_digits=9, decimal_places=6, read_only=True
    )
    shipments = serializers.SlugRelatedField(slug_field="number", many=True, read_only=True)
    route = serializers.IntegerField(source="route.number", read_only=True, allow_null=True)
    actual_arrival = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When the driver confirmed arriving."
    )
    arrival_delay_seconds = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Actual minus planned arrival (late > 0)."
    )

    class Meta:
        model = RouteStop
        fields = [
            "id",
            "route",
            "sequence",
            "customer",
            "customer_name",
            "latitude",
            "longitude",
            "shipments",
            "weight_kg",
            "volume_m3",
            "needs_refrigeration",
            "priority",
            "service_seconds",
            "windows",
            "planned_arrival",
            "waiting_seconds",
            "planned_departure",
            "load_weight_after_kg",
            "load_volume_after_m3",
            "distance_from_previous_m",
            "actual_arrival",
            "arrival_delay_seconds",
            "dropped_reason_code",
            "dropped_reason",
        ]
        read_only_fields = fields


class RouteSerializer(serializers.ModelSerializer):
    vehicle = serializers.CharField(source="vehicle.code", read_only=True)
    staging_lane = serializers.CharField(
        source="staging_lane.code", read_only=True, allow_null=True
    )
    outbound_door = serializers.CharField(
        source="outbound_door.code", read_only=True, allow_null=True
    )
    stops = RouteStopSerializer(many=True, read_only=True)

    class Meta:
        model = Route
        fields = [
            "id",
            "number",
            "vehicle",
            "departure_at",
            "return_at",
            "distance_m",
            "duration_s",
            "load_weight_kg",
            "load_volume_m3",
            "staging_lane",
            "outbound_door",
            "stops",
        ]
        read_only_fields = fields


class RoutePlanSerializer(serializers.ModelSerializer):
    warehouse = serializers.CharField(source="warehouse.code", read_only=True)

    class Meta:
        model = RoutePlan
        fields = [
            "id",
            "warehouse",
            "delivery_date",
            "status",
            "time_limit_seconds",
            "seed",
            "solve_started_at",
            "solved_at",
            "best_objective",
            "solutions_found",
            "solve_seconds",
            "strategy",
            "total_distance_m",
            "total_duration_s",
            "vehicles_used",
            "dropped_stops",
            "error",
            "approved_at",
            "created_at",
        ]
        read_only_fields = fields


class RoutePlanDetailSerializer(RoutePlanSerializer):
    routes = RouteSerializer(many=True, read_only=True)
    unplanned = RouteStopSerializer(many=True, read_only=True)

    class Meta(RoutePlanSerializer.Meta):
        fields = [*RoutePlanSerializer.Meta.fields, "routes", "unplanned"]
        read_only_fields = fields


class CreateRoutePlanInput(serializers.Serializer):
    warehouse = VisibleWarehouseField()
    delivery_date = serializers.DateField()
    shipments = serializers.ListField(
        child=serializers.CharField(max_length=40),
        required=False,
        max_length=settings.DOCKSIDE["MAX_LIST_ITEMS"],
        help_text="Shipment numbers; all of the day's ready shipments when left out.",
    )
    time_limit_seconds = serializers.IntegerField(min_value=1, max_value=600, default=30)
    seed = serializers.IntegerField(min_value=0, default=0)
    solve = serializers.BooleanField(default=True, help_text="Start solving at once.")

    def validate(self, attrs: dict) -> dict:
        """Shipment numbers become ids, looked up in the plan's warehouse only: numbers repeat
        across warehouses, and another warehouse's shipments are unknown here."""
        numbers = attrs.get("shipments")
        if numbers:
            found = dict(
                Shipment.objects.filter(
                    warehouse=attrs["warehouse"], number__in=numbers
                ).values_list("number", "id")
            )
            missing = sorted(set(numbers) - set(found))
            if missing:
                raise serializers.ValidationError(
                    {"shipments": [f"No shipment {number} here." for number in missing]}
                )
            attrs["shipments"] = [found[number] for number in dict.fromkeys(numbers)]
        return attrs


class MoveStopInput(serializers.Serializer):
    stop = serializers.IntegerField(help_text="The stop to move (a planned or unplanned stop).")
    route = serializers.IntegerField(
        allow_null=True, help_text="Number of the route to put it on; null takes it off the plan."
    )
    position = serializers.IntegerField(
        min_value=1, required=False, help_text="1 = first stop; default: last."
    )
