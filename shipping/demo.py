"""Outbound demo data: customers around the depot, today's orders, allocated, in a wave.

Deterministic and idempotent: customers and orders are keyed by code/number, the wave is
planned only when the demo orders are not in one yet.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import TextIO

from django.utils import timezone

from shipping import services
from shipping.errors import NothingToWave
from shipping.models import Customer, Order
from warehouse.models import Product, StockStatus, Warehouse

CUSTOMERS = 25
ORDERS = 60


def seed(*, warehouse: Warehouse, stdout: TextIO) -> None:
    """Add demo customers, orders (allocated, some backordered) and a planned wave."""
    rng = random.Random(5)
    customers = []
    for number in range(1, CUSTOMERS + 1):
        customer, _ = Customer.objects.get_or_create(
            warehouse=warehouse,
            code=f"demo-{number:02d}",
            defaults={
                "name": f"Demo customer {number}",
                "address": f"{number} Harbour Road",
                # Within ~25 km of the depot.
                "latitude": warehouse.latitude + Decimal(f"{rng.uniform(-0.2, 0.2):.6f}"),
                "longitude": warehouse.longitude + Decimal(f"{rng.uniform(-0.3, 0.3):.6f}"),
                "window_start": dt.time(rng.choice([7, 8, 9, 10])),
                "window_end": dt.time(rng.choice([13, 15, 17])),
                "service_time_minutes": rng.choice([5, 10, 15]),
            },
        )
        customers.append(customer)
    stocked = list(
        Product.objects.filter(
            balances__location__warehouse=warehouse,
            balances__status=StockStatus.AVAILABLE,
            balances__quantity__gt=0,
        )
        .distinct()
        .order_by("sku")
        .values_list("id", flat=True)[:200]
    )
    if not stocked:
        stdout.write("shipping demo: no stock to order from; skipped orders")
        return
    today = timezone.localdate()
    tz = warehouse.tzinfo
    existing = set(
        Order.objects.filter(warehouse=warehouse, number__startswith="DEMO-").values_list(
            "number", flat=True
        )
    )
    specs = []
    for number in range(1, ORDERS + 1):
        order_number = f"DEMO-{number:04d}"
        products = rng.sample(stocked, k=min(len(stocked), rng.randint(1, 5)))
        customer = rng.choice(customers)
        if order_number in existing:
            continue
        delivery_day = today + dt.timedelta(days=1)
        specs.append(
            services.OrderSpec(
                warehouse_id=warehouse.id,
                customer_id=customer.id,
                number=order_number,
                requested_date=today,
                promised_window_start=dt.datetime.combine(delivery_day, customer.window_start, tz),
                promised_window_end=dt.datetime.combine(delivery_day, customer.window_end, tz),
                allow_partial=number % 3 == 0,
                priority=rng.choice([2, 3, 3, 3, 4]),
                lines=[
                    services.LineSpec(product_id=pid, quantity=rng.randint(1, 6))
                    for pid in products
                ],
            )
        )
    if specs:
        services.create_orders(specs=specs)
    waiting = list(
        Order.objects.filter(
            warehouse=warehouse, number__startswith="DEMO-", status__in=Order.ALLOCATABLE
        )
        .order_by("priority", "id")
        .values_list("id", flat=True)
    )
    results = services.allocate_orders(order_ids=waiting)
    try:
        wave = services.plan_wave(
            warehouse_id=warehouse.id,
            dispatch_date=today,
            cutoff_at=timezone.now() + dt.timedelta(hours=2),
        )
        planned = f"; wave {wave.number} planned with cut-off in 2 hours"
    except NothingToWave:
        planned = ""
    backordered = sum(1 for r in results if r.status == Order.Status.BACKORDERED)
    stdout.write(
        f"shipping demo: {len(customers)} customers, {len(specs)} new orders, "
        f"{len(results)} allocated ({backordered} backordered){planned}\n"
    )
