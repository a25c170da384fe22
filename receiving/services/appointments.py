"""Dock appointments: booking a door slot, cancelling it, and the daily scheduler."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction

from receiving import scheduling
from receiving.errors import (
    OutsideDoorHours,
    SlotUnavailable,
)
from receiving.models import (
    DockAppointment,
    InboundShipment,
)
from receiving.services.common import (
    Actor,
    Status,
    check_inbound_door,
    event,
    lock_shipment,
    set_shipment_status,
)
from receiving.transitions import check_transition
from warehouse.errors import DomainError
from warehouse.models import (
    DockDoor,
    Warehouse,
)
from warehouse.roles import recorded_user

# --- dock appointments -----------------------------------------------------------------------


def door_hours(door: DockDoor) -> scheduling.DoorHours:
    return scheduling.DoorHours(
        door_id=door.id,
        code=door.code,
        opens_at=door.opens_at,
        closes_at=door.closes_at,
        slot_minutes=door.slot_minutes,
    )


def _busy(door_id: int, *, exclude_shipment_id: int | None = None, since: datetime | None = None):
    booked = DockAppointment.objects.filter(door_id=door_id, status=DockAppointment.Status.BOOKED)
    if exclude_shipment_id is not None:
        booked = booked.exclude(shipment_id=exclude_shipment_id)
    if since is not None:
        booked = booked.filter(ends_at__gt=since)
    return list(booked.values_list("starts_at", "ends_at"))


@transaction.atomic
def book_appointment(
    *,
    shipment_id: int,
    door_id: int,
    starts_at: datetime,
    actor: Actor = None,
    is_automatic: bool = False,
) -> DockAppointment:
    """Book `door` for one slot (the door's slot length) from `starts_at` to unload the ASN.

    Booking again moves the ASN's appointment. Raises DoorNotUsable (outbound, inactive or
    foreign door), OutsideDoorHours, SlotUnavailable (with the next free slot of the door) and
    InvalidTransition for an ASN that has arrived or is cancelled.
    """
    shipment = lock_shipment(shipment_id)
    if shipment.status != Status.SCHEDULED:
        check_transition("ASN", shipment.status, Status.SCHEDULED)
    door = (
        DockDoor.objects.select_for_update(of=("self",), no_key=True)
        .select_related("warehouse")
        .get(id=door_id)
    )
    check_inbound_door(door, shipment.warehouse_id)
    tz = door.warehouse.tzinfo
    hours = door_hours(door)
    ends_at = starts_at + hours.slot
    if not scheduling.fits_opening_hours(hours, starts_at, ends_at, tz):
        raise OutsideDoorHours(
            f"Door {door.code} takes deliveries {door.opens_at:%H:%M}-{door.closes_at:%H:%M} "
            f"({door.warehouse.time_zone}) in {door.slot_minutes}-minute slots; "
            f"{starts_at.astimezone(tz):%Y-%m-%d %H:%M}-{ends_at.astimezone(tz):%H:%M} is outside."
        )
    busy = _busy(door.id, exclude_shipment_id=shipment.id, since=starts_at - timedelta(days=1))
    if scheduling.overlaps((starts_at, ends_at), busy):
        raise _slot_unavailable(door, hours, busy, starts_at, tz)
    DockAppointment.objects.filter(
        shipment_id=shipment.id, status=DockAppointment.Status.BOOKED
    ).update(status=DockAppointment.Status.CANCELLED)
    try:
        with transaction.atomic():
            appointment = DockAppointment.objects.create(
                shipment=shipment,
                door=door,
                starts_at=starts_at,
                ends_at=ends_at,
                booked_by=recorded_user(actor),
                is_automatic=is_automatic,
            )
    except IntegrityError as error:
        # The exclusion constraint caught an overlap the door lock did not (e.g. a row written
        # outside this service).
        raise _slot_unavailable(door, hours, _busy(door.id), starts_at, tz) from error
    if shipment.status != Status.SCHEDULED:
        set_shipment_status(shipment, Status.SCHEDULED)
    event(
        shipment.id,
        "appointment_booked",
        actor,
        door=door.code,
        starts_at=starts_at.isoformat(),
        automatic=is_automatic,
    )
    return appointment


def _slot_unavailable(door, hours, busy, starts_at, tz) -> SlotUnavailable:
    slot = scheduling.first_free_slot(hours, busy=busy, not_before=starts_at, tz=tz)
    zone_name = door.warehouse.time_zone
    offer = (
        f" The next free slot is {slot[0].astimezone(tz):%Y-%m-%d %H:%M} ({zone_name})."
        if slot
        else " No free slot in the next 14 days."
    )
    return SlotUnavailable(
        f"Door {door.code} is already booked for part of that slot.{offer}",
        next_free_slot=slot[0] if slot else None,
    )


@transaction.atomic
def cancel_appointment(*, appointment_id: int, actor: Actor = None) -> DockAppointment:
    """Free a booked slot; the ASN goes back to announced if it was scheduled."""
    appointment = DockAppointment.objects.select_for_update(no_key=True).get(id=appointment_id)
    check_transition("dock appointment", appointment.status, DockAppointment.Status.CANCELLED)
    appointment.status = DockAppointment.Status.CANCELLED
    appointment.save(update_fields=["status"])
    shipment = lock_shipment(appointment.shipment_id)
    if shipment.status == Status.SCHEDULED:
        set_shipment_status(shipment, Status.ANNOUNCED)
    event(shipment.id, "appointment_cancelled", actor, appointment=appointment.id)
    return appointment


def schedule_dock_appointments(*, warehouse_id: int, day: date) -> list[DockAppointment]:
    """Give every announced, unscheduled ASN expected on the warehouse's local `day` a slot.

    Uses the greedy rule of `receiving.scheduling.plan_day`; each booking is its own
    transaction through `book_appointment`, so a slot taken meanwhile by a person only skips
    that ASN. Safe to run twice: scheduled ASNs are not considered again.
    """
    warehouse = Warehouse.objects.get(id=warehouse_id)
    tz = warehouse.tzinfo
    day_start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    day_end = day_start + timedelta(days=1)
    shipments = list(
        InboundShipment.objects.filter(
            warehouse_id=warehouse_id,
            status=Status.ANNOUNCED,
            expected_arrival__gte=day_start,
            expected_arrival__lt=day_end,
        ).values_list("id", "expected_arrival")
    )
    doors = [
        door
        for door in DockDoor.objects.filter(warehouse_id=warehouse_id, is_active=True).order_by(
            "code"
        )
        if door.is_inbound
    ]
    if not shipments or not doors:
        return []
    busy: dict[int, list[scheduling.Interval]] = {door.id: [] for door in doors}
    for door_id, starts_at, ends_at in DockAppointment.objects.filter(
        door__in=doors,
        status=DockAppointment.Status.BOOKED,
        starts_at__lt=day_end,
        ends_at__gt=day_start,
    ).values_list("door_id", "starts_at", "ends_at"):
        busy[door_id].append((starts_at, ends_at))
    plan = scheduling.plan_day(
        shipments=shipments, doors=[door_hours(d) for d in doors], busy=busy, day=day, tz=tz
    )
    booked = []
    for assignment in plan:
        try:
            booked.append(
                book_appointment(
                    shipment_id=assignment.shipment_id,
                    door_id=assignment.door_id,
                    starts_at=assignment.starts_at,
                    is_automatic=True,
                )
            )
        except DomainError:
            continue
    return booked
