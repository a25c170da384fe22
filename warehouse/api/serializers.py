from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from rest_framework import serializers

from config.api.scoping import VisibleWarehouseField, refuse_warehouse_change
from warehouse.gs1 import normalize_gtin
from warehouse.models import (
    DeviceToken,
    Location,
    Lot,
    PackSize,
    Product,
    StockBalance,
    StockMove,
    StockStatus,
    Warehouse,
    Zone,
)
from warehouse.models.catalog import validate_gtin
from warehouse.selectors import list_warehouses_for


class WarehouseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Warehouse
        fields = ["id", "code", "name", "time_zone", "address", "latitude", "longitude"]


class ZoneSerializer(serializers.ModelSerializer):
    warehouse = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Zone
        fields = ["id", "warehouse", "code", "name", "kind", "storage_class"]


class PackSizeSerializer(serializers.ModelSerializer):
    class Meta:
        model = PackSize
        fields = ["name", "quantity", "gtin"]
        # Uniqueness of the GTIN is checked by the database; validators here would query per row.
        # The check digit still is: without it a bad pack GTIN reached PackSize.save() (a 500).
        extra_kwargs = {"gtin": {"validators": [validate_gtin]}}


class ProductSerializer(serializers.ModelSerializer):
    pack_sizes = PackSizeSerializer(
        many=True, required=False, max_length=settings.DOCKSIDE["MAX_LIST_ITEMS"]
    )

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "gtin",
            "name",
            "base_unit",
            "pack_sizes",
            "unit_weight_kg",
            "unit_volume_m3",
            "storage_class",
            "is_lot_tracked",
            "is_expiry_tracked",
            "min_remaining_shelf_life_days",
            "unit_cost",
            "is_active",
        ]
        # The default unique validator compares the GTIN as sent; validate_gtin compares the
        # stored GTIN-14 form, so an EAN-13 of a known item is a 400, not a database conflict.
        extra_kwargs = {"gtin": {"validators": [validate_gtin]}}

    def validate_gtin(self, value: str | None) -> str | None:
        if not value:
            return None
        gtin = normalize_gtin(value)
        clash = Product.objects.filter(gtin=gtin)
        if self.instance is not None:
            clash = clash.exclude(id=self.instance.id)
        if clash.exists():
            raise serializers.ValidationError("A product with this GTIN already exists.")
        return gtin

    def validate_pack_sizes(self, packs: list[dict]) -> list[dict]:
        # The list replaces every pack size, so each must be whole, in a PATCH too (where DRF
        # validates the nested fields as partial and a pack without a name got here: a 500).
        if any("name" not in pack or "quantity" not in pack for pack in packs):
            raise serializers.ValidationError("Each pack size needs a name and a quantity.")
        names = [pack["name"] for pack in packs]
        if len(names) != len(set(names)):
            raise serializers.ValidationError("Pack size names must be unique.")
        return packs

    def validate(self, attrs: dict) -> dict:
        lot_tracked = attrs.get("is_lot_tracked", getattr(self.instance, "is_lot_tracked", False))
        expiry = attrs.get("is_expiry_tracked", getattr(self.instance, "is_expiry_tracked", False))
        if expiry and not lot_tracked:
            raise serializers.ValidationError(
                {"is_expiry_tracked": ["Expiry-tracked products must be lot-tracked."]}
            )
        return attrs

    @transaction.atomic
    def create(self, validated_data: dict) -> Product:
        packs = validated_data.pop("pack_sizes", [])
        product = Product.objects.create(**validated_data)
        for pack in packs:
            PackSize.objects.create(product=product, **pack)
        return product

    @transaction.atomic
    def update(self, instance: Product, validated_data: dict) -> Product:
        packs = validated_data.pop("pack_sizes", None)
        instance = super().update(instance, validated_data)
        if packs is not None:
            instance.pack_sizes.all().delete()
            for pack in packs:
                PackSize.objects.create(product=instance, **pack)
        return instance


class LotSerializer(serializers.ModelSerializer):
    product = serializers.SlugRelatedField(slug_field="sku", queryset=Product.objects.all())

    class Meta:
        model = Lot
        fields = ["id", "product", "code", "expiry_date", "created_at"]
        read_only_fields = ["created_at"]


