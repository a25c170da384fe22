"""Admin for customer returns: RMAs (requested in admin with their lines), return receipts,
their scans, discrepancies, dispositions and the audit trail. Imported by receiving/admin.py."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from receiving import services
from receiving.admin import run_admin_action
from receiving.models import (
    ReturnAuthorisation,
    ReturnDiscrepancy,
    ReturnDisposition,
    ReturnEvent,
    ReturnLine,
    ReturnReason,
    ReturnReceipt,
    ReturnScan,
)
from warehouse.admin import ReadOnlyAdmin
from warehouse.errors import DomainError


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
        run_admin_action(
            self,
            request,
            queryset,
            "Authorised",
            lambda rma: services.authorise_return(rma_id=rma.id, actor=request.user),
        )

    @admin.action(description="Reject the return")
    def reject(self, request, queryset):
        run_admin_action(
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
        run_admin_action(
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
