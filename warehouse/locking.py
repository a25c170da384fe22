"""Row locks for stock, taken in one global order so that concurrent services cannot deadlock.

Lock policy (every writer of stock follows it):
1. At most the one target location of a move is locked (to check its capacity), before any
   balance row. A transaction that makes several moves may lock several; the outbound services
   retry a transaction PostgreSQL aborts as a deadlock victim.
2. Balance rows are locked together, in ascending id order, after their rows are ensured to exist.
3. Allocation changes on a single balance row use one conditional UPDATE and take no other lock.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from warehouse.models import Location, StockBalance


def lock_location(location_id: int) -> Location:
    """Lock one location row (with its zone loaded) for the rest of the transaction."""
    return (
        Location.objects.select_for_update(of=("self",))
        .select_related("zone")
        .get(id=location_id)
    )


def lock_balances(balance_ids: Iterable[int]) -> dict[int, StockBalance]:
    """Lock balance rows in ascending id order and return them by id."""
    rows: QuerySet[StockBalance] = (
        StockBalance.objects.select_for_update().filter(id__in=set(balance_ids)).order_by("id")
    )
    return {row.id: row for row in rows}
