"""Admin for tracking and webhooks: the timeline (read-only), subscriptions, and the delivery
log with its attempts and a replay action. Imported by shipping/admin.py."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet

from shipping.models import (
    Tracking,
    TrackingEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from shipping.services import webhooks
from shipping.services.tracking import tracking_url
from shipping.webhook_targets import TargetRefused, check_subscribed_target
from warehouse.admin import ReadOnlyAdmin
from warehouse.selectors import list_warehouses_for


@admin.register(TrackingEvent)
class TrackingEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "order", "status", "reason", "shipment", "eta_start", "actor"]
    list_filter = ["status", "reason"]
    search_fields = ["order__number", "shipment__number"]
    list_select_related = ["order", "shipment", "actor"]
    date_hierarchy = "occurred_at"

    def get_queryset(self, request) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .filter(order__warehouse__in=list_warehouses_for(request.user))
        )


@admin.register(Tracking)
class TrackingAdmin(ReadOnlyAdmin):
    list_display = ["order", "link", "eta_start", "eta_end", "created_at"]
    search_fields = ["order__number"]
    list_select_related = ["order"]
    exclude = ["token", "token_digest"]
    readonly_fields = ["order", "link", "eta_start", "eta_end", "created_at"]

    @admin.display(description="Tracking link")
    def link(self, obj: Tracking) -> str:
        return tracking_url(obj.token)

    def get_queryset(self, request) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .filter(order__warehouse__in=list_warehouses_for(request.user))
        )


class WebhookSubscriptionForm(forms.ModelForm):
    target_url = forms.URLField(max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookSubscription
        fields = [
            "warehouse",
            "customer",
            "event_types",
            "target_url",
            "secret",
            "description",
            "is_active",
        ]

    def clean_target_url(self) -> str:
        url = self.cleaned_data["target_url"]
        try:
            check_subscribed_target(url)
        except TargetRefused as refused:
            raise forms.ValidationError(str(refused)) from refused
        return url


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ["id", "warehouse", "customer", "target_url", "is_active", "created_at"]
    list_filter = ["warehouse", "is_active"]
    search_fields = ["target_url", "description", "customer__code"]
    list_select_related = ["warehouse", "customer"]
    raw_id_fields = ["customer"]
    readonly_fields = ["created_by", "created_at"]

    def get_queryset(self, request) -> QuerySet:
        return super().get_queryset(request).filter(warehouse__in=list_warehouses_for(request.user))

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["number", "attempted_at", "status_code", "error", "duration_ms"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "delivery_id",
        "subscription",
        "order",
        "event",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "subscription__warehouse"]
    search_fields = ["delivery_id", "order__number", "subscription__target_url"]
    list_select_related = ["subscription", "order", "event"]
    inlines = [WebhookAttemptInline]
    actions = ["replay"]
    date_hierarchy = "created_at"

    def get_queryset(self, request) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .filter(subscription__warehouse__in=list_warehouses_for(request.user))
        )

    @admin.action(description="Replay selected deliveries (same delivery id)")
    def replay(self, request, queryset) -> None:
        count = 0
        for delivery in queryset.order_by("id"):
            webhooks.replay_delivery(delivery_id=delivery.id, actor=request.user)
            count += 1
        self.message_user(request, f"Replaying {count} delivery(ies).", messages.SUCCESS)
