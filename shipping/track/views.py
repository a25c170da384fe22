"""The public tracking page and its JSON: no login, a token in the URL, throttled per address.

Every wrong token gets the same 404 (nothing about the token is echoed), and the answers ask
not to be cached, indexed or sent on as a Referer: the URL is the customer's key.
"""

from __future__ import annotations

import math

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from config.api.throttling import TrackingRateThrottle
from shipping.track.selectors import get_public_tracking

NOT_FOUND = {
    "type": "urn:dockside:problem:not-found",
    "title": "Not found",
    "status": 404,
    "detail": "No shipment is tracked with this link.",
}
THROTTLED = {
    "type": "urn:dockside:problem:throttled",
    "title": "Too many requests",
    "status": 429,
    "detail": "Too many requests from this address; try again shortly.",
}


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _throttled(request: HttpRequest) -> int | None:
    """Seconds to wait when this address is over the "tracking" rate, else None."""
    throttle = TrackingRateThrottle()
    if throttle.allow_request(request, None):
        return None
    return max(1, math.ceil(throttle.wait() or 1))


def _problem(body: dict, status: int) -> JsonResponse:
    return JsonResponse(body, status=status, content_type="application/problem+json")


@require_safe
def tracking_json(request: HttpRequest, token: str) -> HttpResponse:
    wait = _throttled(request)
    if wait is not None:
        response = _problem(THROTTLED, 429)
        response["Retry-After"] = str(wait)
        return _private(response)
    tracking = get_public_tracking(token=token)
    if tracking is None:
        return _private(_problem(NOT_FOUND, 404))
    return _private(JsonResponse(tracking.as_json()))


@require_safe
def tracking_page(request: HttpRequest, token: str) -> HttpResponse:
    wait = _throttled(request)
    if wait is not None:
        response = render(request, "track/unavailable.html", {"throttled": True}, status=429)
        response["Retry-After"] = str(wait)
        return _private(response)
    tracking = get_public_tracking(token=token)
    if tracking is None:
        return _private(render(request, "track/unavailable.html", {"throttled": False}, status=404))
    context = {
        "tracking": tracking,
        "steps": list(reversed(tracking.steps)),
        "is_final": tracking.status in ("delivered", "exception", "cancelled"),
    }
    # Times read in the warehouse's zone: the customer is near it, not near the server.
    with timezone.override(tracking.time_zone):
        return _private(render(request, "track/page.html", context))
