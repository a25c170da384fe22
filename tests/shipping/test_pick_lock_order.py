"""A short pick takes its row locks in the order of the lock policy (warehouse.locking).

Found by bench/load.py: a short pick released the shortfall first (locking the bin's balance)
and only then locked the staging location to move the picked units, while confirmations into
the same staging location hold it and then lock the bin's balance. With 50 pickers and 100
scanners PostgreSQL broke the cycles by aborting pickers' confirmations (409, 1.5 % of them).

Now a staging location is locked only when it has a capacity limit, and then before any
balance row; with or without one, the picked units' move locks the bin's and the staging
balance together in id order before the shortfall is released, as a confirmation does.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shipping.models import PickTask
from shipping.services import short_pick
from tests.factories import shipping as sf
from tests.factories import states
from warehouse.models import Location

pytestmark = pytest.mark.django_db


def _first(statements: list[str], *fragments: str) -> int:
    return next(
        index
        for index, sql in enumerate(statements)
        if all(fragment in sql for fragment in fragments)
    )


def _short_pick_one_of_two(site, product, picker) -> tuple[PickTask, list[str]]:
    layout = sf.add_outbound_layout(site)
    task = states.started_pick_task(layout, product, picker)
    assert task.quantity == 2
    with CaptureQueriesContext(connection) as queries:
        short_pick(
            task_id=task.id,
            quantity_picked=1,
            reason=PickTask.ShortReason.NOT_ENOUGH,
            bin_code=task.location.code,
            item_scan=product.gtin,
            actor=picker,
        )
    task.refresh_from_db()
    assert (task.status, task.quantity_picked) == (PickTask.Status.SHORT, 1)
    return task, [query["sql"] for query in queries.captured_queries]


def _balance_locks(statements: list[str]) -> tuple[int, int]:
    """Where the balances are first locked together, and where the shortfall is released."""
    together = _first(statements, 'FROM "warehouse_stockbalance"', "FOR NO KEY UPDATE")
    release = _first(statements, 'UPDATE "warehouse_stockbalance"', '"allocated" -')
    return together, release


def test_short_pick_locks_a_capped_staging_location_before_the_bins_balance(site, product, users):
    Location.objects.filter(id=site.staging.id).update(max_weight_kg=Decimal("10000"))
    _task, statements = _short_pick_one_of_two(site, product, users["picker"])
    location_lock = _first(statements, 'FROM "warehouse_location"', "FOR NO KEY UPDATE")
    together, release = _balance_locks(statements)
    assert location_lock < together < release


def test_short_pick_into_an_uncapped_staging_location_locks_only_balances_in_order(
    site, product, users
):
    _task, statements = _short_pick_one_of_two(site, product, users["picker"])
    assert not any(
        'FROM "warehouse_location"' in sql and "FOR NO KEY UPDATE" in sql for sql in statements
    )
    together, release = _balance_locks(statements)
    assert together < release
