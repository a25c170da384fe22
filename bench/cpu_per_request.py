#!/usr/bin/env python
"""CPU per request: what one scan or pick confirmation costs the server, app and database apart.

On a machine shared with other work, wall-clock figures swing with everything else running; the
CPU time the server's own processes spend per request does not. What it does:

1. (Re)creates a PostgreSQL database (default `dockside_cpu`), migrates it, and seeds through
   the services (with `bench.load`'s seeding) a few dock scanners with open receipts and a few
   pickers with released pick lists of enough tasks.
2. Starts gunicorn (`bench.bare_settings`: the app plus the bare reference endpoint) with one
   gthread worker, and the cache in Redis when `--cache` names one (as in production: the
   throttles then count there), the throttle rates raised so none refuses.
3. Drives the requests one at a time per client over keep-alive connections, in `--batches`
   interleaved batches of `--requests` each: receiving scans, API pick confirmations and the
   bare endpoint (one INSERT and one UPDATE behind the same token authentication). Around each
   batch it reads the CPU time (utime + stime, /proc/<pid>/stat) of the gunicorn worker and of
   the PostgreSQL backends serving the database (pids from pg_stat_activity).
4. Prints per kind the median over batches of CPU-ms per request, app and database, and the
   statements per request (counted in-process with the Django test client, BEGIN/COMMIT apart).

Usage: .venv/bin/python bench/cpu_per_request.py [--requests 200] [--batches 5]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import migrate, recreate_database, running_server  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
KINDS = ("bare", "scan", "confirm")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="Per batch and kind.")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=30, help="Per kind, not measured.")
    parser.add_argument("--clients", type=int, default=2, help="Scanners and pickers each.")
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--database", default="dockside_cpu")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--cache", default="", help="e.g. redis://127.0.0.1:6379/14")
    parser.add_argument(
        "--seed-only", action="store_true", help="Seed the database and stop (for profiling)."
    )
    return parser.parse_args()


@dataclass
class Task:
    id: int
    bin: str
    item: str
    quantity: int


def seed(args: argparse.Namespace) -> tuple[list, list[tuple[str, list[Task]]]]:
    """Scanners (token, receipt, labels) and, per picker, its token and tasks in list order."""
    from django.db import connection

    from bench.bare_urls import CREATE_TABLES
    from bench.load import seed as seed_load
    from shipping.models import PickTask

    confirms = args.requests * args.batches + args.warmup
    per_picker = confirms // args.clients + 10
    # bench.load sizes each picker's work from its run's length: ask for `per_picker` tasks.
    load_args = argparse.Namespace(
        scanners=args.clients,
        pickers=args.clients,
        warmup=0.0,
        duration=float(per_picker),
        pick_interval=1.25,
        seed=1,
    )
    scanners, pickers, _gtins = seed_load(load_args)
    with connection.cursor() as cursor:
        cursor.execute(CREATE_TABLES)
        cursor.execute(
            "INSERT INTO bench_bare_counter (user_id) SELECT id FROM auth_user "
            "WHERE username LIKE 'scanner%%'"
        )
    work = []
    for picker in pickers:
        tasks = (
            PickTask.objects.filter(pick_list_id__in=picker.pick_list_ids)
            .select_related("location", "product")
            .order_by("pick_list_id", "sequence")
        )
        work.append(
            (
                picker.token,
                [Task(t.id, t.location.code, t.product.gtin, t.quantity) for t in tasks],
            )
        )
    return scanners, work


def count_statements(scanners, work) -> dict[str, int]:
    """Statements of one request of each kind, in-process (test client), BEGIN/COMMIT apart."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    counts = {}
    scanner = scanners[0]
    token, tasks = work[0]

    def request(kind: str) -> tuple[str, str, dict]:
        if kind == "bare":
            return scanner.token, "/bench/bare/", {"barcode": "x"}
        if kind == "scan":
            path = f"/api/v1/receipts/{scanner.receipt_id}/scans/"
            return scanner.token, path, {"barcode": scanner.barcodes[0]}
        task = tasks.pop()
        body = {"bin": task.bin, "item": task.item, "quantity": task.quantity}
        return token, f"/api/v1/pick-tasks/{task.id}/confirm/", body

    for kind in KINDS:
        for _attempt in range(2):  # the second is counted: first-use reads are not per request
            bearer, path, body = request(kind)
            client = Client(HTTP_AUTHORIZATION=f"Bearer {bearer}")
            with CaptureQueriesContext(connection) as queries:
                response = client.post(
                    path,
                    json.dumps(body),
                    content_type="application/json",
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                )
            assert response.status_code in (200, 201), response.content[:300]
        counts[kind] = sum(
            1
            for query in queries.captured_queries
            if query["sql"] not in ("BEGIN", "COMMIT") and "SAVEPOINT" not in query["sql"]
        )
        counts[kind + " savepoints"] = sum(
            1 for query in queries.captured_queries if "SAVEPOINT" in query["sql"]
        )
    return counts


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` (and its finished children it waited for), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    # After the name: state is fields[0]; utime, stime are the 14th and 15th stat fields.
    return (int(fields[11]) + int(fields[12])) / TICKS


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


class Meter:
    """CPU seconds of the gunicorn workers and of the database's backends, now."""

    def __init__(self, postgres: str, database: str, master_pid: int) -> None:
        import psycopg

        self.master_pid = master_pid
        self.database = database
        self.watcher = psycopg.connect(f"{postgres}/postgres", autocommit=True)

    def backends(self) -> list[int]:
        rows = self.watcher.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = "
            "'client backend'",
            [self.database],
        ).fetchall()
        return [row[0] for row in rows]

    def read(self) -> tuple[dict[int, float], dict[int, float]]:
        app = {pid: process_cpu_seconds(pid) for pid in children_of(self.master_pid)}
        db = {pid: process_cpu_seconds(pid) for pid in self.backends()}
        return app, db


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


class Client:
    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path: str, body: dict) -> int:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        for attempt in range(2):
            try:
                self.conn.request("POST", path, json.dumps(body), headers)
                response = self.conn.getresponse()
                response.read()
                return response.status
            except (http.client.HTTPException, ConnectionError):
                # The server closed a connection left idle past its keep-alive: reconnect and
                # send again with the same Idempotency-Key (applied once whatever happened).
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def drive(kind: str, count: int, scanners, work, clients, position: dict) -> int:
    """`count` requests of `kind`, spread over the clients in turn; returns the failures."""
    failures = 0
    for number in range(count):
        index = number % len(scanners)
        if kind == "confirm":
            token, tasks = work[index]
            task = tasks[position.setdefault(token, 0)]
            position[token] += 1
            path = f"/api/v1/pick-tasks/{task.id}/confirm/"
            body = {"bin": task.bin, "item": task.item, "quantity": task.quantity}
            status = clients["picker", index].post(path, body)
        else:
            scanner = scanners[index]
            turn = position.setdefault(scanner.token, 0)
            position[scanner.token] += 1
            if kind == "scan":
                path = f"/api/v1/receipts/{scanner.receipt_id}/scans/"
            else:
                path = "/bench/bare/"
            body = {"barcode": scanner.barcodes[turn % len(scanner.barcodes)]}
            status = clients["scanner", index].post(path, body)
        failures += status not in (200, 201)
    return failures


def main() -> int:
    args = parse_args()
    env = {
        **os.environ,
        "DATABASE_URL": f"{args.postgres}/{args.database}",
        "DJANGO_SETTINGS_MODULE": "bench.bare_settings",
        # Counted but never refused: the point is what a throttle costs, not what it stops.
        "THROTTLE_USER": "1000000/minute",
        "THROTTLE_SCAN": "1000000/minute",
    }
    env.pop("REDIS_URL", None)
    env.pop("CACHE_URL", None)
    if args.cache:
        env["CACHE_URL"] = args.cache
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")})
    for name in ("REDIS_URL", "CACHE_URL"):
        os.environ.pop(name, None)

    print(f"Recreating database {args.database} and migrating ...", flush=True)
    recreate_database(args.postgres, args.database)
    migrate(env)
    import logging

    import django

    django.setup()
    logging.getLogger("celery").setLevel(logging.WARNING)
    print("Seeding ...", flush=True)
    scanners, work = seed(args)
    if args.seed_only:
        return 0
    statements = count_statements(scanners, work)
    from django.db import connection

    connection.close()

    medians: dict[str, tuple[float, float]] = {}
    options = {"port": args.port, "workers": 1, "threads": 2, "env": env}
    with running_server(**options, log_name="cpu-gunicorn") as server:
        clients = {}
        for index, scanner in enumerate(scanners):
            clients["scanner", index] = Client(args.port, scanner.token)
        for index, (token, _tasks) in enumerate(work):
            clients["picker", index] = Client(args.port, token)
        position: dict[str, int] = {}
        meter = Meter(args.postgres, args.database, server.pid)
        for kind in KINDS:
            drive(kind, args.warmup, scanners, work, clients, position)
        samples: dict[str, list[tuple[float, float]]] = {kind: [] for kind in KINDS}
        failures = 0
        for _batch in range(args.batches):
            for kind in KINDS:
                app_before, db_before = meter.read()
                failures += drive(kind, args.requests, scanners, work, clients, position)
                app_after, db_after = meter.read()
                samples[kind].append(
                    (
                        spent(app_before, app_after) * 1000 / args.requests,
                        spent(db_before, db_after) * 1000 / args.requests,
                    )
                )
        load = os.getloadavg()[0]
    print()
    print(
        f"CPU per request: {args.batches} batches x {args.requests} requests per kind, one "
        f"gunicorn worker, cache {args.cache or 'local memory'}; load average {load:.2f}"
    )
    print(f"{'kind':<10}{'app ms':>9}{'db ms':>9}{'total ms':>10}{'statements':>12}")
    for kind in KINDS:
        app = statistics.median(sample[0] for sample in samples[kind])
        db = statistics.median(sample[1] for sample in samples[kind])
        medians[kind] = (app, db)
        counted = f"{statements[kind]} + {statements[kind + ' savepoints']} sp"
        print(f"{kind:<10}{app:>9.2f}{db:>9.2f}{app + db:>10.2f}{counted:>12}")
    print(f"failed requests: {failures}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
