"""The mobile count pages: server-rendered, one autofocused input per screen, for a wedge scanner.

Blind: the pages show the bin, what to count and what the counter has counted, never what the
system expects. Scans and the submission carry a key made when the page was rendered, so a
resubmit after a network drop is applied once.
"""

from __future__ import annotations

import uuid
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from warehouse.counts import selectors, services
from warehouse.errors import DomainError, InvalidQuantity
from warehouse.models import CountRequest
from warehouse.roles import COUNTERS, has_role


def counter_required(view):
    """Session login (the pick pages' login) and a counting role, else 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect(f"{reverse('pick:login')}?next={request.get_full_path()}")
        if not has_role(request.user, *COUNTERS):
            raise PermissionDenied("Your role does not allow this page.")
        return view(request, *args, **kwargs)

    return wrapper


@counter_required
def home(request: HttpRequest) -> HttpResponse:
    tasks = selectors.list_counts_to_do(user=request.user)[:50]
    return render(request, "counts/home.html", {"tasks": tasks})


def _render(
    request: HttpRequest,
    task: CountRequest,
    *,
    error: str = "",
    entered: str = "",
    status: int = 200,
) -> HttpResponse:
    attempt = selectors.get_counting_attempt(request=task, user=request.user)
    context = {
        "task": task,
        "attempt": attempt,
        "counted": selectors.list_counted_items(attempt=attempt),
        "error": error,
        "entered": entered,
        # Made when the page is rendered; a resubmit of this same form reuses it.
        "idempotency_key": str(uuid.uuid4()),
        "submit_key": str(uuid.uuid4()),
    }
    return render(request, "counts/count.html", context, status=status)


def _quantity(raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError as error:
        raise InvalidQuantity(f"Enter the quantity as a whole number, not {raw!r}.") from error


@counter_required
def count(request: HttpRequest, pk: int) -> HttpResponse:
    """Scan the bin -> scan items (Enter after each) -> submit. Errors re-render the step."""
    task = get_object_or_404(selectors.list_count_requests(user=request.user), pk=pk)
    if request.method != "POST":
        return _render(request, task)
    post = request.POST
    step = post.get("step", "")
    code = post.get("code", "")
    try:
        if step == "bin":
            services.start_count(request_id=task.id, bin_code=code, actor=request.user)
        elif step == "item":
            line = services.record_count(
                request_id=task.id,
                scan=code,
                quantity=_quantity(post.get("quantity", "")),
                lot=post.get("lot", ""),
                replace=post.get("replace") == "1",
                key=post.get("key", "") or str(uuid.uuid4()),
                actor=request.user,
            )
            messages.success(request, f"{line.product.sku}: {line.counted} counted.")
        elif step == "submit":
            outcome = services.submit_count(
                request_id=task.id, actor=request.user, key=post.get("key", "")
            )
            messages.success(request, f"{task.location.code}: {outcome.message}")
            return redirect("counts:home")
        elif step == "abandon":
            services.abandon_count(request_id=task.id, actor=request.user)
            messages.info(request, f"You left {task.location.code}; it waits for a counter.")
            return redirect("counts:home")
    except DomainError as error:
        task.refresh_from_db()
        entered = code if step == "bin" else post.get("quantity", "")
        return _render(
            request, task, error=error.message, entered=entered, status=error.http_status
        )
    return redirect("counts:count", pk=pk)
