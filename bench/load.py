#!/usr/bin/env python
"""Load: dock scanners and pickers working at once against gunicorn and PostgreSQL.

What it does, in one run:

1. (Re)creates a PostgreSQL database (default `dockside_load`) and migrates it.
2. Seeds, through the services, a warehouse with
   - per scanner (200 by default) a dock user with a device token and an arrived ASN with an
     open receipt on a door of its own (8 products, 4 of them lot-tracked with GS1 labels);
   - per picker (50 by default) a picker with a device token and a released wave of orders
     whose pick lists are assigned to them: enough tasks for the run, over 40 products that
     each sit in two pick-face bins (a short pick is re-allocated from the other bin).
3. Starts gunicorn (gthread) on 127.0.0.1 with the app's own settings (no Redis: tasks run
   in-process, as in the embedded default).
4. After `--warmup` seconds (10 by default: connections opened, workers warm; not in the
   figures, in the checks) for `--duration` seconds (600 by default) drives, each client over
   its own keep-alive connection:
   - every scanner open-loop at one scan a second (a scan is due every second whatever the
     answers before it took; a late one is counted), plain EANs and GS1-128 labels;
   - every picker through their pick lists: every `--pick-interval` seconds (3 by default)
     start a list or confirm its next task (bin, item, quantity), or now and then (3 % each)
     report the task short by one unit or skip it, re-reading the list after those two.
   Every POST carries a fresh Idempotency-Key; a dropped connection is retried with the same
   key, as a handheld does.
5. Prints requests, req/s, p50/p95/p99/max latency per endpoint, the error rate, late scans,
   the load average, and the checks: every scan answered 201 is recorded exactly once, the
   tasks picked and short match the answers, the ledger reconciles with every balance
   (`list_ledger_mismatches`, as `manage.py reconcile_stock`), no balance is negative or
   over-allocated, and each balance's allocated quantity equals its allocations.

Targets: p95 < 300 ms per endpoint, errors < 0.1 %. Exit status 1 if a check fails or the
error rate is over target. The server is stopped on Ctrl-C, SIGTERM or an exception.

Usage: .venv/bin/python bench/load.py [--duration 600] [--scanners 200] [--pickers 50]
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import math
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import migrate, recreate_database, running_server  # noqa: E402

SCAN_PRODUCTS = 8
LOT_TRACKED_FROM = 4  # scan products 4..7 are lot-tracked
PICK_PRODUCTS = 40
LINES_PER_ORDER = 5
COMPANY_PREFIX = "950120"
P95_TARGET_MS = 300.0
ERROR_TARGET = 0.001
EXPECTED = {
    "scan": 201,
    "pick list start": 200,
    "pick list read": 200,
    "pick confirm": 200,
    "pick short": 200,
    "pick skip": 200,
}


@dataclass
class Scanner:
    token: str
    receipt_id: int
    barcodes: list[str]


@dataclass
class Picker:
    token: str
    pick_list_ids: list[int]


@dataclass
class Figures:
    """What every client thread saw, merged under a lock."""

    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    errors: list[str] = field(default_factory=list)
    retries: int = 0
    late_scans: int = 0
    max_lag_s: float = 0.0
    pickers_done_early: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def merge(self, other: Figures) -> None:
        with self.lock:
            for name, values in other.latencies_ms.items():
                self.latencies_ms[name].extend(values)
            for name, counts in other.statuses.items():
                self.statuses[name].update(counts)
            self.errors.extend(other.errors[:5])
            self.retries += other.retries
            self.late_scans += other.late_scans
            self.max_lag_s = max(self.max_lag_s, other.max_lag_s)
            self.pickers_done_early += other.pickers_done_early

    def answered(self, endpoint: str) -> int:
        return self.statuses[endpoint][EXPECTED[endpoint]]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="Seconds measured.")
    parser.add_argument("--warmup", type=float, default=10.0, help="Seconds not measured first.")
    parser.add_argument("--scanners", type=int, default=200)
    parser.add_argument("--pickers", type=int, default=50)
    parser.add_argument("--scan-interval", type=float, default=1.0, help="Seconds per scanner.")
    parser.add_argument("--pick-interval", type=float, default=3.0, help="Seconds per picker.")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--database", default="dockside_load")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


# --- seeding ----------------------------------------------------------------------------------


def seed(args: argparse.Namespace) -> tuple[list[Scanner], list[Picker], dict[str, str]]:
    """Create the warehouse, the scanners' receipts and the pickers' pick lists; return them
    and the GTIN of each SKU (what a picker scans)."""
    from decimal import Decimal

    from django.contrib.auth.models import Group
    from django.utils import timezone

    from receiving.services import LineInput, check_in_shipment, create_shipment, open_receipt
    from warehouse.models import Warehouse, Zone

    warehouse = Warehouse.objects.create(
        code="LOAD",
        name="Load test DC",
        time_zone="Europe/Amsterdam",
        latitude=Decimal("52.3"),
        longitude=Decimal("4.9"),
    )
    zones = {
        kind: Zone.objects.create(warehouse=warehouse, code=kind, name=kind.title(), kind=kind)
        for kind in (Zone.Kind.RECEIVING_DOCK, Zone.Kind.PICK_FACE, Zone.Kind.STAGING)
    }
    scan_products = make_products(SCAN_PRODUCTS, "SCAN", lot_tracked_from=LOT_TRACKED_FROM)
    labels = [scan_label(product) for product in scan_products]
    supplier = make_supplier()
    groups = {name: Group.objects.get(name=name) for name in ("dock", "picker", "manager")}
    scanners = []
    for index in range(args.scanners):
        user, token = make_user(f"scanner{index:03d}", groups["dock"], warehouse)
        door = make_door(warehouse, zones[Zone.Kind.RECEIVING_DOCK], index)
        shipment = create_shipment(
            warehouse_id=warehouse.id,
            supplier_id=supplier.id,
            reference=f"LOAD-ASN-{index:03d}",
            expected_arrival=timezone.now(),
            lines=[
                LineInput(
                    sku=p.sku, quantity=1_000_000, lot_code=f"L{p.id}" if p.is_lot_tracked else ""
                )
                for p in scan_products
            ],
        )
        check_in_shipment(shipment_id=shipment.id)
        receipt = open_receipt(shipment_id=shipment.id, door_id=door.id)
        # Each scanner starts at another product, so they do not all hit one balance at once.
        turn = index % SCAN_PRODUCTS
        scanners.append(Scanner(token, receipt.id, labels[turn:] + labels[:turn]))
    print(f"  {len(scanners)} scanners with open receipts", flush=True)

    pick_products = make_products(PICK_PRODUCTS, "PICK", lot_tracked_from=PICK_PRODUCTS)
    stock_pick_faces(warehouse, zones[Zone.Kind.PICK_FACE], pick_products)
    staging_location(warehouse, zones[Zone.Kind.STAGING])
    actions = (args.warmup + args.duration) / args.pick_interval
    tasks_each = math.ceil(actions * 1.25) + LINES_PER_ORDER
    pickers = []
    manager, _ = make_user("load-manager", groups["manager"], warehouse)
    rng = random.Random(args.seed)
    for index in range(args.pickers):
        user, token = make_user(f"picker{index:02d}", groups["picker"], warehouse)
        lists = release_pick_lists(warehouse, pick_products, user, manager, tasks_each, rng, index)
        pickers.append(Picker(token, lists))
        if index % 10 == 9:
            print(f"  {index + 1} pickers with released pick lists", flush=True)
    gtins = {product.sku: product.gtin for product in pick_products}
    return scanners, pickers, gtins


def make_products(count: int, prefix: str, *, lot_tracked_from: int) -> list:
    from decimal import Decimal

    from warehouse.gs1 import gs1_check_digit
    from warehouse.models import Product

    block = {"SCAN": 1, "PICK": 2}[prefix]
    products = []
    for number in range(count):
        body = f"0{COMPANY_PREFIX}{block}{number:05d}"
        lot_tracked = number >= lot_tracked_from
        products.append(
            Product.objects.create(
                sku=f"{prefix}-{number:02d}",
                name=f"Load product {prefix} {number}",
                gtin=body + gs1_check_digit(body),
                unit_weight_kg=Decimal("0.5"),
                unit_volume_m3=Decimal("0.001"),
                is_lot_tracked=lot_tracked,
                is_expiry_tracked=lot_tracked,
            )
        )
    return products


def scan_label(product) -> str:
    from receiving.barcodes import build_gs1

    if not product.is_lot_tracked:
        return product.gtin[1:]  # as an EAN-13 scanner sends it
    expiry = date.today() + timedelta(days=365)
    gs1 = build_gs1(gtin=product.gtin, expiry=expiry, lot=f"L{product.id}", separator="|")
    return "]C1" + gs1


def make_supplier():
    from receiving.models import Supplier

    return Supplier.objects.create(code="load", name="Load test supplier")


def make_user(username: str, group, warehouse) -> tuple:
    from django.contrib.auth.models import User

    from warehouse.models import DeviceToken

    user = User.objects.create_user(username=username, password=None)
    user.groups.add(group)
    warehouse.staff.add(user)
    _, raw = DeviceToken.issue(user=user, name=f"Load test {username}")
    return user, raw


def make_door(warehouse, zone, index: int):
    from warehouse.models import DockDoor, Location

    dock = Location.objects.create(warehouse=warehouse, zone=zone, code=f"DOCK-{index:03d}")
    return DockDoor.objects.create(
        warehouse=warehouse, code=f"D{index:03d}", direction="inbound", location=dock
    )


def stock_pick_faces(warehouse, zone, products) -> None:
    """Two pick-face bins per product, a million units each."""
    from decimal import Decimal

    from warehouse.models import Location
    from warehouse.services import receive_stock

    for number, product in enumerate(products):
        for side in (1, 2):
            bin_ = Location.objects.create(
                warehouse=warehouse,
                zone=zone,
                code=f"P-{number:02d}-{side}",
                aisle=f"P{side}",
                bay=number + 1,
                level=1,
                x=Decimal(number * 2),
                y=Decimal(side * 10),
            )
            receive_stock(location_id=bin_.id, product_id=product.id, quantity=1_000_000)


def staging_location(warehouse, zone):
    from decimal import Decimal

    from warehouse.models import Location

    return Location.objects.create(
        warehouse=warehouse, zone=zone, code="STAGE-1", x=Decimal(0), y=Decimal(0)
    )


def release_pick_lists(warehouse, products, picker, manager, tasks: int, rng, index: int):
    """Orders of `tasks` lines in all, allocated, waved, released; the wave's pick lists
    assigned to `picker`. Returns their ids."""
    import datetime as dt

    from django.utils import timezone

    from shipping import services
    from shipping.models import Customer, PickList

    customer = Customer.objects.create(
        warehouse=warehouse,
        code=f"load-{index:02d}",
        name=f"Load customer {index}",
        address=f"{index} Quay Road",
        latitude="52.37",
        longitude="4.89",
    )
    today = timezone.localdate()
    start = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(9), dt.UTC)
    specs = [
        services.OrderSpec(
            warehouse_id=warehouse.id,
            customer_id=customer.id,
            number=f"LOAD-{index:02d}-{number:04d}",
            requested_date=today,
            promised_window_start=start,
            promised_window_end=start + dt.timedelta(hours=3),
            lines=[
                services.LineSpec(product_id=product.id, quantity=rng.randint(1, 3))
                for product in rng.sample(products, LINES_PER_ORDER)
            ],
        )
        for number in range(math.ceil(tasks / LINES_PER_ORDER))
    ]
    orders = services.create_orders(specs=specs)
    order_ids = [order.id for order in orders]
    services.allocate_orders(order_ids=order_ids)
    wave = services.plan_wave(
        warehouse_id=warehouse.id,
        dispatch_date=today,
        cutoff_at=timezone.now() + dt.timedelta(hours=1),
        order_ids=order_ids,
        actor=manager,
    )
    services.release_wave(wave_id=wave.id, actor=manager)
    lists = list(PickList.objects.filter(wave=wave).order_by("id").values_list("id", flat=True))
    for pick_list_id in lists:
        services.assign_pick_list(pick_list_id=pick_list_id, picker_id=picker.id, actor=manager)
    return lists


# --- driving ----------------------------------------------------------------------------------


class Connection:
    """One handheld's keep-alive connection; a dropped one is reopened and the request resent
    with the same headers (so the same Idempotency-Key)."""

    def __init__(self, port: int, token: str, figures: Figures) -> None:
        self.port = port
        self.token = token
        self.figures = figures
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def send(self, endpoint: str, method: str, path: str, body: dict | None = None):
        headers = {"Authorization": f"Bearer {self.token}"}
        payload = None
        if method == "POST":
            headers["Content-Type"] = "application/json"
            headers["Idempotency-Key"] = str(uuid.uuid4())
            payload = json.dumps(body or {})
        started = time.perf_counter()
        for _attempt in range(3):
            try:
                self.conn.request(method, path, payload, headers)
                response = self.conn.getresponse()
                content = response.read()
                break
            except (http.client.HTTPException, ConnectionError, TimeoutError):
                self.figures.retries += 1
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        else:
            self.figures.statuses[endpoint]["connection failed"] += 1
            self.figures.errors.append(f"{endpoint}: connection failed 3 times")
            return None
        self.figures.latencies_ms[endpoint].append((time.perf_counter() - started) * 1000)
        self.figures.statuses[endpoint][response.status] += 1
        if response.status != EXPECTED[endpoint]:
            self.figures.errors.append(f"{endpoint} {response.status} {content[:200]!r}")
            return None
        return json.loads(content)

    def close(self) -> None:
        self.conn.close()


def wait_until(moment: float, stop: threading.Event) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        stop.wait(delay)


@dataclass
class Schedule:
    """When the clients start, when their requests start to count, and when they stop."""

    start_at: float
    measured_from: float
    stop_at: float
    stop: threading.Event


class Tally:
    """A client's own figures: the warm-up's and the measured ones, merged at its end."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.warm = Figures()
        self.measured = Figures()

    def at(self, due: float) -> Figures:
        return self.warm if due < self.schedule.measured_from else self.measured

    def merge_into(self, figures: Figures, warmup: Figures) -> None:
        figures.merge(self.measured)
        warmup.merge(self.warm)