class _ZoneCodeField(serializers.SlugRelatedField):
    """A zone code, looked up in the location's warehouse: every site has its own "store"."""

    def get_queryset(self):
        zones = super().get_queryset()
        parent = self.parent
        code = parent.initial_data.get("warehouse") if hasattr(parent, "initial_data") else None
        if code:
            return zones.filter(warehouse__code=code)
        if parent.instance is not None:
            return zones.filter(warehouse_id=parent.instance.warehouse_id)
        return zones


class LocationSerializer(serializers.ModelSerializer):
    warehouse = VisibleWarehouseField()
    zone = _ZoneCodeField(slug_field="code", queryset=Zone.objects.all())
    zone_kind = serializers.CharField(source="zone.kind", read_only=True)
    storage_class = serializers.CharField(source="zone.storage_class", read_only=True)
    used_weight_kg = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    used_volume_m3 = serializers.DecimalField(max_digits=14, decimal_places=4, read_only=True)
    free_weight_kg = serializers.SerializerMethodField()
    free_volume_m3 = serializers.SerializerMethodField()

    class Meta:
        model = Location
        fields = [
            "id",
            "warehouse",
            "zone",
            "zone_kind",
            "storage_class",
            "code",
            "aisle",
            "bay",
            "level",
            "x",
            "y",
            "max_weight_kg",
            "max_volume_m3",
            "used_weight_kg",
            "used_volume_m3",
            "free_weight_kg",
            "free_volume_m3",
            "is_active",
        ]
        validators = []  # (warehouse, code) uniqueness is checked in validate() with a message
        # The database refuses a capacity of zero or less (a check constraint).
        extra_kwargs = {
            "max_weight_kg": {"min_value": Decimal("0.01")},
            "max_volume_m3": {"min_value": Decimal("0.0001")},
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            visible = list_warehouses_for(request.user)
            self.fields["zone"].queryset = Zone.objects.filter(warehouse__in=visible)

    def get_free_weight_kg(self, location: Location) -> str | None:
        if location.max_weight_kg is None:
            return None
        return f"{location.max_weight_kg - getattr(location, 'used_weight_kg', 0):.2f}"

    def get_free_volume_m3(self, location: Location) -> str | None:
        if location.max_volume_m3 is None:
            return None
        return f"{location.max_volume_m3 - getattr(location, 'used_volume_m3', 0):.4f}"

    def validate(self, attrs: dict) -> dict:
        refuse_warehouse_change(self, attrs, "bin")
        warehouse = attrs.get("warehouse", getattr(self.instance, "warehouse", None))
        zone = attrs.get("zone", getattr(self.instance, "zone", None))
        code = attrs.get("code", getattr(self.instance, "code", None))
        if zone and warehouse and zone.warehouse_id != warehouse.id:
            raise serializers.ValidationError({"zone": ["The zone belongs to another warehouse."]})
        duplicate = Location.objects.filter(warehouse=warehouse, code=code)
        if self.instance is not None:
            duplicate = duplicate.exclude(id=self.instance.id)
        if duplicate.exists():
            raise serializers.ValidationError({"code": [f"{code} already exists here."]})
        return attrs


class StockBalanceSerializer(serializers.ModelSerializer):
    warehouse = serializers.CharField(source="location.warehouse.code", read_only=True)
    location = serializers.CharField(source="location.code", read_only=True)
    zone = serializers.CharField(source="location.zone.code", read_only=True)
    sku = serializers.CharField(source="product.sku", read_only=True)
    lot = serializers.CharField(source="lot.code", read_only=True, allow_null=True)
    expiry_date = serializers.DateField(source="lot.expiry_date", read_only=True, allow_null=True)
    free = serializers.IntegerField(read_only=True)

    class Meta:
        model = StockBalance
        fields = [
            "id",
            "warehouse",
            "location",
            "zone",
            "product",
            "sku",
            "lot",
            "expiry_date",
            "status",
            "quantity",
            "allocated",
            "free",
            "updated_at",
        ]
        read_only_fields = fields


class StockMoveSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    lot = serializers.CharField(source="lot.code", read_only=True, allow_null=True)
    from_location = serializers.CharField(
        source="from_location.code", read_only=True, allow_null=True
    )
    to_location = serializers.CharField(source="to_location.code", read_only=True, allow_null=True)
    actor = serializers.CharField(source="actor.username", read_only=True, allow_null=True)

    class Meta:
        model = StockMove
        fields = [
            "id",
            "created_at",
            "sku",
            "lot",
            "quantity",
            "from_location",
            "from_status",
            "to_location",
            "to_status",
            "reason",
            "reference",
            "note",
            "actor",
        ]
        read_only_fields = fields
        # "" on the side without a location: a receipt has no from, a shipment no to.
        extra_kwargs = {"from_status": {"allow_blank": True}, "to_status": {"allow_blank": True}}


class _StockPlaceInput(serializers.Serializer):
    """Names stock the way people on the floor do: warehouse, bin code, SKU, lot code."""

    warehouse = VisibleWarehouseField()
    product = serializers.SlugRelatedField(slug_field="sku", queryset=Product.objects.all())
    lot = serializers.CharField(required=False, allow_blank=True, default="")
    status = serializers.ChoiceField(choices=StockStatus.choices, default=StockStatus.AVAILABLE)
    pack = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Pack size name, e.g. case."
    )
    reference = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)

    def _location(self, attrs: dict, field: str) -> Location:
        location = Location.objects.filter(warehouse=attrs["warehouse"], code=attrs[field]).first()
        if location is None:
            raise serializers.ValidationError({field: [f"No location {attrs[field]} here."]})
        return location

    def _lot(self, attrs: dict) -> Lot | None:
        if not attrs["lot"]:
            return None
        lot = Lot.objects.filter(product=attrs["product"], code=attrs["lot"]).first()
        if lot is None:
            raise serializers.ValidationError(
                {"lot": [f"{attrs['product'].sku} has no lot {attrs['lot']}."]}
            )
        return lot

    def _units(self, attrs: dict, quantity: int) -> int:
        try:
            return quantity * attrs["product"].units_per(attrs["pack"] or None)
        except PackSize.DoesNotExist as error:
            raise serializers.ValidationError(
                {"pack": [f"{attrs['product'].sku} has no pack size {attrs['pack']!r}."]}
            ) from error


