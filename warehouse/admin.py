from django.contrib import admin

from warehouse.models import (
    CountRequest,
    DeviceToken,
    DockDoor,
    IdempotencyRecord,
    Location,
    Lot,
    OutboxMessage,
    PackSize,
    Product,
    StockBalance,
    StockMove,
    Warehouse,
    Zone,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services: visible in admin, changed only through admin actions that
    call those services."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "time_zone", "latitude", "longitude"]
    search_fields = ["code", "name"]
    filter_horizontal = ["staff"]


@admin.register(Zone)
class ZoneAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "warehouse", "kind", "storage_class"]
    list_filter = ["warehouse", "kind", "storage_class"]
    search_fields = ["code", "name"]


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "warehouse",
        "zone",
        "aisle",
        "bay",
        "level",
        "x",
        "y",
        "max_weight_kg",
        "max_volume_m3",
        "is_active",
    ]
    list_filter = ["warehouse", "zone__kind", "zone__storage_class", "is_active", "aisle"]
    search_fields = ["code"]
    list_select_related = ["warehouse", "zone"]


@admin.register(DockDoor)
class DockDoorAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "warehouse",
        "direction",
        "opens_at",
        "closes_at",
        "slot_minutes",
        "is_active",
    ]
    list_filter = ["warehouse", "direction", "is_active"]
    raw_id_fields = ["location"]


class PackSizeInline(admin.TabularInline):
    model = PackSize
    extra = 0


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = [
        "sku",
        "name",
        "gtin",
        "storage_class",
        "unit_weight_kg",
        "unit_volume_m3",
        "is_lot_tracked",
        "is_expiry_tracked",
        "is_active",
    ]
    list_filter = ["storage_class", "is_lot_tracked", "is_expiry_tracked", "is_active"]
    search_fields = ["sku", "gtin", "name"]
    inlines = [PackSizeInline]


@admin.register(Lot)
class LotAdmin(admin.ModelAdmin):
    list_display = ["code", "product", "expiry_date", "created_at"]
    list_filter = ["expiry_date"]
    search_fields = ["code", "product__sku"]
    raw_id_fields = ["product"]


@admin.register(StockBalance)
class StockBalanceAdmin(ReadOnlyAdmin):
    list_display = ["location", "product", "lot", "status", "quantity", "allocated", "updated_at"]
    list_filter = ["status", "location__warehouse", "location__zone__kind"]
    search_fields = ["product__sku", "location__code", "lot__code"]
    list_select_related = ["location", "product", "lot"]


@admin.register(StockMove)
class StockMoveAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "reason",
        "product",
        "lot",
        "quantity",
        "from_location",
        "from_status",
        "to_location",
        "to_status",
        "reference",
        "actor",
    ]
    list_filter = ["reason", "warehouse", "created_at"]
    search_fields = ["product__sku", "reference", "from_location__code", "to_location__code"]
    list_select_related = ["product", "lot", "from_location", "to_location", "actor"]
    date_hierarchy = "created_at"


@admin.register(DeviceToken)
class DeviceTokenAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "user",
        "prefix",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["user", "prefix", "created_at", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        # Tokens are issued through the API so the raw token can be shown once to its device.
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset) -> None:
        from django.utils import timezone

        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} token(s).")


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ["key", "user", "response_status", "created_at"]
    search_fields = ["key", "user__username"]


@admin.register(CountRequest)
class CountRequestAdmin(admin.ModelAdmin):
    list_display = [
        "location",
        "product",
        "reason",
        "status",
        "requested_by",
        "created_at",
        "reference",
    ]
    list_filter = ["status", "reason", "warehouse"]
    search_fields = ["location__code", "product__sku", "reference"]
    list_select_related = ["location", "product", "requested_by"]
    raw_id_fields = ["location", "product", "requested_by"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    """Background work waiting for (or handed to) the broker: a growing pending list means the
    relay is stopped or Redis is down."""

    list_display = ["id", "task", "args", "created_at", "published_at", "attempts", "last_error"]
    list_filter = [("published_at", admin.EmptyFieldListFilter), "task"]
    search_fields = ["task"]
