"""Ask for the KPIs of some days to be computed now, instead of waiting for beat.

Beat recomputes today's and yesterday's snapshots every 15 minutes and produces yesterday's
on-time-delivery report each morning; a manager who corrected older deliveries, or a client
that played a whole day (bench/simulate), queues the same work for the days it names.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from config.api.permissions import RolePermission
from config.api.scoping import VisibleWarehouseField
from shipping.models import KpiReport
from warehouse.outbox import enqueue
from warehouse.roles import MANAGER

# The nightly task recomputes a week; a manager's request may reach back a month at once.
MAX_DAYS = 31
EARLIEST = dt.date(2000, 1, 1)


class KpiRunInput(serializers.Serializer):
    warehouse = VisibleWarehouseField(help_text="Warehouse code.")
    date_from = serializers.DateField(help_text="First local day to recompute.")
    date_to = serializers.DateField(help_text="Last local day to recompute (inclusive).")
    report = serializers.BooleanField(
        default=True, help_text="Also produce each day's on-time-delivery report."
    )

    def validate(self, attrs: dict) -> dict:
        # Days outside these have no deliveries, and far ones overflow local-time arithmetic.
        for name in ("date_from", "date_to"):
            if not EARLIEST <= attrs[name] <= dt.date.today() + dt.timedelta(days=366):
                raise serializers.ValidationError({name: ["Choose a day from 2000 to next year."]})
        days = (attrs["date_to"] - attrs["date_from"]).days + 1
        if days < 1:
            raise serializers.ValidationError({"date_to": ["The last day is before the first."]})
        if days > MAX_DAYS:
            raise serializers.ValidationError({"date_to": [f"At most {MAX_DAYS} days at once."]})
        return attrs


class KpiRunSerializer(serializers.Serializer):
    warehouse = serializers.CharField()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    reports = serializers.ListField(child=serializers.DateField())


class KpiRunViewSet(viewsets.GenericViewSet):
    """Recompute the KPI snapshots of a warehouse's days (and their reports) in the background."""

    permission_classes = [RolePermission]
    read_roles = (MANAGER,)
    write_roles = (MANAGER,)
    serializer_class = KpiRunInput
    pagination_class = None
    queryset = KpiReport.objects.none()  # for the schema: a run is queued work, not a row

    @extend_schema(request=KpiRunInput, responses={202: KpiRunSerializer})
    def create(self, request):
        """Queue the recompute (and the reports) after this request commits; 202 at once.

        The snapshots appear on the KPI dashboard (/admin/kpis/) when the worker has run it."""
        data = KpiRunInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        warehouse, first, last = values["warehouse"], values["date_from"], values["date_to"]
        days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
        reports = days if values["report"] else []
        with transaction.atomic():
            enqueue(
                "shipping.tasks.recompute_kpis_task",
                warehouse.id,
                first.isoformat(),
                last.isoformat(),
            )
            for day in reports:
                enqueue("shipping.tasks.produce_otd_report_task", warehouse.id, day.isoformat())
        body = {
            "warehouse": warehouse.code,
            "date_from": first,
            "date_to": last,
            "reports": reports,
        }
        return Response(KpiRunSerializer(body).data, status=status.HTTP_202_ACCEPTED)
