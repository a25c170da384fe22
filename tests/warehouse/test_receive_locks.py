"""Which location a receipt locks (policy in `warehouse.locking`), seen from another connection."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from warehouse import services
from warehouse.models import Location

pytestmark = pytest.mark.django_db(transaction=True)


def location_is_locked(location_id: int) -> bool:
    """True if another transaction holds a row lock on the location (asked with NOWAIT)."""
    answer: list[bool] = []

    def ask() -> None:
        try:
            with transaction.atomic():
                Location.objects.select_for_update(nowait=True, no_key=True).get(id=location_id)
            answer.append(False)
        except DatabaseError:
            answer.append(True)
        finally:
            connection.close()

    thread = threading.Thread(target=ask)
    thread.start()
    thread.join(timeout=60)
    assert answer, "the other connection did not answer"
    return answer[0]


def loaded(location_id: int) -> Location:
    return Location.objects.select_related("zone").get(id=location_id)


def test_a_receipt_into_a_loaded_dock_floor_without_limits_locks_no_location(site, product):
    with transaction.atomic():
        services.receive_stock(
            location_id=site.dock.id,
            product_id=product.id,
            quantity=3,
            product=product,
            location=loaded(site.dock.id),
        )
        assert not location_is_locked(site.dock.id)


def test_a_receipt_into_a_location_with_a_limit_locks_it_until_commit(site, product):
    bin_ = site.bins[0]
    Location.objects.filter(id=bin_.id).update(max_volume_m3=Decimal("50"))
    with transaction.atomic():
        services.receive_stock(
            location_id=bin_.id,
            product_id=product.id,
            quantity=3,
            product=product,
            location=loaded(bin_.id),
        )
        assert location_is_locked(bin_.id)
    assert not location_is_locked(bin_.id)


def test_a_receipt_without_the_loaded_row_still_locks_its_location(site, product):
    with transaction.atomic():
        services.receive_stock(location_id=site.dock.id, product_id=product.id, quantity=3)
        assert location_is_locked(site.dock.id)
