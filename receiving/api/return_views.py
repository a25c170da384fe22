"""Returns API: RMAs (request, authorise, reject, dispositions) and return receipts (open, scan,
close). Views are thin: they validate input, check the role, call one service and render it.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.response import Response

from config.api.idempotency import (
    IDEMPOTENCY_KEY_OPTIONAL,
    IDEMPOTENCY_KEY_REQUIRED,
    idempotent,
)
from config.api.permissions import RolePermission
from config.api.scoping import ScopedQuerysetMixin
from config.api.throttling import SCAN_THROTTLES
from receiving import selectors, services
from receiving.api import return_serializers as s
from receiving.api.serializers import ScanInput, validate_scan_input
from receiving.errors import InvalidReturn
from receiving.models import ReturnAuthorisation, ReturnLine, ReturnReceipt
from receiving.services.return_receipts import HELD_STATUS
from shipping.models import Order, OrderLine
from warehouse.models import DockDoor
from warehouse.roles import DISPATCHER, DOCK, INSPECTOR, MANAGER
from warehouse.selectors import list_warehouses_for

PROBLEM = OpenApiResponse(description="Problem details (application/problem+json).")


def _line_inputs(order: Order, values: dict) -> list[services.ReturnLineInput]:
    """The request's lines as order line ids: by line number, or by the product's SKU when the
    product is on exactly one line of the order. Raises InvalidReturn (400) per bad line."""
    order_lines = list(OrderLine.objects.filter(order=order).select_related("product"))
    by_number = {line.line_number: line for line in order_lines}
    by_sku: dict[str, list[OrderLine]] = {}
    for line in order_lines:
        by_sku.setdefault(line.product.sku, []).append(line)
    inputs, errors = [], {}
    for index, line in enumerate(values["lines"]):
        if "line_number" in line:
            found = by_number.get(line["line_number"])
            if found is None:
                errors[f"lines[{index}].line_number"] = ["No such line on this order."]
                continue
        else:
            candidates = by_sku.get(line["sku"], [])
            if len(candidates) != 1:
                problem = "is not on this order" if not candidates else "is on several lines"
                errors[f"lines[{index}].sku"] = [f"{line['sku']} {problem}: give line_number."]
                continue
            found = candidates[0]
        inputs.append(
            services.ReturnLineInput(
                order_line_id=found.id,
                quantity=line["quantity"],
                reason=line.get("reason") or values["reason"],
                lot_code=line["lot"].strip(),
            )
        )
    if errors:
        raise InvalidReturn("The return lines are invalid.", errors=errors)
    return inputs


class ReturnViewSet(
    ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Customer returns (RMAs) of delivered orders: requested by dispatchers (customer service
    and integrations), authorised or rejected by managers, dispositioned by inspectors."""

    permission_classes = [RolePermission]
    filterset_fields = ["status", "order", "customer", "warehouse__code"]
    filter_backends = [DjangoFilterBackend, OrderingFilter, SearchFilter]
    search_fields = ["number", "order__number", "customer__code", "customer_reference"]
    ordering_fields = ["requested_at", "id"]
    action_roles = {
        "create": (DISPATCHER,),
        "authorise": (MANAGER,),
        "reject": (MANAGER,),
        "dispositions": (INSPECTOR,),
    }

    model = ReturnAuthorisation

    def get_scoped_queryset(self):
        if self.action == "list":
            return selectors.list_returns(user=self.request.user).order_by("-requested_at", "-id")
        return selectors.list_returns_with_lines(user=self.request.user).order_by("id")

    def get_serializer_class(self):
        if self.action == "list":
            return s.ReturnSerializer
        return s.ReturnDetailSerializer

    def _detail(self, rma_id: int, code: int = status.HTTP_200_OK) -> Response:
        rma = selectors.list_returns_with_lines(user=self.request.user).get(id=rma_id)
        return Response(s.ReturnDetailSerializer(rma).data, status=code)

    @extend_schema(
        request=s.ReturnRequestInput,
        responses={201: s.ReturnDetailSerializer, 400: PROBLEM, 404: PROBLEM, 409: PROBLEM},
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
    )
    def create(self, request):
        """Request a return of delivered units of an order (at most what was delivered and is
        not on other returns, per order line)."""

        def handler() -> Response:
            data = s.ReturnRequestInput(data=request.data)
            data.is_valid(raise_exception=True)
            values = data.validated_data
            order = get_object_or_404(
                Order.objects.filter(warehouse__in=list_warehouses_for(request.user)),
                id=values["order"],
            )
            rma = services.request_return(
                order_id=order.id,
                lines=_line_inputs(order, values),
                customer_reference=values["customer_reference"],
                note=values["note"],
                actor=request.user,
            )
            return self._detail(rma.id, status.HTTP_201_CREATED)

        return idempotent(request, handler, required=False)

    @extend_schema(request=None, responses={200: s.ReturnDetailSerializer, 409: PROBLEM})
    @action(detail=True, methods=["post"])
    def authorise(self, request, pk=None):
        """Authorise a requested return: the customer may send the goods."""
        rma = self.get_object()
        services.authorise_return(rma_id=rma.id, actor=request.user)
        return self._detail(rma.id)

    @extend_schema(
        request=s.RejectInput, responses={200: s.ReturnDetailSerializer, 400: PROBLEM, 409: PROBLEM}
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject a return that has not arrived, with the reason."""
        rma = self.get_object()
        data = s.RejectInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.reject_return(
            rma_id=rma.id, reason=data.validated_data["reason"], actor=request.user
        )
        return self._detail(rma.id)

    @extend_schema(
        request=s.DispositionInput,
        responses={
            201: s.ReturnDispositionSerializer,
            400: PROBLEM,
            404: PROBLEM,
            409: PROBLEM,
            422: PROBLEM,
        },
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
    )
    @action(detail=True, methods=["post"])
    def dispositions(self, request, pk=None):
        """Decide what becomes of received units of one line: restock, quarantine, scrap or
        return_to_vendor. Replays of the same Idempotency-Key return the first answer."""
        rma = self.get_object()

        def handler() -> Response:
            data = s.DispositionInput(data=request.data)
            data.is_valid(raise_exception=True)
            values = data.validated_data
            line = get_object_or_404(ReturnLine, rma=rma, line_number=values["line"])
            disposition = services.record_disposition(
                line_id=line.id,
                kind=values["disposition"],
                quantity=values["quantity"],
                lot_code=values["lot"].strip(),
                reason=values["reason"],
                bin_code=values["bin"],
                supplier_code=values["supplier"],
                actor=request.user,
            )
            return Response(
                s.ReturnDispositionSerializer(disposition).data, status=status.HTTP_201_CREATED
            )

        return idempotent(request, handler, required=True)


class ReturnReceiptViewSet(
    ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Receiving authorised returns on the dock: open on a door, scan, close."""

    serializer_class = s.ReturnReceiptSerializer
    permission_classes = [RolePermission]
    filterset_fields = ["status", "rma", "door"]
    action_roles = {"create": (DOCK,), "scans": (DOCK,), "close": (DOCK,)}

    model = ReturnReceipt

    def get_scoped_queryset(self):
        return selectors.list_return_receipts(user=self.request.user).order_by("-opened_at", "-id")

    @extend_schema(
        request=s.ReturnReceiptOpenInput,
        responses={201: s.ReturnReceiptSerializer, 404: PROBLEM, 409: PROBLEM},
    )
    def create(self, request):
        """Open the return receipt of an authorised RMA on an inbound door."""
        data = s.ReturnReceiptOpenInput(data=request.data)
        data.is_valid(raise_exception=True)
        visible = list_warehouses_for(request.user)
        rma = get_object_or_404(
            ReturnAuthorisation.objects.filter(warehouse__in=visible), id=data.validated_data["rma"]
        )
        door = get_object_or_404(
            DockDoor.objects.filter(warehouse__in=visible), id=data.validated_data["door"]
        )
        receipt = services.open_return_receipt(rma_id=rma.id, door_id=door.id, actor=request.user)
        return Response(
            s.ReturnReceiptSerializer(self.get_queryset().get(id=receipt.id)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request=ScanInput,
        responses={
            201: s.ReturnScanResultSerializer,
            400: PROBLEM,
            404: PROBLEM,
            409: OpenApiResponse(description="Return receipt closed."),
            422: OpenApiResponse(
                description="Barcode not accepted (as for inbound scans), lot-required, "
                "unknown-pack; or Idempotency-Key reused with another body."
            ),
        },
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
    )
    @action(detail=True, methods=["post"], throttle_classes=SCAN_THROTTLES)
    def scans(self, request, pk=None):
        """Receive one scan of returned goods (held in quarantine). Replays of the same
        Idempotency-Key return the first answer."""
        if not str(pk).isdigit():
            raise Http404("No such return receipt.")
        receipt = self.get_object()

        def handler() -> Response:
            values = validate_scan_input(request.data)
            result = services.receive_return_scan(
                return_receipt_id=receipt.id,
                barcode=values["barcode"],
                quantity=values.get("quantity"),
                pack=values.get("pack") or None,
                is_damaged=values["damaged"],
                actor=request.user,
            )
            line = result.line
            body = {
                "return_receipt": receipt.id,
                "scan_id": result.scan.id,
                "product": {
                    "id": result.product.id,
                    "sku": result.product.sku,
                    "name": result.product.name,
                },
                "lot": result.lot.code if result.lot else None,
                "quantity": result.scan.quantity,
                "status": HELD_STATUS,
                "is_damaged": result.scan.is_damaged,
                "line": {
                    "id": line.id,
                    "line_number": line.line_number,
                    "quantity": line.quantity,
                    "received_quantity": line.received_quantity,
                    "damaged_quantity": line.damaged_quantity,
                    "is_expected": line.is_expected,
                },
                "warnings": result.warnings,
            }
            return Response(body, status=status.HTTP_201_CREATED)

        return idempotent(request, handler, required=True)

    @extend_schema(
        request=None,
        responses={200: s.ReturnDiscrepancyReportSerializer, 409: PROBLEM},
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close the return receipt; the RMA becomes received. Returns the discrepancy report."""
        receipt = self.get_object()

        def handler() -> Response:
            services.close_return_receipt(return_receipt_id=receipt.id, actor=request.user)
            return self._report(receipt.id)

        return idempotent(request, handler, required=False)

    def _report(self, receipt_id: int) -> Response:
        receipt = self.get_queryset().get(id=receipt_id)
        report = {
            "return_receipt": receipt,
            "rma_status": receipt.rma.status,
            "discrepancies": selectors.list_return_discrepancies(return_receipt_id=receipt.id),
        }
        return Response(s.ReturnDiscrepancyReportSerializer(report).data)

    @extend_schema(responses={200: s.ReturnDiscrepancyReportSerializer})
    @action(detail=True, methods=["get"])
    def discrepancies(self, request, pk=None):
        """The discrepancy report of a closed return receipt (empty while open)."""
        return self._report(self.get_object().id)


__all__ = ["ReturnReceiptViewSet", "ReturnViewSet"]
