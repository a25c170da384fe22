"""Outbound admin: orders, waves, pick lists and shipments; transitions call the services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from shipping import services
from shipping.kpis import reports
from shipping.kpis.definitions import METRICS
from shipping.models import (
    Allocation,
    Customer,
    Delivery,
    DeliveryLine,
    Dimension,
    KpiReport,
    KpiSnapshot,
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
from warehouse.admin_access import WarehouseScopedAdmin
from warehouse.errors import DomainError
from warehouse.models import Warehouse
from warehouse.roles import MANAGER, has_role
from warehouse.selectors import list_warehouses_for


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
class OrderAdmin(WarehouseScopedAdmin):
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
class ShipmentAdmin(WarehouseScopedAdmin):
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
class DeliveryAdmin(WarehouseScopedAdmin, ReadOnlyAdmin):
    warehouse_lookup = "shipment__warehouse"
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


class ProduceReportForm(forms.Form):
    warehouse = forms.ModelChoiceField(queryset=Warehouse.objects.none())
    day = forms.DateField(label="Local day", help_text="YYYY-MM-DD; yesterday by default.")
    email = forms.BooleanField(required=False, label="E-mail it to the warehouse's managers")
    resend = forms.BooleanField(required=False, label="Even if it was e-mailed before")


@admin.register(KpiReport)
class KpiReportAdmin(WarehouseScopedAdmin, ReadOnlyAdmin):
    """Produced reports, for managers: list, download as CSV, view as a printable page."""

    list_display = [
        "warehouse",
        "date",
        "kind",
        "otd",
        "deliveries",
        "emailed",
        "created_at",
        "downloads",
    ]
    list_filter = ["kind", "warehouse", "date"]
    list_select_related = ["warehouse"]
    date_hierarchy = "date"
    fields = ["warehouse", "kind", "date", "summary", "emailed_to", "created_at", "created_by"]

    def get_queryset(self, request) -> QuerySet:
        return super().get_queryset(request).select_related("warehouse")

    @admin.display(description="OTD")
    def otd(self, report: KpiReport) -> str:
        share = report.summary.get("otd")
        return "-" if share is None else f"{share * 100:.1f} %"

    @admin.display(description="Deliveries")
    def deliveries(self, report: KpiReport) -> int:
        return report.summary.get("deliveries", 0)

    @admin.display(description="E-mailed to")
    def emailed(self, report: KpiReport) -> str:
        return ", ".join(report.emailed_to) or "-"

    @admin.display(description="Download")
    def downloads(self, report: KpiReport) -> str:
        return format_html(
            '<a href="{}">CSV</a> · <a href="{}" target="_blank">HTML</a>',
            reverse("admin:shipping_kpireport_csv", args=[report.id]),
            reverse("admin:shipping_kpireport_html", args=[report.id]),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:report_id>/csv/", view(self.csv_view), name="shipping_kpireport_csv"),
            path("<int:report_id>/html/", view(self.html_view), name="shipping_kpireport_html"),
            path("produce/", view(self.produce_view), name="shipping_kpireport_produce"),
            *super().get_urls(),
        ]

    def _report(self, request, report_id: int) -> KpiReport:
        if not has_role(request.user, MANAGER):
            raise PermissionDenied
        return get_object_or_404(self.get_queryset(request), id=report_id)

    def csv_view(self, request, report_id: int) -> HttpResponse:
        report = self._report(request, report_id)
        response = HttpResponse(report.csv, content_type="text/csv; charset=utf-8")
        filename = reports.report_filename(report, "csv")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def html_view(self, request, report_id: int) -> HttpResponse:
        report = self._report(request, report_id)
        response = HttpResponse(report.html, content_type="text/html; charset=utf-8")
        # The page holds customer-typed names: it may use its own inline styles, nothing else.
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
        return response

    def produce_view(self, request):
        """Produce (again) one warehouse's report for a day, yesterday by default."""
        if not has_role(request.user, MANAGER):
            raise PermissionDenied
        warehouses = list_warehouses_for(request.user).order_by("code")
        form = ProduceReportForm(
            request.POST or None,
            initial={"email": reports.is_emailing_on()},
        )
        form.fields["warehouse"].queryset = warehouses
        first = warehouses.first()
        if first is not None:
            form.fields["warehouse"].initial = first.id
            form.fields["day"].initial = reports.yesterday_of(first)
        if request.method == "POST" and form.is_valid():
            report = reports.produce_daily_otd_report(
                warehouse=form.cleaned_data["warehouse"],
                day=form.cleaned_data["day"],
                actor=request.user,
                email=form.cleaned_data["email"],
                resend=form.cleaned_data["resend"],
            )
            sent = f", e-mailed to {', '.join(report.emailed_to)}" if report.emailed_to else ""
            self.message_user(
                request,
                f"Produced {report} for {report.warehouse.code}: "
                f"{report.summary['deliveries']} deliveries{sent}.",
                messages.SUCCESS,
            )
            return redirect("admin:shipping_kpireport_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": "Produce an on-time-delivery report",
        }
        return TemplateResponse(request, "admin/shipping/kpireport/produce.html", context)


class SnapshotWarehouseFilter(admin.SimpleListFilter):
    """The warehouses the user may see, not every warehouse."""

    title = "warehouse"
    parameter_name = "warehouse"

    def lookups(self, request, model_admin):
        return [(str(w.id), str(w)) for w in list_warehouses_for(request.user).order_by("code")]

    def queryset(self, request, queryset):
        return queryset.filter(warehouse_id=self.value()) if self.value() else queryset


class SnapshotMetricFilter(admin.SimpleListFilter):
    """Metrics from the catalogue: no DISTINCT over millions of snapshot rows per page."""

    title = "metric"
    parameter_name = "metric"

    def lookups(self, request, model_admin):
        return [(metric.name, metric.label) for metric in METRICS]

    def queryset(self, request, queryset):
        return queryset.filter(metric=self.value()) if self.value() else queryset


@admin.register(KpiSnapshot)
class KpiSnapshotAdmin(WarehouseScopedAdmin, ReadOnlyAdmin):
    """Snapshot rows as the KPI computation wrote them, for managers checking a dashboard
    figure; scoped to the warehouses they are on the staff of."""

    list_display = [
        "date",
        "warehouse",
        "metric",
        "dimension",
        "key",
        "label",
        "numerator",
        "denominator",
        "value",
        "computed_at",
    ]
    list_filter = [SnapshotWarehouseFilter, SnapshotMetricFilter, "dimension"]
    date_hierarchy = "date"
    search_fields = ["key", "label"]
    list_select_related = ["warehouse"]
    # Counting every row of a year of slices on each page is not worth its time.
    show_full_result_count = False

    def changelist_view(self, request, extra_context=None):
        # Unfiltered, the list would count and group by year every slice of every day (millions
        # of rows); it opens on the whole-warehouse rows, which dashboard figures are read from.
        if not request.GET and self.has_view_permission(request):
            return redirect(f"{request.path}?dimension__exact={Dimension.ALL}")
        return super().changelist_view(request, extra_context)


# The admin index links to the Delivery KPIs dashboard (config/urls.py, shipping/kpis/dashboard.py).
admin.site.index_template = "admin/kpis/index.html"

# Tracking and webhooks register their admin in a module of their own.
from shipping import admin_tracking  # noqa: E402, F401
