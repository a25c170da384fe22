"""Read queries for route planning."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch, QuerySet

from routing.models import Route, RoutePlan, RouteStop, Vehicle
from routing.picture import MapPoint, MapRoute, render_plan_svg
from warehouse.selectors import list_warehouses_for


def list_vehicles(*, user: AbstractBaseUser) -> QuerySet[Vehicle]:
    return Vehicle.objects.filter(warehouse__in=list_warehouses_for(user)).select_related(
        "warehouse"
    )


def list_route_plans(*, user: AbstractBaseUser) -> QuerySet[RoutePlan]:
    return RoutePlan.objects.filter(warehouse__in=list_warehouses_for(user)).select_related(
        "warehouse"
    )


def _stops() -> QuerySet[RouteStop]:
    return RouteStop.objects.select_related("customer").prefetch_related("shipments__delivery")


def get_route_plan_detail(*, plan_id: int, user: AbstractBaseUser) -> RoutePlan:
    """A plan with its routes, their stops in sequence and its unplanned stops, in 5 queries."""
    return (
        list_route_plans(user=user)
        .prefetch_related(
            Prefetch(
                "routes",
                queryset=Route.objects.select_related("vehicle", "staging_lane", "outbound_door")
                .prefetch_related(Prefetch("stops", queryset=_stops().order_by("sequence")))
                .order_by("number"),
            ),
            Prefetch("stops", queryset=_stops().filter(route__isnull=True), to_attr="unplanned"),
        )
        .get(id=plan_id)
    )


def render_route_plan_svg(plan: RoutePlan) -> str:
    """The plan's picture; `plan` should come from get_route_plan_detail (no extra queries)."""
    warehouse = plan.warehouse

    def point(stop: RouteStop) -> MapPoint:
        customer = stop.customer
        return MapPoint(float(customer.latitude), float(customer.longitude), customer.name)

    routes = [
        MapRoute(
            f"Route {route.number} ({route.vehicle.code})", [point(s) for s in route.stops.all()]
        )
        for route in plan.routes.all()
    ]
    dropped = [
        MapPoint(
            float(stop.customer.latitude),
            float(stop.customer.longitude),
            f"{stop.customer.name}: {stop.dropped_reason}",
        )
        for stop in plan.unplanned
    ]
    depot = MapPoint(float(warehouse.latitude), float(warehouse.longitude), warehouse.name)
    return render_plan_svg(depot=depot, routes=routes, dropped=dropped)
