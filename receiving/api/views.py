"""Inbound API: ASNs, dock appointments, receipts and scans, inspections, putaway.

Views are thin: they validate input, check the role, call one service and render its result.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from config.api.idempotency import (
    IDEMPOTENCY_KEY_OPTIONAL,
    IDEMPOTENCY_KEY_REQUIRED,
    idempotent,
)
from config.api.permissions import RolePermission, has_role
from config.api.problems import problem
from config.api.scoping import ScopedQuerysetMixin
from config.api.throttling import SCAN_THROTTLES
from receiving import selectors, services, tasks
from receiving.api import serializers as s
from receiving.errors import SlotUnavailable
from receiving.models import (
    DockAppointment,
    InboundShipment,
    Inspection,
    InspectionRule,
    PutawayTask,
    Receipt,
    Supplier,
)
from warehouse.models import DockDoor
from warehouse.roles import ALL_ROLES, DOCK, INSPECTOR, MANAGER
from warehouse.selectors import list_warehouses_for

PROBLEM = OpenApiResponse(description="Problem details (application/problem+json).")


class SupplierViewSet(viewsets.ModelViewSet):
    """Suppliers; `requires_inspection` sends all their deliveries to quarantine."""

    serializer_class = s.SupplierSerializer
    permission_classes = [RolePermission]
    queryset = Supplier.objects.order_by("code")
    filterset_fields = ["code", "requires_inspection", "is_active"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]


class InspectionRuleViewSet(viewsets.ModelViewSet):
    """Products (from any or one supplier) whose receipts must be inspected."""

    serializer_class = s.InspectionRuleSerializer
    permission_classes = [RolePermission]
    queryset = InspectionRule.objects.select_related("product", "supplier").order_by("id")
    filterset_fields = ["product", "supplier", "requires_inspection"]


class InboundShipmentViewSet(
    ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """ASNs. Managers announce and cancel them; dock staff check the truck in."""

    permission_classes = [RolePermission]
    filterset_fields = ["status", "reference", "supplier__code", "warehouse__code"]
    ordering_fields = ["expected_arrival", "id"]
    action_roles = {"create": (MANAGER,), "cancel": (MANAGER,), "check_in": (DOCK,)}

    model = InboundShipment

    def get_scoped_queryset(self):
        if self.action == "retrieve":
            return selectors.list_shipments_with_lines(user=self.request.user)
        return selectors.list_shipments(user=self.request.user).order_by("expected_arrival", "id")

    def get_serializer_class(self):
        if self.action == "retrieve":
            return s.InboundShipmentDetailSerializer
        return s.InboundShipmentSerializer

    def _detail(self, shipment_id: int, code=status.HTTP_200_OK) -> Response:
        shipment = selectors.list_shipments_with_lines(user=self.request.user).get(id=shipment_id)
        return Response(s.InboundShipmentDetailSerializer(shipment).data, status=code)

    @extend_schema(
        request=s.InboundShipmentInput,
        responses={201: s.InboundShipmentDetailSerializer, 400: PROBLEM},
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
    )
    def create(self, request):
        """Announce an ASN with its lines (up to 10,000 in one request)."""

        def handler() -> Response:
            data = s.InboundShipmentInput(data=request.data)
            data.is_valid(raise_exception=True)
            values = data.validated_data
            warehouse = get_object_or_404(
                list_warehouses_for(request.user), code=values["warehouse"]
            )
            supplier = get_object_or_404(Supplier, code=values["supplier"])
            shipment = services.create_shipment(
                warehouse_id=warehouse.id,
                supplier_id=supplier.id,
                reference=values["reference"],
                po_reference=values["po_reference"],
                carrier=values["carrier"],
                expected_arrival=values["expected_arrival"],
                lines=services.create_inbound_lines_input(values["lines"]),
                actor=request.user,
            )
            # Already loaded: serialising them again would cost two queries.
            shipment.warehouse, shipment.supplier = warehouse, supplier
            shipment.line_count = len(values["lines"])
            return Response(
                s.InboundShipmentSerializer(shipment).data, status=status.HTTP_201_CREATED
            )

        return idempotent(request, handler, required=False)

    @extend_schema(request=None, responses={200: s.InboundShipmentSerializer, 409: PROBLEM})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel an ASN that has not arrived (and its appointment)."""
        shipment = self.get_object()
        services.cancel_shipment(shipment_id=shipment.id, actor=request.user)
        return Response(s.InboundShipmentSerializer(self.get_object()).data)

    @extend_schema(
        request=s.CheckInInput, responses={200: s.InboundShipmentSerializer, 409: PROBLEM}
    )
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request, pk=None):
        """Record the truck's arrival at the gate (arrived_at, default now)."""
        shipment = self.get_object()
        data = s.CheckInInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.check_in_shipment(
            shipment_id=shipment.id,
            arrived_at=data.validated_data.get("arrived_at"),
            actor=request.user,
        )
        return Response(s.InboundShipmentSerializer(self.get_object()).data)


