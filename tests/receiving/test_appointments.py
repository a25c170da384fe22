"""Dock appointments: no overlaps on a door, door hours and direction, the daily scheduler."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from receiving import services
from receiving.models import DockAppointment, InboundShipment
from receiving.tasks import schedule_dock_appointments_task
from tests.conftest import client_for
from tests.factories import receiving as rf
from warehouse.models import DockDoor


def book(client, shipment, door, starts_at):
    return client.post(
        "/api/v1/dock-appointments/",
        {"shipment": shipment.id, "door": door.id, "starts_at": starts_at.isoformat()},
    )


@pytest.mark.django_db
def test_overlapping_booking_is_409_with_next_free_slot(site, product, api, supplier, tomorrow):
    door = site.doors[0]  # 06:00-22:00, 60-minute slots
    first, second = (
        rf.make_shipment(site, [{"product": product, "quantity": 1}], supplier=supplier)
        for _ in range(2)
    )
    assert book(api["dock"], first, door, rf.local(site, tomorrow, 10)).status_code == 201
    # 10:00-11:00 is taken; 11:00 is booked too, so the next free slot is 12:00.
    third = rf.make_shipment(site, [{"product": product, "quantity": 1}], supplier=supplier)
    assert book(api["dock"], third, door, rf.local(site, tomorrow, 11)).status_code == 201

    refused = book(api["dock"], second, door, rf.local(site, tomorrow, 10, 30))
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "slot-unavailable"
    assert refused["Content-Type"] == "application/problem+json"
    offered = datetime.fromisoformat(body["next_free_slot"])
    assert offered == rf.local(site, tomorrow, 12)
    assert "12:00" in body["detail"]
    assert InboundShipment.objects.get(id=second.id).status == "announced"

    # Taking the offered slot works.
    assert book(api["dock"], second, door, offered).status_code == 201
    assert InboundShipment.objects.get(id=second.id).status == "scheduled"


@pytest.mark.django_db
def test_rebooking_moves_the_appointment_and_cancel_frees_it(
    site, product, api, supplier, tomorrow
):
    door = site.doors[0]
    shipment = rf.make_shipment(site, [{"product": product, "quantity": 1}], supplier=supplier)
    assert book(api["dock"], shipment, door, rf.local(site, tomorrow, 8)).status_code == 201
    moved = book(api["dock"], shipment, door, rf.local(site, tomorrow, 9))
    assert moved.status_code == 201
    assert DockAppointment.objects.filter(shipment=shipment, status="booked").count() == 1
    cancelled = api["dock"].post(f"/api/v1/dock-appointments/{moved.json()['id']}/cancel/")
    assert cancelled.status_code == 200
    assert InboundShipment.objects.get(id=shipment.id).status == "announced"
    other = rf.make_shipment(site, [{"product": product, "quantity": 1}], supplier=supplier)
    assert book(api["dock"], other, door, rf.local(site, tomorrow, 9)).status_code == 201


@pytest.mark.django_db
def test_door_hours_and_direction(site, product, api, supplier, tomorrow):
    shipment = rf.make_shipment(site, [{"product": product, "quantity": 1}], supplier=supplier)
    door = site.doors[0]
    early = book(api["dock"], shipment, door, rf.local(site, tomorrow, 5))
    assert early.status_code == 409
    assert early.json()["code"] == "outside-door-hours"
    late = book(api["dock"], shipment, door, rf.local(site, tomorrow, 21, 30))  # ends 22:30
    assert late.json()["code"] == "outside-door-hours"
    # Hours are the warehouse's local time: 05:00 UTC is 06:00 in Amsterdam in winter.
    utc_five = datetime.combine(tomorrow, time(5), tzinfo=UTC)
    assert utc_five.astimezone(site.warehouse.tzinfo).hour == 6
    assert book(api["dock"], shipment, door, utc_five).status_code == 201

    outbound = DockDoor.objects.create(
        warehouse=site.warehouse, code="OUT1", direction="outbound", location=site.staging
    )
    other = rf.make_shipment(site, [{"product": product, "quantity": 1}], supplier=supplier)
    refused = book(api["dock"], other, outbound, rf.local(site, tomorrow, 10))
    assert refused.status_code == 409
    assert refused.json()["code"] == "door-not-usable"
    both = DockDoor.objects.create(
        warehouse=site.warehouse, code="BOTH", direction="both", location=site.dock
    )
    assert book(api["dock"], other, both, rf.local(site, tomorrow, 10)).status_code == 201


@pytest.mark.django_db
def test_roles_for_booking(site, product, api, supplier, tomorrow):
    shipment = rf.make_shipment(site, [{"product": product, "quantity": 1}], supplier=supplier)
    for role in ("picker", "inspector", "dispatcher"):
        response = book(api[role], shipment, site.doors[0], rf.local(site, tomorrow, 10))
        assert response.status_code == 403
    assert not DockAppointment.objects.exists()


@pytest.mark.django_db
def test_database_refuses_overlap_even_without_the_service(site, product, supplier, tomorrow):
    a, b = (
        rf.make_shipment(site, [{"product": product, "quantity": 1}], supplier=supplier)
        for _ in range(2)
    )
    start = rf.local(site, tomorrow, 10)
    door = site.doors[0]
    DockAppointment.objects.create(
        shipment=a, door=door, starts_at=start, ends_at=start + timedelta(hours=1)
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        DockAppointment.objects.create(
            shipment=b,
            door=door,
            starts_at=start + timedelta(minutes=30),
            ends_at=start + timedelta(minutes=90),
        )
    # Back to back is not an overlap (half-open ranges), and cancelled rows don't count.
    DockAppointment.objects.create(
        shipment=b,
        door=door,
        starts_at=start + timedelta(hours=1),
        ends_at=start + timedelta(hours=2),
    )


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_for_one_slot(site, product, users, supplier, tomorrow):
    shipments = [
        rf.make_shipment(site, [{"product": product, "quantity": 1}], supplier=supplier)
        for _ in range(2)
    ]
    clients = [client_for(users["dock"]) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list = [None, None]
    start = rf.local(site, tomorrow, 14)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = book(clients[index], shipments[index], site.doors[0], start)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.status_code for r in results) == [201, 409]
    refused = next(r for r in results if r.status_code == 409)
    assert datetime.fromisoformat(refused.json()["next_free_slot"]) == rf.local(site, tomorrow, 15)
    assert DockAppointment.objects.filter(status="booked").count() == 1


@pytest.mark.django_db
def test_scheduler_assigns_a_day_without_overlaps(site, product, supplier, tomorrow):
    door_b = DockDoor.objects.create(
        warehouse=site.warehouse,
        code="D2",
        direction="both",
        location=site.dock,
        opens_at=time(8),
        closes_at=time(12),
        slot_minutes=30,
    )
    DockDoor.objects.create(
        warehouse=site.warehouse, code="D0", direction="outbound", location=site.staging
    )
    # Eight trucks all expected at 09:00 local, one expected the day after (not scheduled).
    shipments = [
        rf.make_shipment(
            site,
            [{"product": product, "quantity": 1}],
            supplier=supplier,
            expected_arrival=rf.local(site, tomorrow, 9),
        )
        for _ in range(8)
    ]
    later = rf.make_shipment(
        site,
        [{"product": product, "quantity": 1}],
        supplier=supplier,
        expected_arrival=rf.local(site, tomorrow + timedelta(days=1), 9),
    )
    # A slot someone booked by hand stays respected.
    manual = rf.make_shipment(site, [{"product": product, "quantity": 1}], supplier=supplier)
    services.book_appointment(
        shipment_id=manual.id, door_id=door_b.id, starts_at=rf.local(site, tomorrow, 9)
    )

    booked_ids = schedule_dock_appointments_task.delay(
        site.warehouse.id, tomorrow.isoformat()
    ).get()

    assert len(booked_ids) == 8
    booked = list(DockAppointment.objects.filter(status="booked").select_related("door"))
    assert {a.door.code for a in booked} == {"D1", "D2"}
    by_door: dict[int, list] = {}
    for appointment in booked:
        by_door.setdefault(appointment.door_id, []).append(appointment)
        local_start = appointment.starts_at.astimezone(site.warehouse.tzinfo)
        local_end = appointment.ends_at.astimezone(site.warehouse.tzinfo)
        door = appointment.door
        assert door.opens_at <= local_start.time() and local_end.time() <= door.closes_at
        assert local_start.date() == tomorrow
        assert local_start.time() >= time(9), "no truck is given a slot before it is expected"
    for appointments in by_door.values():
        appointments.sort(key=lambda a: a.starts_at)
        for before, after in itertools.pairwise(appointments):
            assert before.ends_at <= after.starts_at
    assert set(
        InboundShipment.objects.filter(id__in=[s.id for s in shipments]).values_list(
            "status", flat=True
        )
    ) == {"scheduled"}
    assert InboundShipment.objects.get(id=later.id).status == "announced"
    # Greedy by arrival: D1 gets 09:00, D2 09:30 (09:00 is taken by hand), then 10:00 on both...
    starts = sorted(
        (a.starts_at.astimezone(site.warehouse.tzinfo).strftime("%H:%M"), a.door.code)
        for a in booked
        if a.shipment_id != manual.id
    )
    assert starts[:4] == [("09:00", "D1"), ("09:30", "D2"), ("10:00", "D1"), ("10:00", "D2")]
    # Running it again books nothing new.
    assert (
        schedule_dock_appointments_task.delay(site.warehouse.id, tomorrow.isoformat()).get() == []
    )
