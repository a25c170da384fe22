"""Read queries of the outbound side, shaped for their callers (pages, API, KPIs)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Prefetch, Q, QuerySet, Sum

from config.api.permissions import has_role
from shipping.models import (
    Customer,
    Delivery,
    Order,
    OrderLine,
    PickList,
    PickTask,
    Shipment,
    Wave,
)
from warehouse.roles import DISPATCHER, MANAGER
from warehouse.selectors import list_warehouses_for


def list_customers(*, user: AbstractBaseUser) -> QuerySet[Customer]:
    return Customer.objects.filter(warehouse__in=list_warehouses_for(user)).order_by("code")


def list_orders(*, user: AbstractBaseUser) -> QuerySet[Order]:
    """Orders of the user's warehouses with customer and lines loaded (3 queries a page)."""
    return (
        Order.objects.filter(warehouse__in=list_warehouses_for(user))
        .select_related("customer")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.select_related("product")))
        .order_by("-id")
    )


def list_waves(*, user: AbstractBaseUser) -> QuerySet[Wave]:
    return (
        Wave.objects.filter(warehouse__in=list_warehouses_for(user))
        .annotate(order_count=Count("orders"))
        .order_by("-cutoff_at", "-id")
    )


def _tasks() -> QuerySet[PickTask]:
    return PickTask.objects.select_related("location", "product", "lot", "order_line__order")


def list_pick_lists(*, user: AbstractBaseUser) -> QuerySet[PickList]:
    """Pick lists the user may see: a picker only their own; dispatchers and managers all."""
    lists = (
        PickList.objects.filter(warehouse__in=list_warehouses_for(user))
        .select_related("picker")
        .prefetch_related(Prefetch("tasks", queryset=_tasks().order_by("sequence")))
        .order_by("-id")
    )
    if not has_role(user, MANAGER, DISPATCHER):
        lists = lists.filter(picker=user)
    return lists


def list_open_pick_lists_for_picker(*, user: AbstractBaseUser) -> QuerySet[PickList]:
    """The picker's own open or started lists with task counts, oldest first."""
    return (
        PickList.objects.filter(
            picker=user, status__in=[PickList.Status.OPEN, PickList.Status.IN_PROGRESS]
        )
        .select_related("wave", "staging_location")
        .annotate(
            task_count=Count("tasks", filter=~Q(tasks__status=PickTask.Status.CANCELLED)),
            open_count=Count("tasks", filter=Q(tasks__status=PickTask.Status.OPEN)),
        )
        .order_by("wave__cutoff_at", "id")
    )


def list_pick_tasks(*, user: AbstractBaseUser) -> QuerySet[PickTask]:
    tasks = _tasks().filter(pick_list__warehouse__in=list_warehouses_for(user))
    if not has_role(user, MANAGER, DISPATCHER):
        tasks = tasks.filter(pick_list__picker=user)
    return tasks.order_by("pick_list_id", "sequence")


@dataclass(frozen=True)
class PickProgress:
    current: PickTask | None
    done: int
    total: int

    @property
    def position(self) -> int:
        """1-based number of the task in hand ("3 of 7")."""
        return min(self.done + 1, self.total)


def get_pick_progress(*, pick_list: PickList) -> PickProgress:
    """The next open task in path order and how far the list has got."""
    tasks = list(
        _tasks()
        .filter(pick_list=pick_list)
        .exclude(status=PickTask.Status.CANCELLED)
        .order_by("sequence")
    )
    current = next((t for t in tasks if t.status == PickTask.Status.OPEN), None)
    done = sum(1 for t in tasks if t.status != PickTask.Status.OPEN)
    return PickProgress(current=current, done=done, total=len(tasks))


def list_shipments(*, user: AbstractBaseUser) -> QuerySet[Shipment]:
    return (
        Shipment.objects.filter(warehouse__in=list_warehouses_for(user))
        .select_related("order", "delivery")
        .prefetch_related("packages", "delivery__lines")
        .order_by("planned_departure", "load_sequence", "id")
    )


def get_packing_slip(*, shipment_id: int, user: AbstractBaseUser) -> Shipment:
    return (
        Shipment.objects.filter(warehouse__in=list_warehouses_for(user))
        .select_related("order__customer", "warehouse", "staging_lane", "outbound_door")
        .prefetch_related(
            "packages",
            Prefetch("order__lines", queryset=OrderLine.objects.select_related("product")),
        )
        .get(id=shipment_id)
    )


@dataclass(frozen=True)
class OutboundKpis:
    deliveries: int
    on_time: float | None
    in_full: float | None
    on_time_in_full: float | None
    fill_rate: float | None
    pick_tasks: int
    pick_accuracy: float | None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def get_outbound_kpis(
    *, user: AbstractBaseUser, since: dt.datetime, until: dt.datetime
) -> OutboundKpis:
    """OTD, in-full, OTIF, fill rate and pick accuracy for deliveries/picks in [since, until).

    Fill rate = units delivered / units ordered on the delivered orders. Pick accuracy =
    finished tasks picked complete with no wrong bin or item scan / finished tasks.
    """
    visible = list_warehouses_for(user)
    deliveries = Delivery.objects.filter(
        shipment__warehouse__in=visible, delivered_at__gte=since, delivered_at__lt=until
    )
    counts = deliveries.aggregate(
        total=Count("id"),
        on_time=Count("id", filter=Q(is_on_time=True)),
        in_full=Count("id", filter=Q(is_in_full=True)),
        otif=Count("id", filter=Q(is_on_time=True, is_in_full=True)),
        delivered=Sum("lines__quantity_delivered"),
    )
    ordered = OrderLine.objects.filter(order__shipments__delivery__in=deliveries).aggregate(
        total=Sum("quantity")
    )["total"]
    tasks = PickTask.objects.filter(
        pick_list__warehouse__in=visible,
        picked_at__gte=since,
        picked_at__lt=until,
        status__in=[PickTask.Status.PICKED, PickTask.Status.SHORT],
    ).aggregate(
        total=Count("id"),
        accurate=Count(
            "id",
            filter=Q(status=PickTask.Status.PICKED, wrong_bin_scans=0, wrong_item_scans=0),
        ),
    )
    return OutboundKpis(
        deliveries=counts["total"],
        on_time=_share(counts["on_time"], counts["total"]),
        in_full=_share(counts["in_full"], counts["total"]),
        on_time_in_full=_share(counts["otif"], counts["total"]),
        fill_rate=_share(counts["delivered"] or 0, ordered or 0),
        pick_tasks=tasks["total"],
        pick_accuracy=_share(tasks["accurate"], tasks["total"]),
    )