def scan_loop(scanner, args, schedule: Schedule, figures, warmup, rng) -> None:
    tally = Tally(schedule)
    conn = Connection(args.port, scanner.token, tally.warm)
    path = f"/api/v1/receipts/{scanner.receipt_id}/scans/"
    due = schedule.start_at + rng.random() * args.scan_interval  # out of step with the others
    number = 0
    while due < schedule.stop_at and not schedule.stop.is_set():
        wait_until(due, schedule.stop)
        conn.figures = tally.at(due)
        lag = time.monotonic() - due
        if lag > args.scan_interval:
            conn.figures.late_scans += 1
        conn.figures.max_lag_s = max(conn.figures.max_lag_s, lag)
        barcode = scanner.barcodes[number % len(scanner.barcodes)]
        conn.send("scan", "POST", path, {"barcode": barcode})
        number += 1
        due += args.scan_interval
    conn.close()
    tally.merge_into(figures, warmup)


def open_tasks(pick_list: dict) -> list[dict]:
    tasks = [task for task in pick_list["tasks"] if task["status"] == "open"]
    return sorted(tasks, key=lambda task: task["sequence"])


def pick_loop(picker, args, gtins, schedule: Schedule, figures, warmup, rng) -> None:
    """Start a list, then take its tasks in order; every start, confirm, short pick or skip is
    due `--pick-interval` after the one before (a re-read of the list follows at once)."""
    tally = Tally(schedule)
    conn = Connection(args.port, picker.token, tally.warm)
    waiting = list(picker.pick_list_ids)
    current = 0
    tasks: list[dict] = []
    due = schedule.start_at + rng.random() * args.pick_interval
    while due < schedule.stop_at and not schedule.stop.is_set():
        if not tasks and not waiting:
            tally.at(due).pickers_done_early += 1
            break
        wait_until(due, schedule.stop)
        conn.figures = tally.at(due)
        due += args.pick_interval
        if not tasks:
            current = waiting.pop(0)
            started = conn.send("pick list start", "POST", f"/api/v1/pick-lists/{current}/start/")
            tasks = open_tasks(started) if started else []
            continue
        task = tasks[0]
        draw = rng.random()
        if draw < 0.03:
            picked = task["quantity"] - 1
            body = {"short_reason": "not_enough", "quantity_picked": picked}
            if picked:
                body.update({"bin": task["bin"], "item": gtins[task["sku"]]})
            conn.send("pick short", "POST", f"/api/v1/pick-tasks/{task['id']}/short/", body)
        elif draw < 0.06 and len(tasks) > 1:
            conn.send("pick skip", "POST", f"/api/v1/pick-tasks/{task['id']}/skip/", {})
        else:
            body = {"bin": task["bin"], "item": gtins[task["sku"]], "quantity": task["quantity"]}
            conn.send("pick confirm", "POST", f"/api/v1/pick-tasks/{task['id']}/confirm/", body)
            tasks.pop(0)  # picked; or refused (counted as an error), and left for a supervisor
            continue
        # A short pick may add tasks (re-allocated from the other bin), a skip reorders them.
        fresh = conn.send("pick list read", "GET", f"/api/v1/pick-lists/{current}/")
        tasks = open_tasks(fresh) if fresh else tasks[1:]
    conn.close()
    tally.merge_into(figures, warmup)


def sample_load(stop: threading.Event, samples: list[float]) -> None:
    while not stop.wait(5):
        samples.append(os.getloadavg()[0])


def drive(args, scanners, pickers, gtins) -> tuple[Figures, Figures, float]:
    """Run every client; return the measured figures, the warm-up's, and the measured time."""
    figures, warmup = Figures(), Figures()
    start_at = time.monotonic() + 2  # every thread started before the first request
    schedule = Schedule(
        start_at=start_at,
        measured_from=start_at + args.warmup,
        stop_at=start_at + args.warmup + args.duration,
        stop=threading.Event(),
    )
    rng = random.Random(args.seed)
    threads = [
        threading.Thread(
            target=scan_loop,
            args=(s, args, schedule, figures, warmup, random.Random(rng.random())),
        )
        for s in scanners
    ] + [
        threading.Thread(
            target=pick_loop,
            args=(p, args, gtins, schedule, figures, warmup, random.Random(rng.random())),
        )
        for p in pickers
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    finally:
        schedule.stop.set()  # on Ctrl-C: every client stops at its next request
        for thread in threads:
            thread.join()
    return figures, warmup, time.monotonic() - schedule.measured_from


# --- checks and report ------------------------------------------------------------------------


def verify(figures: Figures, warmup: Figures) -> list[tuple[str, bool]]:
    """The integrity checks after the run (warm-up included), each (what, whether it holds)."""
    from django.db.models import F, Q, Sum

    from receiving.models import ReceiptScan
    from shipping.models import Allocation, PickTask
    from warehouse.models import StockBalance
    from warehouse.selectors import list_ledger_mismatches

    scans = ReceiptScan.objects.count()
    picked = PickTask.objects.filter(status="picked").count()
    short = PickTask.objects.filter(status="short").count()
    mismatches = list_ledger_mismatches()
    broken = StockBalance.objects.filter(
        Q(quantity__lt=0) | Q(allocated__lt=0) | Q(allocated__gt=F("quantity"))
    ).count()
    promised = dict(
        Allocation.objects.filter(status__in=["reserved", "picked"])
        .values_list("balance_id")
        .annotate(total=Sum("quantity"))
    )
    allocated = dict(
        StockBalance.objects.filter(Q(allocated__gt=0) | Q(id__in=promised)).values_list(
            "id", "allocated"
        )
    )

    def answered(endpoint: str) -> int:
        return figures.answered(endpoint) + warmup.answered(endpoint)

    disagree = sum(1 for balance, units in allocated.items() if promised.get(balance, 0) != units)
    return [
        (
            f"scans recorded {scans} = scans answered 201 {answered('scan')}",
            scans == answered("scan"),
        ),
        (
            f"tasks picked {picked} = confirms answered 200 {answered('pick confirm')}",
            picked == answered("pick confirm"),
        ),
        (
            f"tasks short {short} = short picks answered 200 {answered('pick short')}",
            short == answered("pick short"),
        ),
        (f"ledger mismatches (reconcile_stock): {len(mismatches)}", not mismatches),
        (f"balances negative or over-allocated: {broken}", broken == 0),
        (f"balances whose allocated differs from their allocations: {disagree}", disagree == 0),
    ]


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def report(args, figures: Figures, seconds: float, loads: list[float], checks) -> bool:
    cpus = os.cpu_count()
    print()
    print(
        f"Load: {args.scanners} scanners (a scan every {args.scan_interval:g} s), "
        f"{args.pickers} pickers (an action every {args.pick_interval:g} s), {seconds:.0f} s; "
        f"gunicorn gthread {args.workers} workers x {args.threads} threads; {cpus} CPUs"
    )
    if loads:
        print(
            f"load average (1 min) during the run: mean {sum(loads) / len(loads):.1f}, "
            f"max {max(loads):.1f}"
        )
    columns = ("requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors")
    print(f"{'endpoint':<16}" + "".join(f"{c:>10}" for c in columns))
    total = failed = 0
    everything: list[float] = []
    p95_met = True
    for endpoint in EXPECTED:
        counts = figures.statuses.get(endpoint, Counter())
        sent = sum(counts.values())
        if not sent:
            continue
        errors = sent - counts[EXPECTED[endpoint]]
        total += sent
        failed += errors
        ordered = sorted(figures.latencies_ms[endpoint])
        everything.extend(ordered)
        p95 = percentile(ordered, 0.95)
        p95_met = p95_met and p95 < P95_TARGET_MS
        print(
            f"{endpoint:<16}{sent:>10}{sent / seconds:>10.1f}{percentile(ordered, 0.5):>10.1f}"
            f"{p95:>10.1f}{percentile(ordered, 0.99):>10.1f}{ordered[-1]:>10.1f}{errors:>10}"
        )
    everything.sort()
    print(
        f"{'all':<16}{total:>10}{total / seconds:>10.1f}{percentile(everything, 0.5):>10.1f}"
        f"{percentile(everything, 0.95):>10.1f}{percentile(everything, 0.99):>10.1f}"
        f"{everything[-1]:>10.1f}{failed:>10}"
    )
    rate = failed / total if total else 1.0
    print(
        f"error rate: {rate:.3%} (target < {ERROR_TARGET:.1%}: "
        f"{'met' if rate < ERROR_TARGET else 'NOT met'})"
    )
    print(f"p95 per endpoint < {P95_TARGET_MS:.0f} ms: {'met' if p95_met else 'NOT met'}")
    print(
        f"scans sent over a second late: {figures.late_scans} (largest lag "
        f"{figures.max_lag_s:.2f} s); connection retries: {figures.retries}; pickers out of "
        f"work before the end: {figures.pickers_done_early}"
    )
    for error in figures.errors[:5]:
        print("   ", error)
    ok = all(holds for _, holds in checks)
    for what, holds in checks:
        print(f"check: {what} ({'ok' if holds else 'FAILED'})")
    return ok and rate < ERROR_TARGET


def main() -> int:
    args = parse_args()
    env = {
        **os.environ,
        "DATABASE_URL": f"{args.postgres}/{args.database}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("REDIS_URL", None)
    env.pop("CACHE_URL", None)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")})
    for name in ("REDIS_URL", "CACHE_URL"):
        os.environ.pop(name, None)

    print(f"Recreating database {args.database} and migrating ...", flush=True)
    recreate_database(args.postgres, args.database)
    migrate(env)
    import django

    django.setup()
    # Tasks run in-process without Redis; their "succeeded" lines would bury the figures.
    logging.getLogger("celery").setLevel(logging.WARNING)
    print("Seeding ...", flush=True)
    started = time.monotonic()
    scanners, pickers, gtins = seed(args)
    print(f"Seeded in {time.monotonic() - started:.0f} s", flush=True)
    from django.db import connection

    connection.close()

    loads: list[float] = []
    sampling = threading.Event()
    sampler = threading.Thread(target=sample_load, args=(sampling, loads), daemon=True)
    options = {"port": args.port, "workers": args.workers, "threads": args.threads, "env": env}
    with running_server(**options, log_name="load-gunicorn"):
        print(f"Driving for {args.duration:g} s ...", flush=True)
        sampler.start()
        try:
            figures, warmup, seconds = drive(args, scanners, pickers, gtins)
        finally:
            sampling.set()
    return 0 if report(args, figures, seconds, loads, verify(figures, warmup)) else 1


if __name__ == "__main__":
    sys.exit(main())
