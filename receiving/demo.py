"""Inbound demo data: suppliers, an inspection rule, and tomorrow's ASNs with dock slots.

Idempotent: suppliers and rules are matched by code/product, ASNs by reference, and the
scheduler only books ASNs that have no slot yet.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from django.utils import timezone

from receiving import services
from receiving.models import InboundShipment, InspectionRule, Supplier
from warehouse.gs1 import make_sscc
from warehouse.models import Product, Warehouse

SUPPLIERS = (
    ("nordic-foods", "Nordic Foods BV", False),
    ("alpine-dairy", "Alpine Dairy AG", True),  # new supplier: everything is inspected
    ("hanse-goods", "Hanse Household Goods GmbH", False),
)
ASN_COUNT = 6
DEMO_COMPANY_PREFIX = "9501101"


def seed(*, warehouse: Warehouse, stdout) -> None:
    """Create the inbound demo data for `warehouse` (safe to run again)."""
    rng = random.Random(4)
    suppliers = []
    for code, name, inspected in SUPPLIERS:
        supplier, _ = Supplier.objects.get_or_create(
            code=code, defaults={"name": name, "requires_inspection": inspected}
        )
        suppliers.append(supplier)
    products = list(Product.objects.filter(is_active=True).order_by("sku")[:200])
    if not products:
        stdout.write("receiving: no products, skipped.")
        return
    chilled = next((p for p in products if p.storage_class == "chilled"), None)
    if chilled is not None:
        InspectionRule.objects.get_or_create(
            product=chilled, supplier=None, defaults={"note": "Temperature log check on arrival."}
        )

    tomorrow = timezone.localdate(timezone=warehouse.tzinfo) + timedelta(days=1)
    created = 0
    for number in range(1, ASN_COUNT + 1):
        reference = f"DEMO-ASN-{tomorrow:%Y%m%d}-{number:02d}"
        if InboundShipment.objects.filter(warehouse=warehouse, reference=reference).exists():
            continue
        lines = []
        for index, product in enumerate(rng.sample(products, k=min(8, len(products)))):
            lines.append(
                services.LineInput(
                    sku=product.sku,
                    quantity=rng.randint(1, 10) * 12,
                    lot_code=f"L{tomorrow:%y%m}{number}{index}" if product.is_lot_tracked else "",
                    expiry_date=tomorrow + timedelta(days=180)
                    if product.is_expiry_tracked
                    else None,
                    sscc=(
                        make_sscc(
                            company_prefix=DEMO_COMPANY_PREFIX,
                            serial_reference=int(f"{tomorrow:%y%j}{number:02d}{index:02d}"),
                        )
                        if index < 2
                        else ""
                    ),
                )
            )
        arrival = datetime.combine(tomorrow, time(7 + number), tzinfo=warehouse.tzinfo)
        services.create_shipment(
            warehouse_id=warehouse.id,
            supplier_id=suppliers[number % len(suppliers)].id,
            reference=reference,
            po_reference=f"PO-{number:05d}",
            carrier=rng.choice(["DHL Freight", "DB Schenker", "PostNL Cargo"]),
            expected_arrival=arrival,
            lines=lines,
        )
        created += 1
    booked = services.schedule_dock_appointments(warehouse_id=warehouse.id, day=tomorrow)
    stdout.write(
        f"receiving: {len(suppliers)} suppliers, {created} new ASNs for {tomorrow}, "
        f"{len(booked)} dock appointments booked."
    )
