"""Webhook signatures and the retry schedule. Pure Python: no Django, no network.

Every request carries `Dockside-Signature: t=<unix seconds>,v1=<hex>`, where the hex is
HMAC-SHA256 with the subscription's secret over `<t>.<raw body>`. A receiver recomputes it over
the bytes it received, compares in constant time, and refuses a timestamp too far from its
clock (a captured request cannot be replayed later). docs/tracking.md has a receiver's example.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time

SIGNATURE_HEADER = "Dockside-Signature"
DELIVERY_HEADER = "Dockside-Delivery"
EVENT_HEADER = "Dockside-Event"


def sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp` (unix seconds)."""
    message = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    *, secret: str, body: bytes, header: str, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """What a receiver does: True when `header` signs `body` with `secret` within the
    tolerance of `now`."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret=secret, body=body, timestamp=timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)


def retry_delay(
    attempt: int, *, base_s: float, cap_s: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 = the first request).

    Exponential (base, 2 x base, 4 x base, ...) capped at `cap_s`, with "equal jitter": a
    uniform draw between half the step and the whole step, so receivers coming back up are not
    hit by every sender at once, and no wait ever exceeds the cap.
    """
    step = min(cap_s, base_s * 2 ** (max(attempt, 1) - 1))
    return (rng or random).uniform(step / 2, step)
