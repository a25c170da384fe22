#!/usr/bin/env python
"""Allocation throughput and pick-path saving on PostgreSQL.

What it does, in one run:

1. (Re)creates a PostgreSQL database (default `dockside_bench_alloc`) and migrates it.
2. Seeds a warehouse: 20 aisles of 50 bays (aisles 1-5 pick faces, 6-20 storage), 2,000 SKUs
   (a quarter expiry-tracked, with two lots each), stock in one pick face and one storage bin
   per SKU, all received through `warehouse.services.receive_stock`.
3. Creates four sets of 2,000 orders x 5 lines = 10,000 order lines each (random SKUs,
   quantities 1-5; half may ship partially) through `shipping.services.create_orders`. Stock
   (100 per SKU) covers all four sets on average, so each set allocates against real stock.
4. Allocates set A sequentially one order per transaction (`allocate_order`, as the API
   does), set B sequentially in batches of 100 orders per transaction (`allocate_orders`, as
   backorder re-allocation does), then sets C and D with `--workers` processes (default 8)
   concurrently against the same stock, per order and in batches. Prints lines/s for each and
   checks nothing was over-allocated, allocations equal promises and the ledger reconciles.
5. Pick path: plans and releases a wave of 200 allocated orders (20-line pick lists) and sums
   the walking distance of the chosen paths against picking in order-line order and S-shape.

Usage: .venv/bin/python bench/allocation.py [--workers 8] [--orders 2000] [--lines 5]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SKUS = 2000
AISLES = 20
BAYS = 50
PICK_FACE_AISLES = 5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="dockside_bench_alloc")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=5)
    parser.add_argument("--seed", type=int, default=11)
    return parser.parse_args()


def recreate_database(postgres: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{postgres}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def seed_layout(rng: random.Random):
    """Warehouse, zones, bins, products, lots and stock; returns (warehouse, staging, skus)."""
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from warehouse.gs1 import gs1_check_digit
    from warehouse.models import Location, Lot, Product, Warehouse, Zone
    from warehouse.services import receive_stock

    warehouse = Warehouse.objects.create(
        code="BENCH", name="Bench", latitude=Decimal("52.3"), longitude=Decimal("4.9")
    )
    zones = {
        kind: Zone.objects.create(warehouse=warehouse, code=kind[:10], name=kind, kind=kind)
        for kind in (Zone.Kind.PICK_FACE, Zone.Kind.STORAGE, Zone.Kind.STAGING)
    }
    staging = Location.objects.create(
        warehouse=warehouse, zone=zones[Zone.Kind.STAGING], code="STAGE-1", x=0, y=0
    )
    bins = Location.objects.bulk_create(
        Location(
            warehouse=warehouse,
            zone=zones[Zone.Kind.PICK_FACE if aisle <= PICK_FACE_AISLES else Zone.Kind.STORAGE],
            code=f"{aisle:02d}-{bay:02d}",
            aisle=f"{aisle:02d}",
            bay=bay,
            level=1,
            # Aisles run along y, 3 m apart; bays 1.5 m apart; the front cross-aisle at y = 0.
            x=Decimal(aisle * 3),
            y=Decimal(2 + bay * 1.5).quantize(Decimal("0.01")),
        )
        for aisle in range(1, AISLES + 1)
        for bay in range(1, BAYS + 1)
    )
    faces = [b for b in bins if int(b.aisle) <= PICK_FACE_AISLES]
    storage = [b for b in bins if int(b.aisle) > PICK_FACE_AISLES]
    products = Product.objects.bulk_create(
        Product(
            sku=f"B-{n:05d}",
            name=f"Bench item {n}",
            gtin=(lambda body: body + gs1_check_digit(body))(f"0871234{n:06d}"),
            unit_weight_kg=Decimal("0.8"),
            unit_volume_m3=Decimal("0.002"),
            is_lot_tracked=n % 4 == 0,
            is_expiry_tracked=n % 4 == 0,
        )
        for n in range(SKUS)
    )
    today = timezone.localdate()
    for index, product in enumerate(products):
        face, back = faces[index % len(faces)], storage[index % len(storage)]
        if product.is_expiry_tracked:
            for code, days, location in (("EARLY", 40, back), ("LATE", 120, face)):
                lot = Lot.objects.create(
                    product=product, code=code, expiry_date=today + dt.timedelta(days=days)
                )
                receive_stock(
                    location_id=location.id, product_id=product.id, quantity=50, lot_id=lot.id
                )
        else:
            receive_stock(location_id=face.id, product_id=product.id, quantity=50)
            receive_stock(location_id=back.id, product_id=product.id, quantity=50)
    return warehouse, staging, products


def create_order_set(warehouse, products, *, prefix: str, orders: int, lines: int, seed: int):
    import datetime as dt

    from django.utils import timezone

    from shipping import services
    from shipping.models import Customer

    rng = random.Random(seed)
    customer, _ = Customer.objects.get_or_create(
        warehouse=warehouse,
        code="bench",
        defaults={"name": "Bench", "latitude": 52.3, "longitude": 4.9},
    )
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    start = dt.datetime.combine(tomorrow, dt.time(9), dt.UTC)
    specs = [
        services.OrderSpec(
            warehouse_id=warehouse.id,
            customer_id=customer.id,
            number=f"{prefix}-{n:05d}",
            requested_date=timezone.localdate(),
            promised_window_start=start,
            promised_window_end=start + dt.timedelta(hours=4),
            allow_partial=n % 2 == 0,
            lines=[
                services.LineSpec(product_id=p.id, quantity=rng.randint(1, 5))
                for p in rng.sample(products, lines)
            ],
        )
        for n in range(orders)
    ]
    created = []
    for chunk in range(0, len(specs), 500):
        created.extend(services.create_orders(specs=specs[chunk : chunk + 500]))
    return [order.id for order in created]


BATCH = 100


def allocate_each(order_ids: list[int]) -> int:
    """One order per transaction, as POST /orders/{id}/allocate/ does."""
    from shipping import services

    for order_id in order_ids:
        services.allocate_order(order_id=order_id)
    return len(order_ids)


def allocate_batched(order_ids: list[int]) -> int:
    """BATCH orders per transaction, as backorder re-allocation does."""
    from shipping import services

    for start in range(0, len(order_ids), BATCH):
        services.allocate_orders(order_ids=order_ids[start : start + BATCH])
    return len(order_ids)


def _worker(job: tuple[str, list[int]]) -> int:
    from django.db import connection

    mode, order_ids = job
    errors = 0
    try:
        (allocate_batched if mode == "batched" else allocate_each)(order_ids)
    except Exception as error:
        print(f"worker error: {error!r}", flush=True)
        errors += 1
    finally:
        connection.close()
    return errors


def run_parallel(mode: str, order_ids: list[int], workers: int) -> tuple[float, int]:
    from django.db import connections

    connections.close_all()
    chunks = [(mode, order_ids[i::workers]) for i in range(workers)]
    context = multiprocessing.get_context("fork")
    started = time.perf_counter()
    with context.Pool(workers) as pool:
        errors = pool.map(_worker, chunks)
    return time.perf_counter() - started, sum(errors)


def main() -> int:
    args = parse_args()
    os.environ["DATABASE_URL"] = f"{args.postgres}/{args.database}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.pop("REDIS_URL", None)
    print(f"Recreating database {args.database} and migrating ...", flush=True)
    recreate_database(args.postgres, args.database)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, check=True
    )
    import django

    django.setup()
    from django.db.models import F, Sum
    from django.utils import timezone

    from shipping import services
    from shipping.models import Order, OrderLine
    from warehouse.models import StockBalance
    from warehouse.selectors import list_ledger_mismatches

    rng = random.Random(args.seed)
    started = time.perf_counter()
    warehouse, _staging, products = seed_layout(rng)
    sets = [
        create_order_set(
            warehouse,
            products,
            prefix=prefix,
            orders=args.orders,
            lines=args.lines,
            seed=args.seed + index,
        )
        for index, prefix in enumerate("ABCD")
    ]
    set_a = sets[0]
    total_lines = args.orders * args.lines
    print(
        f"Seeded {SKUS} SKUs, {AISLES * BAYS} bins, 4 x {total_lines} order lines "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    timings: dict[str, float] = {}
    started = time.perf_counter()
    allocate_each(sets[0])
    timings["sequential, 1 order per transaction"] = time.perf_counter() - started
    started = time.perf_counter()
    allocate_batched(sets[1])
    timings[f"sequential, {BATCH} orders per transaction"] = time.perf_counter() - started
    # Reference, same run: the floor set by one conditional UPDATE (allocate_stock) per line,
    # with nothing else (no order, plan or bookkeeping), rolled back afterwards.
    from django.db import transaction

    from warehouse.services import allocate_stock

    balance_ids = list(
        StockBalance.objects.filter(quantity__gt=F("allocated") + 10)
        .order_by("id")
        .values_list("id", flat=True)[:total_lines]
    )
    with transaction.atomic():
        started = time.perf_counter()
        for index in range(total_lines):
            allocate_stock(balance_id=balance_ids[index % len(balance_ids)], quantity=1)
        reference = time.perf_counter() - started
        transaction.set_rollback(True)
    seconds, worker_errors = run_parallel("each", sets[2], args.workers)
    timings[f"{args.workers} workers, 1 order per transaction"] = seconds
    seconds, errors = run_parallel("batched", sets[3], args.workers)
    timings[f"{args.workers} workers, {BATCH} orders per transaction"] = seconds
    worker_errors += errors

    over = StockBalance.objects.filter(allocated__gt=F("quantity")).count()
    allocated = StockBalance.objects.aggregate(total=Sum("allocated"))["total"] or 0
    promised = OrderLine.objects.aggregate(total=Sum("quantity_allocated"))["total"] or 0
    mismatches = len(list_ledger_mismatches())
    statuses = dict(
        Order.objects.values_list("status").annotate(n=Sum(1)).values_list("status", "n")
    )

    # Pick path on a real wave of 200 allocated orders of set A.
    wave_orders = list(
        Order.objects.filter(id__in=set_a, status=Order.Status.ALLOCATED)
        .order_by("id")
        .values_list("id", flat=True)[:200]
    )
    wave = services.plan_wave(
        warehouse_id=warehouse.id,
        dispatch_date=timezone.localdate(),
        cutoff_at=timezone.now(),
        order_ids=wave_orders,
        max_lines=20,
    )
    from shipping import pickpath
    from shipping.models import PickList

    started = time.perf_counter()
    services.release_wave(wave_id=wave.id)
    release_seconds = time.perf_counter() - started
    lists = list(PickList.objects.filter(wave=wave).prefetch_related("tasks__location"))
    chosen = sum(float(pl.path_distance_m) for pl in lists)
    given = sum(float(pl.order_line_distance_m) for pl in lists)
    s_shape = 0.0
    for pick_list in lists:
        tasks = list(pick_list.tasks.all())
        stops = [
            pickpath.Point(t.id, float(t.location.x), float(t.location.y), t.location.aisle)
            for t in tasks
        ]
        start = pickpath.Point("start", 0.0, 0.0, "")
        layout = pickpath.infer_layout([start, *stops])
        s_shape += pickpath.route_distance(start, pickpath.s_shape(start, stops, layout), layout)
    methods = sorted({pl.path_method for pl in lists})

    print()
    print(f"Allocation of {total_lines} order lines over {SKUS} SKUs, per run")
    for label, seconds in timings.items():
        print(f"  {label:<40}: {seconds:7.2f} s  {total_lines / seconds:8.0f} lines/s")
    print(
        f"  reference: bare allocate_stock UPDATE x {total_lines}: {reference:7.2f} s "
        f"{total_lines / reference:8.0f} /s"
    )
    for label, seconds in timings.items():
        print(f"  {label:<40}: {reference / seconds:5.2f} x the bare UPDATE rate")
    print(
        f"  (target >= 2,000 lines/s sequential; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end of the run)"
    )
    print(
        f"  worker errors {worker_errors}; over-allocated balances {over}; "
        f"allocated {allocated} = promised {promised}: {allocated == promised}; "
        f"ledger mismatches {mismatches}"
    )
    print(f"  order statuses: {statuses}")
    print()
    print(
        f"Pick path, wave of {len(wave_orders)} orders -> {len(lists)} pick lists of <= 20 lines"
        f" (released in {release_seconds:.2f} s; methods chosen: {', '.join(methods)})"
    )
    print(f"  order-line order : {given:9.1f} m")
    print(f"  S-shape          : {s_shape:9.1f} m  ({1 - s_shape / given:6.1%} saved)")
    print(f"  chosen path      : {chosen:9.1f} m  ({1 - chosen / given:6.1%} saved)")
    ok = worker_errors == 0 and over == 0 and allocated == promised and mismatches == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
