"""The mobile pick pages: server-rendered, one form per screen, built for a wedge scanner.

Every screen has one autofocused input; the scanner types and sends Enter. A scan that does
not match re-renders the same step with the error and what was scanned. The confirmation
forms carry an idempotency key made when the page was rendered, so a resubmit after a
network drop is applied once.
"""

from __future__ import annotations

import uuid
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from config.api.permissions import has_role
from shipping import selectors, services
from shipping.models import PickList, PickTask, Shipment
from warehouse.errors import DomainError, InvalidQuantity
from warehouse.roles import DISPATCHER, MANAGER, PICKER


def picker_required(*roles: str):
    """Session login (to /pick/login/) and one of `roles` (default: picker), else 403."""
    allowed = roles or (PICKER,)

    def decorator(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect(f"{reverse('pick:login')}?next={request.get_full_path()}")
            if not has_role(request.user, *allowed):
                raise PermissionDenied("Your role does not allow this page.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _own_list(request: HttpRequest, pk: int) -> PickList:
    """The pick list if the user may work on it: their own, or any visible one for managers."""
    # The pages read the tasks through `get_pick_progress`, not the list's prefetched ones.
    lists = selectors.list_pick_lists(user=request.user).prefetch_related(None)
    pick_list = get_object_or_404(lists.select_related("staging_location"), pk=pk)
    if pick_list.picker_id not in (None, request.user.id) and not has_role(request.user, MANAGER):
        raise PermissionDenied("This pick list belongs to another picker.")
    return pick_list


@picker_required()
def home(request: HttpRequest) -> HttpResponse:
    lists = selectors.list_open_pick_lists_for_picker(user=request.user)
    return render(request, "pick/home.html", {"lists": lists})


@picker_required()
def pick_list(request: HttpRequest, pk: int) -> HttpResponse:
    current = _own_list(request, pk)
    progress = selectors.get_pick_progress(pick_list=current)
    return render(request, "pick/list.html", {"pick_list": current, "progress": progress})


@require_POST
@picker_required()
def start(request: HttpRequest, pk: int) -> HttpResponse:
    current = _own_list(request, pk)
    try:
        services.start_pick_list(pick_list_id=current.id, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("pick:list", pk=pk)
    return redirect("pick:task", pk=pk)


def _render_task(
    request: HttpRequest,
    pick_list: PickList,
    *,
    step: str = "bin",
    error: str = "",
    entered: str = "",
    bin_code: str = "",
    item: str = "",
    key: str = "",
    status: int = 200,
) -> HttpResponse:
    progress = selectors.get_pick_progress(pick_list=pick_list)
    if progress.current is None:
        messages.success(
            request,
            f"Pick list {pick_list.number} is done. Take the goods to "
            f"{pick_list.staging_location.code}.",
        )
        return redirect("pick:home")
    context = {
        "pick_list": pick_list,
        "progress": progress,
        "task": progress.current,
        "step": step,
        "error": error,
        "entered": entered,
        "bin_code": bin_code,
        "item": item,
        # Made when the page is rendered; a resubmit of this same form reuses it.
        "idempotency_key": key or str(uuid.uuid4()),
        "short_reasons": PickTask.ShortReason.choices,
    }
    return render(request, "pick/task.html", context, status=status)


@picker_required()
def task(request: HttpRequest, pk: int) -> HttpResponse:
    """One task at a time: scan bin -> scan item -> confirm quantity (or short / skip)."""
    current = _own_list(request, pk)
    if request.method != "POST":
        return _render_task(request, current)
    post = request.POST
    step = post.get("step", "")
    task_id = post.get("task", "")
    progress = selectors.get_pick_progress(pick_list=current)
    if progress.current is None or str(progress.current.id) != task_id:
        if step in ("confirm", "short", "skip") and task_id.isdigit() and post.get("key"):
            # A resubmit of a finished task: let the service replay it by its key.
            task_id_int = int(task_id)
        else:
            messages.info(request, "That task was already done; here is the next one.")
            return redirect("pick:task", pk=pk)
    else:
        task_id_int = progress.current.id
    code = post.get("code", "").strip()
    bin_code = post.get("bin", "").strip()
    item = post.get("item", "").strip()
    key = post.get("key", "")
    try:
        if step == "bin":
            services.check_bin(task_id=task_id_int, code=code, task=progress.current)
            return _render_task(request, current, step="item", bin_code=code)
        if step == "item":
            services.check_item(task_id=task_id_int, scan=code, task=progress.current)
            return _render_task(request, current, step="quantity", bin_code=bin_code, item=code)
        if step == "confirm":
            quantity = _quantity(post.get("quantity", ""))
            services.confirm_pick(
                task_id=task_id_int,
                bin_code=bin_code,
                item_scan=item,
                quantity=quantity,
                actor=request.user,
                idempotency_key=key,
                task=progress.current,
            )
            return redirect("pick:task", pk=pk)
        if step == "short-form":
            return _render_task(request, current, step="short", bin_code=bin_code, item=item)
        if step == "short":
            quantity = _quantity(post.get("quantity", "0") or "0") if item else 0
            outcome = services.short_pick(
                task_id=task_id_int,
                quantity_picked=quantity,
                reason=post.get("reason", ""),
                bin_code=bin_code,
                item_scan=item,
                actor=request.user,
                idempotency_key=key,
                task=progress.current,
            )
            if not outcome.replayed:
                messages.warning(
                    request,
                    f"Short pick recorded: {outcome.reallocated} re-allocated, "
                    f"{outcome.backordered} backordered; the bin will be counted.",
                )
            return redirect("pick:task", pk=pk)
        if step == "skip":
            services.skip_task(task_id=task_id_int, actor=request.user, idempotency_key=key)
            return redirect("pick:task", pk=pk)
    except DomainError as error:
        back = {"item": "item", "bin": "bin", "confirm": "quantity", "short": "short"}
        return _render_task(
            request,
            current,
            step=back.get(step, "bin"),
            error=error.message,
            entered=code if step in ("bin", "item") else post.get("quantity", ""),
            bin_code=bin_code,
            item=item,
            key=key,
            status=error.http_status,
        )
    return redirect("pick:task", pk=pk)


def _quantity(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError as error:
        raise InvalidQuantity(f"Enter the quantity as a whole number, not {raw!r}.") from error


@picker_required(PICKER, DISPATCHER)
def packing_slip(request: HttpRequest, pk: int) -> HttpResponse:
    """A printable packing slip: order lines, picked quantities, packages with SSCC."""
    try:
        shipment = selectors.get_packing_slip(shipment_id=pk, user=request.user)
    except Shipment.DoesNotExist as error:
        raise Http404("No such shipment.") from error
    return render(request, "pick/packing_slip.html", {"shipment": shipment})
