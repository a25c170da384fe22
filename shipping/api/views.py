"""Outbound API: thin viewsets that validate input, call one service and shape the answer."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from config.api.idempotency import (
    IDEMPOTENCY_KEY_OPTIONAL,
    IDEMPOTENCY_KEY_REQUIRED,
    idempotent,
)
from config.api.permissions import RolePermission
from config.api.scoping import ScopedQuerysetMixin
from config.api.throttling import SCAN_THROTTLES
from shipping import selectors, services
from shipping.api import serializers as s
from shipping.api import tracking
from shipping.errors import UnknownPackage
from shipping.models import Customer, Delivery, Order, PickList, PickTask, Shipment, Wave
from warehouse.models import Product
from warehouse.roles import ALL_ROLES, DISPATCHER, MANAGER, PICKER
from warehouse.selectors import list_warehouses_for

PLANNERS = (DISPATCHER, MANAGER)


class CustomerViewSet(ScopedQuerysetMixin, viewsets.ModelViewSet):
    """Customers we deliver to, with coordinates and delivery windows for route planning."""

    serializer_class = s.CustomerSerializer
    permission_classes = [RolePermission]
    read_roles = ALL_ROLES
    write_roles = PLANNERS
    filterset_fields = ["warehouse", "code", "is_active"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    model = Customer

    def get_scoped_queryset(self):
        return selectors.list_customers(user=self.request.user)


def resolve_order_specs(rows: list[dict], user) -> list[services.OrderSpec]:
    """Check warehouses, customers, products and numbers of many orders in 4 queries.

    Raises NotFound (404) if an order names a warehouse the user cannot see, whatever else is
    wrong; else ValidationError with per-order field errors keyed by the order's position.
    """
    visible = set(list_warehouses_for(user).values_list("id", flat=True))
    unseen = sorted({r["warehouse"] for r in rows} - visible)
    if unseen:
        raise NotFound(f"No warehouse {', '.join(map(str, unseen))}.")
    customers = dict(
        Customer.objects.filter(id__in={r["customer"] for r in rows}).values_list(
            "id", "warehouse_id"
        )
    )
    products = set(
        Product.objects.filter(
            id__in={line["product"] for r in rows for line in r["lines"]}, is_active=True
        ).values_list("id", flat=True)
    )
    taken = set(
        Order.objects.filter(
            warehouse_id__in={r["warehouse"] for r in rows},
            number__in={r["number"] for r in rows},
        ).values_list("warehouse_id", "number")
    )
    errors: dict[str, dict] = {}
    seen: set[tuple[int, str]] = set()
    for index, row in enumerate(rows):
        problems: dict[str, list[str]] = {}
        if customers.get(row["customer"]) != row["warehouse"]:
            problems["customer"] = ["Unknown customer of this warehouse."]
        key = (row["warehouse"], row["number"])
        if key in taken or key in seen:
            problems["number"] = ["An order with this number exists."]
        seen.add(key)
        bad = [line["product"] for line in row["lines"] if line["product"] not in products]
        if bad:
            problems["lines"] = [f"Unknown or inactive products: {sorted(set(bad))}."]
        if problems:
            errors[str(index)] = problems
    if errors:
        raise serializers.ValidationError({"orders": errors})
    return [
        services.OrderSpec(
            warehouse_id=row["warehouse"],
            customer_id=row["customer"],
            number=row["number"],
            requested_date=row["requested_date"],
            promised_window_start=row["promised_window_start"],
            promised_window_end=row["promised_window_end"],
            priority=row["priority"],
            carrier=row["carrier"],
            allow_partial=row["allow_partial"],
            note=row["note"],
            lines=[
                services.LineSpec(
                    product_id=line["product"], quantity=line["quantity"], pack=line["pack"]
                )
                for line in row["lines"]
            ],
        )
        for row in rows
    ]


class OrderViewSet(
    ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Customer orders: create one or many, allocate, cancel; their tracking."""

    serializer_class = s.OrderSerializer
    permission_classes = [RolePermission]
    read_roles = ALL_ROLES
    write_roles = PLANNERS
    action_roles = {"tracking": PLANNERS}
    filterset_fields = ["warehouse", "status", "requested_date", "customer", "wave", "carrier"]
    ordering_fields = ["id", "requested_date", "priority", "created_at"]

    model = Order

    def get_scoped_queryset(self):
        return selectors.list_orders(user=self.request.user)

    @extend_schema(request=s.OrderInput, responses={201: s.OrderSerializer})
    def create(self, request):
        """Create an order; quantities in any pack size convert to base units."""
        data = s.OrderInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            spec = resolve_order_specs([data.validated_data], request.user)[0]
        except serializers.ValidationError as error:
            raise serializers.ValidationError(error.detail["orders"]["0"]) from error
        order = services.create_order(spec=spec, actor=request.user)
        return Response(
            s.OrderSerializer(self.get_queryset().get(id=order.id)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=s.BulkOrderInput, responses={201: s.BulkOrderResult})
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """Create up to 1,000 orders in one request and one transaction (all or none)."""
        data = s.BulkOrderInput(data=request.data)
        data.is_valid(raise_exception=True)
        specs = resolve_order_specs(data.validated_data["orders"], request.user)
        orders = services.create_orders(specs=specs, actor=request.user)
        return Response(
            {"created": len(orders), "ids": [order.id for order in orders]},
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=None, responses={200: s.AllocationResultSerializer})
    @action(detail=True, methods=["post"])
    def allocate(self, request, pk=None):
        """Allocate stock to the order now (FEFO/FIFO, pick faces first); backorder the rest."""
        order = self.get_object()
        result = services.allocate_order(order_id=order.id, actor=request.user)
        return Response(asdict(result))

    @extend_schema(request=s.CancelInput, responses={200: s.OrderSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel the order and release its stock; 409 once it is picked."""
        order = self.get_object()
        data = s.CancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.cancel_order(
            order_id=order.id, actor=request.user, reason=data.validated_data["reason"]
        )
        return Response(s.OrderSerializer(self.get_queryset().get(id=order.id)).data)

    @extend_schema(responses={200: tracking.OrderTrackingSerializer})
    @action(detail=True, methods=["get"])
    def tracking(self, request, pk=None):
        """The order's tracking timeline (with who did what) and its public tracking link."""
        order = self.get_object()
        return Response(tracking.OrderTrackingSerializer(tracking.order_tracking(order.id)).data)


class WaveViewSet(
    ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Waves of allocated orders; released at cut-off (or by hand) into pick lists."""

    serializer_class = s.WaveSerializer
    permission_classes = [RolePermission]
    read_roles = ALL_ROLES
    write_roles = PLANNERS
    filterset_fields = ["warehouse", "status", "dispatch_date", "carrier"]

    model = Wave

    def get_scoped_queryset(self):
        return selectors.list_waves(user=self.request.user)

    @extend_schema(request=s.WavePlanInput, responses={201: s.WaveSerializer})
    def create(self, request):
        """Plan a wave: the allocated orders due by the dispatch date for one carrier."""
        data = s.WavePlanInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        wave = services.plan_wave(
            warehouse_id=values["warehouse"].id,
            dispatch_date=values["dispatch_date"],
            cutoff_at=values["cutoff_at"],
            carrier=values["carrier"],
            order_ids=values.get("order_ids"),
            staging_location_id=values.get("staging_location"),
            max_lines=values.get("max_lines"),
            max_weight_kg=values.get("max_weight_kg"),
            max_volume_m3=values.get("max_volume_m3"),
            actor=request.user,
        )
        return Response(
            s.WaveSerializer(self.get_queryset().get(id=wave.id)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=None, responses={200: s.WaveSerializer})
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        """Release now: pick lists per batch, tasks in walking order, shipments per order."""
        wave = self.get_object()
        services.release_wave(wave_id=wave.id, actor=request.user)
        return Response(s.WaveSerializer(self.get_queryset().get(id=wave.id)).data)

    @extend_schema(request=None, responses={200: s.WaveSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a planned wave; its orders wait for another."""
        wave = self.get_object()
        services.cancel_wave(wave_id=wave.id, actor=request.user)
        return Response(s.WaveSerializer(self.get_queryset().get(id=wave.id)).data)


class PickListViewSet(
    ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Pick lists with their tasks in path order. Pickers see only their own."""

    serializer_class = s.PickListSerializer
    permission_classes = [RolePermission]
    read_roles = (PICKER, DISPATCHER, MANAGER)
    action_roles = {"assign": (MANAGER,), "start": (PICKER,)}
    filterset_fields = ["wave", "status", "picker"]

    model = PickList

    def get_scoped_queryset(self):
        return selectors.list_pick_lists(user=self.request.user)

    @extend_schema(request=s.AssignInput, responses={200: s.PickListSerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """Assign or reassign the list to a picker (managers)."""
        pick_list = self.get_object()
        data = s.AssignInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.assign_pick_list(
            pick_list_id=pick_list.id, picker_id=data.validated_data["picker"], actor=request.user
        )
        return Response(s.PickListSerializer(self.get_queryset().get(id=pick_list.id)).data)

    @extend_schema(request=None, responses={200: s.PickListSerializer})
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        """Start picking the list (an unassigned list goes to whoever starts it)."""
        pick_list = self.get_object()
        services.start_pick_list(pick_list_id=pick_list.id, actor=request.user)
        return Response(s.PickListSerializer(self.get_queryset().get(id=pick_list.id)).data)


class PickTaskViewSet(ScopedQuerysetMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Scans of one pick task: confirm, short pick, skip. Each needs an Idempotency-Key."""

    serializer_class = s.PickTaskSerializer
    permission_classes = [RolePermission]
    read_roles = (PICKER, DISPATCHER, MANAGER)
    write_roles = (PICKER,)

    model = PickTask

    def get_scoped_queryset(self):
        tasks = selectors.list_pick_tasks(user=self.request.user)
        if self.action in ("confirm", "short", "skip"):
            # What the services take from the task (`task=`), without the order's columns.
            tasks = tasks.select_related(None).select_related(
                "location", "product", "lot", "order_line"
            )
        return tasks

    def _scan(self, request, write) -> Response:
        task: PickTask = self.get_object()

        def handler() -> Response:
            outcome = write(task)
            return Response(asdict(outcome))

        # A deadlock victim is run again whole, the key's claim with it (see the service).
        return idempotent(request, handler, required=True, retry_conflicts=True)

    @extend_schema(
        request=s.ConfirmPickInput,
        responses={200: s.PickOutcomeSerializer},
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
    )
    @action(detail=True, methods=["post"], throttle_classes=SCAN_THROTTLES)
    def confirm(self, request, pk=None):
        """Confirm the pick with the scanned bin and item; 422 wrong bin/item, 400 over-pick."""

        def write(task):
            data = s.ConfirmPickInput(data=request.data)
            data.is_valid(raise_exception=True)
            values = data.validated_data
            return services.confirm_pick(
                task_id=task.id,
                bin_code=values["bin"],
                item_scan=values["item"],
                quantity=values["quantity"],
                actor=request.user,
                task=task,
            )

        return self._scan(request, write)

    @extend_schema(
        request=s.ShortPickInput,
        responses={200: s.PickOutcomeSerializer},
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
    )
    @action(detail=True, methods=["post"], throttle_classes=SCAN_THROTTLES)
    def short(self, request, pk=None):
        """Short pick: deallocate the shortfall, request a count, re-allocate or backorder."""

        def write(task):
            data = s.ShortPickInput(data=request.data)
            data.is_valid(raise_exception=True)
            values = data.validated_data
            return services.short_pick(
                task_id=task.id,
                quantity_picked=values["quantity_picked"],
                reason=values["short_reason"],
                bin_code=values["bin"],
                item_scan=values["item"],
                actor=request.user,
                task=task,
            )

        return self._scan(request, write)

    @extend_schema(
        request=None,
        responses={200: s.PickOutcomeSerializer},
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
    )
    @action(detail=True, methods=["post"], throttle_classes=SCAN_THROTTLES)
    def skip(self, request, pk=None):
        """Move the task to the end of its list."""
        return self._scan(
            request, lambda task: services.skip_task(task_id=task.id, actor=request.user)
        )


class ShipmentViewSet(
    ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Shipments: pack, stage, load, dispatch, and confirm delivery with proof."""

    serializer_class = s.ShipmentSerializer
    permission_classes = [RolePermission]
    read_roles = ALL_ROLES
    write_roles = PLANNERS
    action_roles = {"pack": (PICKER, DISPATCHER), "deliver": (DISPATCHER,), "tracking": PLANNERS}
    filterset_fields = ["warehouse", "status", "order", "vehicle_code"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    model = Shipment

    def get_scoped_queryset(self):
        return selectors.list_shipments(user=self.request.user)

    def _answer(self, shipment_id: int) -> Response:
        return Response(s.ShipmentSerializer(self.get_queryset().get(id=shipment_id)).data)

    @extend_schema(responses={200: tracking.OrderTrackingSerializer})
    @action(detail=True, methods=["get"])
    def tracking(self, request, pk=None):
        """The tracking timeline and public link of the shipment's order (the tracked unit)."""
        shipment = self.get_object()
        return Response(
            tracking.OrderTrackingSerializer(tracking.order_tracking(shipment.order_id)).data
        )

    @extend_schema(request=s.PackInput, responses={200: s.ShipmentSerializer})
    @action(detail=True, methods=["post"])
    def pack(self, request, pk=None):
        """Pack the picked order into packages; each gets an SSCC."""
        shipment = self.get_object()
        data = s.PackInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.pack_shipment(
            shipment_id=shipment.id,
            packages=[services.PackageSpec(**p) for p in data.validated_data["packages"]],
            actor=request.user,
        )
        return self._answer(shipment.id)

    @extend_schema(request=s.StageInput, responses={200: s.ShipmentSerializer})
    @action(detail=True, methods=["post"])
    def stage(self, request, pk=None):
        """Put the packages in a staging lane for an outbound door."""
        shipment = self.get_object()
        data = s.StageInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.stage_shipment(
            shipment_id=shipment.id,
            staging_lane_id=data.validated_data["staging_lane"],
            outbound_door_id=data.validated_data.get("outbound_door"),
            actor=request.user,
        )
        return self._answer(shipment.id)

    @extend_schema(
        request=s.LoadInput,
        responses={200: s.PackageSerializer},
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
    )
    @action(detail=False, methods=["post"], throttle_classes=SCAN_THROTTLES)
    def load(self, request):
        """Scan a package (SSCC) onto a vehicle; 409 when a later stop must go on first."""
        data = s.LoadInput(data=request.data)
        data.is_valid(raise_exception=True)
        # Another warehouse's package is unknown here, and a refusal of it is not kept as the
        # answer to the Idempotency-Key: the key never saw a request this user may make.
        if not self.get_queryset().filter(packages__sscc=data.validated_data["sscc"]).exists():
            raise UnknownPackage(f"No package with SSCC {data.validated_data['sscc']}.")

        def handler() -> Response:
            package = services.load_package(
                sscc=data.validated_data["sscc"],
                vehicle_code=data.validated_data["vehicle"],
                actor=request.user,
            )
            return Response(s.PackageSerializer(package).data)

        return idempotent(request, handler, required=True)

    @extend_schema(request=None, responses={200: s.ShipmentSerializer})
    @action(detail=True, methods=["post"], url_path="dispatch", url_name="dispatch")
    def dispatch_shipment(self, request, pk=None):
        """Close the loaded shipment: its stock leaves the ledger; 409 if not packed/loaded."""
        shipment = self.get_object()
        services.dispatch_shipment(shipment_id=shipment.id, actor=request.user)
        return self._answer(shipment.id)

    @extend_schema(
        request={"multipart/form-data": s.DeliveryInput, "application/json": s.DeliveryInput},
        responses={201: s.DeliverySerializer},
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
    )
    @action(detail=True, methods=["post"])
    def deliver(self, request, pk=None):
        """Confirm the stop: time, recipient, optional photo/signature, exception, quantities."""
        shipment = self.get_object()

        def handler() -> Response:
            data = s.DeliveryInput(data=request.data)
            data.is_valid(raise_exception=True)
            values = data.validated_data
            lines = values.get("lines")
            delivery = services.confirm_delivery(
                shipment_id=shipment.id,
                delivered_at=values["delivered_at"],
                arrived_at=values["arrived_at"],
                recipient_name=values["recipient_name"],
                exception=values["exception"],
                note=values["note"],
                proof_file=values["proof_file"],
                delivered_quantities=(
                    {line["order_line"]: line["quantity"] for line in lines}
                    if lines is not None
                    else None
                ),
                actor=request.user,
            )
            return Response(s.DeliverySerializer(delivery).data, status=status.HTTP_201_CREATED)

        return idempotent(request, handler, required=False)


class OutboundKpiViewSet(viewsets.GenericViewSet):
    """Delivery and picking KPIs over a period."""

    permission_classes = [RolePermission]
    read_roles = (DISPATCHER, MANAGER)
    serializer_class = s.KpiSerializer
    pagination_class = None
    queryset = Delivery.objects.none()  # for the schema: KPIs are computed, not listed

    @extend_schema(
        parameters=[
            OpenApiParameter("since", type=dt.datetime, description="Default: 7 days ago."),
            OpenApiParameter("until", type=dt.datetime, description="Default: now."),
        ],
        responses={200: s.KpiSerializer},
    )
    def list(self, request):
        """OTD, in full, OTIF, fill rate and pick accuracy of deliveries and picks."""
        period = s.KpiPeriodInput(data=request.query_params)
        period.is_valid(raise_exception=True)
        until = period.validated_data.get("until") or timezone.now()
        since = period.validated_data.get("since") or until - dt.timedelta(days=7)
        kpis = selectors.get_outbound_kpis(user=request.user, since=since, until=until)
        return Response(asdict(kpis))
