"""Helpers shared by the outbound services: event rows, settings, retry on deadlock."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction

from shipping.errors import ConcurrentUpdate
from shipping.models import OutboundEvent
from warehouse.errors import is_transient_conflict
from warehouse.retries import run_retrying_conflicts
from warehouse.roles import recorded_user

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def setting(name: str, default: Any) -> Any:
    return settings.DOCKSIDE.get(name, default)


def retry_on_conflict(function: Callable[P, R]) -> Callable[P, R]:
    """Run `function` in its own transaction, retrying it on deadlock/serialisation failure
    (warehouse.retries), so the victim of a deadlock retries instead of reaching the user.
    Inside a caller's transaction it cannot retry (the caller's work is rolled back with it)
    and just runs once. Raises ConcurrentUpdate (409) when every attempt was a victim.
    """

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if connection.in_atomic_block:
            return function(*args, **kwargs)

        def attempt() -> R:
            with transaction.atomic():
                return function(*args, **kwargs)

        try:
            return run_retrying_conflicts(attempt, what=function.__name__)
        except OperationalError as error:
            if is_transient_conflict(error):
                raise ConcurrentUpdate(
                    "The warehouse is busy with the same stock; nothing was written. "
                    "Retry in a moment."
                ) from error
            raise

    return wrapper


def record_event(
    *,
    warehouse_id: int,
    kind: str,
    actor=None,
    order_id: int | None = None,
    wave_id: int | None = None,
    pick_task_id: int | None = None,
    shipment_id: int | None = None,
    data: dict | None = None,
    idempotency_key: str = "",
) -> OutboundEvent:
    return OutboundEvent.objects.create(
        warehouse_id=warehouse_id,
        kind=kind,
        actor=recorded_user(actor),
        order_id=order_id,
        wave_id=wave_id,
        pick_task_id=pick_task_id,
        shipment_id=shipment_id,
        data=data or {},
        idempotency_key=idempotency_key,
    )


def claim_idempotency_key(*, key: str, warehouse_id: int, kind: str, actor, **refs) -> bool:
    """Record that the scan `key` is being applied; False if it was applied already.

    The row goes in first, in a savepoint of the caller's transaction: a concurrent duplicate
    waits on the unique index until the first commits, then sees it and does nothing.
    """
    if not key:
        return True
    try:
        with transaction.atomic():
            record_event(
                warehouse_id=warehouse_id, kind=kind, actor=actor, idempotency_key=key, **refs
            )
    except IntegrityError:
        return False
    return True
