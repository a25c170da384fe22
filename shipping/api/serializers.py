"""Outbound API shapes. Inputs validate fields; services enforce the warehouse rules."""

from __future__ import annotations

import json
from decimal import Decimal

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from config.api.scoping import VisibleWarehouseField, refuse_warehouse_change
from shipping.models import (
    Customer,
    Delivery,
    DeliveryLine,
    Order,
    OrderLine,
    Package,
    PickList,
    PickTask,
    Shipment,
    Wave,
)


class CustomerSerializer(serializers.ModelSerializer):
    warehouse = VisibleWarehouseField(slug_field="id")

    class Meta:
        model = Customer
        fields = [
            "id",
            "warehouse",
            "code",
            "name",
            "address",
            "latitude",
            "longitude",
            "window_start",
            "window_end",
            "service_time_minutes",
            "min_remaining_shelf_life_days",
            "is_active",
        ]

    def validate(self, attrs: dict) -> dict:
        refuse_warehouse_change(self, attrs, "customer")
        # A side left out keeps its value, or on create takes the model's default, as the
        # database will (else the check constraint, not this, refuses the customer).
        start, end = (
            attrs.get(name, getattr(self.instance, name, Customer._meta.get_field(name).default))
            for name in ("window_start", "window_end")
        )
        if end <= start:
            raise serializers.ValidationError({"window_end": ["Must be after window_start."]})
        return attrs


class OrderLineInput(serializers.Serializer):
    product = serializers.IntegerField(min_value=1, help_text="Product id.")
    quantity = serializers.IntegerField(min_value=1, help_text="In `pack` units.")
    pack = serializers.CharField(
        max_length=16,
        required=False,
        default="",
        allow_blank=True,
        help_text="A pack size name such as 'case'; blank for the base unit.",
    )


class OrderInput(serializers.Serializer):
    """One order to create. Ids are checked in bulk by the view, once per request."""

    warehouse = serializers.IntegerField(min_value=1)
    customer = serializers.IntegerField(min_value=1)
    number = serializers.CharField(max_length=32)
    requested_date = serializers.DateField()
    promised_window_start = serializers.DateTimeField()
    promised_window_end = serializers.DateTimeField()
    priority = serializers.ChoiceField(choices=Order.Priority.choices, default=3)
    carrier = serializers.CharField(max_length=40, required=False, default="", allow_blank=True)
    allow_partial = serializers.BooleanField(default=False)
    note = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    lines = OrderLineInput(
        many=True, allow_empty=False, max_length=settings.DOCKSIDE["MAX_LIST_ITEMS"]
    )

    def validate(self, attrs: dict) -> dict:
        if attrs["promised_window_end"] <= attrs["promised_window_start"]:
            raise serializers.ValidationError(
                {"promised_window_end": ["Must be after promised_window_start."]}
            )
        return attrs


class BulkOrderInput(serializers.Serializer):
    orders = OrderInput(
        many=True, allow_empty=False, max_length=settings.DOCKSIDE["MAX_BULK_ORDERS"]
    )


class OrderLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)

    class Meta:
        model = OrderLine
        fields = [
            "id",
            "line_number",
            "product",
            "sku",
            "pack",
            "pack_quantity",
            "quantity",
            "quantity_allocated",
            "quantity_backordered",
            "quantity_picked",
            "quantity_shipped",
        ]


class OrderSerializer(serializers.ModelSerializer):
    lines = OrderLineSerializer(many=True, read_only=True)
    customer_code = serializers.CharField(source="customer.code", read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "warehouse",
            "number",
            "customer",
            "customer_code",
            "status",
            "priority",
            "requested_date",
            "promised_window_start",
            "promised_window_end",
            "carrier",
            "allow_partial",
            "wave",
            "note",
            "lines",
            "created_at",
        ]
        read_only_fields = fields


class BulkOrderResult(serializers.Serializer):
    created = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.IntegerField())


class AllocationResultSerializer(serializers.Serializer):
    order_id = serializers.IntegerField()
    status = serializers.CharField()
    allocated = serializers.IntegerField()
    backordered = serializers.IntegerField()


class CancelInput(serializers.Serializer):
    reason = serializers.CharField(max_length=120, required=False, default="", allow_blank=True)


