"""Read queries of the counting process. What a counter reads never holds an expected figure."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When

from warehouse.models import CountAttempt, CountEntry, CountLine, CountRequest
from warehouse.selectors import list_warehouses_for

Stage = CountRequest.Stage


def list_count_requests(*, user: AbstractBaseUser) -> QuerySet[CountRequest]:
    """Count requests of the warehouses `user` may see, with what lists show of them."""
    return CountRequest.objects.filter(warehouse__in=list_warehouses_for(user)).select_related(
        "warehouse", "location__zone", "product", "requested_by", "approved_by"
    )


def list_counts_to_do(*, user: AbstractBaseUser) -> QuerySet[CountRequest]:
    """Open requests `user` can count now: theirs in progress first, then short picks, then
    the rest by due day and age. A recount is not offered to someone who counted the bin."""
    counted_before = CountAttempt.objects.filter(
        request=OuterRef("pk"), counter=user, status=CountAttempt.Status.SUBMITTED
    )
    mine = CountAttempt.objects.filter(
        request=OuterRef("pk"), counter=user, status=CountAttempt.Status.COUNTING
    )
    return (
        list_count_requests(user=user)
        .filter(status=CountRequest.Status.OPEN)
        .annotate(is_mine=Exists(mine), counted_before=Exists(counted_before))
        .filter(
            Q(is_mine=True)
            | Q(stage=Stage.TO_COUNT)
            | Q(stage=Stage.TO_RECOUNT, counted_before=False)
        )
        .annotate(
            urgency=Case(
                When(is_mine=True, then=Value(0)),
                When(reason=CountRequest.Reason.SHORT_PICK, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        .order_by("urgency", "due_date", "created_at", "id")
    )


def get_counting_attempt(*, request: CountRequest, user: AbstractBaseUser) -> CountAttempt | None:
    return CountAttempt.objects.filter(
        request=request, counter=user, status=CountAttempt.Status.COUNTING
    ).first()


@dataclass(frozen=True)
class CountedItem:
    """A line as its counter sees it: what they counted, nothing the system expected."""

    sku: str
    name: str
    lot: str
    counted: int


def list_counted_items(*, attempt: CountAttempt | None) -> list[CountedItem]:
    """The items the counter has scanned or typed in this attempt, in the order first counted."""
    if attempt is None:
        return []
    touched = CountEntry.objects.filter(line=OuterRef("pk"))
    lines = (
        CountLine.objects.filter(attempt=attempt)
        .filter(Exists(touched))
        .select_related("product", "lot")
        .order_by("id")
    )
    return [
        CountedItem(
            sku=line.product.sku,
            name=line.product.name,
            lot=line.lot.code if line.lot_id else "",
            counted=line.counted,
        )
        for line in lines
    ]


def list_attempts_for_review(*, request: CountRequest) -> QuerySet[CountAttempt]:
    """Every attempt of a request with its lines (expected figures included): for managers."""
    return (
        CountAttempt.objects.filter(request=request)
        .select_related("counter")
        .prefetch_related("lines__product", "lines__lot")
        .order_by("number")
    )
