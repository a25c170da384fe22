"""`allocate_stock_batch`: many conditional allocations in one statement, never over-promising."""

from __future__ import annotations

import random
import threading

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from tests.factories import warehouse as wf
from warehouse import services
from warehouse.errors import InvalidQuantity
from warehouse.models import StockBalance, StockStatus

QUARANTINE = StockStatus.QUARANTINE


def balance_in(location, product, status=StockStatus.AVAILABLE) -> StockBalance:
    return StockBalance.objects.get(location=location, product=product, status=status)


def stock(location, product, quantity: int, status=StockStatus.AVAILABLE) -> int:
    services.receive_stock(
        location_id=location.id, product_id=product.id, quantity=quantity, status=status
    )
    return balance_in(location, product, status).id


def allocated(balance_id: int) -> int:
    return StockBalance.objects.get(id=balance_id).allocated


@pytest.mark.django_db
class TestAllocateStockBatch:
    def test_takes_what_fits_and_refuses_the_rest(self, site, product):
        roomy = stock(site.bins[0], product, 10)
        tight = stock(site.bins[1], product, 3)
        granted = services.allocate_stock_batch(requests=[(roomy, 4), (tight, 5)])
        assert granted == {roomy}
        # The refused balance is untouched; the other one holds exactly its request.
        assert (allocated(roomy), allocated(tight)) == (4, 0)

    def test_exactly_what_is_free_is_granted_once(self, site, product):
        row = stock(site.bins[0], product, 6)
        services.allocate_stock(balance_id=row, quantity=2)
        assert services.allocate_stock_batch(requests=[(row, 4)]) == {row}
        assert services.allocate_stock_batch(requests=[(row, 1)]) == set()
        assert allocated(row) == 6

    def test_requests_for_one_balance_are_summed_all_or_nothing(self, site, product):
        row = stock(site.bins[0], product, 10)
        other = stock(site.bins[1], product, 10)
        # 4 + 5 fits in 10: one update of 9, not two updates racing each other.
        assert services.allocate_stock_batch(requests=[(row, 4), (other, 1), (row, 5)]) == {
            row,
            other,
        }
        assert (allocated(row), allocated(other)) == (9, 1)
        # 1 + 1 = 2 no longer fits in the 1 left: neither part is taken.
        assert services.allocate_stock_batch(requests=[(row, 1), (row, 1)]) == set()
        assert allocated(row) == 9

    def test_quarantined_and_unknown_balances_are_refused(self, site, product):
        held = stock(site.quarantine, product, 9, status=QUARANTINE)
        good = stock(site.bins[0], product, 9)
        granted = services.allocate_stock_batch(requests=[(held, 1), (987654, 1), (good, 2)])
        assert granted == {good}
        assert allocated(held) == 0

    @pytest.mark.parametrize("quantity", [0, -3])
    def test_a_non_positive_quantity_refuses_the_whole_batch(self, site, product, quantity):
        row = stock(site.bins[0], product, 9)
        with pytest.raises(InvalidQuantity):
            services.allocate_stock_batch(requests=[(row, 2), (row, quantity)])
        assert allocated(row) == 0

    def test_nothing_asked_nothing_granted(self, db):
        assert services.allocate_stock_batch(requests=[]) == set()

    def test_joins_the_callers_transaction(self, site, product):
        row = stock(site.bins[0], product, 5)
        with transaction.atomic():
            assert services.allocate_stock_batch(requests=[(row, 5)]) == {row}
            transaction.set_rollback(True)
        assert allocated(row) == 0


@pytest.mark.django_db(transaction=True)
def test_twenty_threads_batching_on_the_same_balances_never_over_promise():
    site = wf.make_site(bins=4)
    product = wf.make_product()
    sizes = [7, 11, 13, 5]
    ids = [stock(location, product, size) for location, size in zip(site.bins, sizes, strict=True)]
    barrier = threading.Barrier(20, timeout=60)
    granted: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    guard = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            # Each thread asks for several balances at once, in shuffled order and with a
            # duplicate, so the lock order and the merging are both exercised under contention.
            requests = [(balance_id, rng.randint(1, 3)) for balance_id in ids]
            requests.append((rng.choice(ids), 1))
            rng.shuffle(requests)
            barrier.wait()
            for _ in range(3):
                got = services.allocate_stock_batch(requests=requests)
                merged: dict[int, int] = {}
                for balance_id, quantity in requests:
                    merged[balance_id] = merged.get(balance_id, 0) + quantity
                with guard:
                    granted.extend((balance_id, merged[balance_id]) for balance_id in got)
        except BaseException as error:  # any failure (a deadlock included) fails the test
            with guard:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    rows = {row.id: row for row in StockBalance.objects.filter(id__in=ids)}
    for balance_id, size in zip(ids, sizes, strict=True):
        promised = sum(quantity for granted_id, quantity in granted if granted_id == balance_id)
        # What the callers were told they got is exactly what the balance holds, within stock.
        assert rows[balance_id].allocated == promised
        assert rows[balance_id].allocated <= size
    # 60 batches ask about 120 units of each balance of at most 13: most were refused, so the
    # condition, not luck, kept the totals within stock.
    assert 0 < len(granted) < 60 * len(ids)
    assert StockBalance.objects.aggregate(total=Sum("allocated"))["total"] == sum(
        q for _, q in granted
    )
