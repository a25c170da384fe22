#!/usr/bin/env python
"""Scan throughput: N handheld scanners against the receiving scan endpoint under gunicorn.

What it does, in one run:

1. (Re)creates a PostgreSQL database (default `dockside_bench`) and migrates it.
2. Seeds a warehouse with one inbound door (and dock floor location) per scanner, 8 products
   (4 lot-tracked), and per scanner a dock user with a device token and an arrived ASN with an
   open receipt on its door: each scanner unloads its own truck, as on a real dock.
3. Starts gunicorn (gthread workers) on 127.0.0.1 with `bench.bare_settings`, which adds a bare
   DRF endpoint doing one INSERT and one UPDATE behind the same token authentication.
4. Drives `--scanners` threads, each with its own keep-alive HTTP connection, for `--requests`
   requests in total per endpoint: first the bare endpoint, then the scan endpoint (plain EANs
   and GS1-128 labels with lot and expiry, each with a fresh Idempotency-Key; a dropped
   connection is retried with the same key). Warm-up requests are not counted.
5. Then the same scanners at a dock hand's pace (`--pace`, default one scan a second each, the
   load model of `bench/load.py`) for `--paced-seconds`: each scan is due at its own time
   (scanners start spread over the first interval), and its latency counts from when it was
   due, so a scan held up by a slow one before it is not flattered.
6. Prints requests/s, p50/p90/p99/max latency for each run, the ratio, and the targets; checks
   that every scan was recorded exactly once and that the stock ledger reconciles.

Back to back, 16 scanners keep 16 requests in flight whatever the service's speed, so their
latency is about scanners / throughput (Little's law): on 2 CPUs it measures the machine's
capacity, not what a person at a scanner waits. The paced run measures that.

Usage: .venv/bin/python bench/scan_throughput.py [--scanners 16] [--requests 4000] [--pace 1]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import migrate, recreate_database, start_server, stop_server  # noqa: E402

PRODUCTS = 8
LOT_TRACKED_FROM = 4  # products 4..7 are lot-tracked
COMPANY_PREFIX = "950110"


@dataclass
class Scanner:
    token: str
    receipt_id: int
    barcodes: list[str]


@dataclass
class Run:
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    retries: int = 0

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.latencies_ms)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

        return {
            "requests": len(ordered),
            "per_second": len(ordered) / self.seconds if self.seconds else 0.0,
            "p50": statistics.median(ordered),
            "p90": pct(90),
            "p99": pct(99),
            "max": ordered[-1],
        }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scanners", type=int, default=16)
    parser.add_argument("--requests", type=int, default=4000, help="Measured, per endpoint.")
    parser.add_argument("--warmup", type=int, default=10, help="Per scanner and endpoint.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--database", default="dockside_bench")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--pace", type=float, default=1.0, help="Seconds between one scanner's paced scans."
    )
    parser.add_argument("--paced-seconds", type=float, default=60.0)
    return parser.parse_args()


def seed(scanners: int) -> list[Scanner]:
    """Create the warehouse, products, users and open receipts; return one Scanner each."""
    from decimal import Decimal

    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.utils import timezone

    from bench.bare_urls import CREATE_TABLES
    from receiving import services
    from receiving.barcodes import build_gs1
    from receiving.models import Supplier
    from warehouse.gs1 import gs1_check_digit
    from warehouse.models import DeviceToken, DockDoor, Location, Product, Warehouse, Zone

    warehouse = Warehouse.objects.create(
        code="BENCH",
        name="Benchmark DC",
        time_zone="Europe/Amsterdam",
        latitude=Decimal("52.3"),
        longitude=Decimal("4.9"),
    )
    dock_zone = Zone.objects.create(
        warehouse=warehouse, code="dock", name="Dock", kind=Zone.Kind.RECEIVING_DOCK
    )
    products = []
    for number in range(PRODUCTS):
        body = f"0{COMPANY_PREFIX}{number:06d}"
        lot_tracked = number >= LOT_TRACKED_FROM
        products.append(
            Product.objects.create(
                sku=f"BENCH-{number}",
                name=f"Bench product {number}",
                gtin=body + gs1_check_digit(body),
                unit_weight_kg=Decimal("0.5"),
                unit_volume_m3=Decimal("0.001"),
                is_lot_tracked=lot_tracked,
                is_expiry_tracked=lot_tracked,
            )
        )
    supplier = Supplier.objects.create(code="bench", name="Bench supplier")
    dock_group = Group.objects.get(name="dock")
    expiry = date.today() + timedelta(days=365)
    labels = []
    for product in products:
        if product.is_lot_tracked:
            labels.append(
                "]C1"
                + build_gs1(gtin=product.gtin, expiry=expiry, lot=f"L{product.id}", separator="|")
            )
        else:
            labels.append(product.gtin[1:])  # as an EAN-13 scanner sends it
    result = []
    for index in range(scanners):
        dock = Location.objects.create(
            warehouse=warehouse, zone=dock_zone, code=f"DOCK-{index:02d}"
        )
        door = DockDoor.objects.create(
            warehouse=warehouse, code=f"D{index:02d}", direction="inbound", location=dock
        )
        user = User.objects.create_user(username=f"scanner{index:02d}", password=None)
        user.groups.add(dock_group)
        warehouse.staff.add(user)
        _, raw = DeviceToken.issue(user=user, name=f"Bench scanner {index}")
        shipment = services.create_shipment(
            warehouse_id=warehouse.id,
            supplier_id=supplier.id,
            reference=f"BENCH-ASN-{index:02d}",
            expected_arrival=timezone.now(),
            lines=[
                services.LineInput(
                    sku=p.sku,
                    quantity=100_000,
                    lot_code=f"L{p.id}" if p.is_lot_tracked else "",
                )
                for p in products
            ],
        )
        services.check_in_shipment(shipment_id=shipment.id)
        receipt = services.open_receipt(shipment_id=shipment.id, door_id=door.id)
        # Each scanner starts at another product so they do not all hit the same one at once.
        rotated = labels[index % PRODUCTS :] + labels[: index % PRODUCTS]
        result.append(Scanner(token=raw, receipt_id=receipt.id, barcodes=rotated))
    with connection.cursor() as cursor:
        cursor.execute(CREATE_TABLES)
        cursor.execute(
            "INSERT INTO bench_bare_counter (user_id) SELECT id FROM auth_user "
            "WHERE username LIKE 'scanner%%'"
        )
    return result


def drive(
    port: int, scanners: list[Scanner], per_scanner: int, *, scans: bool, pace: float = 0.0
) -> Run:
    """Each scanner thread sends `per_scanner` requests over its own keep-alive connection:
    back to back, or with `pace` one every `pace` seconds, latency counted from when due."""
    run = Run()
    lock = threading.Lock()
    barrier = threading.Barrier(len(scanners) + 1)

    def work(index: int, scanner: Scanner) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        path = f"/api/v1/receipts/{scanner.receipt_id}/scans/" if scans else "/bench/bare/"
        mine: list[float] = []
        errors: list[str] = []
        retries = 0
        barrier.wait()
        first_due = time.perf_counter() + pace * index / len(scanners)
        for number in range(per_scanner):
            due = first_due + number * pace
            if pace:
                # A bench pacing its load, as a dock hand paces scans; nothing is timed by it.
                time.sleep(max(0.0, due - time.perf_counter()))
            body = json.dumps({"barcode": scanner.barcodes[number % len(scanner.barcodes)]})
            headers = {
                "Authorization": f"Bearer {scanner.token}",
                "Content-Type": "application/json",
                "Idempotency-Key": str(uuid.uuid4()),
            }
            started = due if pace else time.perf_counter()
            for _attempt in range(3):
                try:
                    conn.request("POST", path, body, headers)
                    response = conn.getresponse()
                    payload = response.read()
                    break
                except (http.client.HTTPException, ConnectionError):
                    # What a handheld does after a Wi-Fi drop: reconnect, resend, same key.
                    retries += 1
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            else:
                errors.append("connection failed 3 times")
                continue
            mine.append((time.perf_counter() - started) * 1000)
            if response.status != 201:
                errors.append(f"{response.status} {payload[:200]!r}")
        conn.close()
        with lock:
            run.latencies_ms.extend(mine)
            run.errors.extend(errors)
            run.retries += retries

    threads = [threading.Thread(target=work, args=pair) for pair in enumerate(scanners)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    run.seconds = time.perf_counter() - started
    return run


def verify(expected_scans: int) -> tuple[bool, str]:
    from receiving.models import ReceiptScan
    from warehouse.selectors import list_ledger_mismatches

    recorded = ReceiptScan.objects.count()
    mismatches = list_ledger_mismatches()
    ok = recorded == expected_scans and not mismatches
    return (
        ok,
        f"{recorded} scans recorded for {expected_scans} sent; "
        f"ledger mismatches: {len(mismatches)}",
    )


def main() -> int:
    args = parse_args()
    database_url = f"{args.postgres}/{args.database}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "bench.bare_settings",
    }
    env.pop("REDIS_URL", None)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")})
    os.environ.pop("REDIS_URL", None)

    print(f"Recreating database {args.database} and migrating ...", flush=True)
    recreate_database(args.postgres, args.database)
    migrate(env)
    import django

    django.setup()
    scanners = seed(args.scanners)
    from django.db import connection

    connection.close()

    per_scanner = max(1, args.requests // args.scanners)
    server = start_server(port=args.port, workers=args.workers, threads=args.threads, env=env)
    try:
        for scans in (False, True):
            warm = drive(args.port, scanners, args.warmup, scans=scans)
            if warm.errors:
                print("warm-up errors:", warm.errors[:3])
        bare = drive(args.port, scanners, per_scanner, scans=False)
        scan = drive(args.port, scanners, per_scanner, scans=True)
        per_scanner_paced = max(1, int(args.paced_seconds / args.pace))
        paced = drive(args.port, scanners, per_scanner_paced, scans=True, pace=args.pace)
    finally:
        stop_server(server)

    ok, check = verify(
        expected_scans=args.scanners * (args.warmup + per_scanner + per_scanner_paced)
    )
    cpus = os.cpu_count()
    print()
    print(
        f"Scan throughput: {args.scanners} scanners, {per_scanner * args.scanners} requests per "
        f"endpoint, gunicorn gthread {args.workers} workers x {args.threads} threads, {cpus} CPUs"
    )
    columns = ("req/s", "p50 ms", "p90 ms", "p99 ms", "max ms")
    print(f"{'endpoint':<12}" + "".join(f"{c:>9}" for c in columns) + f"{'errors':>8}")
    paced_name = f"scan {args.pace:g}s"
    for name, run in (("bare", bare), ("scan", scan), (paced_name, paced)):
        figures = run.summary()
        print(
            f"{name:<12}{figures['per_second']:>9.1f}{figures['p50']:>9.1f}{figures['p90']:>9.1f}"
            f"{figures['p99']:>9.1f}{figures['max']:>9.1f}{len(run.errors):>8}"
        )
        for error in run.errors[:3]:
            print("   ", error)
    ratio = scan.summary()["per_second"] / bare.summary()["per_second"]
    p99 = scan.summary()["p99"]
    print(f"scans/s vs bare: {ratio:.2f} (target >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'})")
    print(
        f"scan p99: {p99:.1f} ms back to back "
        f"(target < 100 ms: {'met' if p99 < 100 else 'NOT met'})"
    )
    paced_p99 = paced.summary()["p99"]
    print(
        f"scan p99: {paced_p99:.1f} ms at {args.pace:g} s a scan per scanner "
        f"({paced.summary()['per_second']:.1f} scans/s; target < 100 ms: "
        f"{'met' if paced_p99 < 100 else 'NOT met'})"
    )
    print(f"connection retries: bare {bare.retries}, scan {scan.retries}, paced {paced.retries}")
    print(f"check: {check} ({'ok' if ok else 'FAILED'})")
    return 0 if ok and not (scan.errors or bare.errors or paced.errors) else 1


if __name__ == "__main__":
    sys.exit(main())
