"""Row locks for stock, taken in one global order so that concurrent services cannot deadlock.

Lock policy (every writer of stock follows it):
1. At most the one target location of a move is locked (to check its capacity), before any
   balance row. A transaction that makes several moves may lock several; the outbound services
   (allocation, pick confirmations, short picks, skips) retry a transaction PostgreSQL aborts
   as a deadlock victim. Two exceptions lock no location: a receipt (`receive_stock`) and a
   pick's move of allocated units (`move_allocated_stock`) into a location without a capacity
   limit (a dock floor, a staging lane) whose row the caller has already read in its
   transaction. With no limit there is no load to keep true until commit, so receipts into
   one dock floor, and pickers bringing goods to one staging lane, run side by side; a change
   of the location committed meanwhile (deactivated, a limit set) takes effect after the
   receipt or pick, as it does for stock already there. Every other target location is
   locked; a capacity-limited staging lane is, by confirmations and short picks alike.
2. Balance rows are locked together, in ascending id order, after their rows are ensured to exist.
   A short pick moves the picked units (locking the bin's and the staging balance together)
   before it releases the shortfall from the bin's balance, so it takes them in the same order
   as a confirmation from that bin.
3. Allocation changes on a single balance row use one conditional UPDATE and take no other lock.
4. Locks are FOR NO KEY UPDATE, never plain FOR UPDATE: inserting a row that references a locked
   row (a StockMove naming the move's other location) takes FOR KEY SHARE on it, which FOR UPDATE
   blocks. Two opposite moves A->B and B->A, each holding its target location, would then wait
   for each other's source location: a deadlock. We never change a key, so NO KEY UPDATE is enough.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from warehouse.models import Location, StockBalance


def lock_location(location_id: int) -> Location:
    """Lock one location row (with its zone loaded) for the rest of the transaction."""
    return (
        Location.objects.select_for_update(of=("self",), no_key=True)
        .select_related("zone")
        .get(id=location_id)
    )


def lock_balances(balance_ids: Iterable[int]) -> dict[int, StockBalance]:
    """Lock balance rows in ascending id order and return them by id."""
    rows: QuerySet[StockBalance] = (
        StockBalance.objects.select_for_update(no_key=True)
        .filter(id__in=set(balance_ids))
        .order_by("id")
    )
    return {row.id: row for row in rows}