class StockAdjustmentInput(_StockPlaceInput):
    REASONS = [
        StockMove.Reason.ADJUST,
        StockMove.Reason.COUNT,
        StockMove.Reason.DAMAGE,
        StockMove.Reason.SCRAP,
    ]
    location = serializers.CharField(max_length=32)
    delta = serializers.IntegerField(help_text="Units to add (positive) or remove (negative).")
    reason = serializers.ChoiceField(choices=REASONS, default=StockMove.Reason.ADJUST)

    def validate_delta(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("An adjustment must change the quantity.")
        return value

    def validate(self, attrs: dict) -> dict:
        attrs["location"] = self._location(attrs, "location")
        attrs["lot"] = self._lot(attrs)
        attrs["delta"] = self._units(attrs, attrs["delta"])
        return attrs


class StockTransferInput(_StockPlaceInput):
    from_location = serializers.CharField(max_length=32)
    to_location = serializers.CharField(max_length=32)
    quantity = serializers.IntegerField(min_value=1)

    def validate(self, attrs: dict) -> dict:
        attrs["from_location"] = self._location(attrs, "from_location")
        attrs["to_location"] = self._location(attrs, "to_location")
        if attrs["from_location"] == attrs["to_location"]:
            raise serializers.ValidationError({"to_location": ["Pick a different location."]})
        attrs["lot"] = self._lot(attrs)
        attrs["quantity"] = self._units(attrs, attrs["quantity"])
        return attrs


class TokenRequest(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    device_name = serializers.CharField(max_length=80)


class DeviceTokenSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)
    # A device learns its user's id here: assigning pick lists (POST /pick-lists/{id}/assign/)
    # names the picker by id, and no other endpoint shows it.
    user_id = serializers.IntegerField(source="user.id", read_only=True)
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = DeviceToken
        fields = [
            "id",
            "user",
            "user_id",
            "name",
            "prefix",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "is_active",
        ]
        read_only_fields = fields


class IssuedTokenSerializer(DeviceTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown once; store it on the device.")

    class Meta(DeviceTokenSerializer.Meta):
        fields = [*DeviceTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields
