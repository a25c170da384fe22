"""Dock door time slots: opening hours, the next free slot, and the daily assignment rule.

Pure Python over plain values (no queries), so the booking service, the 409 answer with the
next free slot, and the Celery scheduler all use one definition of "free".

Slots lie on a grid per door: they start at the door's `opens_at` and every `slot_minutes`
after it, in the warehouse's local time, and the last one ends no later than `closes_at`.

The daily rule (`plan_day`) is greedy: ASNs in order of expected arrival (then id); each gets
the earliest free slot, on any compatible door, that starts at or after the slot containing
its expected arrival (or the door's opening if it is expected before); ties go to the door
with the lowest code. An ASN for which no door has a free slot that day stays unscheduled.
Greedy by arrival is what a dock planner does by hand, is explainable to a supplier, and is
optimal for the planner's goal of never making an earlier truck wait for a later one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class DoorHours:
    """The scheduling facts of one dock door."""

    door_id: int
    code: str
    opens_at: time
    closes_at: time
    slot_minutes: int

    @property
    def slot(self) -> timedelta:
        return timedelta(minutes=self.slot_minutes)


@dataclass(frozen=True)
class Assignment:
    shipment_id: int
    door_id: int
    starts_at: datetime
    ends_at: datetime


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz)


def day_slots(door: DoorHours, day: date, tz: ZoneInfo) -> list[Interval]:
    """Every grid slot of `door` on the local `day`, as aware datetimes in `tz`."""
    opens = datetime.combine(day, door.opens_at, tzinfo=tz)
    closes = datetime.combine(day, door.closes_at, tzinfo=tz)
    slots = []
    start = opens
    while start + door.slot <= closes:
        slots.append((start, start + door.slot))
        start += door.slot
    return slots


def fits_opening_hours(
    door: DoorHours, starts_at: datetime, ends_at: datetime, tz: ZoneInfo
) -> bool:
    """True if [starts_at, ends_at) lies within one local day's opening hours of `door`."""
    start, end = _local(starts_at, tz), _local(ends_at, tz)
    if start.date() != end.date() and not (end.time() == time(0) and end.date() > start.date()):
        return False
    opens = datetime.combine(start.date(), door.opens_at, tzinfo=tz)
    closes = datetime.combine(start.date(), door.closes_at, tzinfo=tz)
    return opens <= start and end <= closes


def overlaps(interval: Interval, busy: Iterable[Interval]) -> bool:
    start, end = interval
    return any(start < other_end and other_start < end for other_start, other_end in busy)


def first_free_slot(
    door: DoorHours,
    *,
    busy: Sequence[Interval],
    not_before: datetime,
    tz: ZoneInfo,
    days: int = 14,
    same_day_only: bool = False,
) -> Interval | None:
    """The earliest grid slot of `door` starting at or after `not_before` that overlaps no
    interval in `busy`; searches `days` local days ahead (only that day if `same_day_only`)."""
    first_day = _local(not_before, tz).date()
    for offset in range(1 if same_day_only else days):
        for slot in day_slots(door, first_day + timedelta(days=offset), tz):
            if slot[0] >= not_before and not overlaps(slot, busy):
                return slot
    return None


def _slot_floor(door: DoorHours, moment: datetime, tz: ZoneInfo) -> datetime:
    """Start of the grid slot containing `moment`, or the door's opening if before it."""
    local = _local(moment, tz)
    opens = datetime.combine(local.date(), door.opens_at, tzinfo=tz)
    if local <= opens:
        return opens
    steps = (local - opens) // door.slot
    return opens + steps * door.slot


def plan_day(
    *,
    shipments: Sequence[tuple[int, datetime]],
    doors: Sequence[DoorHours],
    busy: dict[int, list[Interval]],
    day: date,
    tz: ZoneInfo,
) -> list[Assignment]:
    """Assign `shipments` ((id, expected arrival)) of local `day` to `doors` by the greedy rule
    in the module docstring. `busy` holds each door's booked intervals; it is not modified."""
    taken = {door.door_id: list(busy.get(door.door_id, [])) for door in doors}
    plan: list[Assignment] = []
    for shipment_id, expected in sorted(shipments, key=lambda item: (item[1], item[0])):
        best: tuple[datetime, str, DoorHours, Interval] | None = None
        for door in doors:
            not_before = max(
                _slot_floor(door, expected, tz), datetime.combine(day, time(0), tzinfo=tz)
            )
            if _local(not_before, tz).date() != day:
                continue
            slot = first_free_slot(
                door, busy=taken[door.door_id], not_before=not_before, tz=tz, same_day_only=True
            )
            if slot is not None and (best is None or (slot[0], door.code) < best[:2]):
                best = (slot[0], door.code, door, slot)
        if best is None:
            continue
        door, slot = best[2], best[3]
        taken[door.door_id].append(slot)
        plan.append(Assignment(shipment_id, door.door_id, slot[0], slot[1]))
    return plan
