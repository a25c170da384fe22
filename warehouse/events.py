"""Listeners told that a product's stock became available in a warehouse.

The warehouse app knows nothing of orders; the outbound app registers a listener here (from its
AppConfig.ready) to re-allocate backorders. Listeners are called inside the transaction that
changed the stock and only record work, through `warehouse.outbox.enqueue`: it then runs once
that transaction commits, and never if it rolls back.
"""

from __future__ import annotations

from collections.abc import Callable

StockAvailableListener = Callable[[int, int], None]  # (warehouse_id, product_id)

_listeners: list[StockAvailableListener] = []


def register_stock_available_listener(listener: StockAvailableListener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def stock_became_available(*, warehouse_id: int, product_id: int) -> None:
    """Tell every listener, in the current transaction."""
    for listener in _listeners:
        listener(warehouse_id, product_id)
