from django import forms
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
    ReturnAuthorisation,
    ReturnDiscrepancy,
    ReturnDisposition,
    ReturnEvent,
    ReturnLine,
    ReturnReason,
    ReturnReceipt,
    ReturnScan,
    Supplier,
)
from warehouse.admin import ReadOnlyAdmin
from warehouse.errors import DomainError


def _run(modeladmin, request, queryset, verb, call) -> None:
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
        _run(
            self,
            request,
            queryset,
            "Checked in",
            lambda asn: services.check_in_shipment(shipment_id=asn.id, actor=request.user),
        )

    @admin.action(description="Cancel the ASN")
    def cancel(self, request, queryset):
        _run(
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
        _run(
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
        _run(
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


# --- customer returns --------------------------------------------------------------------------


class ReturnRequestForm(forms.ModelForm):
    """Request a return in admin: the order, a reason, and one row per returned order line.

    The request goes through `request_return` while the form is validated (inside the admin's
    transaction), so its refusals show as form errors and nothing is written.
    """

    reason = forms.ChoiceField(choices=ReturnReason.choices)
    lines_text = forms.CharField(
        label="Lines",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One returned order line per row: order line number, quantity and, if known, "
        "the lot code, separated by spaces (e.g. '1 3' or '2 1 L2405').",
    )

    class Meta:
        model = ReturnAuthorisation
        fields = ["order", "customer_reference", "note"]

    def __init__(self, *args, actor=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.rma: ReturnAuthorisation | None = None

    def _lines(self, order) -> list[services.ReturnLineInput]:
        by_number = dict(order.lines.values_list("line_number", "id"))
        lines = []
        for row in self.cleaned_data["lines_text"].splitlines():
            parts = row.split()
            if not parts:
                continue
            if len(parts) not in (2, 3) or not all(part.isdigit() for part in parts[:2]):
                raise forms.ValidationError({"lines_text": f"Cannot read the row {row!r}."})
            if int(parts[0]) not in by_number:
                raise forms.ValidationError({"lines_text": f"Order has no line {parts[0]}."})
            lines.append(
                services.ReturnLineInput(
                    order_line_id=by_number[int(parts[0])],
                    quantity=int(parts[1]),
                    reason=self.cleaned_data["reason"],
                    lot_code=parts[2] if len(parts) == 3 else "",
                )
            )
        return lines

    def clean(self) -> dict:
        cleaned = super().clean()
        order = cleaned.get("order")
        if order is None or self.errors:
            return cleaned
        try:
            self.rma = services.request_return(
                order_id=order.id,
                lines=self._lines(order),
                customer_reference=cleaned.get("customer_reference", ""),
                note=cleaned.get("note", ""),
                actor=self.actor,
            )
        except DomainError as error:
            messages_ = [f"{field}: {', '.join(texts)}" for field, texts in error.errors.items()]
            raise forms.ValidationError([error.message, *messages_]) from None
        return cleaned


class ReturnLineInline(admin.TabularInline):
    model = ReturnLine
    extra = 0
    can_delete = False
    fields = [
        "line_number",
        "product",
        "lot",
        "quantity",
        "reason",
        "is_expected",
        "received_quantity",
        "damaged_quantity",
        "dispositioned_quantity",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ReturnAuthorisation)
class ReturnAuthorisationAdmin(admin.ModelAdmin):
    """RMAs: requested here or through the API; their status moves only through the actions
    and services."""

    list_display = [
        "number",
        "warehouse",
        "order",
        "customer",
        "status",
        "requested_at",
        "decided_by",
        "received_at",
        "closed_at",
    ]
    list_filter = ["status", "warehouse", "lines__reason"]
    search_fields = ["number", "order__number", "customer__code", "customer_reference"]
    list_select_related = ["warehouse", "order", "customer", "decided_by"]
    date_hierarchy = "requested_at"
    raw_id_fields = ["order"]
    inlines = [ReturnLineInline]
    actions = ["authorise", "reject"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, change=change, **kwargs)
        form = super().get_form(request, obj, change=change, form=ReturnRequestForm, **kwargs)

        class BoundToActor(form):
            def __init__(self, *args, **inner) -> None:
                super().__init__(*args, actor=request.user, **inner)

        return BoundToActor

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["order", "reason", "lines_text", "customer_reference", "note"]
        return super().get_fields(request, obj)

    def get_inlines(self, request, obj):
        # The lines of a new RMA are typed into the request form (`lines_text`).
        return self.inlines if obj is not None else []

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_form(self, request, form, change):
        # The service has written the RMA and its lines while the form was validated.
        return form.rma

    def save_model(self, request, obj, form, change) -> None:
        pass

    def save_related(self, request, form, formsets, change) -> None:
        pass

    @admin.action(description="Authorise the return")
    def authorise(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            "Authorised",
            lambda rma: services.authorise_return(rma_id=rma.id, actor=request.user),
        )

    @admin.action(description="Reject the return")
    def reject(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            "Rejected",
            lambda rma: services.reject_return(
                rma_id=rma.id, reason=f"Rejected in admin by {request.user}.", actor=request.user
            ),
        )


@admin.register(ReturnReceipt)
class ReturnReceiptAdmin(ReadOnlyAdmin):
    list_display = ["id", "rma", "door", "status", "opened_at", "closed_at", "closed_by"]
    list_filter = ["status", "door__warehouse"]
    search_fields = ["rma__number"]
    list_select_related = ["rma", "door", "closed_by"]
    actions = ["close"]

    @admin.action(description="Close the return receipt")
    def close(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            "Closed",
            lambda r: services.close_return_receipt(return_receipt_id=r.id, actor=request.user),
        )


@admin.register(ReturnScan)
class ReturnScanAdmin(ReadOnlyAdmin):
    list_display = ["id", "receipt", "product", "lot", "quantity", "is_damaged", "scanned_at"]
    list_filter = ["is_damaged"]
    search_fields = ["barcode", "product__sku", "receipt__rma__number"]
    list_select_related = ["receipt", "product", "lot"]


@admin.register(ReturnDiscrepancy)
class ReturnDiscrepancyAdmin(ReadOnlyAdmin):
    list_display = [
        "receipt",
        "line",
        "kind",
        "expected_quantity",
        "received_quantity",
        "difference",
    ]
    list_filter = ["kind"]
    search_fields = ["receipt__rma__number", "line__product__sku"]


@admin.register(ReturnDisposition)
class ReturnDispositionAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "line",
        "kind",
        "lot",
        "quantity",
        "reason",
        "location",
        "stock_move",
        "decided_by",
        "decided_at",
    ]
    list_filter = ["kind"]
    search_fields = ["line__rma__number", "line__product__sku", "reason"]
    list_select_related = ["line__rma", "lot", "location", "stock_move", "decided_by"]


@admin.register(ReturnEvent)
class ReturnEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "rma", "kind", "actor"]
    list_filter = ["kind"]
    search_fields = ["rma__number", "kind"]
