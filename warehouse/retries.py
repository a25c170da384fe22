"""Running a transaction again when PostgreSQL chose it as a deadlock victim.

Rows are locked in a stable order, but some lock pairs cannot be ordered (two requests that
each hold their own row and want the other's); PostgreSQL then aborts one of them whole, and
running it again is safe. Bounded, with jittered exponential back-off so that the two do not
collide again in step.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import OperationalError

from warehouse.errors import is_transient_conflict

log = logging.getLogger(__name__)

R = TypeVar("R")


def run_retrying_conflicts(run: Callable[[], R], *, what: str) -> R:
    """Call `run`, which opens and commits its own transaction; when PostgreSQL aborts it as a
    deadlock victim or on a serialisation failure, call it again, up to
    DOCKSIDE["CONFLICT_MAX_ATTEMPTS"] times in all. The last attempt's error propagates."""
    attempts = int(settings.DOCKSIDE.get("CONFLICT_MAX_ATTEMPTS", 6))
    for attempt in range(1, attempts + 1):
        try:
            return run()
        except OperationalError as error:
            if not is_transient_conflict(error) or attempt == attempts:
                raise
            log.info("retrying %s after %s (attempt %s)", what, error, attempt)
            time.sleep(min(0.5, 0.01 * 2**attempt) * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable")
