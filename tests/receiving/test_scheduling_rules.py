"""The pure slot arithmetic of `receiving.scheduling` (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from receiving.sampling import sample_size
from receiving.scheduling import DoorHours, first_free_slot, fits_opening_hours, plan_day

AMS = ZoneInfo("Europe/Amsterdam")
DOOR = DoorHours(door_id=1, code="D1", opens_at=time(6), closes_at=time(10), slot_minutes=60)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=AMS)


def test_opening_hours_are_local_time_across_daylight_saving():
    summer, winter = date(2026, 7, 1), date(2026, 12, 1)
    assert fits_opening_hours(DOOR, at(summer, 6), at(summer, 7), AMS)
    # 06:00 in Amsterdam is 04:00 UTC in summer and 05:00 UTC in winter.
    assert fits_opening_hours(
        DOOR, datetime(2026, 7, 1, 4, tzinfo=UTC), datetime(2026, 7, 1, 5, tzinfo=UTC), AMS
    )
    assert not fits_opening_hours(
        DOOR, datetime(2026, 12, 1, 4, tzinfo=UTC), datetime(2026, 12, 1, 5, tzinfo=UTC), AMS
    )
    assert not fits_opening_hours(DOOR, at(winter, 9, 30), at(winter, 10, 30), AMS)


def test_first_free_slot_skips_busy_slots_and_closed_hours():
    day = date(2026, 12, 1)
    busy = [(at(day, 6), at(day, 7)), (at(day, 7, 30), at(day, 8, 30))]
    # 07:00-08:00 overlaps the 07:30 booking, 08:00-09:00 too; 09:00 is free.
    assert first_free_slot(DOOR, busy=busy, not_before=at(day, 6), tz=AMS)[0] == at(day, 9)
    full = [(at(day, 6), at(day, 10))]
    assert first_free_slot(DOOR, busy=full, not_before=at(day, 6), tz=AMS)[0] == at(
        day + timedelta(days=1), 6
    )
    assert (
        first_free_slot(DOOR, busy=full, not_before=at(day, 6), tz=AMS, same_day_only=True) is None
    )


def test_plan_day_is_greedy_by_arrival_and_leaves_overflow_unscheduled():
    day = date(2026, 12, 1)
    second = DoorHours(door_id=2, code="D2", opens_at=time(8), closes_at=time(10), slot_minutes=60)
    shipments = [(10 + n, at(day, 5)) for n in range(7)]
    plan = plan_day(shipments=shipments, doors=[DOOR, second], busy={}, day=day, tz=AMS)
    assert [(a.shipment_id, a.door_id, a.starts_at.hour) for a in plan] == [
        (10, 1, 6),
        (11, 1, 7),
        (12, 1, 8),
        (13, 2, 8),
        (14, 1, 9),
        (15, 2, 9),
    ]  # ASN 16 does not fit the day


def test_sample_sizes_follow_the_table():
    assert [sample_size(n) for n in (1, 2, 8, 9, 30, 500, 501, 10_000, 10**6)] == [
        1,
        2,
        2,
        3,
        8,
        50,
        80,
        200,
        1250,
    ]
