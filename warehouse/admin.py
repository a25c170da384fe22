from django.contrib import admin, messages

from warehouse.counts import services as counting
from warehouse.errors import DomainError
from warehouse.models import (
    CountAttempt,
    CountEntry,
    CountLine,
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
from warehouse.roles import MANAGER, has_role


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
    actions = ["request_zone_counts"]

    @admin.action(description="Request cycle counts of every bin in the selected zones")
    def request_zone_counts(self, request, queryset) -> None:
        _request_counts(self, request, [{"zone": zone} for zone in queryset])


def _request_counts(model_admin, request, targets: list[dict]) -> None:
    """Request counts as the manager using the admin (bins that already have one are left)."""
    if not has_role(request.user, MANAGER):
        model_admin.message_user(request, "Only managers request counts.", messages.ERROR)
        return
    made, refused = 0, []
    for target in targets:
        try:
            made += len(counting.request_counts(actor=request.user, **target))
        except DomainError as error:
            refused.append(error.message)
    model_admin.message_user(request, f"Requested {made} count(s).")
    if refused:
        model_admin.message_user(request, " ".join(refused), messages.WARNING)


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    actions = ["request_bin_counts"]

    @admin.action(description="Request a cycle count of the selected bins")
    def request_bin_counts(self, request, queryset) -> None:
        _request_counts(self, request, [{"location": location} for location in queryset])

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


class CountAttemptInline(admin.TabularInline):
    model = CountAttempt
    fields = ["number", "counter", "status", "started_at", "submitted_at", "is_over_threshold"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ZoneFilter(admin.SimpleListFilter):
    title = "zone"
    parameter_name = "zone"

    def lookups(self, request, model_admin):
        zones = Zone.objects.filter(kind__in=Zone.STOCKING_KINDS).select_related("warehouse")
        return [(zone.id, f"{zone.warehouse.code} {zone.code}") for zone in zones]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(location__zone_id=self.value())
        return queryset


@admin.register(CountRequest)
class CountRequestAdmin(ReadOnlyAdmin):
    """Count tasks, written by the counting process; managers act on them with the actions."""

    list_display = [
        "id",
        "location",
        "product",
        "reason",
        "abc_class",
        "status",
        "stage",
        "due_date",
        "requested_by",
        "created_at",
        "done_at",
        "is_accurate",
    ]
    list_filter = ["status", "stage", "reason", "abc_class", ZoneFilter, "warehouse"]
    search_fields = ["location__code", "product__sku", "reference"]
    list_select_related = ["location", "product", "requested_by"]
    inlines = [CountAttemptInline]
    actions = ["approve_variance", "request_recount", "cancel_count"]

    def _act(self, request, queryset, service, verb: str) -> None:
        if not has_role(request.user, MANAGER):
            self.message_user(request, f"Only managers {verb}.", messages.ERROR)
            return
        done, refused = 0, []
        for task in queryset:
            try:
                service(request_id=task.id, actor=request.user)
                done += 1
            except DomainError as error:
                refused.append(f"#{task.id}: {error.message}")
        self.message_user(request, f"{done} count(s) done: {verb}.")
        if refused:
            self.message_user(request, " ".join(refused), messages.WARNING)

    @admin.action(description="Approve the variance (post the adjustment)")
    def approve_variance(self, request, queryset) -> None:
        self._act(request, queryset, counting.approve_count, "approve variances")

    @admin.action(description="Request a recount by another counter")
    def request_recount(self, request, queryset) -> None:
        self._act(request, queryset, counting.request_recount, "request recounts")

    @admin.action(description="Cancel the count")
    def cancel_count(self, request, queryset) -> None:
        self._act(request, queryset, counting.cancel_count, "cancel counts")


class CountLineInline(admin.TabularInline):
    model = CountLine
    fields = ["product", "lot", "expected_at_start", "ledger_moves", "counted", "variance"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class CountEntryInline(admin.TabularInline):
    model = CountEntry
    fields = ["created_at", "line", "quantity", "scanned", "key"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CountAttempt)
class CountAttemptAdmin(ReadOnlyAdmin):
    """Each count of a bin and its lines: expected, moved during the count, counted, variance."""

    list_display = ["request", "number", "counter", "status", "started_at", "submitted_at"]
    list_filter = ["status", "is_over_threshold"]
    search_fields = ["request__location__code", "counter__username"]
    list_select_related = ["request__location", "counter"]
    inlines = [CountLineInline, CountEntryInline]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    """Background work waiting for (or handed to) the broker: a growing pending list means the
    relay is stopped or Redis is down."""

    list_display = ["id", "task", "args", "created_at", "published_at", "attempts", "last_error"]
    list_filter = [("published_at", admin.EmptyFieldListFilter), "task"]
    search_fields = ["task"]
