"""Waves: plan a group of allocated orders, release it into sequenced pick lists."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from config.api.permissions import has_role
from shipping import pickpath
from shipping.errors import InvalidPicker, NoStagingLocation, NothingToWave
from shipping.models import Allocation, Order, PickList, PickTask, Shipment, Wave
from shipping.services.common import record_event, setting
from shipping.transitions import check_transition
from warehouse.errors import DomainError
from warehouse.models import Location, Zone
from warehouse.roles import PICKER, recorded_user

log = logging.getLogger(__name__)


def default_staging_location(warehouse_id: int) -> Location:
    """The first active location of a staging zone; raises NoStagingLocation if none."""
    location = (
        Location.objects.filter(
            warehouse_id=warehouse_id, zone__kind=Zone.Kind.STAGING, is_active=True
        )
        .order_by("code")
        .first()
    )
    if location is None:
        raise NoStagingLocation("This warehouse has no active location in a staging zone.")
    return location


@transaction.atomic
def plan_wave(
    *,
    warehouse_id: int,
    dispatch_date: dt.date,
    cutoff_at: dt.datetime,
    carrier: str = "",
    order_ids: list[int] | None = None,
    staging_location_id: int | None = None,
    max_lines: int | None = None,
    max_weight_kg: Decimal | None = None,
    max_volume_m3: Decimal | None = None,
    actor=None,
) -> Wave:
    """Group the allocated orders due by `dispatch_date` for `carrier` into a planned wave.

    Takes orders that are allocated (or partially allocated and allowed to ship partially),
    in no other wave, requested on or before `dispatch_date`, with the same carrier (blank =
    own fleet); `order_ids` narrows the choice. Raises NothingToWave (409) when none fit,
    NoStagingLocation (409) when there is nowhere to bring picks.
    """
    if staging_location_id is None:
        staging = default_staging_location(warehouse_id)
    else:
        staging = Location.objects.select_related("zone").get(
            id=staging_location_id, warehouse_id=warehouse_id
        )
        if staging.zone.kind != Zone.Kind.STAGING:
            raise NoStagingLocation(f"{staging.code} is not in a staging zone.")
    eligible = Order.objects.filter(
        warehouse_id=warehouse_id,
        status__in=Order.WAVEABLE,
        wave__isnull=True,
        requested_date__lte=dispatch_date,
        carrier=carrier,
    )
    if order_ids is not None:
        eligible = eligible.filter(id__in=order_ids)
    orders = list(eligible.select_for_update(of=("self",)).order_by("id"))
    if not orders:
        raise NothingToWave(
            f"No allocated order for {dispatch_date} and carrier {carrier or 'own fleet'!r} "
            "is waiting for a wave."
        )
    wave = Wave.objects.create(
        warehouse_id=warehouse_id,
        number=f"W-{timezone.now():%Y%m%d%H%M%S%f}",
        dispatch_date=dispatch_date,
        cutoff_at=cutoff_at,
        carrier=carrier,
        staging_location=staging,
        max_lines_per_list=max_lines or int(setting("PICK_BATCH_MAX_LINES", 20)),
        max_weight_kg_per_list=max_weight_kg or Decimal(setting("PICK_BATCH_MAX_WEIGHT_KG", 250)),
        max_volume_m3_per_list=max_volume_m3 or Decimal(setting("PICK_BATCH_MAX_VOLUME_M3", "1.5")),
        created_by=recorded_user(actor),
    )
    wave.number = f"W{wave.id:06d}"
    wave.save(update_fields=["number"])
    Order.objects.filter(id__in=[o.id for o in orders]).update(wave=wave)
    record_event(
        warehouse_id=warehouse_id,
        kind="wave.planned",
        wave_id=wave.id,
        actor=actor,
        data={"orders": len(orders)},
    )
    return wave


@transaction.atomic
def cancel_wave(*, wave_id: int, actor=None) -> Wave:
    """Cancel a planned wave; its orders wait for the next. Raises InvalidTransition (409)."""
    wave = Wave.objects.select_for_update().get(id=wave_id)
    check_transition("wave", wave.status, Wave.Status.CANCELLED, label=wave.number)
    Order.objects.filter(wave=wave).update(wave=None)
    wave.status = Wave.Status.CANCELLED
    wave.save(update_fields=["status"])
    record_event(
        warehouse_id=wave.warehouse_id, kind="wave.cancelled", wave_id=wave.id, actor=actor
    )
    return wave


def _batches(wave: Wave, allocations: list[Allocation]) -> list[list[Allocation]]:
    """Cut allocations into picker-sized batches, keeping an order's picks together.

    A batch holds at most the wave's max lines, weight and volume; orders go in priority
    order; an order too big for one batch is split across several.
    """
    by_order: dict[int, list[Allocation]] = defaultdict(list)
    for allocation in allocations:
        by_order[allocation.order_line.order_id].append(allocation)
    orders = sorted(
        by_order,
        key=lambda oid: (by_order[oid][0].order_line.order.priority, oid),
    )
    max_lines = wave.max_lines_per_list
    max_weight = wave.max_weight_kg_per_list
    max_volume = wave.max_volume_m3_per_list

    def load(items: list[Allocation]) -> tuple[int, Decimal, Decimal]:
        return (
            len(items),
            sum((a.product.unit_weight_kg * a.quantity for a in items), Decimal(0)),
            sum((a.product.unit_volume_m3 * a.quantity for a in items), Decimal(0)),
        )

    def fits(items: list[Allocation]) -> bool:
        lines, weight, volume = load(items)
        return lines <= max_lines and weight <= max_weight and volume <= max_volume

    batches: list[list[Allocation]] = []
    current: list[Allocation] = []
    for order_id in orders:
        picks = by_order[order_id]
        if current and fits(current + picks):
            current.extend(picks)
            continue
        if current:
            batches.append(current)
            current = []
        for allocation in picks:
            # A single pick heavier than a batch still gets a list of its own.
            if current and not fits([*current, allocation]):
                batches.append(current)
                current = []
            current.append(allocation)
    if current:
        batches.append(current)
    return batches


def _point(location: Location, key) -> pickpath.Point:
    return pickpath.Point(key=key, x=float(location.x), y=float(location.y), aisle=location.aisle)


def build_pick_tasks(
    *, pick_list: PickList, allocations: list[Allocation], first_sequence: int = 1
) -> pickpath.PathResult:
    """Create the pick tasks of `allocations` on `pick_list`, in walking-path order."""
    start = _point(pick_list.staging_location, "start")
    ordered = sorted(allocations, key=lambda a: (a.order_line.order_id, a.order_line.line_number))
    stops = [_point(a.location, index) for index, a in enumerate(ordered)]
    result = pickpath.sequence_picks(
        start, stops, time_limit_ms=int(setting("PICK_PATH_TIME_LIMIT_MS", 100))
    )
    PickTask.objects.bulk_create(
        PickTask(
            pick_list=pick_list,
            allocation=ordered[key],
            order_line=ordered[key].order_line,
            location=ordered[key].location,
            product=ordered[key].product,
            lot_id=ordered[key].lot_id,
            quantity=ordered[key].quantity,
            sequence=first_sequence + position,
        )
        for position, key in enumerate(result.keys)
    )
    return result


@transaction.atomic
def release_wave(*, wave_id: int, actor=None) -> Wave:
    """Release a planned wave: pick lists per batch, tasks in path order, a shipment per order.

    Orders cancelled or de-allocated since planning drop out. Raises InvalidTransition (409)
    unless the wave is planned, NothingToWave (409) if nothing is left to pick.
    """
    wave = Wave.objects.select_for_update().select_related("staging_location").get(id=wave_id)
    check_transition("wave", wave.status, Wave.Status.RELEASED, label=wave.number)
    orders = list(Order.objects.select_for_update(of=("self",)).filter(wave=wave).order_by("id"))
    dropped = [o.id for o in orders if o.status not in Order.WAVEABLE]
    if dropped:
        Order.objects.filter(id__in=dropped).update(wave=None)
    orders = [o for o in orders if o.status in Order.WAVEABLE]
    if not orders:
        raise NothingToWave(f"Wave {wave.number} has no allocated orders left.")
    allocations = list(
        Allocation.objects.filter(order_line__order__in=orders, status=Allocation.Status.RESERVED)
        .select_related("order_line__order", "location", "product")
        .order_by("id")
    )
    for index, batch in enumerate(_batches(wave, allocations), start=1):
        pick_list = PickList.objects.create(
            warehouse_id=wave.warehouse_id,
            wave=wave,
            number=f"{wave.number}-{index:02d}",
            staging_location=wave.staging_location,
        )
        result = build_pick_tasks(pick_list=pick_list, allocations=batch)
        pick_list.path_method = result.method
        pick_list.path_distance_m = Decimal(f"{result.distance:.2f}")
        pick_list.order_line_distance_m = Decimal(f"{result.given_order_distance:.2f}")
        pick_list.save(update_fields=["path_method", "path_distance_m", "order_line_distance_m"])
    departure = wave.cutoff_at + dt.timedelta(
        minutes=int(setting("DEPARTURE_AFTER_CUTOFF_MINUTES", 120))
    )
    shipments = Shipment.objects.bulk_create(
        Shipment(
            warehouse_id=wave.warehouse_id,
            order=order,
            number=f"SH-{order.number}-{wave.number}",
            planned_departure=departure,
        )
        for order in orders
    )
    for order in orders:
        check_transition("order", order.status, Order.Status.RELEASED, label=order.number)
    Order.objects.filter(id__in=[o.id for o in orders]).update(
        status=Order.Status.RELEASED, updated_at=timezone.now()
    )
    wave.status = Wave.Status.RELEASED
    wave.released_at = timezone.now()
    wave.save(update_fields=["status", "released_at"])
    record_event(
        warehouse_id=wave.warehouse_id,
        kind="wave.released",
        wave_id=wave.id,
        actor=actor,
        data={"orders": len(orders), "tasks": len(allocations), "shipments": len(shipments)},
    )
    return wave


def release_due_waves(*, now: dt.datetime | None = None) -> list[int]:
    """Release every planned wave whose cut-off has passed; returns the released wave ids.

    Each wave is its own transaction: one that cannot be released is logged and skipped.
    """
    now = now or timezone.now()
    released = []
    due = Wave.objects.filter(status=Wave.Status.PLANNED, cutoff_at__lte=now).order_by(
        "cutoff_at", "id"
    )
    for wave_id in due.values_list("id", flat=True):
        try:
            release_wave(wave_id=wave_id)
        except DomainError as error:
            log.warning("wave %s not released at cut-off: %s", wave_id, error)
            continue
        released.append(wave_id)
    return released


@transaction.atomic
def assign_pick_list(*, pick_list_id: int, picker_id: int, actor=None) -> PickList:
    """Give a pick list to a picker (a manager's call); reassigning an open one is allowed.

    Raises InvalidPicker (400) for a user who is not a picker of the list's warehouse,
    InvalidTransition (409) when the list is done or cancelled.
    """
    pick_list = PickList.objects.select_for_update().get(id=pick_list_id)
    if pick_list.status not in (PickList.Status.OPEN, PickList.Status.IN_PROGRESS):
        check_transition("pick list", pick_list.status, PickList.Status.IN_PROGRESS)
    picker = get_user_model().objects.filter(id=picker_id, is_active=True).first()
    if (
        picker is None
        or not has_role(picker, PICKER)
        or not (picker.is_superuser or picker.warehouses.filter(id=pick_list.warehouse_id).exists())
    ):
        raise InvalidPicker(f"User {picker_id} is not a picker in this warehouse.")
    previous = pick_list.picker_id
    pick_list.picker = picker
    pick_list.save(update_fields=["picker"])
    record_event(
        warehouse_id=pick_list.warehouse_id,
        kind="pick_list.assigned",
        wave_id=pick_list.wave_id,
        actor=actor,
        data={"pick_list": pick_list.id, "picker": picker.id, "previous": previous},
    )
    return pick_list
