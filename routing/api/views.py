from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from config.api.permissions import RolePermission
from routing import selectors, services
from routing.api import serializers as s
from warehouse.roles import DISPATCHER, MANAGER

PLANNERS = (DISPATCHER, MANAGER)


class VehicleViewSet(viewsets.ModelViewSet):
    """The delivery fleet of each warehouse. Dispatchers and managers maintain it."""

    serializer_class = s.VehicleSerializer
    permission_classes = [RolePermission]
    read_roles = PLANNERS
    write_roles = PLANNERS
    filterset_fields = ["warehouse__code", "is_refrigerated", "is_active", "carrier"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.list_vehicles(user=self.request.user).order_by("warehouse__code", "code")


class RoutePlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Delivery route plans: create for a day, solve, adjust by hand, approve."""

    permission_classes = [RolePermission]
    read_roles = PLANNERS
    write_roles = PLANNERS
    filterset_fields = ["warehouse__code", "delivery_date", "status"]

    def get_queryset(self):
        return selectors.list_route_plans(user=self.request.user).order_by("-delivery_date", "-id")

    def get_serializer_class(self):
        if self.action == "list":
            return s.RoutePlanSerializer
        return s.RoutePlanDetailSerializer

    def _detail(self, plan_id: int, code: int = status.HTTP_200_OK) -> Response:
        plan = selectors.get_route_plan_detail(plan_id=plan_id, user=self.request.user)
        return Response(s.RoutePlanDetailSerializer(plan).data, status=code)

    def retrieve(self, request, pk=None):
        self.get_object()  # 404 for unknown or invisible plans
        return self._detail(int(pk))

    @extend_schema(request=s.CreateRoutePlanInput, responses={201: s.RoutePlanDetailSerializer})
    def create(self, request):
        """Plan a day: every ready own-fleet shipment of the warehouse, or the ones listed."""
        data = s.CreateRoutePlanInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        plan = services.create_route_plan(
            warehouse_id=values["warehouse"].id,
            delivery_date=values["delivery_date"],
            shipment_ids=values.get("shipments") or None,
            time_limit_seconds=values["time_limit_seconds"],
            seed=values["seed"],
            actor=request.user,
        )
        if values["solve"]:
            services.request_solve(plan_id=plan.id, actor=request.user)
        return self._detail(plan.id, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.RoutePlanDetailSerializer})
    @action(detail=True, methods=["post"])
    def solve(self, request, pk=None):
        """Solve again, starting from the current routes (warm start). 409 once approved."""
        plan = self.get_object()
        services.request_solve(plan_id=plan.id, actor=request.user)
        return self._detail(plan.id)

    @extend_schema(request=s.MoveStopInput, responses={200: s.RoutePlanDetailSerializer})
    @action(detail=True, methods=["post"], url_path="move-stop")
    def move_stop(self, request, pk=None):
        """Move a stop to another route or position by hand; refused (409) if infeasible."""
        plan = self.get_object()
        data = s.MoveStopInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.move_stop(
            plan_id=plan.id,
            stop_id=data.validated_data["stop"],
            route_number=data.validated_data["route"],
            position=data.validated_data.get("position"),
            actor=request.user,
        )
        return self._detail(plan.id)

    @extend_schema(request=None, responses={200: s.RoutePlanDetailSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve: each route gets a staging lane and door, and its load order."""
        plan = self.get_object()
        services.approve_route_plan(plan_id=plan.id, actor=request.user)
        return self._detail(plan.id)
