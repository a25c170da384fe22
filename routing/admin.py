from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from routing import selectors, services
from routing.models import Route, RoutePlan, RoutePlanEvent, RouteStop, Vehicle
from warehouse.admin import ReadOnlyAdmin
from warehouse.admin_access import WarehouseScopedAdmin
from warehouse.errors import DomainError


@admin.register(Vehicle)
class VehicleAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "warehouse",
        "carrier",
        "capacity_weight_kg",
        "capacity_volume_m3",
        "is_refrigerated",
        "shift_start",
        "shift_end",
        "is_active",
    ]
    list_filter = ["warehouse", "is_refrigerated", "is_active", "carrier"]
    search_fields = ["code", "carrier"]


class RouteInline(admin.TabularInline):
    model = Route
    extra = 0
    can_delete = False
    fields = [
        "number",
        "vehicle",
        "departure_at",
        "return_at",
        "distance_km",
        "duration",
        "staging_lane",
        "outbound_door",
        "route_sheet",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="km")
    def distance_km(self, route: Route) -> str:
        return f"{route.distance_m / 1000:.1f}"

    @admin.display(description="duration")
    def duration(self, route: Route) -> str:
        return f"{route.duration_s // 3600}h{route.duration_s % 3600 // 60:02d}"

    @admin.display(description="route sheet")
    def route_sheet(self, route: Route) -> str:
        url = reverse("admin:routing_routeplan_route_sheet", args=[route.plan_id, route.number])
        return format_html('<a href="{}" target="_blank">print</a>', url)


class RoutePlanEventInline(admin.TabularInline):
    """The plan's audit trail: read only."""

    model = RoutePlanEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "actor", "data"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RoutePlan)
class RoutePlanAdmin(WarehouseScopedAdmin):
    list_display = [
        "__str__",
        "warehouse",
        "delivery_date",
        "status",
        "vehicles_used",
        "distance_km",
        "duration_hours",
        "dropped_stops",
        "solved_at",
    ]
    list_filter = ["warehouse", "status", "delivery_date"]
    date_hierarchy = "delivery_date"
    readonly_fields = [
        "warehouse",
        "delivery_date",
        "status",
        "picture",
        "unplanned_stops",
        "vehicles_used",
        "distance_km",
        "duration_hours",
        "dropped_stops",
        "best_objective",
        "solutions_found",
        "solve_seconds",
        "strategy",
        "error",
        "solved_at",
        "approved_at",
        "approved_by",
        "created_by",
    ]
    fields = [*readonly_fields, "time_limit_seconds", "seed"]
    inlines = [RouteInline, RoutePlanEventInline]
    actions = ["solve", "approve"]

    def has_add_permission(self, request) -> bool:
        # Plans are made from the day's shipments by the API, the beat task or plan_routes.
        return False

    def get_urls(self):
        sheet = path(
            "<int:plan_id>/route/<int:number>/sheet/",
            self.admin_site.admin_view(self.route_sheet_view),
            name="routing_routeplan_route_sheet",
        )
        return [sheet, *super().get_urls()]

    @admin.display(description="km")
    def distance_km(self, plan: RoutePlan) -> float:
        return plan.total_distance_km

    @admin.display(description="hours")
    def duration_hours(self, plan: RoutePlan) -> str:
        return f"{plan.total_duration_s / 3600:.1f}"

    @admin.display(description="Plan")
    def picture(self, plan: RoutePlan) -> str:
        detail = selectors.get_route_plan_detail(plan_id=plan.id, user=_superuser())
        return mark_safe(selectors.render_route_plan_svg(detail))

    @admin.display(description="Unplanned stops")
    def unplanned_stops(self, plan: RoutePlan) -> str:
        stops = plan.stops.filter(route__isnull=True).select_related("customer")
        if not stops:
            return "none"
        return format_html_join(
            mark_safe("<br>"), "{}: {}", ((s.customer.name, s.dropped_reason) for s in stops)
        )

    @admin.action(description="Solve (again, from the current routes)")
    def solve(self, request, queryset) -> None:
        self._each(request, queryset, services.request_solve, "queued for solving")

    @admin.action(description="Approve")
    def approve(self, request, queryset) -> None:
        self._each(request, queryset, services.approve_route_plan, "approved")

    def _each(self, request, queryset, service, done: str) -> None:
        for plan in queryset:
            try:
                service(plan_id=plan.id, actor=request.user)
            except DomainError as error:
                self.message_user(request, f"{plan}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"{plan}: {done}.")

    def route_sheet_view(self, request, plan_id: int, number: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        plan = get_object_or_404(self.get_queryset(request).select_related("warehouse"), id=plan_id)
        route = get_object_or_404(
            Route.objects.select_related("vehicle", "staging_lane", "outbound_door"),
            plan=plan,
            number=number,
        )
        stops = (
            RouteStop.objects.filter(route=route)
            .select_related("customer")
            .prefetch_related("shipments__packages")
            .order_by("sequence")
        )
        context = {
            **self.admin_site.each_context(request),
            "plan": plan,
            "route": route,
            "stops": stops,
            "title": f"Route sheet: route {route.number}",
        }
        return TemplateResponse(request, "routing/route_sheet.html", context)


def _superuser():
    """Admin pages are already limited to staff; the selector only needs an all-seeing user."""
    from django.contrib.auth.models import User

    return User(is_superuser=True, is_active=True)


@admin.register(RoutePlanEvent)
class RoutePlanEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "plan", "kind", "actor"]
    list_filter = ["kind"]
    search_fields = ["kind"]
    list_select_related = ["plan__warehouse", "actor"]
