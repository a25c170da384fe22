"""Demo delivery fleet for the demo warehouse."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import TextIO

from routing.models import Vehicle
from warehouse.models import Warehouse

# (code, carrier, kg, m3, refrigerated, shift start, shift end)
FLEET = [
    ("VAN-01", "", 1200, 12, False, time(6), time(16)),
    ("VAN-02", "", 1200, 12, False, time(6), time(16)),
    ("VAN-03", "", 1200, 12, False, time(8), time(18)),
    ("VAN-04", "", 1200, 12, False, time(8), time(18)),
    ("TRUCK-01", "", 7500, 40, False, time(5), time(15)),
    ("TRUCK-02", "", 7500, 40, False, time(5), time(15)),
    ("REEFER-01", "", 3500, 20, True, time(5), time(15)),
    ("REEFER-02", "", 3500, 20, True, time(7), time(17)),
]


def seed(*, warehouse: Warehouse, stdout: TextIO) -> None:
    created = 0
    for code, carrier, kg, m3, cold, start, end in FLEET:
        _, was_created = Vehicle.objects.get_or_create(
            warehouse=warehouse,
            code=code,
            defaults={
                "carrier": carrier,
                "capacity_weight_kg": Decimal(kg),
                "capacity_volume_m3": Decimal(m3),
                "is_refrigerated": cold,
                "shift_start": start,
                "shift_end": end,
                "max_route_minutes": 9 * 60,
                "average_speed_kmh": Decimal(35 if kg < 2000 else 30),
                "fixed_cost": Decimal(60 if kg < 2000 else 120),
                "cost_per_km": Decimal("0.45") if kg < 2000 else Decimal("0.90"),
            },
        )
        created += was_created
    stdout.write(f"Fleet: {len(FLEET)} vehicles ({created} new).\n")
