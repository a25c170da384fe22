"""Tracking and webhooks API: an order's timeline and link for staff; managers' webhook
subscriptions and their delivery log, with replay by hand."""

from __future__ import annotations

from urllib.parse import urlsplit

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from config.api.permissions import RolePermission
from config.api.scoping import ScopedQuerysetMixin, VisibleWarehouseField, refuse_warehouse_change
from shipping.models import (
    Customer,
    TrackingStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from shipping.services import webhooks
from shipping.services.tracking import tracking_for, tracking_url
from shipping.track.selectors import list_staff_timeline
from shipping.webhook_targets import TargetRefused, check_subscribed_target
from warehouse.roles import MANAGER
from warehouse.selectors import list_warehouses_for

# --- an order's tracking, for staff ---------------------------------------------------------


class EtaSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class StaffStepSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TrackingStatus.choices)
    reason = serializers.CharField()
    at = serializers.DateTimeField()
    eta = EtaSerializer(allow_null=True)
    shipment = serializers.CharField(allow_null=True, help_text="The shipment's number.")
    actor = serializers.CharField(allow_null=True, help_text="Who made the change.")


class OrderTrackingSerializer(serializers.Serializer):
    order = serializers.IntegerField()
    tracking_url = serializers.URLField(help_text="The public page; send it to the customer.")
    json_url = serializers.URLField(help_text="The same as JSON.")
    status = serializers.ChoiceField(choices=TrackingStatus.choices, allow_null=True)
    eta = EtaSerializer(allow_null=True, help_text="The planned ETA window, once routed.")
    timeline = StaffStepSerializer(many=True)


def order_tracking(order_id: int) -> dict:
    """The staff view of an order's tracking (its link is issued on first request)."""
    tracking = tracking_for(order_id=order_id)
    steps = list_staff_timeline(order_id=order_id)
    url = tracking_url(tracking.token)

    def window(start, end):
        return {"start": start, "end": end} if start and end else None

    return {
        "order": order_id,
        "tracking_url": url,
        "json_url": url.rstrip("/") + ".json",
        "status": steps[-1].status if steps else None,
        "eta": window(tracking.eta_start, tracking.eta_end),
        "timeline": [
            {
                "status": step.status,
                "reason": step.reason,
                "at": step.at,
                "eta": window(step.eta_start, step.eta_end),
                "shipment": step.shipment,
                "actor": step.actor,
            }
            for step in steps
        ],
    }


# --- webhook subscriptions ------------------------------------------------------------------


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    warehouse = VisibleWarehouseField(slug_field="id")
    customer = serializers.IntegerField(
        source="customer_id",
        allow_null=True,
        required=False,
        help_text="A customer of the warehouse; null: every customer.",
    )
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=TrackingStatus.choices),
        allow_empty=False,
        max_length=len(TrackingStatus.values),
        required=False,
        help_text="Timeline statuses to send; default all.",
    )
    secret = serializers.CharField(
        write_only=True,
        required=False,
        min_length=16,
        max_length=128,
        help_text="Signs the payloads; generated when left out (shown once, on create).",
    )

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "warehouse",
            "customer",
            "event_types",
            "target_url",
            "secret",
            "description",
            "is_active",
            "created_at",
        ]
        read_only_fields = ["created_at"]

    def validate_target_url(self, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise serializers.ValidationError("Give an http:// or https:// URL.")
        try:
            check_subscribed_target(value)
        except TargetRefused as refused:
            raise serializers.ValidationError(str(refused)) from refused
        return value

    def validate_event_types(self, value: list[str]) -> list[str]:
        # Stored in the timeline's order, once each.
        return [status for status in TrackingStatus.values if status in value]

    def validate(self, attrs: dict) -> dict:
        refuse_warehouse_change(self, attrs, "webhook subscription")
        warehouse = attrs.get("warehouse") or getattr(self.instance, "warehouse", None)
        customer_id = attrs.get("customer_id")
        if (
            customer_id is not None
            and not Customer.objects.filter(id=customer_id, warehouse=warehouse).exists()
        ):
            raise serializers.ValidationError({"customer": ["Unknown customer of this warehouse."]})
        return attrs


class WebhookSubscriptionCreatedSerializer(WebhookSubscriptionSerializer):
    secret = serializers.CharField(help_text="Keep it: the receiver verifies signatures with it.")


class WebhookSubscriptionViewSet(ScopedQuerysetMixin, viewsets.ModelViewSet):
    """Webhook subscriptions (managers): where a warehouse's tracking events are sent."""

    serializer_class = WebhookSubscriptionSerializer
    permission_classes = [RolePermission]
    read_roles = (MANAGER,)
    write_roles = (MANAGER,)
    filterset_fields = ["warehouse", "customer", "is_active"]

    model = WebhookSubscription

    def get_scoped_queryset(self):
        return WebhookSubscription.objects.filter(
            warehouse__in=list_warehouses_for(self.request.user)
        ).order_by("id")

    @extend_schema(responses={201: WebhookSubscriptionCreatedSerializer})
    def create(self, request, *args, **kwargs):
        """Subscribe a URL; the answer carries the signing secret (the only time it is shown)."""
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = data.save(created_by=request.user)
        return Response(
            WebhookSubscriptionCreatedSerializer(subscription).data, status=status.HTTP_201_CREATED
        )


# --- the delivery log -----------------------------------------------------------------------


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "attempted_at", "status_code", "error", "duration_ms"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event = serializers.CharField(source="event.status", help_text="The timeline status sent.")
    order_number = serializers.CharField(source="order.number")
    log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "delivery_id",
            "subscription",
            "event",
            "order_number",
            "status",
            "attempts",
            "next_attempt_at",
            "retry_until",
            "last_status_code",
            "last_error",
            "delivered_at",
            "replays",
            "created_at",
            "log",
        ]
        read_only_fields = fields


class WebhookDeliveryViewSet(
    ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The webhook delivery log (managers), with replay by hand."""

    serializer_class = WebhookDeliverySerializer
    permission_classes = [RolePermission]
    read_roles = (MANAGER,)
    write_roles = (MANAGER,)
    filterset_fields = ["subscription", "status"]

    model = WebhookDelivery

    def get_scoped_queryset(self):
        return (
            WebhookDelivery.objects.filter(
                subscription__warehouse__in=list_warehouses_for(self.request.user)
            )
            .select_related("event", "order")
            .prefetch_related("log")
            .order_by("-id")
        )

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        """Send it again, with the same delivery id and body (receivers de-duplicate)."""
        delivery = self.get_object()
        webhooks.replay_delivery(delivery_id=delivery.id, actor=request.user)
        return Response(
            WebhookDeliverySerializer(self.get_queryset().get(id=delivery.id)).data,
            status=status.HTTP_202_ACCEPTED,
        )
