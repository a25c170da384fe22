"""A Celery worker killed (SIGKILL) in the middle of its work, again and again: every task
still finishes on a later run, and its effects happen once.

Each test starts a real worker (prefork, one child) on the test database and Redis, feeds it
through the outbox relay, and kills the child while the task is provably mid-way: it has
claimed a route plan, or it is blocked on a row or a KPI day lock this test holds. With
acks_late and reject_on_worker_lost the message goes back to the queue; the next run must finish
the job.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from celery import Celery, current_app
from django.conf import settings
from django.db import connection
from django.utils import timezone

from routing import services as routing
from routing.models import RoutePlan
from shipping import services as shipping
from shipping.kpis.dialect import KPI_LOCK_CLASS, day_lock_key
from shipping.models import KpiSnapshot, PickList, Wave
from tests.factories import kpis as kf
from tests.factories import routing as rf
from tests.factories import shipping as sf
from tests.factories import warehouse as wf
from warehouse import outbox
from warehouse.models import OutboxMessage, ProcessedMessage
from warehouse.services import receive_stock

ROOT = Path(__file__).resolve().parent.parent
KILLS = 3
DEADLINE_S = 90


def wait_for(condition: Callable[[], object], what: str, timeout: float = DEADLINE_S):
    """Poll until `condition()` is truthy (it reads committed state the worker writes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Worker:
    def __init__(self, process: subprocess.Popen, queue: str, log: Path) -> None:
        self.process = process
        self.queue = queue
        self.log = log

    def child_pids(self) -> list[int]:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        return [int(pid) for pid in out.split()]

    def kill_child(self) -> int:
        children = wait_for(self.child_pids, "a pool child")
        os.kill(children[0], signal.SIGKILL)
        return children[0]


@pytest.fixture
def worker(redis_url, tmp_path) -> Iterator[Worker]:
    queue = f"dockside-test-faults-{uuid.uuid4().hex}"
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        ),
        "REDIS_URL": redis_url,
        # A claimed solve counts as dead this soon after its time limit (default 2 minutes).
        "DOCKSIDE_ROUTE_SOLVE_STALE_MARGIN_SECONDS": "1",
    }
    log = tmp_path / "worker.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork",
         "--concurrency=1", "-Q", queue, "--without-heartbeat", "--without-mingle",
         "--without-gossip", "--loglevel=INFO", f"--logfile={log}"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        yield Worker(process, queue, log)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        app = Celery("faults-cleanup", broker=redis_url, set_as_current=False)
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)


def publish(worker: Worker, redis_url: str) -> None:
    """What the relay does: hand the committed outbox messages to the broker."""
    app = Celery("faults-relay", broker=redis_url, set_as_current=False)
    app.conf.task_default_queue = worker.queue
    assert outbox.publish_pending(app=app).count >= 1


@pytest.fixture
def broker_mode():
    """Run as a deployment with a broker does: enqueue records, the relay publishes."""
    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = False
    yield
    current_app.conf.task_always_eager = eager