class DockAppointmentViewSet(
    ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Door slots for ASNs. A full slot answers 409 with `next_free_slot`."""

    serializer_class = s.DockAppointmentSerializer
    permission_classes = [RolePermission]
    filterset_fields = {
        "door": ["exact"],
        "status": ["exact"],
        "shipment": ["exact"],
        "starts_at": ["gte", "lt"],
    }
    action_roles = {"create": (DOCK,), "cancel": (DOCK,), "schedule": (MANAGER,)}

    model = DockAppointment

    def get_scoped_queryset(self):
        return selectors.list_appointments(user=self.request.user).order_by("starts_at", "id")

    @extend_schema(
        request=s.DockAppointmentInput,
        responses={
            201: s.DockAppointmentSerializer,
            409: OpenApiResponse(
                s.SlotConflictSerializer,
                description="Slot taken (with next_free_slot), outside door hours, or wrong door.",
            ),
        },
    )
    def create(self, request):
        """Book a door slot for an ASN (the slot lasts the door's slot length)."""
        data = s.DockAppointmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        visible = list_warehouses_for(request.user)
        shipment = get_object_or_404(
            selectors.list_shipments(user=request.user), id=values["shipment"]
        )
        door = get_object_or_404(DockDoor.objects.filter(warehouse__in=visible), id=values["door"])
        try:
            appointment = services.book_appointment(
                shipment_id=shipment.id,
                door_id=door.id,
                starts_at=values["starts_at"],
                actor=request.user,
            )
        except SlotUnavailable as error:
            response = problem(
                status_code=error.http_status,
                title=error.title,
                detail=error.message,
                code=error.code,
            )
            response.data["next_free_slot"] = (
                error.next_free_slot.isoformat() if error.next_free_slot else None
            )
            return response
        appointment = self.get_queryset().get(id=appointment.id)
        return Response(
            s.DockAppointmentSerializer(appointment).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses={200: s.DockAppointmentSerializer, 409: PROBLEM})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Free the slot; the ASN goes back to announced."""
        appointment = self.get_object()
        services.cancel_appointment(appointment_id=appointment.id, actor=request.user)
        return Response(s.DockAppointmentSerializer(self.get_object()).data)

    @extend_schema(request=s.ScheduleDayInput, responses={202: None})
    @action(detail=False, methods=["post"])
    def schedule(self, request):
        """Queue the scheduler for a warehouse's day: unscheduled ASNs get door slots."""
        data = s.ScheduleDayInput(data=request.data)
        data.is_valid(raise_exception=True)
        warehouse = get_object_or_404(
            list_warehouses_for(request.user), code=data.validated_data["warehouse"]
        )
        tasks.enqueue_scheduling(warehouse_id=warehouse.id, day=data.validated_data["date"])
        return Response(status=status.HTTP_202_ACCEPTED)


def _scan_payload(receipt_id: int, result: services.ScanResult) -> dict:
    return {
        "receipt": receipt_id,
        "sscc": result.sscc,
        "items": [
            {
                "scan_id": item.scan.id,
                "product": {
                    "id": item.product.id,
                    "sku": item.product.sku,
                    "name": item.product.name,
                },
                "lot": item.lot.code if item.lot else None,
                "expiry_date": item.lot.expiry_date if item.lot else None,
                "quantity": item.scan.quantity,
                "status": item.scan.status,
                "line": {
                    "id": item.line.id,
                    "line_number": item.line.line_number,
                    "expected_quantity": item.line.expected_quantity,
                    "received_quantity": item.line.received_quantity,
                    "damaged_quantity": item.line.damaged_quantity,
                    "is_expected": item.line.is_expected,
                },
            }
            for item in result.items
        ],
        "warnings": result.warnings,
    }


class ReceiptViewSet(
    ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Receipts: open on a door, scan, close (with the discrepancy report)."""

    serializer_class = s.ReceiptSerializer
    permission_classes = [RolePermission]
    filterset_fields = ["status", "shipment", "door"]
    action_roles = {"create": (DOCK,), "scans": (DOCK,), "close": (DOCK,)}

    model = Receipt

    def get_scoped_queryset(self):
        return selectors.list_receipts(user=self.request.user).order_by("-opened_at", "-id")

    @extend_schema(request=s.ReceiptOpenInput, responses={201: s.ReceiptSerializer, 409: PROBLEM})
    def create(self, request):
        """Open a receipt for an arrived ASN on an inbound door."""
        data = s.ReceiptOpenInput(data=request.data)
        data.is_valid(raise_exception=True)
        visible = list_warehouses_for(request.user)
        shipment = get_object_or_404(
            selectors.list_shipments(user=request.user), id=data.validated_data["shipment"]
        )
        door = get_object_or_404(
            DockDoor.objects.filter(warehouse__in=visible), id=data.validated_data["door"]
        )
        receipt = services.open_receipt(
            shipment_id=shipment.id, door_id=door.id, actor=request.user
        )
        return Response(
            s.ReceiptSerializer(self.get_queryset().get(id=receipt.id)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request=s.ScanInput,
        responses={
            201: s.ScanResultSerializer,
            400: PROBLEM,
            409: OpenApiResponse(description="Receipt closed, or pallet already received."),
            422: OpenApiResponse(
                description="Barcode not accepted: code barcode-unknown-gtin, "
                "barcode-bad-check-digit, barcode-malformed-gs1, "
                "barcode-forbidden-ai-combination, barcode-unknown-sscc, lot-required, "
                "unknown-pack; or Idempotency-Key reused with another body."
            ),
        },
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
    )
    @action(detail=True, methods=["post"], throttle_classes=SCAN_THROTTLES)
    def scans(self, request, pk=None):
        """Receive one scan. Replays of the same Idempotency-Key return the first answer."""

        # The service reads and locks the receipt in one query, which also hides receipts of
        # other warehouses (404): no separate visibility query on this hot path.
        if not str(pk).isdigit():
            raise Http404("No such receipt.")

        def handler() -> Response:
            values = s.validate_scan_input(request.data)
            result = services.receive_scan(
                receipt_id=int(pk),
                barcode=values["barcode"],
                quantity=values.get("quantity"),
                pack=values.get("pack") or None,
                is_damaged=values["damaged"],
                actor=request.user,
            )
            return Response(_scan_payload(int(pk), result), status=status.HTTP_201_CREATED)

        return idempotent(request, handler, required=True)

    @extend_schema(
        request=s.CloseReceiptInput,
        responses={200: s.DiscrepancyReportSerializer, 403: PROBLEM, 409: PROBLEM},
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close the receipt; returns the discrepancy report. Over-receipt beyond the tolerance
        needs a manager's `override=true`."""
        receipt = self.get_object()
        data = s.CloseReceiptInput(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["override"] and not has_role(request.user, MANAGER):
            raise PermissionDenied("Only a manager may override an over-receipt.")

        def handler() -> Response:
            services.close_receipt(
                receipt_id=receipt.id,
                override=data.validated_data["override"],
                actor=request.user,
            )
            return self._report(receipt.id)

        return idempotent(request, handler, required=False)

    def _report(self, receipt_id: int) -> Response:
        receipt = self.get_queryset().get(id=receipt_id)
        report = selectors.get_discrepancy_report(receipt=receipt)
        return Response(s.DiscrepancyReportSerializer(report).data)

    @extend_schema(responses={200: s.DiscrepancyReportSerializer})
    @action(detail=True, methods=["get"])
    def discrepancies(self, request, pk=None):
        """The discrepancy report of a closed receipt (empty while open)."""
        return self._report(self.get_object().id)


class InspectionViewSet(
    ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Quarantined stock waiting for (or judged by) an inspector."""

    serializer_class = s.InspectionSerializer
    permission_classes = [RolePermission]
    filterset_fields = ["status", "receipt", "product"]
    action_roles = {"record": (INSPECTOR,)}

    model = Inspection

    def get_scoped_queryset(self):
        return selectors.list_inspections(user=self.request.user).order_by("id")

    @extend_schema(
        request=s.InspectionResultInput,
        responses={200: s.InspectionSerializer, 400: PROBLEM, 409: PROBLEM},
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
    )
    @action(detail=True, methods=["post"])
    def record(self, request, pk=None):
        """Pass (release to available, create a putaway task) or fail (keep or mark damaged)."""
        inspection = self.get_object()

        def handler() -> Response:
            data = s.InspectionResultInput(data=request.data)
            data.is_valid(raise_exception=True)
            values = data.validated_data
            services.record_inspection(
                inspection_id=inspection.id,
                passed=values["result"] == "pass",
                defects_found=values["defects_found"],
                reason=values["reason"],
                disposition=values["disposition"],
                actor=request.user,
            )
            return Response(s.InspectionSerializer(self.get_queryset().get(id=inspection.id)).data)

        return idempotent(request, handler, required=False)


class PutawayTaskViewSet(
    ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Putaway tasks with their proposed bin; dock staff confirm by scanning a bin."""

    serializer_class = s.PutawayTaskSerializer
    permission_classes = [RolePermission]
    filterset_fields = ["status", "receipt", "product"]
    action_roles = {"confirm": (DOCK,), "propose": (DOCK,)}
    read_roles = ALL_ROLES

    model = PutawayTask

    def get_scoped_queryset(self):
        return selectors.list_putaway_tasks(user=self.request.user).order_by("status", "id")

    @extend_schema(
        request=s.PutawayConfirmInput,
        responses={200: s.PutawayTaskSerializer, 409: PROBLEM, 422: PROBLEM},
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
    )
    @action(detail=True, methods=["post"], throttle_classes=SCAN_THROTTLES)
    def confirm(self, request, pk=None):
        """Confirm the putaway into the scanned bin (another valid bin than proposed is fine)."""
        task = self.get_object()

        def handler() -> Response:
            data = s.PutawayConfirmInput(data=request.data)
            data.is_valid(raise_exception=True)
            services.confirm_putaway(
                task_id=task.id, bin_code=data.validated_data["bin"], actor=request.user
            )
            return Response(s.PutawayTaskSerializer(self.get_queryset().get(id=task.id)).data)

        return idempotent(request, handler, required=True)

    @extend_schema(request=None, responses={200: s.PutawayTaskSerializer, 409: PROBLEM})
    @action(detail=True, methods=["post"])
    def propose(self, request, pk=None):
        """Propose the bin again from what the bins hold now (the proposed one filled up)."""
        task = self.get_object()
        services.propose_putaway_bin(task_id=task.id)
        return Response(s.PutawayTaskSerializer(self.get_queryset().get(id=task.id)).data)


__all__ = [
    "DockAppointmentViewSet",
    "InboundShipmentViewSet",
    "InspectionRuleViewSet",
    "InspectionViewSet",
    "PutawayTaskViewSet",
    "ReceiptViewSet",
    "SupplierViewSet",
]
