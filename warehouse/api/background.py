"""How much background work is still waiting: outbox messages not applied yet.

Clients that need the follow-up work of their requests done before they go on (a script
that reads what a task computes, a deployment that drains a worker) poll this instead of
guessing with sleeps.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Exists, Min, OuterRef, Q
from django.utils import timezone
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from config.api.permissions import RolePermission
from warehouse.models import OutboxMessage, ProcessedMessage
from warehouse.roles import MANAGER

# Older messages are published and applied, or purged; this bounds the scan of the table.
LOOK_BACK = dt.timedelta(days=1)


class BackgroundWorkSerializer(serializers.Serializer):
    waiting = serializers.IntegerField(help_text="Messages of the last day not applied yet.")
    unpublished = serializers.IntegerField(help_text="Of those, not handed to the broker yet.")
    oldest_waiting_at = serializers.DateTimeField(allow_null=True)


def get_background_backlog(*, now: dt.datetime | None = None) -> dict:
    """Outbox messages of the last day that no task has applied yet, and how many of them
    the relay has not published."""
    since = (now or timezone.now()) - LOOK_BACK
    waiting = OutboxMessage.objects.filter(created_at__gte=since).filter(
        ~Exists(ProcessedMessage.objects.filter(message_id=OuterRef("id")))
    )
    figures = waiting.aggregate(
        waiting=Count("id"),
        unpublished=Count("id", filter=Q(published_at__isnull=True)),
        oldest_waiting_at=Min("created_at"),
    )
    return figures


class _OneObjectSchema(AutoSchema):
    """The list route answers one object of counts, not a list."""

    def _is_list_view(self, serializer=None) -> bool:
        return False


class BackgroundWorkViewSet(viewsets.GenericViewSet):
    """Background work not done yet (managers)."""

    schema = _OneObjectSchema()
    permission_classes = [RolePermission]
    read_roles = (MANAGER,)
    serializer_class = BackgroundWorkSerializer
    pagination_class = None
    queryset = OutboxMessage.objects.none()  # for the schema: counts, not rows

    @extend_schema(responses={200: BackgroundWorkSerializer})
    def list(self, request):
        """Outbox messages of the last day not applied yet; 0 waiting = every follow-up
        task of the requests before this one has run."""
        return Response(BackgroundWorkSerializer(get_background_backlog()).data)
