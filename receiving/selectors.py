"""Inbound read queries, scoped to the warehouses a user may see and shaped for their callers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Avg, Count, Max, Min, Prefetch, Q, QuerySet

from receiving.models import (
    Discrepancy,
    DockAppointment,
    InboundLine,
    InboundShipment,
    Inspection,
    PutawayTask,
    Receipt,
    ReturnAuthorisation,
    ReturnDiscrepancy,
    ReturnDisposition,
    ReturnLine,
    ReturnReceipt,
)
from warehouse.selectors import list_warehouses_for


def list_shipments(*, user: AbstractBaseUser) -> QuerySet[InboundShipment]:
    """ASNs of the user's warehouses with `line_count`."""
    return (
        InboundShipment.objects.filter(warehouse__in=list_warehouses_for(user))
        .select_related("warehouse", "supplier")
        .annotate(line_count=Count("lines"))
    )


def list_shipments_with_lines(*, user: AbstractBaseUser) -> QuerySet[InboundShipment]:
    """As `list_shipments`, with the lines (and their products) prefetched in one query."""
    lines = InboundLine.objects.select_related("product").order_by("line_number")
    return list_shipments(user=user).prefetch_related(Prefetch("lines", queryset=lines))


def list_appointments(*, user: AbstractBaseUser) -> QuerySet[DockAppointment]:
    return DockAppointment.objects.filter(
        shipment__warehouse__in=list_warehouses_for(user)
    ).select_related("door", "shipment")


def list_receipts(*, user: AbstractBaseUser) -> QuerySet[Receipt]:
    return Receipt.objects.filter(shipment__warehouse__in=list_warehouses_for(user)).select_related(
        "door", "shipment"
    )


def list_discrepancies(*, receipt_id: int) -> QuerySet[Discrepancy]:
    return (
        Discrepancy.objects.filter(receipt_id=receipt_id)
        .select_related("line__product")
        .order_by("line__line_number", "kind")
    )


@dataclass(frozen=True)
class DiscrepancyReport:
    receipt: Receipt
    discrepancies: list[Discrepancy]
    inspections: list[int]
    putaway_tasks: list[int]


def get_discrepancy_report(*, receipt: Receipt) -> DiscrepancyReport:
    """What closing `receipt` found and the work it created."""
    return DiscrepancyReport(
        receipt=receipt,
        discrepancies=list(list_discrepancies(receipt_id=receipt.id)),
        inspections=list(
            Inspection.objects.filter(receipt=receipt).order_by("id").values_list("id", flat=True)
        ),
        putaway_tasks=list(
            PutawayTask.objects.filter(receipt=receipt).order_by("id").values_list("id", flat=True)
        ),
    )


def list_inspections(*, user: AbstractBaseUser) -> QuerySet[Inspection]:
    return Inspection.objects.filter(
        receipt__shipment__warehouse__in=list_warehouses_for(user)
    ).select_related("product", "lot", "location")


def list_putaway_tasks(*, user: AbstractBaseUser) -> QuerySet[PutawayTask]:
    """Putaway tasks of inbound receipts and of restocked returns in the user's warehouses."""
    visible = list_warehouses_for(user)
    return PutawayTask.objects.filter(
        Q(receipt__shipment__warehouse__in=visible) | Q(return_receipt__rma__warehouse__in=visible)
    ).select_related("product", "lot", "from_location", "proposed_location", "confirmed_location")


@dataclass(frozen=True)
class DockToStock:
    tasks: int
    average: timedelta | None
    shortest: timedelta | None
    longest: timedelta | None


def get_dock_to_stock(*, warehouse_id: int, since: datetime, until: datetime) -> DockToStock:
    """Dock-to-stock times of putaway tasks confirmed in [since, until) in one warehouse."""
    stats = PutawayTask.objects.filter(
        receipt__shipment__warehouse_id=warehouse_id,
        status=PutawayTask.Status.DONE,
        confirmed_at__gte=since,
        confirmed_at__lt=until,
        dock_to_stock__isnull=False,
    ).aggregate(
        tasks=Count("id"),
        average=Avg("dock_to_stock"),
        shortest=Min("dock_to_stock"),
        longest=Max("dock_to_stock"),
    )
    return DockToStock(**stats)


# --- customer returns ------------------------------------------------------------------------


def list_returns(*, user: AbstractBaseUser) -> QuerySet[ReturnAuthorisation]:
    """RMAs of the user's warehouses, with their warehouse, order and customer."""
    return ReturnAuthorisation.objects.filter(
        warehouse__in=list_warehouses_for(user)
    ).select_related("warehouse", "order", "customer")


def list_returns_with_lines(*, user: AbstractBaseUser) -> QuerySet[ReturnAuthorisation]:
    """As `list_returns`, with lines and their dispositions prefetched (two queries)."""
    dispositions = ReturnDisposition.objects.select_related(
        "line", "lot", "location", "supplier", "decided_by"
    ).order_by("decided_at", "id")
    lines = (
        ReturnLine.objects.select_related("product", "lot", "order_line")
        .prefetch_related(Prefetch("dispositions", queryset=dispositions))
        .order_by("line_number")
    )
    return list_returns(user=user).prefetch_related(Prefetch("lines", queryset=lines))


def list_return_receipts(*, user: AbstractBaseUser) -> QuerySet[ReturnReceipt]:
    return ReturnReceipt.objects.filter(
        rma__warehouse__in=list_warehouses_for(user)
    ).select_related("rma", "door")


def list_return_discrepancies(*, return_receipt_id: int) -> QuerySet[ReturnDiscrepancy]:
    return (
        ReturnDiscrepancy.objects.filter(receipt_id=return_receipt_id)
        .select_related("line__product", "line__lot")
        .order_by("line__line_number", "kind")
    )
