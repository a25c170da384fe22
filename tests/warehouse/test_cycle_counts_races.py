"""Counts racing with picks on real PostgreSQL transactions: the variance stays exact.

A pick whose move is written but not yet committed when the counter starts or submits must be
seen whole by the count: in the expected figure at the start, or in the ledger moves during the
count, never in neither. Threads use their own connections (see tests/warehouse/
test_concurrency.py). The deterministic tests hold the pick's transaction open until the
count's transaction is seen waiting for its lock (pg_blocking_pids), then commit the pick.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from tests.conftest import make_user
from tests.warehouse.test_concurrency import BARRIER_TIMEOUT, run_together
from warehouse import services as inventory
from warehouse.counts import services as counting
from warehouse.models import CountAttempt, CountLine, CountRequest, StockBalance, StockMove
from warehouse.selectors import list_ledger_mismatches

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def counters(site, settings):
    settings.DOCKSIDE = {**settings.DOCKSIDE, "COUNT_VARIANCE_UNITS": 5}
    return {
        "counter": make_user("inspector", "inspector", site=site),
        "manager": make_user("manager", "manager", site=site),
    }


def pick(site, bin_, product, quantity: int = 3) -> StockMove:
    return inventory.move_stock(
        from_location_id=bin_.id,
        to_location_id=site.staging.id,
        product_id=product.id,
        quantity=quantity,
        reason=StockMove.Reason.PICK,
    )


def on_hand(bin_, product) -> int:
    return StockBalance.objects.get(location=bin_, product=product).quantity


def wait_until_someone_waits_for_me() -> None:
    """Return once another backend is blocked by this connection's locks."""
    deadline = time.monotonic() + BARRIER_TIMEOUT
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # Inside a transaction pg_stat_activity is a snapshot taken on first use.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                [connection.connection.info.backend_pid],
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.005)  # polling a condition, not waiting for time to pass
    raise AssertionError("the count never waited for the pick's lock")


def held_pick(site, bin_, product, moved: threading.Event):
    """A worker: pick inside a transaction kept open until the count waits for it."""

    def work(barrier: threading.Barrier) -> StockMove:
        barrier.wait()
        with transaction.atomic():
            move = pick(site, bin_, product)
            moved.set()
            wait_until_someone_waits_for_me()
        return move

    return work


def new_count(site, bin_, counters) -> CountRequest:
    return counting.request_counts(location=bin_, actor=counters["manager"])[0]


def test_a_pick_in_flight_when_the_count_starts(site, product, counters):
    """The pick's move exists (uncommitted, with a lower ledger id) when the counter scans the
    bin. The start waits for it, so the expected figure already has it: 7 at the start, no
    ledger moves after; 7 counted is no variance."""
    bin_ = site.bins[0]
    inventory.receive_stock(location_id=bin_.id, product_id=product.id, quantity=10)
    task = new_count(site, bin_, counters)
    moved = threading.Event()

    def start(barrier: threading.Barrier) -> CountAttempt:
        barrier.wait()
        assert moved.wait(BARRIER_TIMEOUT)
        # A move elsewhere commits with a higher ledger id than the pick's: the highest id
        # alone would put the ledger position past a pick the balances do not show yet.
        inventory.receive_stock(location_id=site.bins[1].id, product_id=product.id, quantity=1)
        return counting.start_count(
            request_id=task.id, bin_code=bin_.code, actor=counters["counter"]
        )

    outcome = run_together([held_pick(site, bin_, product, moved), start])
    assert outcome.errors == []
    move = next(r for r in outcome.results if isinstance(r, StockMove))
    attempt = next(r for r in outcome.results if isinstance(r, CountAttempt))
    assert attempt.start_move_id >= move.id
    counting.record_count(
        request_id=task.id, scan=product.sku, quantity=7, key="k", actor=counters["counter"]
    )
    counting.submit_count(request_id=task.id, actor=counters["counter"], key="s")
    line = CountLine.objects.get(attempt=attempt)
    assert (line.expected_at_start, line.ledger_moves, line.variance) == (7, 0, 0)
    assert on_hand(bin_, product) == 7
    assert list_ledger_mismatches() == []


def test_a_pick_in_flight_when_the_count_is_submitted(site, product, counters):
    """Started at 10; the counter counted the 7 left after a pick whose transaction is still
    open when they submit. The submission waits for it and sees it in the ledger: expected
    10 - 3 = 7, no variance, no adjustment."""
    bin_ = site.bins[0]
    inventory.receive_stock(location_id=bin_.id, product_id=product.id, quantity=10)
    task = new_count(site, bin_, counters)
    counter = counters["counter"]
    counting.start_count(request_id=task.id, bin_code=bin_.code, actor=counter)
    counting.record_count(request_id=task.id, scan=product.sku, quantity=7, key="k", actor=counter)
    moved = threading.Event()

    def submit(barrier: threading.Barrier):
        barrier.wait()
        assert moved.wait(BARRIER_TIMEOUT)
        return counting.submit_count(request_id=task.id, actor=counter, key="s")

    outcome = run_together([held_pick(site, bin_, product, moved), submit])
    assert outcome.errors == []
    line = CountLine.objects.get(attempt__request=task)
    assert (line.expected_at_start, line.ledger_moves, line.variance) == (10, -3, 0)
    assert not StockMove.objects.filter(reason=StockMove.Reason.COUNT).exists()
    assert on_hand(bin_, product) == 7
    assert list_ledger_mismatches() == []


def test_submissions_racing_picks_always_reconcile(site, product, counters):
    """Eight rounds of a submission (10 counted) and a pick of 3 released together. Whichever
    commits first, the pick is in the count's ledger moves exactly when its id is at or below
    the submission's ledger position, and the bin ends at 10 (pick first: +3 found) or 7
    (count first, then the pick)."""
    counter = counters["counter"]
    orders = set()
    for round_number, bin_ in enumerate(site.bins * 2):
        before = on_hand(bin_, product) if round_number >= len(site.bins) else 0
        if before < 10:
            inventory.receive_stock(
                location_id=bin_.id, product_id=product.id, quantity=10 - before
            )
        task = new_count(site, bin_, counters)
        counting.start_count(request_id=task.id, bin_code=bin_.code, actor=counter)
        counting.record_count(
            request_id=task.id, scan=product.sku, quantity=10, key="k", actor=counter
        )

        def picker(barrier: threading.Barrier, bin_=bin_) -> StockMove:
            barrier.wait()
            return pick(site, bin_, product)

        def submit(barrier: threading.Barrier, task=task):
            barrier.wait()
            return counting.submit_count(request_id=task.id, actor=counter, key="s")

        outcome = run_together([picker, submit])
        assert outcome.errors == []
        move = next(r for r in outcome.results if isinstance(r, StockMove))
        attempt = CountAttempt.objects.get(request=task)
        line = CountLine.objects.get(attempt=attempt)
        pick_first = move.id <= attempt.end_move_id
        orders.add(pick_first)
        assert line.ledger_moves == (-3 if pick_first else 0)
        assert line.variance == (3 if pick_first else 0)
        assert on_hand(bin_, product) == (10 if pick_first else 7)
        assert list_ledger_mismatches() == []
    assert orders  # at least one order was seen (both usually are)