class WaveSerializer(serializers.ModelSerializer):
    order_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Wave
        fields = [
            "id",
            "warehouse",
            "number",
            "status",
            "dispatch_date",
            "cutoff_at",
            "carrier",
            "staging_location",
            "max_lines_per_list",
            "max_weight_kg_per_list",
            "max_volume_m3_per_list",
            "order_count",
            "created_at",
            "released_at",
            "completed_at",
        ]
        read_only_fields = fields


class WavePlanInput(serializers.Serializer):
    warehouse = VisibleWarehouseField(slug_field="id", help_text="Warehouse id.")
    dispatch_date = serializers.DateField()
    cutoff_at = serializers.DateTimeField()
    carrier = serializers.CharField(max_length=40, required=False, default="", allow_blank=True)
    order_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_empty=False,
        max_length=settings.DOCKSIDE["MAX_LIST_ITEMS"],
    )
    staging_location = serializers.IntegerField(min_value=1, required=False)
    max_lines = serializers.IntegerField(min_value=1, required=False)
    max_weight_kg = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=Decimal("0.01"), required=False
    )
    max_volume_m3 = serializers.DecimalField(
        max_digits=10, decimal_places=4, min_value=Decimal("0.0001"), required=False
    )


class PickTaskSerializer(serializers.ModelSerializer):
    bin = serializers.CharField(source="location.code", read_only=True)
    sku = serializers.CharField(source="product.sku", read_only=True)
    lot_code = serializers.CharField(source="lot.code", read_only=True, allow_null=True)
    order_number = serializers.CharField(source="order_line.order.number", read_only=True)

    class Meta:
        model = PickTask
        fields = [
            "id",
            "pick_list",
            "sequence",
            "status",
            "bin",
            "sku",
            "product",
            "lot_code",
            "order_number",
            "quantity",
            "quantity_picked",
            "short_reason",
            "is_item_match",
            "wrong_bin_scans",
            "wrong_item_scans",
            "skip_count",
            "picked_by",
            "picked_at",
        ]
        read_only_fields = fields
        # "" until the task is picked short (read-only fields drop the model's blank=True).
        extra_kwargs = {"short_reason": {"allow_blank": True}}


class PickListSerializer(serializers.ModelSerializer):
    tasks = PickTaskSerializer(many=True, read_only=True)
    picker_username = serializers.CharField(
        source="picker.username", read_only=True, allow_null=True
    )

    class Meta:
        model = PickList
        fields = [
            "id",
            "number",
            "wave",
            "status",
            "picker",
            "picker_username",
            "staging_location",
            "path_method",
            "path_distance_m",
            "order_line_distance_m",
            "created_at",
            "started_at",
            "completed_at",
            "tasks",
        ]
        read_only_fields = fields


class AssignInput(serializers.Serializer):
    picker = serializers.IntegerField(min_value=1, help_text="User id of the picker.")


class ConfirmPickInput(serializers.Serializer):
    bin = serializers.CharField(max_length=32, help_text="The scanned bin label.")
    item = serializers.CharField(max_length=200, help_text="The scanned GTIN or GS1 barcode.")
    quantity = serializers.IntegerField(min_value=0)


class ShortPickInput(serializers.Serializer):
    short_reason = serializers.ChoiceField(choices=PickTask.ShortReason.choices)
    quantity_picked = serializers.IntegerField(min_value=0, default=0)
    bin = serializers.CharField(max_length=32, required=False, default="", allow_blank=True)
    item = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class PickOutcomeSerializer(serializers.Serializer):
    task_id = serializers.IntegerField()
    pick_list_id = serializers.IntegerField()
    status = serializers.CharField()
    quantity_picked = serializers.IntegerField()
    replayed = serializers.BooleanField()
    reallocated = serializers.IntegerField()
    backordered = serializers.IntegerField()
    count_request_id = serializers.IntegerField(allow_null=True)


class PackageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Package
        fields = [
            "id",
            "sscc",
            "package_type",
            "weight_kg",
            "length_cm",
            "width_cm",
            "height_cm",
            "loaded_at",
            "vehicle_code",
        ]
        read_only_fields = fields


class DeliveryLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryLine
        fields = ["order_line", "quantity_delivered"]


