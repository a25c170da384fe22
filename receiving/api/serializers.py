"""Request and response shapes of the inbound API. Input serializers validate fields only;
rules that need the database live in `receiving.services`."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from receiving.models import (
    Discrepancy,
    DockAppointment,
    InboundLine,
    InboundShipment,
    Inspection,
    InspectionRule,
    PutawayTask,
    Receipt,
    Supplier,
)
from warehouse.gs1 import is_valid_sscc


class SupplierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Supplier
        fields = ["id", "code", "name", "requires_inspection", "contact_email", "is_active"]


class InspectionRuleSerializer(serializers.ModelSerializer):
    product_sku = serializers.CharField(source="product.sku", read_only=True)
    supplier_code = serializers.CharField(source="supplier.code", read_only=True, allow_null=True)

    class Meta:
        model = InspectionRule
        fields = [
            "id",
            "product",
            "product_sku",
            "supplier",
            "supplier_code",
            "requires_inspection",
            "note",
        ]

    def validate(self, attrs: dict) -> dict:
        # One rule per product and supplier (or per product, for any supplier): the unique
        # constraints are conditional, which DRF's validators do not check.
        product = attrs.get("product", getattr(self.instance, "product", None))
        supplier = attrs.get("supplier", getattr(self.instance, "supplier", None))
        clash = InspectionRule.objects.filter(product=product, supplier=supplier)
        if self.instance is not None:
            clash = clash.exclude(id=self.instance.id)
        if clash.exists():
            raise serializers.ValidationError(
                {"product": ["This product already has a rule for this supplier."]}
            )
        return attrs


class InboundLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)

    class Meta:
        model = InboundLine
        fields = [
            "id",
            "line_number",
            "product",
            "sku",
            "expected_quantity",
            "lot_code",
            "expiry_date",
            "sscc",
            "is_expected",
            "received_quantity",
            "damaged_quantity",
            "pallet_received_at",
        ]


class InboundShipmentSerializer(serializers.ModelSerializer):
    warehouse = serializers.SlugRelatedField(slug_field="code", read_only=True)
    supplier = serializers.SlugRelatedField(slug_field="code", read_only=True)
    line_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = InboundShipment
        fields = [
            "id",
            "warehouse",
            "supplier",
            "reference",
            "po_reference",
            "carrier",
            "expected_arrival",
            "status",
            "arrived_at",
            "line_count",
            "created_at",
        ]


class InboundShipmentDetailSerializer(InboundShipmentSerializer):
    lines = InboundLineSerializer(many=True, read_only=True)

    class Meta(InboundShipmentSerializer.Meta):
        fields = [*InboundShipmentSerializer.Meta.fields, "lines"]


class InboundLineInput(serializers.Serializer):
    sku = serializers.CharField(max_length=40)
    quantity = serializers.IntegerField(min_value=1, help_text="Number of `pack`s.")
    pack = serializers.CharField(
        max_length=16,
        required=False,
        allow_blank=True,
        help_text="Pack size name; empty = base unit.",
    )
    lot_code = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    expiry_date = serializers.DateField(required=False, allow_null=True, default=None)
    sscc = serializers.CharField(max_length=18, required=False, allow_blank=True, default="")

    def validate_sscc(self, value: str) -> str:
        if value and not is_valid_sscc(value):
            raise serializers.ValidationError("Not an 18-digit SSCC with a valid check digit.")
        return value


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "ASN with two lines",
            value={
                "warehouse": "AMS",
                "supplier": "ACME",
                "reference": "ASN-2026-0042",
                "po_reference": "PO-7781",
                "carrier": "DHL Freight",
                "expected_arrival": "2026-11-24T08:30:00+01:00",
                "lines": [
                    {"sku": "AMB-1", "quantity": 10, "pack": "case"},
                    {
                        "sku": "CHL-1",
                        "quantity": 120,
                        "lot_code": "L2611",
                        "expiry_date": "2027-01-31",
                        "sscc": "095011010000000018",
                    },
                ],
            },
            request_only=True,
        )
    ]
)
class InboundShipmentInput(serializers.Serializer):
    warehouse = serializers.CharField(help_text="Warehouse code.")
    supplier = serializers.CharField(help_text="Supplier code.")
    reference = serializers.CharField(max_length=40)
    po_reference = serializers.CharField(
        max_length=40, required=False, allow_blank=True, default=""
    )
    carrier = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    expected_arrival = serializers.DateTimeField()
    lines = InboundLineInput(
        many=True, allow_empty=False, max_length=settings.DOCKSIDE["MAX_ASN_LINES"]
    )


class DockAppointmentSerializer(serializers.ModelSerializer):
    door_code = serializers.CharField(source="door.code", read_only=True)
    shipment_reference = serializers.CharField(source="shipment.reference", read_only=True)

    class Meta:
        model = DockAppointment
        fields = [
            "id",
            "shipment",
            "shipment_reference",
            "door",
            "door_code",
            "starts_at",
            "ends_at",
            "status",
            "is_automatic",
            "created_at",
        ]


class DockAppointmentInput(serializers.Serializer):
    shipment = serializers.IntegerField()
    door = serializers.IntegerField()
    starts_at = serializers.DateTimeField()


class ScheduleDayInput(serializers.Serializer):
    warehouse = serializers.CharField(help_text="Warehouse code.")
    date = serializers.DateField(help_text="Local day whose announced ASNs get slots.")


class SlotConflictSerializer(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField()
    next_free_slot = serializers.DateTimeField(allow_null=True)


class CheckInInput(serializers.Serializer):
    arrived_at = serializers.DateTimeField(required=False, help_text="Defaults to now.")


class ReceiptSerializer(serializers.ModelSerializer):
    shipment_reference = serializers.CharField(source="shipment.reference", read_only=True)
    door_code = serializers.CharField(source="door.code", read_only=True)

    class Meta:
        model = Receipt
        fields = [
            "id",
            "shipment",
            "shipment_reference",
            "door",
            "door_code",
            "status",
            "opened_at",
            "closed_at",
            "override_by",
        ]


class ReceiptOpenInput(serializers.Serializer):
    shipment = serializers.IntegerField()
    door = serializers.IntegerField()


# Limits of a scan body, shared by ScanInput and the direct checks below.
_BARCODE_MAX = 200
_PACK_MAX = 16


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "GS1-128 case label with lot and expiry",
            value={"barcode": "]C101095011015300101727013110L2611"},
            request_only=True,
        ),
        OpenApiExample(
            "Pallet content: 40 cases by AI 02 + 37",
            value={"barcode": "02095011015300031727013110L2611|3740"},
            request_only=True,
        ),
        OpenApiExample(
            "Plain EAN-13, 3 cases keyed in",
            value={"barcode": "9501101530003", "quantity": 3, "pack": "case"},
            request_only=True,
        ),
        OpenApiExample(
            "Announced pallet (SSCC)", value={"barcode": "095011010000000018"}, request_only=True
        ),
        OpenApiExample(
            "Damaged unit", value={"barcode": "09501101530003", "damaged": True}, request_only=True
        ),
    ]
)
class ScanInput(serializers.Serializer):
    barcode = serializers.CharField(
        max_length=_BARCODE_MAX,
        trim_whitespace=False,
        help_text="The raw scanner data: GS1 element string (GS or '|' separators, optional ]C1), "
        "a plain GTIN/EAN/UPC, or an SSCC announced on the ASN.",
    )
    quantity = serializers.IntegerField(
        min_value=1, required=False, help_text="Count when the barcode has no AI 37; default 1."
    )
    pack = serializers.CharField(
        max_length=_PACK_MAX, required=False, allow_blank=True, help_text="Pack the count is in."
    )
    damaged = serializers.BooleanField(default=False, help_text="The units are damaged.")


def validate_scan_input(data: object) -> dict:
    """What `ScanInput(data=data)` validates to, raising its ValidationError (400) the same way.

    A scanner's ordinary JSON body (a short ASCII barcode, maybe an integer quantity, a pack
    name, a true/false damaged flag) is checked here directly: building the serializer and its
    fields cost more CPU per scan than parsing the barcode. Anything else (other types, blanks,
    limits exceeded, non-ASCII text, form data) goes through the serializer, which then gives
    its own answer; the direct checks accept exactly what it accepts, and give the same values.
    """
    if type(data) is dict and _is_plain_scan(data):
        values = {"barcode": data["barcode"], "damaged": data.get("damaged", False)}
        if "quantity" in data:
            values["quantity"] = data["quantity"]
        if "pack" in data:
            values["pack"] = data["pack"].strip()
        return values
    serializer = ScanInput(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _is_plain_scan(data: dict) -> bool:
    barcode = data.get("barcode")
    if not (type(barcode) is str and 0 < len(barcode) <= _BARCODE_MAX and _plain(barcode)):
        return False
    if "quantity" in data:
        quantity = data["quantity"]
        if type(quantity) is not int or quantity < 1:
            return False
    if "pack" in data:
        pack = data["pack"]
        if type(pack) is not str or not _plain(pack) or len(pack.strip()) > _PACK_MAX:
            return False
    return "damaged" not in data or type(data["damaged"]) is bool


def _plain(text: str) -> bool:
    # ASCII has no surrogates; NUL is what CharField's other validator refuses.
    return text.isascii() and "\x00" not in text


class ScanLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    line_number = serializers.IntegerField()
    expected_quantity = serializers.IntegerField()
    received_quantity = serializers.IntegerField()
    damaged_quantity = serializers.IntegerField()
    is_expected = serializers.BooleanField()


class ScanItemSerializer(serializers.Serializer):
    scan_id = serializers.IntegerField()
    product = serializers.DictField()
    lot = serializers.CharField(allow_null=True)
    expiry_date = serializers.DateField(allow_null=True)
    quantity = serializers.IntegerField(help_text="Base units received by this scan.")
    status = serializers.CharField()
    line = ScanLineSerializer()


class WarningSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ScanResultSerializer(serializers.Serializer):
    receipt = serializers.IntegerField()
    sscc = serializers.CharField(allow_blank=True)
    items = ScanItemSerializer(many=True)
    warnings = WarningSerializer(many=True)


class CloseReceiptInput(serializers.Serializer):
    override = serializers.BooleanField(
        default=False, help_text="Manager only: accept over-receipt beyond the tolerance."
    )


class DiscrepancySerializer(serializers.ModelSerializer):
    line_number = serializers.IntegerField(source="line.line_number", read_only=True)
    sku = serializers.CharField(source="line.product.sku", read_only=True)
    lot_code = serializers.CharField(source="line.lot_code", read_only=True)

    class Meta:
        model = Discrepancy
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


class DiscrepancyReportSerializer(serializers.Serializer):
    receipt = ReceiptSerializer()
    discrepancies = DiscrepancySerializer(many=True)
    inspections = serializers.ListField(child=serializers.IntegerField())
    putaway_tasks = serializers.ListField(child=serializers.IntegerField())


class InspectionSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    lot_code = serializers.CharField(source="lot.code", read_only=True, allow_null=True)
    location_code = serializers.CharField(source="location.code", read_only=True)

    class Meta:
        model = Inspection
        fields = [
            "id",
            "receipt",
            "product",
            "sku",
            "lot",
            "lot_code",
            "location_code",
            "quantity",
            "sample_size",
            "status",
            "defects_found",
            "disposition",
            "reason",
            "inspected_by",
            "inspected_at",
        ]


class InspectionResultInput(serializers.Serializer):
    result = serializers.ChoiceField(choices=["pass", "fail"])
    defects_found = serializers.IntegerField(min_value=0, default=0)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    disposition = serializers.ChoiceField(
        choices=Inspection.Disposition.choices,
        default=Inspection.Disposition.QUARANTINE,
        help_text="On fail: keep in quarantine or mark damaged.",
    )


class PutawayTaskSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    lot_code = serializers.CharField(source="lot.code", read_only=True, allow_null=True)
    from_location_code = serializers.CharField(source="from_location.code", read_only=True)
    proposed_bin = serializers.CharField(
        source="proposed_location.code", read_only=True, allow_null=True
    )
    confirmed_bin = serializers.CharField(
        source="confirmed_location.code", read_only=True, allow_null=True
    )
    dock_to_stock_seconds = serializers.SerializerMethodField()

    class Meta:
        model = PutawayTask
        fields = [
            "id",
            "receipt",
            "return_receipt",
            "product",
            "sku",
            "lot",
            "lot_code",
            "quantity",
            "from_location_code",
            "proposed_bin",
            "confirmed_bin",
            "status",
            "confirmed_at",
            "dock_to_stock_seconds",
        ]

    def get_dock_to_stock_seconds(self, task: PutawayTask) -> int | None:
        return int(task.dock_to_stock.total_seconds()) if task.dock_to_stock is not None else None


class PutawayConfirmInput(serializers.Serializer):
    bin = serializers.CharField(max_length=32, help_text="The scanned bin label (location code).")
