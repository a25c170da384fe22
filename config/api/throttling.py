"""The API's throttles, counted in the shared cache (Redis in production).

They fail open: if the cache cannot be reached a request is let through and a warning logged,
so a Redis outage refuses no scan (the rates guard against abuse and runaway clients, they are
not a business rule). After a failure the cache is left alone for a few seconds, so that an
unreachable Redis costs one connection timeout now and then, not one per request. Over a rate,
DRF answers 429 with Retry-After.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError
from rest_framework import throttling
from rest_framework.settings import api_settings

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


class AnonRateThrottle(_FailOpen, throttling.AnonRateThrottle):
    """Per client address, for requests without a user."""


class UserRateThrottle(_FailOpen, throttling.UserRateThrottle):
    """Per user, for every authenticated request."""


class ScopedRateThrottle(_FailOpen, throttling.ScopedRateThrottle):
    """Per user (or address) and the view's `throttle_scope` (the token endpoint: "login")."""


class ScanRateThrottle(_FailOpen, throttling.UserRateThrottle):
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
