"""Inbound demo history: two received ASNs a day with their receipts (closed, with their
discrepancies) and putaways (confirmed), for the inbound KPIs of the demo.

Bulk-inserted as `close_receipt` and `confirm_putaway` leave them; stock is not touched (it was
put away long ago), so the ledger still reconciles. Called by `shipping.demo_history`, which
computes the KPIs afterwards.
"""

from __future__ import annotations

import datetime as dt
import random

from django.contrib.auth import get_user_model

from receiving.models import (
    Discrepancy,
    InboundLine,
    InboundShipment,
    PutawayTask,
    Receipt,
    Supplier,
)
from warehouse.models import DockDoor, StockBalance, StockStatus, Warehouse, Zone

PREFIX = "HIST-"
CARRIERS = ("DHL Freight", "DB Schenker", "")


def _at(warehouse: Warehouse, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=warehouse.tzinfo)


def write_inbound_history(*, warehouse: Warehouse, first: dt.date, today: dt.date) -> int:
    """Two received ASNs for each day from `first` to the day before `today`; returns how many.

    Nothing is written without suppliers, an inbound door or stocked bins."""
    rng = random.Random(13)
    doors = list(
        DockDoor.objects.filter(warehouse=warehouse, location__isnull=False)
        .exclude(direction=DockDoor.Direction.OUTBOUND)
        .order_by("code")
    )
    suppliers = list(Supplier.objects.order_by("code")[:5])
    balances = list(
        StockBalance.objects.filter(
            location__warehouse=warehouse,
            location__zone__kind__in=Zone.STOCKING_KINDS,
            status=StockStatus.AVAILABLE,
        ).order_by("id")[:150]
    )
    if not (doors and suppliers and len(balances) >= 5):
        return 0
    bins = [balance.location_id for balance in balances]
    worker = get_user_model().objects.filter(username="dock").first()
    made = 0
    day = first
    while day < today:
        for number in (1, 2):
            arrived = _at(warehouse, day, 6 + 3 * number, rng.randint(0, 50))
            asn = InboundShipment.objects.create(
                warehouse=warehouse,
                supplier=suppliers[(day.toordinal() + number) % len(suppliers)],
                reference=f"{PREFIX}ASN-{day:%Y%m%d}-{number}",
                carrier=rng.choice(CARRIERS),
                expected_arrival=arrived - dt.timedelta(minutes=rng.randint(-30, 30)),
                status=InboundShipment.Status.CLOSED,
                arrived_at=arrived,
            )
            door = doors[number % len(doors)]
            closed_at = arrived + dt.timedelta(minutes=rng.randint(40, 120))
            receipt = Receipt.objects.create(
                shipment=asn,
                door=door,
                status=Receipt.Status.CLOSED,
                closed_at=closed_at,
            )
            lines, discrepancies, putaways = [], [], []
            for line_number, balance in enumerate(rng.sample(balances, 5), start=1):
                expected = rng.randint(2, 10) * 12
                draw = rng.random()
                received = expected - rng.randint(1, 12) if draw < 0.06 else expected
                damaged = rng.randint(1, 3) if 0.06 <= draw < 0.1 else 0
                line = InboundLine(
                    shipment=asn,
                    line_number=line_number,
                    product_id=balance.product_id,
                    expected_quantity=expected,
                    received_quantity=received,
                    damaged_quantity=damaged,
                )
                lines.append(line)
                # As close_receipt records them: short lines, damaged units.
                found = []
                if received < expected:
                    found.append((Discrepancy.Kind.SHORT, received - expected))
                if damaged:
                    found.append((Discrepancy.Kind.DAMAGED, damaged))
                discrepancies += [
                    Discrepancy(
                        receipt=receipt,
                        line=line,
                        kind=kind,
                        expected_quantity=expected,
                        received_quantity=received,
                        difference=difference,
                    )
                    for kind, difference in found
                ]
                confirmed = closed_at + dt.timedelta(minutes=rng.randint(15, 240))
                putaways.append(
                    PutawayTask(
                        receipt=receipt,
                        product_id=balance.product_id,
                        quantity=received - damaged,
                        from_location_id=door.location_id,
                        proposed_location_id=rng.choice(bins),
                        confirmed_location_id=balance.location_id,
                        status=PutawayTask.Status.DONE,
                        confirmed_by=worker,
                        confirmed_at=confirmed,
                        dock_to_stock=confirmed - arrived,
                    )
                )
            InboundLine.objects.bulk_create(lines)
            Discrepancy.objects.bulk_create(discrepancies)
            PutawayTask.objects.bulk_create(putaways)
            made += 1
        day += dt.timedelta(days=1)
    return made