class DeliverySerializer(serializers.ModelSerializer):
    lines = DeliveryLineSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "arrived_at",
            "delivered_at",
            "recipient_name",
            "proof_file",
            "exception",
            "note",
            "is_on_time",
            "is_in_full",
            "lines",
        ]
        read_only_fields = fields


class ShipmentSerializer(serializers.ModelSerializer):
    packages = PackageSerializer(many=True, read_only=True)
    order_number = serializers.CharField(source="order.number", read_only=True)
    delivery = DeliverySerializer(read_only=True, allow_null=True)
    packing_slip_url = serializers.SerializerMethodField()

    class Meta:
        model = Shipment
        fields = [
            "id",
            "number",
            "warehouse",
            "order",
            "order_number",
            "status",
            "planned_departure",
            "staging_lane",
            "outbound_door",
            "load_sequence",
            "vehicle_code",
            "packed_at",
            "staged_at",
            "dispatched_at",
            "packages",
            "delivery",
            "packing_slip_url",
        ]
        read_only_fields = fields

    def get_packing_slip_url(self, shipment: Shipment) -> str:
        return reverse("pick:packing-slip", args=[shipment.id])


class PackageInput(serializers.Serializer):
    package_type = serializers.ChoiceField(choices=Package.Type.choices, default="box")
    weight_kg = serializers.DecimalField(
        max_digits=10, decimal_places=3, min_value=Decimal("0.001")
    )
    length_cm = serializers.DecimalField(max_digits=8, decimal_places=1, min_value=Decimal("0.1"))
    width_cm = serializers.DecimalField(max_digits=8, decimal_places=1, min_value=Decimal("0.1"))
    height_cm = serializers.DecimalField(max_digits=8, decimal_places=1, min_value=Decimal("0.1"))


class PackInput(serializers.Serializer):
    packages = PackageInput(
        many=True, allow_empty=False, max_length=settings.DOCKSIDE["MAX_PACKAGES_PER_SHIPMENT"]
    )


class StageInput(serializers.Serializer):
    staging_lane = serializers.IntegerField(min_value=1, help_text="Location id of the lane.")
    outbound_door = serializers.IntegerField(min_value=1, required=False)


class LoadInput(serializers.Serializer):
    sscc = serializers.CharField(max_length=18, min_length=18)
    vehicle = serializers.CharField(max_length=32)


class DeliveredLineInput(serializers.Serializer):
    order_line = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=0)


class DeliveryInput(serializers.Serializer):
    delivered_at = serializers.DateTimeField()
    arrived_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    recipient_name = serializers.CharField(
        max_length=120, required=False, default="", allow_blank=True
    )
    exception = serializers.ChoiceField(
        choices=Delivery.ExceptionKind.choices, required=False, default=""
    )
    note = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    proof_file = serializers.FileField(required=False, allow_null=True, default=None)
    lines = DeliveredLineInput(
        many=True,
        required=False,
        max_length=settings.DOCKSIDE["MAX_LIST_ITEMS"],
        help_text="Units handed over per order line; by default everything shipped. In a "
        "multipart request send it as a JSON string.",
    )

    def to_internal_value(self, data):
        # Multipart requests carry the nested lines as one JSON string.
        raw = data.get("lines") if hasattr(data, "get") else None
        if isinstance(raw, str):
            try:
                parsed = json.loads(raw)
            except ValueError as error:
                raise serializers.ValidationError({"lines": ["Not valid JSON."]}) from error
            data = {key: data.get(key) for key in data}
            data["lines"] = parsed
        return super().to_internal_value(data)


class KpiPeriodInput(serializers.Serializer):
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


# One object for the period, though the view is a list action (which the schema would make an
# array of).
@extend_schema_serializer(many=False)
class KpiSerializer(serializers.Serializer):
    deliveries = serializers.IntegerField()
    on_time = serializers.FloatField(allow_null=True, help_text="Share delivered on time (OTD).")
    in_full = serializers.FloatField(allow_null=True)
    on_time_in_full = serializers.FloatField(allow_null=True, help_text="OTIF.")
    fill_rate = serializers.FloatField(allow_null=True, help_text="Units delivered / ordered.")
    pick_tasks = serializers.IntegerField()
    pick_accuracy = serializers.FloatField(
        allow_null=True, help_text="Tasks picked complete with no wrong scan / all done tasks."
    )