@pytest.mark.django_db(transaction=True)
def test_route_planning_finishes_once_despite_killed_workers(worker, redis_url, broker_mode):
    site = wf.make_site()
    sf.add_outbound_layout(site)
    rf.make_vehicle(site.warehouse, "VAN-A")
    rf.make_vehicle(site.warehouse, "VAN-B")
    heavy = wf.make_product(sku="HEAVY", unit_weight_kg=Decimal(10), unit_volume_m3=Decimal("0.01"))
    day = timezone.localdate() + dt.timedelta(days=1)
    for lat, lon in [("52.36", "4.88"), ("52.37", "4.90"), ("52.22", "4.92"), ("52.21", "4.90")]:
        customer = sf.make_customer(site.warehouse, latitude=Decimal(lat), longitude=Decimal(lon))
        rf.make_shipment(customer, heavy, 20, day=day)
    plan = routing.create_route_plan(
        warehouse_id=site.warehouse.id, delivery_date=day, time_limit_seconds=3
    )
    plan = routing.request_solve(plan_id=plan.id)
    message = OutboxMessage.objects.get(task="routing.tasks.plan_routes_task")
    publish(worker, redis_url)

    claims = []
    for _kill in range(KILLS):
        # Mid-way: the run has claimed the attempt (committed) and is solving.
        claimed = wait_for(
            lambda: (
                (
                    started := RoutePlan.objects.filter(id=plan.id)
                    .values_list("solve_started_at", flat=True)
                    .get()
                )
                and started not in claims
                and started
            ),
            "a run to claim the plan",
        )
        claims.append(claimed)
        worker.kill_child()

    solved = wait_for(
        lambda: RoutePlan.objects.filter(id=plan.id, status=RoutePlan.Status.SOLVED).first(),
        "the plan to be solved",
    )
    assert solved.solve_attempt == plan.solve_attempt  # the same attempt, never re-requested
    assert sum(route.stops.count() for route in solved.routes.all()) == 4
    assert solved.stops.filter(route__isnull=True).count() == 0
    wait_for(
        lambda: ProcessedMessage.objects.filter(message_id=message.id).exists(),
        "the message to be marked applied",
    )
    assert ProcessedMessage.objects.filter(message_id=message.id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_wave_release_finishes_once_despite_killed_workers(worker, redis_url, broker_mode):
    site = wf.make_site()
    outbound = sf.add_outbound_layout(site)
    product = wf.make_product(sku="WAVE-1", gtin="09501101530201")
    receive_stock(location_id=outbound.pick_faces[0].id, product_id=product.id, quantity=50)
    for _ in range(3):
        order = sf.make_order(sf.make_customer(site.warehouse), [(product, 4)])
        shipping.allocate_order(order_id=order.id)
    wave = shipping.plan_wave(
        warehouse_id=site.warehouse.id,
        dispatch_date=timezone.localdate(),
        cutoff_at=timezone.now() - dt.timedelta(minutes=1),
    )
    outbox.enqueue("shipping.tasks.release_due_waves_task")

    # Hold the wave's row so that every run blocks inside release_wave, mid-transaction.
    database = connection.settings_dict
    with psycopg.connect(
        dbname=database["NAME"],
        user=database["USER"],
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
    ) as holder:
        holder.execute("SELECT id FROM shipping_wave WHERE id = %s FOR UPDATE", [wave.id])
        publish(worker, redis_url)
        seen: set[int] = set()
        for _kill in range(KILLS):
            # A killed run's backend keeps waiting (PostgreSQL notices the lost client only
            # when the lock is granted), so wait for a backend of the next run.
            blocked = wait_for(
                lambda seen=seen: _backends_waiting_on_a_lock(holder, database["NAME"]) - seen,
                "a run to block on the wave",
            )
            seen |= blocked
            worker.kill_child()
        holder.rollback()  # let the next run through

    released = wait_for(
        lambda: Wave.objects.filter(id=wave.id, status=Wave.Status.RELEASED).first(),
        "the wave to be released",
    )
    lists = PickList.objects.filter(wave=released)
    assert lists.count() == 1
    assert sum(pick_list.tasks.count() for pick_list in lists) == 3


@pytest.mark.django_db(transaction=True)
def test_kpi_recompute_finishes_once_despite_killed_workers(worker, redis_url, broker_mode):
    site = wf.make_site()
    warehouse = site.warehouse
    product = wf.make_product(sku="KPI-1")
    customer = sf.make_customer(warehouse)
    today = timezone.localtime(timezone.now(), warehouse.tzinfo).date()
    yesterday = today - dt.timedelta(days=1)
    window = (kf.at(warehouse, yesterday, 9), kf.at(warehouse, yesterday, 11))
    kf.delivered_order(customer, product, window=window, delivered_at=window[0])  # on time
    kf.delivered_order(
        customer, product, window=window, delivered_at=kf.at(warehouse, yesterday, 14)
    )
    message = outbox.enqueue("shipping.tasks.recompute_recent_kpis_task")

    # Hold yesterday's and today's KPI day locks, so every run blocks mid-recompute, inside
    # its transaction, before it writes a snapshot.
    database = connection.settings_dict
    with psycopg.connect(
        dbname=database["NAME"],
        user=database["USER"],
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
    ) as holder:
        for day in (yesterday, today):
            holder.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [KPI_LOCK_CLASS, day_lock_key(warehouse.id, day)],
            )
        publish(worker, redis_url)
        seen: set[int] = set()
        for _kill in range(KILLS):
            blocked = wait_for(
                lambda seen=seen: _backends_waiting_on_a_lock(holder, database["NAME"]) - seen,
                "a run to block on the KPI day lock",
            )
            seen |= blocked
            worker.kill_child()
        assert not KpiSnapshot.objects.exists()  # the killed runs left nothing half-written
        holder.rollback()  # let the next run through

    wait_for(
        lambda: ProcessedMessage.objects.filter(message_id=message.id).exists(),
        "the message to be marked applied",
    )
    otd = KpiSnapshot.objects.get(
        warehouse=warehouse, date=yesterday, metric="otd", dimension="all"
    )
    assert (otd.numerator, otd.denominator) == (1, 2)
    assert ProcessedMessage.objects.filter(message_id=message.id).count() == 1


def _backends_waiting_on_a_lock(holder: psycopg.Connection, database: str) -> set[int]:
    with psycopg.connect(holder.info.dsn, autocommit=True) as probe:
        rows = probe.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
            "AND pid <> %s",
            [database, holder.info.backend_pid],
        ).fetchall()
    return {pid for (pid,) in rows}


def test_no_task_waits_longer_than_the_broker_redelivers() -> None:
    """A countdown longer than the visibility timeout would be delivered twice by Redis."""
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    longest_solve = 600 + int(settings.DOCKSIDE["ROUTE_SOLVE_STALE_MARGIN_SECONDS"])
    assert longest_solve < visibility
