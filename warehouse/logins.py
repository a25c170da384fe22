"""Password guessing is throttled per user name and per client address, at every entrance.

The token endpoint (scanners and integrations), the admin login and the pick pages' login all
count attempts in the shared cache (Redis in production, so every web process sees the same
counts). An attempt is counted before its password is checked, with an atomic increment, so a
burst of parallel guesses cannot all slip in under the limit; a successful login forgets the
user name's count and gives its attempt back to the address. Past
DOCKSIDE["LOGIN_FAILURES_PER_USER"] (or ["LOGIN_FAILURES_PER_ADDRESS"]) attempts within
DOCKSIDE["LOGIN_LOCKOUT_SECONDS"] of the first, further attempts are refused, without checking
the password, until that window ends; the answer is a 429 whose Retry-After says when.

If the cache cannot be reached, logins are not throttled (and a warning is logged): a Redis
outage must not lock the warehouse out (config.api.throttling says when to try it again).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import BaseThrottle

from config.api.throttling import CACHE_ERRORS, cache_failed, cache_is_usable


def _clock() -> float:
    """Seconds since the epoch; tests move it instead of waiting."""
    return time.time()


@dataclass(frozen=True)
class LoginAttempt:
    """A counted attempt: `allowed` to check its password, else `retry_after` seconds."""

    allowed: bool
    retry_after: int
    user_key: str
    address_key: str

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        return (
            "Too many failed logins for this user name or from this address. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        )


def client_address(request: HttpRequest) -> str:
    """The client's address as the API throttles see it (X-Forwarded-For behind
    REST_FRAMEWORK["NUM_PROXIES"] proxies, else REMOTE_ADDR)."""
    return BaseThrottle().get_ident(request) or "unknown"


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"login-attempts:{kind}:{digest}"


def _count(key: str, *, window: int, now: float) -> tuple[int, float]:
    """Count one attempt on `key`: (attempts in the current window, when the window began)."""
    started_key = f"{key}:since"
    started = cache.get(started_key)
    if started is not None and now >= started + window:
        cache.delete_many([key, started_key])
        started = None
    if started is None:
        # The first attempt of a window; of two racing first attempts, one start is kept.
        cache.add(started_key, now, timeout=window + 60)
        cache.add(key, 0, timeout=window + 60)
        started = cache.get(started_key, now)
    try:
        attempts = cache.incr(key)
    except ValueError:  # the counter expired between the two calls
        cache.add(key, 0, timeout=window + 60)
        attempts = cache.incr(key)
    return attempts, started


def claim_login_attempt(*, username: str, address: str) -> LoginAttempt:
    """Count a login attempt for `username` from `address`, before its password is checked."""
    limits = settings.DOCKSIDE
    window = limits["LOGIN_LOCKOUT_SECONDS"]
    user_key, address_key = _key("user", username), _key("address", address)
    now = _clock()
    if not cache_is_usable():
        return LoginAttempt(True, 0, user_key, address_key)
    try:
        by_user, user_since = _count(user_key, window=window, now=now)
        by_address, address_since = _count(address_key, window=window, now=now)
    except CACHE_ERRORS:
        cache_failed("The login throttle")
        return LoginAttempt(True, 0, user_key, address_key)
    waits = []
    if by_user > limits["LOGIN_FAILURES_PER_USER"]:
        waits.append(user_since + window - now)
    if by_address > limits["LOGIN_FAILURES_PER_ADDRESS"]:
        waits.append(address_since + window - now)
    if waits:
        return LoginAttempt(False, max(1, math.ceil(max(waits))), user_key, address_key)
    return LoginAttempt(True, 0, user_key, address_key)


def login_succeeded(attempt: LoginAttempt) -> None:
    """Forget the user name's failures; the address's count loses this attempt."""
    if not cache_is_usable():
        return
    try:
        cache.delete_many([attempt.user_key, f"{attempt.user_key}:since"])
        cache.decr(attempt.address_key)
    except ValueError:
        pass  # the address's window ended meanwhile
    except CACHE_ERRORS:
        cache_failed("Forgetting login failures")


class ThrottledLoginMixin:
    """For a Django authentication form: count the attempt before the password is checked.

    A refused attempt is a form error with the throttle's message; `retry_after` is then set,
    for the view to answer 429 with a Retry-After header.
    """

    retry_after: int | None = None

    def clean(self) -> dict:
        username = self.cleaned_data.get("username")
        if not username or not self.cleaned_data.get("password"):
            return super().clean()
        attempt = claim_login_attempt(username=username, address=client_address(self.request))
        if not attempt.allowed:
            self.retry_after = attempt.retry_after
            raise ValidationError(attempt.message, code="throttled")
        cleaned = super().clean()
        login_succeeded(attempt)
        return cleaned


class ThrottledLoginForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class ThrottledAdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


def _throttled(response: HttpResponse) -> HttpResponse:
    """429 with Retry-After when the rendered login form was refused by the throttle."""
    context = getattr(response, "context_data", None) or {}
    retry_after = getattr(context.get("form"), "retry_after", None)
    if retry_after:
        response.status_code = 429
        response["Retry-After"] = str(retry_after)
    return response


class ThrottledLoginView(LoginView):
    """Django's login page with throttled attempts (the pick pages' login)."""

    authentication_form = ThrottledLoginForm

    def form_invalid(self, form) -> HttpResponse:
        return _throttled(super().form_invalid(form))


def admin_login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """The admin site's login (with ThrottledAdminLoginForm), answering 429 when throttled."""
    return _throttled(admin.site.login(request, extra_context))
