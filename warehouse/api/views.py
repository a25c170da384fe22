from __future__ import annotations

import django_filters
from django.contrib.auth import authenticate
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from config.api.idempotency import IDEMPOTENCY_KEY_OPTIONAL, idempotent
from config.api.pagination import LedgerCursorPagination
from config.api.permissions import RolePermission, has_role
from config.api.throttling import ScopedRateThrottle
from warehouse import selectors, services
from warehouse.api import serializers as s
from warehouse.logins import claim_login_attempt, client_address, login_succeeded
from warehouse.models import DeviceToken, Lot, Product, StockBalance, StockMove, Zone
from warehouse.roles import ALL_ROLES, MANAGER


class WarehouseViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.WarehouseSerializer
    permission_classes = [RolePermission]
    read_roles = ALL_ROLES

    def get_queryset(self):
        return selectors.list_warehouses_for(self.request.user).order_by("code")


class ZoneViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.ZoneSerializer
    permission_classes = [RolePermission]
    filterset_fields = ["kind", "storage_class", "warehouse__code"]

    def get_queryset(self):
        visible = selectors.list_warehouses_for(self.request.user)
        return Zone.objects.filter(warehouse__in=visible).select_related("warehouse")


class ProductFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="SKU, GTIN or name contains")

    class Meta:
        model = Product
        fields = ["sku", "gtin", "storage_class", "is_lot_tracked", "is_active"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(sku__icontains=value) | Q(gtin__contains=value) | Q(name__icontains=value)
        )


class ProductViewSet(viewsets.ModelViewSet):
    """The product catalogue, shared by all warehouses. Managers maintain it."""

    serializer_class = s.ProductSerializer
    permission_classes = [RolePermission]
    filterset_class = ProductFilter
    queryset = Product.objects.prefetch_related("pack_sizes").order_by("sku")
    http_method_names = ["get", "post", "put", "patch", "head", "options"]


class LotViewSet(viewsets.ModelViewSet):
    serializer_class = s.LotSerializer
    permission_classes = [RolePermission]
    queryset = Lot.objects.select_related("product").order_by("product__sku", "code")
    filterset_fields = {"product__sku": ["exact"], "code": ["exact"], "expiry_date": ["lte", "gte"]}
    http_method_names = ["get", "post", "head", "options"]


class LocationFilter(django_filters.FilterSet):
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    zone = django_filters.CharFilter(field_name="zone__code")
    kind = django_filters.CharFilter(field_name="zone__kind")
    storage_class = django_filters.CharFilter(field_name="zone__storage_class")

    class Meta:
        model = selectors.Location
        fields = ["warehouse", "zone", "kind", "storage_class", "aisle", "code", "is_active"]


class LocationViewSet(viewsets.ModelViewSet):
    """Bins and floor areas with how much weight and volume they still take."""

    serializer_class = s.LocationSerializer
    permission_classes = [RolePermission]
    filterset_class = LocationFilter
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.list_locations_with_load(user=self.request.user).order_by(
            "warehouse__code", "code"
        )

    def perform_create(self, serializer) -> None:
        serializer.save()
        # Answer with the load the selector annotates, as a GET does (the saved row has none).
        serializer.instance = self.get_queryset().get(id=serializer.instance.id)


class BalanceFilter(django_filters.FilterSet):
    warehouse = django_filters.CharFilter(field_name="location__warehouse__code")
    sku = django_filters.CharFilter(field_name="product__sku")
    location = django_filters.CharFilter(field_name="location__code")
    lot = django_filters.CharFilter(field_name="lot__code")
    zone = django_filters.CharFilter(field_name="location__zone__code")
    zone_kind = django_filters.CharFilter(field_name="location__zone__kind")

    class Meta:
        model = StockBalance
        fields = ["warehouse", "sku", "location", "lot", "status", "zone", "zone_kind", "product"]


class StockBalanceViewSet(viewsets.ReadOnlyModelViewSet):
    """Stock on hand per location, product, lot and status. Changed only by stock moves."""

    serializer_class = s.StockBalanceSerializer
    permission_classes = [RolePermission]
    filterset_class = BalanceFilter
    ordering_fields = ["quantity", "updated_at", "id"]

    def get_queryset(self):
        return selectors.list_balances(user=self.request.user).order_by("id")


