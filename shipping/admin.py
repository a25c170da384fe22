"""Outbound admin: orders, waves, pick lists and shipments; transitions call the services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet

from shipping import services
from shipping.models import (
    Allocation,
    Customer,
    Delivery,
    DeliveryLine,
    Order,
    OrderLine,
    OutboundEvent,
    Package,
    PickList,
    PickTask,
    SerialCounter,
    Shipment,
    Wave,
)
from warehouse.admin import ReadOnlyAdmin
from warehouse.errors import DomainError


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def _each(modeladmin, request, queryset: QuerySet, verb: str, call) -> None:
    """Run a service per selected row; report successes and refusals."""
    done = 0
    for row in queryset.order_by("id"):
        try:
            call(row)
            done += 1
        except DomainError as error:
            modeladmin.message_user(request, f"{row}: {error.message}", messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{verb} {done} row(s).", messages.SUCCESS)


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "warehouse",
        "latitude",
        "longitude",
        "window_start",
        "window_end",
        "service_time_minutes",
        "is_active",
    ]
    list_filter = ["warehouse", "is_active"]
    search_fields = ["code", "name", "address"]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 1
    fields = [
        "line_number",
        "product",
        "pack",
        "pack_quantity",
        "quantity",
        "quantity_allocated",
        "quantity_backordered",
        "quantity_picked",
        "quantity_shipped",
    ]
    readonly_fields = [
        "quantity_allocated",
        "quantity_backordered",
        "quantity_picked",
        "quantity_shipped",
    ]
    raw_id_fields = ["product"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "warehouse",
        "customer",
        "status",
        "priority",
        "requested_date",
        "promised_window_start",
        "promised_window_end",
        "carrier",
        "allow_partial",
        "wave",
    ]
    list_filter = ["status", "warehouse", "priority", "allow_partial", "requested_date", "carrier"]
    search_fields = ["number", "customer__code", "customer__name"]
    list_select_related = ["warehouse", "customer", "wave"]
    raw_id_fields = ["customer", "wave"]
    readonly_fields = ["status", "wave", "created_at", "updated_at"]
    inlines = [OrderLineInline]
    actions = ["allocate", "cancel"]
    date_hierarchy = "requested_date"

    def save_formset(self, request, form, formset, change) -> None:
        # Pack quantities entered in admin convert to base units like the API does.
        lines = formset.save(commit=False)
        for line in lines:
            line.quantity = line.pack_quantity * line.product.units_per(line.pack or None)
            line.save()
        for line in formset.deleted_objects:
            line.delete()

    @admin.action(description="Allocate stock to selected orders")
    def allocate(self, request, queryset) -> None:
        results = services.allocate_orders(
            order_ids=list(
                queryset.order_by("priority", "requested_date", "id").values_list("id", flat=True)
            ),
            actor=request.user,
        )
        self.message_user(request, f"Allocated {len(results)} order(s).", messages.SUCCESS)

    @admin.action(description="Cancel selected orders (releases stock)")
    def cancel(self, request, queryset) -> None:
        _each(
            self,
            request,
            queryset,
            "Cancelled",
            lambda order: services.cancel_order(order_id=order.id, actor=request.user),
        )


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "order_line",
        "product",
        "lot",
        "location",
        "quantity",
        "status",
        "created_at",
    ]
    list_filter = ["status"]
    search_fields = ["order_line__order__number", "product__sku", "location__code"]
    list_select_related = ["order_line", "product", "lot", "location"]


class PickListInline(ReadOnlyInline):
    model = PickList
    fields = [
        "number",
        "status",
        "picker",
        "path_method",
        "path_distance_m",
        "order_line_distance_m",
    ]


@admin.register(Wave)
class WaveAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "warehouse",
        "status",
        "dispatch_date",
        "cutoff_at",
        "carrier",
        "max_lines_per_list",
        "released_at",
        "completed_at",
    ]
    list_filter = ["status", "warehouse", "dispatch_date", "carrier"]
    search_fields = ["number"]
    readonly_fields = ["number", "status", "released_at", "completed_at", "created_by"]
    raw_id_fields = ["staging_location"]
    inlines = [PickListInline]
    actions = ["release", "cancel"]

    def has_add_permission(self, request) -> bool:
        # Waves are planned from allocated orders by the API (POST /api/v1/waves/).
        return False

    @admin.action(description="Release selected waves now")
    def release(self, request, queryset) -> None:
        _each(
            self,
            request,
            queryset,
            "Released",
            lambda wave: services.release_wave(wave_id=wave.id, actor=request.user),
        )

    @admin.action(description="Cancel selected planned waves")
    def cancel(self, request, queryset) -> None:
        _each(
            self,
            request,
            queryset,
            "Cancelled",
            lambda wave: services.cancel_wave(wave_id=wave.id, actor=request.user),
        )


class PickTaskInline(ReadOnlyInline):
    model = PickTask
    fields = [
        "sequence",
        "status",
        "location",
        "product",
        "lot",
        "quantity",
        "quantity_picked",
        "short_reason",
        "wrong_bin_scans",
        "wrong_item_scans",
        "picked_at",
    ]
    ordering = ["sequence"]


@admin.register(PickList)
class PickListAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "wave",
        "status",
        "picker",
        "path_method",
        "path_distance_m",
        "order_line_distance_m",
        "started_at",
        "completed_at",
    ]
    list_filter = ["status", "warehouse", "path_method"]
    search_fields = ["number", "picker__username", "wave__number"]
    list_select_related = ["wave", "picker"]
    # Only the picker is edited here; the change goes through the service (reassignment).
    fields = [
        "number",
        "wave",
        "status",
        "picker",
        "staging_location",
        "path_method",
        "path_distance_m",
        "order_line_distance_m",
    ]
    readonly_fields = [
        "number",
        "wave",
        "status",
        "staging_location",
        "path_method",
        "path_distance_m",
        "order_line_distance_m",
    ]
    raw_id_fields = ["picker"]
    inlines = [PickTaskInline]

    def has_add_permission(self, request) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        if "picker" in form.changed_data and obj.picker_id:
            try:
                services.assign_pick_list(
                    pick_list_id=obj.id, picker_id=obj.picker_id, actor=request.user
                )
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)


@admin.register(PickTask)
class PickTaskAdmin(ReadOnlyAdmin):
    list_display = [
        "pick_list",
        "sequence",
        "status",
        "location",
        "product",
        "quantity",
        "quantity_picked",
        "short_reason",
        "is_item_match",
        "wrong_bin_scans",
        "wrong_item_scans",
        "picked_by",
        "picked_at",
    ]
    list_filter = ["status", "short_reason", "is_item_match"]
    search_fields = ["pick_list__number", "product__sku", "location__code"]
    list_select_related = ["pick_list", "location", "product", "picked_by"]


class PackageInline(ReadOnlyInline):
    model = Package
    fields = [
        "sscc",
        "package_type",
        "weight_kg",
        "length_cm",
        "width_cm",
        "height_cm",
        "loaded_at",
        "vehicle_code",
    ]


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "order",
        "status",
        "planned_departure",
        "staging_lane",
        "outbound_door",
        "load_sequence",
        "vehicle_code",
        "dispatched_at",
    ]
    list_filter = ["status", "warehouse", "vehicle_code"]
    search_fields = ["number", "order__number", "packages__sscc"]
    list_select_related = ["order", "staging_lane", "outbound_door"]
    readonly_fields = [
        "number",
        "order",
        "status",
        "staging_lane",
        "outbound_door",
        "vehicle_code",
        "packed_at",
        "staged_at",
        "dispatched_at",
        "warehouse",
    ]
    inlines = [PackageInline]
    actions = ["dispatch"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Dispatch selected loaded shipments")
    def dispatch(self, request, queryset) -> None:
        _each(
            self,
            request,
            queryset,
            "Dispatched",
            lambda s: services.dispatch_shipment(shipment_id=s.id, actor=request.user),
        )


@admin.register(Package)
class PackageAdmin(ReadOnlyAdmin):
    list_display = ["sscc", "shipment", "package_type", "weight_kg", "loaded_at", "vehicle_code"]
    list_filter = ["package_type"]
    search_fields = ["sscc", "shipment__number"]


class DeliveryLineInline(ReadOnlyInline):
    model = DeliveryLine
    fields = ["order_line", "quantity_delivered"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "shipment",
        "delivered_at",
        "recipient_name",
        "exception",
        "is_on_time",
        "is_in_full",
    ]
    list_filter = ["is_on_time", "is_in_full", "exception"]
    search_fields = ["shipment__number", "shipment__order__number", "recipient_name"]
    inlines = [DeliveryLineInline]


@admin.register(SerialCounter)
class SerialCounterAdmin(ReadOnlyAdmin):
    list_display = ["company_prefix", "next_serial"]


@admin.register(OutboundEvent)
class OutboundEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "warehouse", "order", "wave", "shipment", "actor"]
    list_filter = ["kind", "warehouse"]
    search_fields = ["kind", "order__number", "idempotency_key"]
    list_select_related = ["warehouse", "order", "wave", "shipment", "actor"]
    date_hierarchy = "created_at"
