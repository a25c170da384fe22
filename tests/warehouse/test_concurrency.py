"""Concurrent stock writers on real PostgreSQL transactions: no lost update, oversell or deadlock.

Every test starts its threads together on a Barrier; each thread uses its own database connection
(Django connections are per thread) and closes it when done. Expected refusals (domain errors) are
counted; any other exception is a failure of the locking policy in `warehouse.locking`.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.db import connection
from django.db.models import Sum

from tests.factories import warehouse as wf
from warehouse import services
from warehouse.errors import DomainError, InsufficientStock, InvalidQuantity
from warehouse.models import StockBalance, StockMove, StockStatus
from warehouse.selectors import list_ledger_mismatches

pytestmark = pytest.mark.django_db(transaction=True)

# Long enough for PostgreSQL to detect a deadlock (deadlock_timeout is 1 s) many times over;
# only reached if a thread hangs, which is itself the failure being looked for.
BARRIER_TIMEOUT = 60


@dataclass
class Outcome:
    """What the threads did: results in order of completion, and the exceptions they raised."""

    results: list = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def unexpected(self) -> list[BaseException]:
        return [e for e in self.errors if not isinstance(e, DomainError)]


def run_together(workers: list[Callable[[threading.Barrier], object]]) -> Outcome:
    """Run each worker in its own thread, released together; collect results and exceptions."""
    barrier = threading.Barrier(len(workers), timeout=BARRIER_TIMEOUT)
    outcome = Outcome()

    def run(worker: Callable[[threading.Barrier], object]) -> None:
        try:
            result = worker(barrier)
            with outcome.lock:
                outcome.results.append(result)
        except BaseException as error:  # any failure is reported by the test
            with outcome.lock:
                outcome.errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=BARRIER_TIMEOUT * 3)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    return outcome


def assert_invariants(product, *, received: int) -> None:
    """No negative stock, no over-allocation, ledger = balances, nothing created or lost."""
    rows = list(StockBalance.objects.filter(product=product))
    assert all(row.quantity >= 0 for row in rows)
    assert all(0 <= row.allocated <= row.quantity for row in rows)
    assert list_ledger_mismatches() == []
    total = StockBalance.objects.filter(product=product).aggregate(total=Sum("quantity"))["total"]
    assert total == received


def test_mixed_moves_and_allocations_keep_every_invariant(site, product):
    """20 threads each make 12 random moves, picks, allocations and deallocations of one SKU."""
    bins = [site.bins[0].id, site.bins[1].id, site.bins[2].id, site.staging.id]
    for location_id in bins:
        services.receive_stock(location_id=location_id, product_id=product.id, quantity=60)
    balance_ids = {row.location_id: row.id for row in StockBalance.objects.filter(product=product)}
    received = 60 * len(bins)

    def worker(seed: int) -> Callable[[threading.Barrier], Counter]:
        def work(barrier: threading.Barrier) -> Counter:
            rng = random.Random(seed)
            done: Counter = Counter()
            barrier.wait()
            for _ in range(12):
                source, target = rng.sample(bins, 2)
                quantity = rng.randint(1, 8)
                operation = rng.choice(["move", "move", "pick", "allocate", "deallocate"])
                try:
                    if operation in ("move", "pick"):
                        services.move_stock(
                            from_location_id=source,
                            to_location_id=target,
                            product_id=product.id,
                            quantity=quantity,
                            allocated=operation == "pick",
                        )
                    elif operation == "allocate":
                        services.allocate_stock(balance_id=balance_ids[source], quantity=quantity)
                        done["allocated"] += quantity
                    else:
                        services.deallocate_stock(balance_id=balance_ids[source], quantity=quantity)
                        done["allocated"] -= quantity
                    done[operation] += 1
                except (InsufficientStock, InvalidQuantity):
                    done["refused"] += 1
            return done

        return work

    outcome = run_together([worker(seed) for seed in range(20)])

    assert outcome.errors == []
    # Summed by hand: Counter's + drops the negative net allocations of some threads.
    totals = {
        name: sum(done[name] for done in outcome.results)
        for name in ("move", "pick", "allocated", "refused")
    }
    assert totals["move"] + totals["pick"] > 0  # the run did contend, not only refuse
    assert_invariants(product, received=received)
    # Allocations are never lost or doubled: what the threads promised is what the rows hold.
    held = StockBalance.objects.filter(product=product).aggregate(total=Sum("allocated"))["total"]
    assert held == totals["allocated"]
    assert StockMove.objects.count() == len(bins) + totals["move"] + totals["pick"]


def test_first_row_race_then_competing_allocations(site, product):
    """Two threads create the first balance row of a bin together, then both try to take 8 of it.

    Each thread receives 5 units into a bin with no balance row yet (so both race to create the
    row); after both receipts commit they allocate 8 each against the 10 on hand. Exactly one
    allocation may win.
    """
    location_id = site.bins[0].id
    assert not StockBalance.objects.filter(location_id=location_id).exists()

    def work(barrier: threading.Barrier) -> str:
        barrier.wait()
        services.receive_stock(location_id=location_id, product_id=product.id, quantity=5)
        barrier.wait()  # both receipts committed: the row holds 10
        balance_id = StockBalance.objects.get(location_id=location_id, product=product).id
        barrier.wait()
        try:
            services.allocate_stock(balance_id=balance_id, quantity=8)
        except InsufficientStock:
            return "refused"
        return "allocated"

    outcome = run_together([work, work])

    assert outcome.errors == []
    assert sorted(outcome.results) == ["allocated", "refused"]
    row = StockBalance.objects.get(location_id=location_id, product=product)
    assert (row.quantity, row.allocated) == (10, 8)
    assert_invariants(product, received=10)


def test_first_row_race_receipt_against_allocations(site, product):
    """One thread receives 10 into an empty bin while two others allocate 8 as soon as it shows.

    The allocators cannot know the row id in advance: each waits until the receiving thread's
    row is visible (signalled by an Event set after commit), then all three race again.
    """
    location_id = site.bins[1].id
    committed = threading.Event()

    def receive(barrier: threading.Barrier) -> str:
        barrier.wait()
        services.receive_stock(location_id=location_id, product_id=product.id, quantity=10)
        committed.set()
        barrier.wait()
        return "received"

    def allocate(barrier: threading.Barrier) -> str:
        barrier.wait()
        assert committed.wait(BARRIER_TIMEOUT)
        balance_id = StockBalance.objects.get(location_id=location_id, product=product).id
        barrier.wait()
        try:
            services.allocate_stock(balance_id=balance_id, quantity=8)
        except InsufficientStock:
            return "refused"
        return "allocated"

    outcome = run_together([receive, allocate, allocate])

    assert outcome.errors == []
    assert sorted(outcome.results) == ["allocated", "received", "refused"]
    row = StockBalance.objects.get(location_id=location_id, product=product)
    assert (row.quantity, row.allocated) == (10, 8)
    assert_invariants(product, received=10)


def test_concurrent_first_receipts_make_one_row(site, product, lot_product):
    """Receipts racing into places with no balance row yet end in one row each, with the sum."""
    lot = wf.make_lot(lot_product, "RACE")
    places = [
        (site.dock.id, product.id, None, 5),
        (site.dock.id, product.id, None, 7),
        (site.bins[0].id, product.id, None, 3),
        (site.bins[0].id, product.id, None, 4),
        (site.chilled_bins[0].id, lot_product.id, lot.id, 6),
        (site.chilled_bins[0].id, lot_product.id, lot.id, 9),
    ]

    def worker(location_id, product_id, lot_id, quantity) -> Callable[[threading.Barrier], int]:
        def work(barrier: threading.Barrier) -> int:
            barrier.wait()
            return services.receive_stock(
                location_id=location_id, product_id=product_id, quantity=quantity, lot_id=lot_id
            ).id

        return work

    outcome = run_together([worker(*place) for place in places])

    assert outcome.errors == []
    assert len(set(outcome.results)) == 6
    rows = {
        (row.location_id, row.product_id, row.lot_id): row.quantity
        for row in StockBalance.objects.all()
    }
    assert rows == {
        (site.dock.id, product.id, None): 12,
        (site.bins[0].id, product.id, None): 7,
        (site.chilled_bins[0].id, lot_product.id, lot.id): 15,
    }
    assert StockMove.objects.count() == 6
    assert list_ledger_mismatches() == []


def test_fifty_single_unit_allocations_against_ten(site, product):
    services.receive_stock(location_id=site.bins[0].id, product_id=product.id, quantity=10)
    balance_id = StockBalance.objects.get(location=site.bins[0], product=product).id

    def work(barrier: threading.Barrier) -> str:
        barrier.wait()
        services.allocate_stock(balance_id=balance_id, quantity=1)
        return "allocated"

    outcome = run_together([work] * 50)

    assert outcome.results == ["allocated"] * 10
    assert len(outcome.errors) == 40
    assert all(type(error) is InsufficientStock for error in outcome.errors), outcome.errors
    row = StockBalance.objects.get(id=balance_id)
    assert (row.quantity, row.allocated) == (10, 10)
    assert_invariants(product, received=10)


def test_opposite_moves_do_not_deadlock(site, product):
    """Threads move the same SKU A->B and B->A at once, over and over; none may fail."""
    a, b = site.bins[0].id, site.bins[1].id
    for location_id in (a, b):
        services.receive_stock(location_id=location_id, product_id=product.id, quantity=100)
    rounds = 6

    def worker(source: int, target: int) -> Callable[[threading.Barrier], int]:
        def work(barrier: threading.Barrier) -> int:
            barrier.wait()
            for _ in range(rounds):
                services.move_stock(
                    from_location_id=source,
                    to_location_id=target,
                    product_id=product.id,
                    quantity=1,
                )
            return rounds

        return work

    workers = [worker(a, b), worker(b, a)] * 8
    outcome = run_together(workers)

    # A deadlock victim would surface here as an OperationalError (SQLSTATE 40P01).
    assert outcome.errors == []
    assert sum(outcome.results) == 16 * rounds
    # As many went each way, so both bins are back where they started.
    assert StockBalance.objects.get(location_id=a, product=product).quantity == 100
    assert StockBalance.objects.get(location_id=b, product=product).quantity == 100
    assert StockMove.objects.count() == 2 + 16 * rounds
    assert_invariants(product, received=200)


def test_opposite_status_changes_and_moves_do_not_deadlock(site, product):
    """Status changes in a bin racing moves into and out of it with the same SKU."""
    a, b = site.bins[0].id, site.bins[1].id
    services.receive_stock(location_id=a, product_id=product.id, quantity=100)
    services.receive_stock(location_id=b, product_id=product.id, quantity=100)
    services.receive_stock(
        location_id=a, product_id=product.id, quantity=100, status=StockStatus.QUARANTINE
    )

    def quarantine_and_release(barrier: threading.Barrier) -> int:
        barrier.wait()
        for _ in range(5):
            for source, target in (
                (StockStatus.AVAILABLE, StockStatus.QUARANTINE),
                (StockStatus.QUARANTINE, StockStatus.AVAILABLE),
            ):
                services.change_stock_status(
                    location_id=a,
                    product_id=product.id,
                    quantity=1,
                    from_status=source,
                    to_status=target,
                    reason=StockMove.Reason.QUARANTINE,
                )
        return 10

    def shuttle(source: int, target: int) -> Callable[[threading.Barrier], int]:
        def work(barrier: threading.Barrier) -> int:
            barrier.wait()
            for _ in range(5):
                services.move_stock(
                    from_location_id=source,
                    to_location_id=target,
                    product_id=product.id,
                    quantity=1,
                )
            return 5

        return work

    outcome = run_together([quarantine_and_release, shuttle(a, b), shuttle(b, a)] * 4)

    assert outcome.errors == []
    assert sum(outcome.results) == 4 * 20
    assert_invariants(product, received=300)
