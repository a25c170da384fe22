"""A short pick takes its row locks in the order of the lock policy (warehouse.locking): the
staging location the picked units go to before any balance row.

Found by bench/load.py: a short pick released the shortfall first (locking the bin's balance)
and only then locked the staging location to move the picked units, while confirmations into
the same staging location hold it and then lock the bin's balance. With 50 pickers and 100
scanners PostgreSQL broke the cycles by aborting pickers' confirmations (409, 1.5 % of them).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shipping.models import PickTask
from shipping.services import short_pick
from tests.factories import shipping as sf
from tests.factories import states

pytestmark = pytest.mark.django_db


def _first(statements: list[str], *fragments: str) -> int:
    return next(
        index
        for index, sql in enumerate(statements)
        if all(fragment in sql for fragment in fragments)
    )


def test_short_pick_locks_the_staging_location_before_the_bins_balance(site, product, users):
    layout = sf.add_outbound_layout(site)
    picker = users["picker"]
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
    statements = [query["sql"] for query in queries.captured_queries]
    location_lock = _first(statements, 'FROM "warehouse_location"', "FOR NO KEY UPDATE")
    balance_change = min(
        _first(statements, 'UPDATE "warehouse_stockbalance"'),
        _first(statements, 'FROM "warehouse_stockbalance"', "FOR NO KEY UPDATE"),
    )
    assert location_lock < balance_change
    task.refresh_from_db()
    assert (task.status, task.quantity_picked) == (PickTask.Status.SHORT, 1)
