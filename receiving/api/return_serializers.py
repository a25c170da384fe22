"""Request and response shapes of the returns API. Input serializers validate fields only;
the rules that need the database (what may be returned, disposed of) live in the services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from receiving.models import (
    ReturnAuthorisation,
    ReturnDiscrepancy,
    ReturnDisposition,
    ReturnLine,
    ReturnReason,
    ReturnReceipt,
)


class ReturnLineInput(serializers.Serializer):
    line_number = serializers.IntegerField(
        min_value=1, required=False, help_text="The order line's number (or give `sku`)."
    )
    sku = serializers.CharField(
        max_length=64, required=False, help_text="The returned product, when on one order line."
    )
    quantity = serializers.IntegerField(min_value=1, help_text="Units, in the base unit.")
    reason = serializers.ChoiceField(
        choices=ReturnReason.choices, required=False, help_text="Default: the return's reason."
    )
    lot = serializers.CharField(
        max_length=20, required=False, allow_blank=True, default="", help_text="If known."
    )

    def validate(self, attrs: dict) -> dict:
        if "line_number" not in attrs and not attrs.get("sku"):
            raise serializers.ValidationError({"line_number": ["Give line_number or sku."]})
        return attrs


class ReturnRequestInput(serializers.Serializer):
    order = serializers.IntegerField(min_value=1, help_text="The delivered order's id.")
    reason = serializers.ChoiceField(
        choices=ReturnReason.choices, required=False, help_text="For lines that give none."
    )
    customer_reference = serializers.CharField(
        max_length=60, required=False, allow_blank=True, default=""
    )
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    lines = ReturnLineInput(many=True, allow_empty=False, max_length=500)

    def validate(self, attrs: dict) -> dict:
        if "reason" not in attrs and any("reason" not in line for line in attrs["lines"]):
            raise serializers.ValidationError({"reason": ["Give a reason for the return."]})
        return attrs


class RejectInput(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class DispositionInput(serializers.Serializer):
    line = serializers.IntegerField(min_value=1, help_text="The RMA line's number.")
    disposition = serializers.ChoiceField(choices=ReturnDisposition.Kind.choices)
    quantity = serializers.IntegerField(min_value=1)
    lot = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        default="",
        help_text="Needed when the line received units of several lots.",
    )
    reason = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required for scrap and return_to_vendor.",
    )
    bin = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        default="",
        help_text="Quarantine: the quarantine bin (default: the warehouse's first).",
    )
    supplier = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        default="",
        help_text="Return to vendor: the supplier's code.",
    )


class ReturnDispositionSerializer(serializers.ModelSerializer):
    line_number = serializers.IntegerField(source="line.line_number", read_only=True)
    lot_code = serializers.CharField(source="lot.code", read_only=True, allow_null=True)
    location_code = serializers.CharField(source="location.code", read_only=True, allow_null=True)
    supplier_code = serializers.CharField(source="supplier.code", read_only=True, allow_null=True)
    decided_by = serializers.CharField(
        source="decided_by.username", read_only=True, allow_null=True
    )

    class Meta:
        model = ReturnDisposition
        fields = [
            "id",
            "line_number",
            "kind",
            "lot_code",
            "quantity",
            "reason",
            "supplier_code",
            "location_code",
            "stock_move",
            "putaway_task",
            "decided_by",
            "decided_at",
        ]


class ReturnLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    lot_code = serializers.CharField(source="lot.code", read_only=True, allow_null=True)
    order_line_number = serializers.IntegerField(
        source="order_line.line_number", read_only=True, allow_null=True
    )

    class Meta:
        model = ReturnLine
        fields = [
            "id",
            "line_number",
            "order_line",
            "order_line_number",
            "product",
            "sku",
            "lot",
            "lot_code",
            "quantity",
            "reason",
            "is_expected",
            "received_quantity",
            "damaged_quantity",
            "dispositioned_quantity",
        ]


class ReturnSerializer(serializers.ModelSerializer):
    warehouse = serializers.CharField(source="warehouse.code", read_only=True)
    order_number = serializers.CharField(source="order.number", read_only=True)
    customer_code = serializers.CharField(source="customer.code", read_only=True)

    class Meta:
        model = ReturnAuthorisation
        fields = [
            "id",
            "number",
            "warehouse",
            "order",
            "order_number",
            "customer",
            "customer_code",
            "status",
            "customer_reference",
            "note",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
            "rejection_reason",
            "received_at",
            "closed_at",
        ]
        read_only_fields = fields


class ReturnDetailSerializer(ReturnSerializer):
    lines = ReturnLineSerializer(many=True, read_only=True)
    dispositions = serializers.SerializerMethodField()

    class Meta(ReturnSerializer.Meta):
        fields = [*ReturnSerializer.Meta.fields, "lines", "dispositions"]
        read_only_fields = fields

    @extend_schema_field(ReturnDispositionSerializer(many=True))
    def get_dispositions(self, rma: ReturnAuthorisation) -> list[dict]:
        # Prefetched by the selector (`list_returns_with_lines`): no query per line.
        return ReturnDispositionSerializer(
            [d for line in rma.lines.all() for d in line.dispositions.all()], many=True
        ).data


class ReturnReceiptSerializer(serializers.ModelSerializer):
    rma_number = serializers.CharField(source="rma.number", read_only=True)
    door_code = serializers.CharField(source="door.code", read_only=True)

    class Meta:
        model = ReturnReceipt
        fields = [
            "id",
            "rma",
            "rma_number",
            "door",
            "door_code",
            "status",
            "opened_at",
            "opened_by",
            "closed_at",
            "closed_by",
        ]
        read_only_fields = fields


class ReturnReceiptOpenInput(serializers.Serializer):
    rma = serializers.IntegerField(min_value=1)
    door = serializers.IntegerField(min_value=1)


class ReturnScanLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    line_number = serializers.IntegerField()
    quantity = serializers.IntegerField(help_text="Units authorised.")
    received_quantity = serializers.IntegerField()
    damaged_quantity = serializers.IntegerField()
    is_expected = serializers.BooleanField()


class ReturnScanProductSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()


class ReturnScanWarningSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ReturnScanResultSerializer(serializers.Serializer):
    return_receipt = serializers.IntegerField()
    scan_id = serializers.IntegerField()
    product = ReturnScanProductSerializer()
    lot = serializers.CharField(allow_null=True)
    quantity = serializers.IntegerField()
    status = serializers.CharField()
    is_damaged = serializers.BooleanField()
    line = ReturnScanLineSerializer()
    warnings = ReturnScanWarningSerializer(many=True)


class ReturnDiscrepancySerializer(serializers.ModelSerializer):
    line_number = serializers.IntegerField(source="line.line_number", read_only=True)
    sku = serializers.CharField(source="line.product.sku", read_only=True)
    lot_code = serializers.CharField(source="line.lot.code", read_only=True, allow_null=True)

    class Meta:
        model = ReturnDiscrepancy
        fields = [
            "id",
            "line",
            "line_number",
            "sku",
            "lot_code",
            "kind",
            "expected_quantity",
            "received_quantity",
            "difference",
            "note",
        ]


class ReturnDiscrepancyReportSerializer(serializers.Serializer):
    return_receipt = ReturnReceiptSerializer()
    rma_status = serializers.CharField()
    discrepancies = ReturnDiscrepancySerializer(many=True)
