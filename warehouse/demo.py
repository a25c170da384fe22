"""A realistic demo warehouse: layout, catalogue, opening stock and a login per role.

Deterministic (seeded) and idempotent: running it again adds nothing that is already there.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TextIO

from django.contrib.auth.models import Group, User
from django.db import transaction

from warehouse import services
from warehouse.gs1 import gs1_check_digit
from warehouse.models import (
    DockDoor,
    Location,
    Lot,
    PackSize,
    Product,
    StockMove,
    StorageClass,
    Warehouse,
    Zone,
)
from warehouse.roles import ALL_ROLES, MANAGER

DEMO_PASSWORD = "dockside-demo"
WAREHOUSE_CODE = "AMS1"
# GS1 company prefix reserved for the demo catalogue's GTINs.
DEMO_GTIN_PREFIX = "871234"


@dataclass(frozen=True)
class Aisles:
    zone_code: str
    kind: str
    storage_class: str
    letters: str
    bays: int
    levels: int
    y0: int
    max_weight_kg: int
    max_volume_m3: Decimal


# 1,000 bins: 840 ambient storage, 40 ambient pick face, 80 chilled, 40 frozen.
LAYOUT = [
    Aisles("PICK", Zone.Kind.PICK_FACE, StorageClass.AMBIENT, "AB", 20, 1, 10, 300, Decimal("1.0")),
    Aisles(
        "AMB",
        Zone.Kind.STORAGE,
        StorageClass.AMBIENT,
        "CDEFGHJKLMNPQR",
        20,
        3,
        10,
        1000,
        Decimal("2.0"),
    ),
    Aisles("CHL", Zone.Kind.STORAGE, StorageClass.CHILLED, "ST", 20, 2, 10, 800, Decimal("1.6")),
    Aisles("FRZ", Zone.Kind.STORAGE, StorageClass.FROZEN, "U", 20, 2, 10, 800, Decimal("1.6")),
]
AISLE_SPACING_M = 4
BAY_WIDTH_M = Decimal("1.5")


def _gtin(number: int) -> str:
    body = f"0{DEMO_GTIN_PREFIX}{number:06d}"
    return body + gs1_check_digit(body)


def _location(warehouse: Warehouse, zone: Zone, code: str, **fields) -> Location:
    location, _ = Location.objects.get_or_create(
        warehouse=warehouse, code=code, defaults={"zone": zone, **fields}
    )
    return location


def seed_layout(rng: random.Random) -> Warehouse:
    warehouse, _ = Warehouse.objects.get_or_create(
        code=WAREHOUSE_CODE,
        defaults={
            "name": "Amsterdam Distribution Centre",
            "time_zone": "Europe/Amsterdam",
            "address": "Westpoort, Amsterdam, Netherlands (demo site)",
            "latitude": Decimal("52.283150"),
            "longitude": Decimal("4.758960"),
        },
    )

    def zone(code: str, kind: str, storage_class: str = StorageClass.AMBIENT) -> Zone:
        return Zone.objects.get_or_create(
            warehouse=warehouse,
            code=code,
            defaults={"name": code.title(), "kind": kind, "storage_class": storage_class},
        )[0]

    receiving = zone("RECV", Zone.Kind.RECEIVING_DOCK)
    shipping = zone("SHIP", Zone.Kind.SHIPPING_DOCK)
    quarantine = zone("QA", Zone.Kind.QUARANTINE)
    staging = zone("STAGE", Zone.Kind.STAGING)
    for number in range(1, 9):
        direction = DockDoor.Direction.INBOUND if number <= 4 else DockDoor.Direction.OUTBOUND
        if number in (4, 5):
            direction = DockDoor.Direction.BOTH
        dock_zone = receiving if direction != DockDoor.Direction.OUTBOUND else shipping
        floor = _location(warehouse, dock_zone, f"DOOR-{number:02d}", x=number * 6, y=0)
        DockDoor.objects.get_or_create(
            warehouse=warehouse,
            code=f"D{number:02d}",
            defaults={"direction": direction, "location": floor, "slot_minutes": 60},
        )
    for number in range(1, 5):
        _location(warehouse, quarantine, f"QA-{number:02d}", x=60, y=number * 3)
    for number in range(1, 13):
        _location(warehouse, staging, f"LANE-{number:02d}", x=number * 4, y=4)

    aisle_index = 0
    for block in LAYOUT:
        storage = zone(block.zone_code, block.kind, block.storage_class)
        for letter in block.letters:
            aisle_index += 1
            for bay in range(1, block.bays + 1):
                for level in range(1, block.levels + 1):
                    _location(
                        warehouse,
                        storage,
                        f"{letter}-{bay:02d}-{level:02d}-1",
                        aisle=letter,
                        bay=bay,
                        level=level,
                        x=aisle_index * AISLE_SPACING_M,
                        y=block.y0 + BAY_WIDTH_M * bay,
                        max_weight_kg=block.max_weight_kg,
                        max_volume_m3=block.max_volume_m3,
                    )
    return warehouse


# (storage class, how many, lot-tracked, expiry-tracked, shelf life days for customers)
CATALOGUE = [
    (StorageClass.AMBIENT, 330, False, False, 0),
    (StorageClass.AMBIENT, 80, True, True, 90),
    (StorageClass.CHILLED, 70, True, True, 5),
    (StorageClass.FROZEN, 20, True, True, 30),
]
NAMES = {
    StorageClass.AMBIENT: [
        "Pasta",
        "Rice",
        "Coffee",
        "Tea",
        "Detergent",
        "Cereal",
        "Tinned tomatoes",
        "Olive oil",
        "Biscuits",
        "Paper towels",
        "Shampoo",
        "Crisps",
    ],
    StorageClass.CHILLED: ["Yoghurt", "Milk", "Cheese", "Butter", "Salad", "Ham", "Orange juice"],
    StorageClass.FROZEN: ["Ice cream", "Frozen peas", "Fish fingers", "Pizza"],
}


def seed_products(rng: random.Random) -> list[Product]:
    products = []
    number = 0
    for storage_class, count, lot_tracked, expiry_tracked, shelf_life in CATALOGUE:
        for _ in range(count):
            number += 1
            name = rng.choice(NAMES[storage_class])
            size = rng.choice([250, 400, 500, 750, 1000])
            weight = Decimal(size) / 1000 * Decimal("1.1")
            product, created = Product.objects.get_or_create(
                sku=f"SKU-{number:05d}",
                defaults={
                    "gtin": _gtin(number),
                    "name": f"{name} {size} g",
                    "unit_weight_kg": weight.quantize(Decimal("0.001")),
                    "unit_volume_m3": (weight / 800).quantize(Decimal("0.000001")),
                    "storage_class": storage_class,
                    "is_lot_tracked": lot_tracked,
                    "is_expiry_tracked": expiry_tracked,
                    "min_remaining_shelf_life_days": shelf_life,
                },
            )
            if created:
                case = rng.choice([6, 8, 12, 24])
                PackSize.objects.create(
                    product=product, name="case", quantity=case, gtin=_gtin(500_000 + number)
                )
                PackSize.objects.create(product=product, name="pallet", quantity=case * 40)
            products.append(product)
    return products


def seed_opening_stock(warehouse: Warehouse, products: list[Product], rng: random.Random) -> int:
    """Put opening stock in bins through the inventory service, so the ledger explains it."""
    if StockMove.objects.filter(warehouse=warehouse).exists():
        return 0
    bins_by_class: dict[str, list[Location]] = {}
    for location in Location.objects.filter(
        warehouse=warehouse, zone__kind__in=Zone.STOCKING_KINDS
    ).select_related("zone"):
        bins_by_class.setdefault(location.zone.storage_class, []).append(location)
    for candidates in bins_by_class.values():
        rng.shuffle(candidates)
    moves = 0
    today = date.today()
    for product in products:
        candidates = bins_by_class.get(product.storage_class)
        if not candidates or rng.random() < 0.1:  # a few SKUs start out of stock
            continue
        location = candidates.pop()
        lot_id = None
        if product.is_lot_tracked:
            expiry = (
                today + timedelta(days=rng.randint(20, 400)) if product.is_expiry_tracked else None
            )
            lot_id = Lot.objects.get_or_create(
                product=product,
                code=f"L{today:%y%m}{rng.randint(100, 999)}",
                defaults={"expiry_date": expiry},
            )[0].id
        services.receive_stock(
            location_id=location.id,
            product_id=product.id,
            lot_id=lot_id,
            quantity=rng.randint(24, 300),
            reference="opening-stock",
        )
        moves += 1
    return moves


def seed_users(warehouse: Warehouse) -> dict[str, User]:
    people = {}
    for role in ALL_ROLES:
        user, created = User.objects.get_or_create(
            username=role, defaults={"is_staff": role == MANAGER, "first_name": role.title()}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=role))
        warehouse.staff.add(user)
        people[role] = user
    return people


def seed_more_people(warehouse: Warehouse, role: str, count: int) -> list[User]:
    """`count` more logins of `role` (picker01, picker02, ...) with the demo password: a shift
    of pickers working side by side, as the simulator (bench/simulate) needs."""
    people = []
    for number in range(1, count + 1):
        user, created = User.objects.get_or_create(
            username=f"{role}{number:02d}", defaults={"first_name": f"{role.title()} {number}"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=role))
        warehouse.staff.add(user)
        people.append(user)
    return people


@transaction.atomic
def seed(stdout: TextIO, *, seed: int = 7, pickers: int = 0) -> Warehouse:
    rng = random.Random(seed)
    warehouse = seed_layout(rng)
    products = seed_products(rng)
    moves = seed_opening_stock(warehouse, products, rng)
    seed_users(warehouse)
    seed_more_people(warehouse, "picker", pickers)
    bins = Location.objects.filter(warehouse=warehouse, zone__kind__in=Zone.STOCKING_KINDS).count()
    stdout.write(
        f"Warehouse {warehouse.code}: {bins} bins, {len(products)} products, "
        f"{moves} opening stock receipts.\n"
    )
    return warehouse
