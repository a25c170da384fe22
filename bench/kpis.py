#!/usr/bin/env python
"""Delivery KPIs at scale: a year of 1,000,000 deliveries, recomputed and shown on the dashboard.

What it does, in one run:

1. (Re)creates a PostgreSQL database (default `dockside_kpi_bench`) and migrates it.
2. Generates, inside PostgreSQL (COPY from Python for the small tables, INSERT ... SELECT over
   generate_series for the large ones, one transaction per table so the deferred foreign keys
   are checked), one warehouse in Europe/Amsterdam, 500 products, 5,000 customers, 20 carriers
   with 10 vehicles each, and for each of `--days` local days ending yesterday: a dispatched
   route plan with routes 1..200 (route n always drives vehicle n), one stop per customer and
   day with its shipments (RouteStop.shipments). `--deliveries` orders spread evenly over the
   days, each with 1-3 lines, one dispatched shipment (ShipmentLine rows; ~3 % of lines short or
   cut) and one delivery with its lines: ~84 % inside the window, ~5 % within the tolerance
   just outside it, 4 % early, 7 % late with a long tail; 1 % refused, 0.5 % nobody home,
   1.5 % damaged (partial). Every row satisfies the models' constraints; `is_on_time` and
   `is_in_full` agree with the services' rules. ANALYZE afterwards.
3. Times `recompute_kpis` over the whole range and over yesterday (median of `--runs`), the
   dashboard (`GET /admin/kpis/` as a logged-in manager via Django's test client: the default
   page and 90 days by customer, median of `--runs` after one warm-up) and yesterday's
   on-time-delivery report; prints the figures against their targets, the snapshot row counts,
   the database size and the load average.

Usage: .venv/bin/python bench/kpis.py [--deliveries 1000000] [--days 365] [--runs 3]
       .venv/bin/python bench/kpis.py --deliveries 20000   # a quick run
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIME_ZONE = "Europe/Amsterdam"
PRODUCTS = 500
CUSTOMERS = 5000
CARRIERS = 20
ROUTES = 200  # per day; route n is driven by vehicle n
TOLERANCE_MINUTES = 15  # DOCKSIDE["DELIVERY_WINDOW_TOLERANCE_MINUTES"] default

TARGETS = {"full": 60.0, "day": 2.0, "dashboard": 1.0}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=3, help="Timed runs per measurement.")
    parser.add_argument("--database", default="dockside_kpi_bench")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--seed", type=float, default=0.42, help="PostgreSQL setseed().")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="EXPLAIN ANALYZE the slowest statement of the full-range recompute.",
    )
    parser.add_argument(
        "--keep", action="store_true", help="Reuse the generated database as it is (no rebuild)."
    )
    return parser.parse_args()


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f}/{five:.1f}/{fifteen:.1f}"


def recreate_database(postgres: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{postgres}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


# --- generation -----------------------------------------------------------------------------

CARRIER_NAMES = [f"Carrier {chr(ord('A') + n)}" for n in range(CARRIERS)]


def vehicle_rows() -> Iterator[tuple]:
    for number in range(1, ROUTES + 1):
        yield (
            number,
            f"V{number:03d}",
            CARRIER_NAMES[(number - 1) % CARRIERS],
            "1200.0",
            "14.00",
            number % 10 == 0,
            dt.time(5),
            dt.time(19),
            12 * 60,
            "40.0",
            "50.00",
            "0.500",
            True,
            1,
        )


def customer_rows(rng: random.Random) -> Iterator[tuple]:
    for number in range(1, CUSTOMERS + 1):
        yield (
            number,
            f"c{number:05d}",
            f"Customer {number:05d}",
            f"{number} Harbour Road",
            f"{52.0 + rng.random() * 0.8:.6f}",
            f"{4.4 + rng.random() * 1.2:.6f}",
            dt.time(8),
            dt.time(18),
            10,
            True,
            1,
        )


def product_rows() -> Iterator[tuple]:
    for number in range(1, PRODUCTS + 1):
        yield (number, f"KPI-{number:04d}", f"Bench item {number}", "each", "0.8000", "0.002000")


# One row per order: its day, customer, route and every random draw the later tables need.
PLAN_SQL = """
CREATE UNLOGGED TABLE bench_plan AS
WITH draws AS (
    SELECT n,
           ((n - 1)::bigint * %(days)s / %(orders)s)::int AS day_index,
           1 + floor(random() * %(customers)s)::int AS customer,
           random() AS r_window, random() AS r_length, random() AS r_timing,
           random() AS r_offset, random() AS r_exception, random() AS r_dispatch,
           random() AS r_created, random() AS r_lines
    FROM generate_series(1, %(orders)s) AS n
), placed AS (
    SELECT d.*,
           %(first_day)s::date + d.day_index AS day,
           1 + ((d.customer * 7919 + d.day_index * 104729) %% %(routes)s) AS route
    FROM draws d
), timed AS (
    SELECT p.*,
           (p.day + make_interval(hours => 8 + floor(p.r_window * 8)::int))
               AT TIME ZONE %(tz)s AS window_start,
           (p.day + make_interval(hours => 8 + floor(p.r_window * 8)::int
                                           + 2 + floor(p.r_length * 3)::int))
               AT TIME ZONE %(tz)s AS window_end,
           (p.day + interval '5 hours 30 minutes' + make_interval(mins => (p.route %% 4) * 15))
               AT TIME ZONE %(tz)s AS departure,
           (p.day - (1 + (p.r_created < 0.1)::int)
                  + make_interval(hours => 7) + p.r_created * interval '12 hours')
               AT TIME ZONE %(tz)s AS created_at
    FROM placed p
), dispatched AS (
    SELECT t.*,
           t.departure + CASE
               WHEN t.r_dispatch < 0.9 THEN -(5 + t.r_dispatch / 0.9 * 35) * interval '1 minute'
               ELSE (1 - ln(1 - (t.r_dispatch - 0.9) / 0.1 * 0.999) * 30) * interval '1 minute'
           END AS dispatched_at
    FROM timed t
)
SELECT x.n, x.day_index, x.day, x.customer, x.route, x.window_start, x.window_end,
       x.departure, x.created_at, x.dispatched_at, x.r_lines, x.r_exception,
       GREATEST(
           CASE
               WHEN x.r_timing < 0.04 THEN
                   x.window_start - (16 + x.r_offset * 90) * interval '1 minute'
               WHEN x.r_timing < 0.11 THEN
                   x.window_end + (16 - ln(1 - x.r_offset * 0.999) * 40) * interval '1 minute'
               WHEN x.r_timing < 0.16 THEN
                   CASE WHEN x.r_offset < 0.5
                        THEN x.window_start - x.r_offset * 2 * %(tolerance)s * interval '1 minute'
                        ELSE x.window_end
                             + (x.r_offset - 0.5) * 2 * %(tolerance)s * interval '1 minute'
                   END
               ELSE x.window_start + x.r_offset * (x.window_end - x.window_start)
           END,
           x.dispatched_at + interval '20 minutes'
       ) AS delivered_at,
       CASE WHEN x.r_exception < 0.01 THEN 'refused'
            WHEN x.r_exception < 0.015 THEN 'not_home'
            WHEN x.r_exception < 0.03 THEN 'damaged'
            ELSE '' END AS exception
FROM dispatched x
"""

STEPS: list[tuple[str, str]] = [  # statements separated by ";\n" run one by one
    (
        "route plans",
        """
        INSERT INTO routing_routeplan (id, warehouse_id, delivery_date, status, time_limit_seconds,
            seed, solve_attempt, solve_started_at, solved_at, best_objective, solutions_found,
            solve_seconds, strategy, total_distance_m, total_duration_s, vehicles_used,
            dropped_stops, error, matrix_key, approved_at, created_at, updated_at)
        SELECT i + 1, 1, %(first_day)s::date + i, 'dispatched', 30, 0, 1,
               ts - interval '10 minutes', ts - interval '9 minutes', 1000000, 5, 58.2,
               'guided_local_search', 200 * 95000, 200 * 32400, %(routes)s, 0, '', '',
               ts - interval '8 minutes', ts - interval '11 minutes', ts
        FROM generate_series(0, %(days)s - 1) AS i,
             LATERAL (SELECT ((%(first_day)s::date + i - 1) + interval '18 hours')
                              AT TIME ZONE %(tz)s AS ts) AS t
        """,
    ),
    (
        "routes",
        """
        INSERT INTO routing_route (id, plan_id, vehicle_id, number, departure_at, return_at,
            distance_m, duration_s, load_weight_kg, load_volume_m3)
        SELECT i * %(routes)s + v, i + 1, v, v,
               ((%(first_day)s::date + i) + interval '5 hours 30 minutes'
                   + make_interval(mins => (v %% 4) * 15)) AT TIME ZONE %(tz)s,
               ((%(first_day)s::date + i) + interval '15 hours 30 minutes'
                   + make_interval(mins => (v %% 4) * 15)) AT TIME ZONE %(tz)s,
               95000, 32400, 600.0, 6.000
        FROM generate_series(0, %(days)s - 1) AS i, generate_series(1, %(routes)s) AS v
        """,
    ),
    (
        "orders",
        """
        INSERT INTO shipping_order (id, warehouse_id, customer_id, number, status, priority,
            requested_date, promised_window_start, promised_window_end, carrier, allow_partial,
            note, created_at, updated_at)
        SELECT n, 1, customer, 'SO-' || lpad(n::text, 8, '0'), 'delivered', 3, day,
               window_start, window_end,
               'Carrier ' || chr(65 + (route - 1) %% %(carriers)s), r_exception > 0.5, '',
               created_at, delivered_at
        FROM bench_plan
        """,
    ),
    (
        "order lines",
        """
        INSERT INTO shipping_orderline (order_id, line_number, product_id, pack, pack_quantity,
            quantity, quantity_allocated, quantity_backordered, quantity_picked,
            quantity_shipped)
        SELECT order_id, line_number, product_id, '', quantity, quantity, shipped, 0, shipped,
               shipped
        FROM (
            SELECT order_id, line_number, product_id, quantity,
                   CASE WHEN r_short < 0.01 THEN 0
                        WHEN r_short < 0.03 THEN quantity / 2
                        ELSE quantity END AS shipped
            FROM (
                SELECT p.n AS order_id, line AS line_number,
                       1 + floor(random() * %(products)s)::int AS product_id,
                       1 + floor(random() * 24)::int AS quantity,
                       random() AS r_short
                FROM bench_plan p, generate_series(1, 1 + floor(p.r_lines * 3)::int) AS line
            ) drawn
        ) lines
        """,
    ),
    (
        "shipments",
        """
        INSERT INTO shipping_shipment (id, warehouse_id, order_id, number, status,
            planned_departure, load_sequence, vehicle_code, created_at, packed_at, staged_at,
            dispatched_at)
        SELECT n, 1, n, 'SH-' || lpad(n::text, 8, '0'), 'delivered', departure, NULL,
               'V' || lpad(route::text, 3, '0'),
               created_at + interval '1 hour', departure - interval '2 hours',
               departure - interval '1 hour', dispatched_at
        FROM bench_plan
        """,
    ),
    (
        "shipment lines",
        """
        INSERT INTO shipping_shipmentline (shipment_id, order_line_id, quantity)
        SELECT order_id, id, quantity_shipped FROM shipping_orderline WHERE quantity_shipped > 0
        """,
    ),
    (
        "deliveries",
        """
        INSERT INTO shipping_delivery (id, shipment_id, arrived_at, delivered_at, recipient_name,
            proof_file, exception, note, is_on_time, is_in_full, created_at)
        SELECT p.n, p.n, p.delivered_at - interval '4 minutes', p.delivered_at, 'Receiving',
               NULL, p.exception, '',
               p.delivered_at BETWEEN p.window_start - %(tolerance)s * interval '1 minute'
                                  AND p.window_end + %(tolerance)s * interval '1 minute',
               p.exception = '' AND NOT s.is_short,
               p.delivered_at + interval '2 minutes'
        FROM bench_plan p
        JOIN (SELECT order_id, bool_or(quantity_shipped < quantity) AS is_short
              FROM shipping_orderline GROUP BY order_id) s ON s.order_id = p.n
        """,
    ),
    (
        "delivery lines",
        """
        INSERT INTO shipping_deliveryline (delivery_id, order_line_id, quantity_delivered)
        SELECT l.order_id, l.id,
               CASE WHEN p.exception IN ('refused', 'not_home') THEN 0
                    WHEN p.exception = 'damaged' THEN l.quantity_shipped
                                                      - ceil(l.quantity_shipped / 3.0)::int
                    ELSE l.quantity_shipped END
        FROM shipping_orderline l JOIN bench_plan p ON p.n = l.order_id
        """,
    ),
    (
        "route stops",
        """
        CREATE UNLOGGED TABLE bench_stop AS
        SELECT row_number() OVER (ORDER BY day_index, customer) AS id, day_index, customer,
               route, first_window_start, first_window_end,
               row_number() OVER (PARTITION BY day_index, route
                                  ORDER BY first_window_start, customer) AS sequence,
               orders
        FROM (
            SELECT day_index, customer, min(route) AS route,
                   min(window_start) AS first_window_start, min(window_end) AS first_window_end,
                   count(*) AS orders
            FROM bench_plan GROUP BY day_index, customer
        ) per_customer;
        INSERT INTO routing_routestop (id, plan_id, route_id, sequence, customer_id, weight_kg,
            volume_m3, needs_refrigeration, priority, service_seconds, windows, planned_arrival,
            waiting_seconds, planned_departure, load_weight_after_kg, load_volume_after_m3,
            distance_from_previous_m, dropped_reason_code, dropped_reason)
        SELECT s.id, s.day_index + 1, s.day_index * %(routes)s + s.route, s.sequence,
               s.customer, 12.5 * s.orders, 0.040 * s.orders, false, 1, 600,
               jsonb_build_array(jsonb_build_array(
                   extract(epoch FROM s.first_window_start
                           - ((%(first_day)s::date + s.day_index)::timestamp
                              AT TIME ZONE %(tz)s))::int,
                   extract(epoch FROM s.first_window_end
                           - ((%(first_day)s::date + s.day_index)::timestamp
                              AT TIME ZONE %(tz)s))::int)),
               s.first_window_start, 0, s.first_window_start + interval '10 minutes',
               NULL, NULL, 4000, '', ''
        FROM bench_stop s
        """,
    ),
    (
        "stop and plan shipments",
        """
        INSERT INTO routing_routestop_shipments (routestop_id, shipment_id)
        SELECT s.id, p.n FROM bench_plan p
        JOIN bench_stop s ON s.day_index = p.day_index AND s.customer = p.customer;
        INSERT INTO routing_routeplan_shipments (routeplan_id, shipment_id)
        SELECT day_index + 1, n FROM bench_plan
        """,
    ),
]

IDENTITY_TABLES = [
    "warehouse_product",
    "shipping_customer",
    "routing_vehicle",
    "routing_routeplan",
    "routing_route",
    "routing_routestop",
    "shipping_order",
    "shipping_shipment",
    "shipping_delivery",
]


def generate(conn, args, first_day: dt.date) -> list[tuple[str, float]]:
    """Fill the database; returns (step, seconds) including each step's commit."""
    rng = random.Random(7)
    params = {
        "days": args.days,
        "orders": args.deliveries,
        "customers": CUSTOMERS,
        "products": PRODUCTS,
        "routes": ROUTES,
        "carriers": CARRIERS,
        "first_day": first_day,
        "tz": TIME_ZONE,
        "tolerance": TOLERANCE_MINUTES,
    }
    timings = []

    def step(name: str, work: Callable[[object], None]) -> None:
        started = time.perf_counter()
        with conn.cursor() as cursor:
            work(cursor)
        conn.commit()
        timings.append((name, time.perf_counter() - started))
        print(f"  {name:<24} {timings[-1][1]:7.1f} s", flush=True)

    def master_data(cursor) -> None:
        cursor.execute(
            "INSERT INTO warehouse_warehouse (id, code, name, time_zone, address, latitude,"
            " longitude) VALUES (1, 'BENCH', 'KPI bench DC', %s, '', 52.3, 4.9)",
            [TIME_ZONE],
        )
        copies = (
            (
                "warehouse_product (id, sku, name, base_unit, unit_weight_kg, unit_volume_m3,"
                " storage_class, is_lot_tracked, is_expiry_tracked,"
                " min_remaining_shelf_life_days, is_active, unit_cost)",
                ((*row, "ambient", False, False, 0, True, 0) for row in product_rows()),
            ),
            (
                "shipping_customer (id, code, name, address, latitude, longitude, window_start,"
                " window_end, service_time_minutes, is_active, warehouse_id)",
                customer_rows(rng),
            ),
            (
                "routing_vehicle (id, code, carrier, capacity_weight_kg, capacity_volume_m3,"
                " is_refrigerated, shift_start, shift_end, max_route_minutes,"
                " average_speed_kmh, fixed_cost, cost_per_km, is_active, warehouse_id)",
                vehicle_rows(),
            ),
        )
        for target, rows in copies:
            with cursor.copy(f"COPY {target} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def plan(cursor) -> None:
        cursor.execute("SELECT setseed(%s)", [args.seed])
        cursor.execute(PLAN_SQL, params)

    step("warehouse, COPY masters", master_data)
    step("per-order draws", plan)

    def run(cursor, sql: str) -> None:
        for statement in sql.split(";\n"):
            cursor.execute(statement, params)

    for name, sql in STEPS:
        step(name, lambda cursor, sql=sql: run(cursor, sql))

    def finish(cursor) -> None:
        for table in IDENTITY_TABLES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT max(id) FROM {table}))"
            )
        cursor.execute("DROP TABLE bench_plan, bench_stop")

    step("sequences, drop scratch", finish)
    conn.autocommit = True
    started = time.perf_counter()
    conn.execute("ANALYZE")
    conn.autocommit = False
    timings.append(("ANALYZE", time.perf_counter() - started))
    print(f"  {'ANALYZE':<24} {timings[-1][1]:7.1f} s", flush=True)
    return timings


# --- measurements ---------------------------------------------------------------------------


def timed(call: Callable[[], object], runs: int, *, warm_up: bool = False) -> list[float]:
    if warm_up:
        call()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return seconds


class StatementClock:
    """Times every SQL statement Django runs while installed (connection.execute_wrapper)."""

    def __init__(self) -> None:
        self.statements: list[tuple[float, str, object]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.statements.append((time.perf_counter() - started, sql, params))

    def slowest(self, count: int) -> list[tuple[float, str, object]]:
        return sorted(self.statements, key=lambda item: item[0], reverse=True)[:count]


def describe(sql: str, params) -> str:
    """A short name for a statement: its target table and the metrics named in its params."""
    words = " ".join(sql.split())
    target = words.split("INSERT INTO ", 1)[1].split(" ", 1)[0] if "INSERT INTO" in words else ""
    if not target:
        target = words[:60]
    from shipping.kpis.definitions import BY_NAME

    metrics = sorted({p for p in params or () if isinstance(p, str) and p in BY_NAME})
    return f"{target} {','.join(metrics)}".strip()


class ExplainOnce:
    """Before the first statement named `target` runs, EXPLAIN (ANALYZE, BUFFERS) it inside a
    savepoint that is rolled back: the plan of the statement in its own transaction (the KPI
    statements read temporary tables that live only there)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.plan = ""

    def __call__(self, execute, sql, params, many, context):
        if not self.plan and not many and describe(sql, params) == self.target:
            raw = context["cursor"].cursor
            raw.execute("SAVEPOINT bench_explain")
            raw.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            self.plan = "\n".join(row[0] for row in raw.fetchall())
            raw.execute("ROLLBACK TO SAVEPOINT bench_explain")
        return execute(sql, params, many, context)


def manager_client():
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from warehouse.models import Warehouse
    from warehouse.roles import MANAGER

    user, _ = User.objects.get_or_create(
        username="bench-manager", defaults={"is_staff": True, "email": "m@example.com"}
    )
    user.groups.add(Group.objects.get(name=MANAGER))
    Warehouse.objects.get(code="BENCH").staff.add(user)
    client = Client()
    client.force_login(user)
    return client


def fetch(client, url: str) -> Callable[[], None]:
    def call() -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url}: {response.status_code}")

    return call


def table_rows(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


def database_size(name: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(%s))", [name])
        return cursor.fetchone()[0]


def verdict(seconds: float, target: float) -> str:
    return f"target < {target:g} s: {'met' if seconds < target else 'NOT met'}"


def main() -> int:
    args = parse_args()
    database_url = f"{args.postgres}/{args.database}"
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("REDIS_URL", None)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")})
    os.environ.pop("REDIS_URL", None)

    today = dt.datetime.now(ZoneInfo(TIME_ZONE)).date()
    yesterday = today - dt.timedelta(days=1)
    first_day = today - dt.timedelta(days=args.days)
    print(f"load average at start: {load()} ({os.cpu_count()} CPUs)", flush=True)
    generation: list[tuple[str, float]] = []
    if not args.keep:
        print(f"Recreating database {args.database} and migrating ...", flush=True)
        recreate_database(args.postgres, args.database)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        import psycopg

        print(
            f"Generating {args.deliveries:,} deliveries over {args.days} days "
            f"({first_day} .. {yesterday}) ...",
            flush=True,
        )
        with psycopg.connect(database_url) as conn:
            generation = generate(conn, args, first_day)

    import django

    django.setup()
    from django.db import connection

    from shipping.kpis.compute import recompute_kpis

    JOBS = os.cpu_count() or 1  # as `manage.py compute_kpis` does by default
    from shipping.kpis.reports import produce_daily_otd_report
    from shipping.models import KpiHistogram, KpiSnapshot
    from warehouse.models import Warehouse

    warehouse = Warehouse.objects.get(code="BENCH")
    rows = {t: table_rows(t) for t in ("shipping_delivery", "shipping_orderline")}
    print(
        f"source rows: {rows['shipping_delivery']:,} deliveries, "
        f"{rows['shipping_orderline']:,} order lines",
        flush=True,
    )

    # From empty tables, as on a fresh database: with --keep a previous run's rows are there.
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE shipping_kpisnapshot, shipping_kpihistogram")
    print("Timing the full-range recompute ...", flush=True)
    full_load = load()
    clock = StatementClock()
    # The chunks run on their own threads' connections: clock each chunk's connection.
    import shipping.kpis.compute as compute

    unclocked = compute.recompute_warehouse

    def clocked(**kwargs):
        with connection.execute_wrapper(clock):
            return unclocked(**kwargs)

    compute.recompute_warehouse = clocked
    try:
        full = timed(lambda: recompute_kpis(date_from=first_day, date_to=yesterday, jobs=JOBS), 1)
    finally:
        compute.recompute_warehouse = unclocked
    print(f"  {full[0]:.1f} s (load {full_load}); slowest statements:", flush=True)
    for seconds, sql, params in clock.slowest(6):
        print(f"  {seconds:7.1f} s  {describe(sql, params)}", flush=True)
    snapshots, histograms = KpiSnapshot.objects.count(), KpiHistogram.objects.count()

    print("Timing yesterday's recompute ...", flush=True)
    day_load = load()
    day = timed(lambda: recompute_kpis(date_from=yesterday, date_to=yesterday), args.runs)

    client = manager_client()
    pages = {
        "default": "/admin/kpis/",
        "90 days by customer": "/admin/kpis/?period=90d&dimension=customer",
    }
    dashboard = {}
    dashboard_load = load()
    for name, url in pages.items():
        dashboard[name] = timed(fetch(client, url), max(args.runs, 5), warm_up=True)

    report_load = load()
    report = timed(
        lambda: produce_daily_otd_report(warehouse=warehouse, day=yesterday, email=False),
        args.runs,
    )

    plan = ""
    if args.explain:
        # The slowest statement's kind, over 30 days written afresh (its rows deleted first, as
        # in the full run, which started from empty tables).
        target = describe(*clock.slowest(1)[0][1:])
        since = yesterday - dt.timedelta(days=29)
        KpiSnapshot.objects.filter(date__gte=since).delete()
        KpiHistogram.objects.filter(date__gte=since).delete()
        explaining = ExplainOnce(target)
        with connection.execute_wrapper(explaining):
            recompute_kpis(date_from=since, date_to=yesterday)
        plan = f"EXPLAIN ANALYZE of {target}, {since} .. {yesterday}:\n{explaining.plan}"

    print()
    print(
        f"Delivery KPIs: {rows['shipping_delivery']:,} deliveries over {args.days} days, "
        f"{os.cpu_count()} CPUs"
    )
    if generation:
        total = sum(seconds for _, seconds in generation)
        print(f"generation: {total:.1f} s in all")
    median_day = statistics.median(day)
    print(
        f"full-range recompute: {full[0]:.1f} s ({verdict(full[0], TARGETS['full'])}; "
        f"load {full_load})"
    )
    print(
        f"yesterday's recompute: median {median_day:.2f} s of {[round(s, 2) for s in day]} "
        f"({verdict(median_day, TARGETS['day'])}; load {day_load})"
    )
    for name, seconds in dashboard.items():
        median = statistics.median(seconds)
        print(
            f"dashboard, {name}: median {median * 1000:.0f} ms of "
            f"{[round(s * 1000) for s in seconds]} ms "
            f"({verdict(median, TARGETS['dashboard'])}; load {dashboard_load})"
        )
    print(
        f"yesterday's on-time-delivery report: median {statistics.median(report):.2f} s "
        f"(load {report_load})"
    )
    print(f"snapshot rows: {snapshots:,} KpiSnapshot, {histograms:,} KpiHistogram")
    print(f"database size: {database_size(args.database)}; load average at end: {load()}")
    if plan:
        print(plan)
    return 0


if __name__ == "__main__":
    sys.exit(main())
