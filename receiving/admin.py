from django.contrib import admin, messages

from receiving import services
from receiving.models import (
    Discrepancy,
    DockAppointment,
    InboundEvent,
    InboundLine,
    InboundShipment,
    Inspection,
    InspectionRule,
    PutawayTask,
    Receipt,
    ReceiptScan,
    Supplier,
)
from warehouse.admin import ReadOnlyAdmin
from warehouse.errors import DomainError


def run_admin_action(modeladmin, request, queryset, verb, call) -> None:
    """Apply `call` to each selected object; report what was done and each refusal."""
    done = 0
    for obj in queryset:
        try:
            call(obj)
            done += 1
        except DomainError as error:
            modeladmin.message_user(request, f"{obj}: {error.message}", messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{verb} {done}.", messages.SUCCESS)


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "requires_inspection", "is_active"]
    list_filter = ["requires_inspection", "is_active"]
    search_fields = ["code", "name"]


@admin.register(InspectionRule)
class InspectionRuleAdmin(admin.ModelAdmin):
    list_display = ["product", "supplier", "requires_inspection", "note"]
    list_filter = ["requires_inspection", "supplier"]
    search_fields = ["product__sku", "supplier__code"]
    raw_id_fields = ["product"]


class InboundLineInline(admin.TabularInline):
    model = InboundLine
    extra = 0
    raw_id_fields = ["product"]
    fields = [
        "line_number",
        "product",
        "expected_quantity",
        "lot_code",
        "expiry_date",
        "sscc",
        "is_expected",
        "received_quantity",
        "damaged_quantity",
    ]
    readonly_fields = ["is_expected", "received_quantity", "damaged_quantity"]


@admin.register(InboundShipment)
class InboundShipmentAdmin(admin.ModelAdmin):
    """ASNs may be typed in here; their status moves only through the actions (services)."""

    list_display = [
        "reference",
        "warehouse",
        "supplier",
        "po_reference",
        "carrier",
        "expected_arrival",
        "status",
        "arrived_at",
    ]
    list_filter = ["warehouse", "status", "supplier"]
    search_fields = ["reference", "po_reference", "carrier", "supplier__code"]
    date_hierarchy = "expected_arrival"
    readonly_fields = ["status", "arrived_at"]
    inlines = [InboundLineInline]
    actions = ["check_in", "cancel"]

    @admin.action(description="Check the truck in (arrived now)")
    def check_in(self, request, queryset):
        run_admin_action(
            self,
            request,
            queryset,
            "Checked in",
            lambda asn: services.check_in_shipment(shipment_id=asn.id, actor=request.user),
        )

    @admin.action(description="Cancel the ASN")
    def cancel(self, request, queryset):
        run_admin_action(
            self,
            request,
            queryset,
            "Cancelled",
            lambda asn: services.cancel_shipment(shipment_id=asn.id, actor=request.user),
        )


@admin.register(DockAppointment)
class DockAppointmentAdmin(ReadOnlyAdmin):
    list_display = ["shipment", "door", "starts_at", "ends_at", "status", "is_automatic"]
    list_filter = ["status", "is_automatic", "door__warehouse", "door"]
    search_fields = ["shipment__reference"]
    date_hierarchy = "starts_at"
    actions = ["cancel"]

    @admin.action(description="Cancel the appointment")
    def cancel(self, request, queryset):
        run_admin_action(
            self,
            request,
            queryset,
            "Cancelled",
            lambda a: services.cancel_appointment(appointment_id=a.id, actor=request.user),
        )


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdmin):
    list_display = ["id", "shipment", "door", "status", "opened_at", "closed_at", "override_by"]
    list_filter = ["status", "door__warehouse"]
    search_fields = ["shipment__reference"]
    list_select_related = ["shipment", "door__warehouse", "override_by"]
    actions = ["close"]

    @admin.action(description="Close the receipt (no over-receipt override)")
    def close(self, request, queryset):
        run_admin_action(
            self,
            request,
            queryset,
            "Closed",
            lambda r: services.close_receipt(receipt_id=r.id, actor=request.user),
        )


@admin.register(ReceiptScan)
class ReceiptScanAdmin(ReadOnlyAdmin):
    list_display = ["id", "receipt", "product", "lot", "quantity", "status", "scanned_at"]
    list_filter = ["status", "is_damaged"]
    search_fields = ["barcode", "product__sku", "sscc"]
    list_select_related = ["receipt", "product", "lot"]


@admin.register(Discrepancy)
class DiscrepancyAdmin(ReadOnlyAdmin):
    list_display = [
        "receipt",
        "line",
        "kind",
        "expected_quantity",
        "received_quantity",
        "difference",
    ]
    list_filter = ["kind"]
    search_fields = ["receipt__shipment__reference", "line__product__sku"]


@admin.register(Inspection)
class InspectionAdmin(ReadOnlyAdmin):
    list_display = ["id", "receipt", "product", "lot", "quantity", "sample_size", "status"]
    list_filter = ["status", "disposition"]
    search_fields = ["product__sku", "lot__code"]
    list_select_related = ["receipt", "product", "lot"]


@admin.register(PutawayTask)
class PutawayTaskAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "product",
        "lot",
        "quantity",
        "proposed_location",
        "confirmed_location",
        "status",
        "dock_to_stock",
    ]
    list_filter = ["status"]
    search_fields = ["product__sku", "proposed_location__code", "confirmed_location__code"]
    list_select_related = ["product", "lot", "proposed_location", "confirmed_location"]


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "shipment", "kind", "actor"]
    list_filter = ["kind"]
    search_fields = ["shipment__reference", "kind"]


# Customer returns register their admin in a module of their own.
from receiving import admin_returns  # noqa: E402, F401
