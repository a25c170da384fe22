"""The API's throttles, counted in the shared cache (Redis in production).

They fail open: if the cache cannot be reached a request is let through and a warning logged,
so a Redis outage refuses no scan (the rates guard against abuse and runaway clients, they are
not a business rule). After a failure the cache is left alone for a few seconds, so that an
unreachable Redis costs one connection timeout now and then, not one per request. Over a rate,
DRF answers 429 with Retry-After. The per-user rates, checked on every API request, count per
fixed window (`_CountPerWindow`): one cache round trip each.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError
from rest_framework import throttling
from rest_framework.settings import api_settings

from config.cache import count

logger = logging.getLogger(__name__)

CACHE_ERRORS = (RedisError, OSError)
# How long a process leaves the cache alone after it failed to answer.
CACHE_RETRY_SECONDS = 5.0
_cache_down_until = 0.0


def cache_is_usable() -> bool:
    """False for a few seconds after `cache_failed()`: throttles then let requests through."""
    return time.monotonic() >= _cache_down_until


def cache_failed(what: str) -> None:
    global _cache_down_until
    _cache_down_until = time.monotonic() + CACHE_RETRY_SECONDS
    logger.warning("%s not applied: the cache is unreachable.", what)


class _FailOpen:
    def allow_request(self, request, view) -> bool:
        if not cache_is_usable():
            return True
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS:
            cache_failed(type(self).__name__)
            return True


class _CountPerWindow:
    """Counts requests per fixed window of the rate's period (a minute for "1200/minute"):
    one counter increment in the cache per request, whatever the rate.

    DRF's throttles keep the time of every request of the last period in one cache entry,
    read and written whole on each request: at the generous per-user rates of the API that is
    a list of hundreds of timestamps unpickled and pickled (and, in Redis, sent both ways)
    twice per throttle on every scan. A window counter is one increment, and the requests over
    the rate are answered 429 with Retry-After up to the end of the window. The price: a client
    may spend one window's budget at the end of a window and the next one's at the start.
    """

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends = (window + 1) * self.duration
        return count(f"{key}:{window}", self.duration) <= self.num_requests

    def wait(self) -> float:
        return self.window_ends - self.now


class AnonRateThrottle(_FailOpen, throttling.AnonRateThrottle):
    """Per client address, for requests without a user."""


class UserRateThrottle(_FailOpen, _CountPerWindow, throttling.UserRateThrottle):
    """Per user, for every authenticated request."""


class ScopedRateThrottle(_FailOpen, throttling.ScopedRateThrottle):
    """Per user (or address) and the view's `throttle_scope` (the token endpoint: "login")."""


class ScanRateThrottle(_FailOpen, _CountPerWindow, throttling.UserRateThrottle):
    """Per user, over all scan and confirmation endpoints together (rate "scan")."""

    scope = "scan"


class TrackingRateThrottle(_FailOpen, throttling.SimpleRateThrottle):
    """Per client address, for the public tracking page and JSON (rate "tracking"), whoever
    asks: the tokens cannot be guessed, this keeps scrapers and runaway pollers in check."""

    scope = "tracking"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


# For scan and confirmation actions: `@action(..., throttle_classes=SCAN_THROTTLES)`.
SCAN_THROTTLES = [*api_settings.DEFAULT_THROTTLE_CLASSES, ScanRateThrottle]
