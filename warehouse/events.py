"""Listeners told, after commit, that a product's stock became available in a warehouse.

The warehouse app knows nothing of orders; the outbound app registers a listener here (from its
AppConfig.ready) to re-allocate backorders. Listeners run only after the transaction commits.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

StockAvailableListener = Callable[[int, int], None]  # (warehouse_id, product_id)

_listeners: list[StockAvailableListener] = []


def register_stock_available_listener(listener: StockAvailableListener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def stock_became_available(*, warehouse_id: int, product_id: int) -> None:
    """Schedule every listener to hear of it once the current transaction commits."""
    for listener in _listeners:
        transaction.on_commit(
            lambda listener=listener: listener(warehouse_id, product_id), robust=True
        )
