"""Builders for warehouse rows. Plain functions: explicit, with sensible defaults."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal

from warehouse.gs1 import gs1_check_digit
from warehouse.models import DockDoor, Location, Lot, PackSize, Product, Warehouse, Zone

_serial = itertools.count(1)


@dataclass
class Site:
    warehouse: Warehouse
    dock: Location
    quarantine: Location
    staging: Location
    bins: list[Location] = field(default_factory=list)
    chilled_bins: list[Location] = field(default_factory=list)
    doors: list[DockDoor] = field(default_factory=list)
    zones: dict[str, Zone] = field(default_factory=dict)


def make_warehouse(code: str = "AMS", **extra) -> Warehouse:
    defaults = {
        "name": f"Warehouse {code}",
        "time_zone": "Europe/Amsterdam",
        "latitude": Decimal("52.3"),
        "longitude": Decimal("4.9"),
    }
    return Warehouse.objects.create(code=code, **{**defaults, **extra})


def make_site(code: str = "AMS", *, bins: int = 4, chilled_bins: int = 2) -> Site:
    """A warehouse with one location per non-storage zone and a row of storage bins."""
    warehouse = make_warehouse(code)

    def zone(zone_code: str, kind: str, storage_class: str = "ambient") -> Zone:
        return Zone.objects.create(
            warehouse=warehouse,
            code=zone_code,
            name=zone_code.title(),
            kind=kind,
            storage_class=storage_class,
        )

    zones = {
        "dock": zone("dock", Zone.Kind.RECEIVING_DOCK),
        "quarantine": zone("qa", Zone.Kind.QUARANTINE),
        "staging": zone("stage", Zone.Kind.STAGING),
        "storage": zone("store", Zone.Kind.STORAGE),
        "chilled": zone("chill", Zone.Kind.STORAGE, "chilled"),
    }

    def location(zone_key: str, loc_code: str, **extra) -> Location:
        return Location.objects.create(
            warehouse=warehouse, zone=zones[zone_key], code=loc_code, **extra
        )

    site = Site(
        warehouse=warehouse,
        dock=location("dock", "DOCK-1"),
        quarantine=location("quarantine", "QA-1"),
        staging=location("staging", "STAGE-1"),
        zones=zones,
    )
    for bay in range(1, bins + 1):
        site.bins.append(
            location(
                "storage",
                f"A-{bay:02d}-01-1",
                aisle="A",
                bay=bay,
                level=1,
                x=Decimal(bay * 2),
                y=Decimal(10),
                max_weight_kg=Decimal(1000),
                max_volume_m3=Decimal(2),
            )
        )
    for bay in range(1, chilled_bins + 1):
        site.chilled_bins.append(
            location(
                "chilled",
                f"C-{bay:02d}-01-1",
                aisle="C",
                bay=bay,
                level=1,
                x=Decimal(bay * 2),
                y=Decimal(30),
                max_weight_kg=Decimal(500),
                max_volume_m3=Decimal(1),
            )
        )
    site.doors.append(
        DockDoor.objects.create(
            warehouse=warehouse, code="D1", direction=DockDoor.Direction.INBOUND, location=site.dock
        )
    )
    return site


def make_gtin() -> str:
    body = f"0950110{next(_serial):06d}"
    return body + gs1_check_digit(body)


def make_product(sku: str | None = None, *, case: int | None = 12, **extra) -> Product:
    number = next(_serial)
    defaults = {
        "sku": sku or f"SKU-{number:05d}",
        "name": f"Product {number}",
        "gtin": make_gtin(),
        "unit_weight_kg": Decimal("0.5"),
        "unit_volume_m3": Decimal("0.001"),
    }
    product = Product.objects.create(**{**defaults, **extra})
    if case:
        PackSize.objects.create(product=product, name="case", quantity=case)
    return product


def make_lot(product: Product, code: str = "L1", expiry_date=None) -> Lot:
    return Lot.objects.create(product=product, code=code, expiry_date=expiry_date)