class MoveFilter(django_filters.FilterSet):
    sku = django_filters.CharFilter(field_name="product__sku")
    location = django_filters.CharFilter(method="at_location", label="From or to this bin code")
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = StockMove
        fields = ["sku", "product", "location", "reason", "reference", "since", "until"]

    def at_location(self, queryset, name, value):
        return queryset.filter(Q(from_location__code=value) | Q(to_location__code=value))


class StockMoveViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The inventory ledger. Read by anyone on staff; managers post transfers and adjustments."""

    serializer_class = s.StockMoveSerializer
    permission_classes = [RolePermission]
    filterset_class = MoveFilter
    pagination_class = LedgerCursorPagination
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]
    action_roles = {"transfer": (MANAGER,), "adjust": (MANAGER,)}

    def get_queryset(self):
        return selectors.list_moves(user=self.request.user)

    def _post(self, request, input_serializer, write) -> Response:
        def handler() -> Response:
            data = input_serializer(data=request.data, context={"request": request})
            data.is_valid(raise_exception=True)
            move = write(data.validated_data)
            return Response(s.StockMoveSerializer(move).data, status=status.HTTP_201_CREATED)

        return idempotent(request, handler, required=False)

    @extend_schema(
        request=s.StockTransferInput,
        responses={201: s.StockMoveSerializer},
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
    )
    @action(detail=False, methods=["post"], url_path="transfers")
    def transfer(self, request):
        """Move stock between two locations of a warehouse (manager only)."""
        return self._post(
            request,
            s.StockTransferInput,
            lambda v: services.move_stock(
                from_location_id=v["from_location"].id,
                to_location_id=v["to_location"].id,
                product_id=v["product"].id,
                lot_id=v["lot"].id if v["lot"] else None,
                status=v["status"],
                quantity=v["quantity"],
                reference=v["reference"],
                note=v["note"],
                actor=request.user,
            ),
        )

    @extend_schema(
        request=s.StockAdjustmentInput,
        responses={201: s.StockMoveSerializer},
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
    )
    @action(detail=False, methods=["post"], url_path="adjustments")
    def adjust(self, request):
        """Correct the quantity in a location with a reason (manager only)."""
        return self._post(
            request,
            s.StockAdjustmentInput,
            lambda v: services.adjust_stock(
                location_id=v["location"].id,
                product_id=v["product"].id,
                lot_id=v["lot"].id if v["lot"] else None,
                status=v["status"],
                delta=v["delta"],
                reason=v["reason"],
                reference=v["reference"],
                note=v["note"],
                actor=request.user,
            ),
        )


class DeviceTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Per-device API tokens. Anyone may list and revoke their own; managers their staff's."""

    serializer_class = s.DeviceTokenSerializer
    permission_classes = [RolePermission]
    action_roles = {"revoke": ALL_ROLES, "create": ()}

    def get_permissions(self):
        if self.action == "create":
            return [AllowAny()]
        return super().get_permissions()

    def get_throttles(self):
        if self.action == "create":
            self.throttle_scope = "login"
            return [ScopedRateThrottle()]
        return super().get_throttles()

    def get_queryset(self):
        tokens = DeviceToken.objects.select_related("user")
        if not self.request.user.is_authenticated:
            return tokens.none()
        user = self.request.user
        if user.is_superuser:
            return tokens
        if has_role(user, MANAGER):
            # A manager administers the staff of their own warehouses, not everyone's.
            visible = selectors.list_warehouses_for(user)
            return tokens.filter(Q(user=user) | Q(user__warehouses__in=visible)).distinct()
        return tokens.filter(user=user)

    @extend_schema(request=s.TokenRequest, responses={201: s.IssuedTokenSerializer}, auth=[])
    def create(self, request):
        """Exchange a username and password for a token for one named device."""
        data = s.TokenRequest(data=request.data)
        data.is_valid(raise_exception=True)
        username = data.validated_data["username"]
        attempt = claim_login_attempt(username=username, address=client_address(request))
        if not attempt.allowed:
            raise Throttled(wait=attempt.retry_after, detail=attempt.message)
        user = authenticate(request, username=username, password=data.validated_data["password"])
        if user is None:
            raise AuthenticationFailed("Wrong username or password.")
        login_succeeded(attempt)
        token, raw = DeviceToken.issue(user=user, name=data.validated_data["device_name"])
        token.token = raw
        return Response(s.IssuedTokenSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.DeviceTokenSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Revoke a token at once, e.g. for a lost scanner."""
        token = self.get_object()
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
        return Response(s.DeviceTokenSerializer(token).data)
