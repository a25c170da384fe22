"""The counting process: request, start, count blind, submit, approve or recount.

State of a request (`CountRequest.stage` while it is open):

    to_count --start--> counting --submit--> closed (within threshold: adjusted at once)
                          |  ^                 |
                     abandon  start            +--> to_recount (first count over threshold)
                          v  |                 +--> review (a recount over threshold)
    to_recount --start by another counter--> counting
    review --approve (manager)--> closed;  review --recount (manager)--> to_recount
    to_recount --approve (manager)--> closed (accepts the last count without a recount)

Lock policy (with `warehouse.locking`): the request row first, then the bin's location row,
then the bin's balance rows in id order. Every writer of stock into the bin locks that
location row or the balance rows it changes before it writes its StockMove, so while a count
holds them no move of the bin is in flight: the balances read and the highest ledger id read
afterwards describe the same instant. docs/counts.md works through the race with a pick.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone

from receiving.barcodes import BarcodeError, parse_scan
from warehouse.errors import (
    CounterNotAllowed,
    DomainError,
    InvalidQuantity,
    InvalidTransition,
    LocationInactive,
    NotCountable,
    WrongCountScan,
)
from warehouse.locking import lock_balances, lock_location
from warehouse.models import (
    CountAttempt,
    CountEntry,
    CountLine,
    CountRequest,
    Location,
    Lot,
    PackSize,
    Product,
    StockBalance,
    StockMove,
    StockStatus,
    Zone,
)
from warehouse.roles import recorded_user
from warehouse.services import adjust_stock

Stage = CountRequest.Stage
Key = tuple[int, int | None]  # (product id, lot id)
# More of one item than any bin holds is a typing error (and would overflow the column).
MAX_COUNTED = 100_000_000


@dataclass(frozen=True)
class Thresholds:
    units: int
    value: Decimal

    def exceeded_by(self, variance: int, unit_cost: Decimal) -> bool:
        """True if a line's variance is above the units threshold or the value threshold."""
        if abs(variance) > self.units:
            return True
        return unit_cost > 0 and abs(variance) * unit_cost > self.value


def thresholds() -> Thresholds:
    return Thresholds(
        units=int(settings.DOCKSIDE["COUNT_VARIANCE_UNITS"]),
        value=Decimal(str(settings.DOCKSIDE["COUNT_VARIANCE_VALUE"])),
    )


@dataclass(frozen=True)
class SubmitOutcome:
    """What a submission did, as the counter may learn it (no expected figures)."""

    request_id: int
    stage: str
    status: str
    replayed: bool = False

    @property
    def message(self) -> str:
        if self.status == CountRequest.Status.DONE:
            return "Count accepted. The bin is done."
        if self.stage == Stage.TO_RECOUNT:
            return "Count received. Another counter will recount this bin."
        return "Count received. A manager will review it."


def _normalise(code: str) -> str:
    return code.strip().upper()


def _lock_request(request_id: int) -> CountRequest:
    return (
        CountRequest.objects.select_for_update(of=("self",))
        .select_related("location__zone", "product")
        .get(id=request_id)
    )


def _check_open(request: CountRequest) -> None:
    if request.status != CountRequest.Status.OPEN:
        raise InvalidTransition(f"Count {request.id} is {request.get_status_display().lower()}.")


def _check_countable(location: Location) -> None:
    if not location.is_active:
        raise LocationInactive(f"Location {location.code} is not active.")
    if location.zone.kind not in Zone.STOCKING_KINDS:
        raise NotCountable(
            f"{location.code} is in a {location.zone.get_kind_display().lower()} zone; "
            "cycle counts are for storage and pick-face bins."
        )


def _counting_attempt(request: CountRequest) -> CountAttempt | None:
    return (
        CountAttempt.objects.select_for_update()
        .filter(request=request, status=CountAttempt.Status.COUNTING)
        .first()
    )


def _previous_counters(request: CountRequest) -> set[int]:
    return set(
        CountAttempt.objects.filter(
            request=request, status=CountAttempt.Status.SUBMITTED
        ).values_list("counter_id", flat=True)
    )


def _lock_bin(request: CountRequest) -> None:
    """Lock the bin's location row, then its balance rows (of the product) in id order."""
    lock_location(request.location_id)
    balances = StockBalance.objects.filter(location_id=request.location_id)
    if request.product_id:
        balances = balances.filter(product_id=request.product_id)
    lock_balances(balances.values_list("id", flat=True))


def _ledger_position() -> int:
    return StockMove.objects.aggregate(top=Max("id"))["top"] or 0


# --- requesting counts --------------------------------------------------------------------------


def _has_open_request(location_id: int, product_id: int | None) -> bool:
    requests = CountRequest.objects.filter(location_id=location_id, status=CountRequest.Status.OPEN)
    if product_id is None:
        return requests.exists()
    return requests.filter(Q(product_id=product_id) | Q(product__isnull=True)).exists()


@transaction.atomic
def request_counts(
    *,
    location: Location | None = None,
    zone: Zone | None = None,
    product: Product | None = None,
    note: str = "",
    actor: AbstractBaseUser | None,
) -> list[CountRequest]:
    """A manager asks for counts: of one bin (optionally one product in it) or of every active
    bin of a storage or pick-face zone. Bins that already have an open count are left out of
    a zone's request; a bin's own request then raises InvalidTransition (409). Raises
    NotCountable (400) for other zones and LocationInactive for an inactive bin.
    """
    if (location is None) == (zone is None):
        raise InvalidQuantity("Give a bin or a zone to count.")
    if location is not None:
        _check_countable(location)
        if _has_open_request(location.id, product.id if product else None):
            raise InvalidTransition(f"{location.code} already has an open count.")
        locations = [location]
    else:
        if zone.kind not in Zone.STOCKING_KINDS:
            raise NotCountable(
                f"Zone {zone.code} is a {zone.get_kind_display().lower()} zone; cycle counts "
                "are for storage and pick-face zones."
            )
        locations = [
            bin_
            for bin_ in zone.locations.filter(is_active=True).order_by("code")
            if not _has_open_request(bin_.id, None)
        ]
        product = None
    return [
        CountRequest.objects.create(
            warehouse_id=bin_.warehouse_id,
            location=bin_,
            product=product,
            reason=CountRequest.Reason.MANAGER,
            note=note[:200],
            requested_by=recorded_user(actor),
        )
        for bin_ in locations
    ]


# --- counting -----------------------------------------------------------------------------------


@transaction.atomic
def start_count(*, request_id: int, bin_code: str, actor: AbstractBaseUser) -> CountAttempt:
    """The counter scanned the bin: start (or resume) their count of it.

    Records the ledger position and the expected figures (hidden from the counter) with the
    bin locked. Raises WrongCountScan (422) for another bin, InvalidTransition (409) when the
    request is closed, in review or being counted by someone else, and CounterNotAllowed (403)
    when a recount is asked of someone who already counted the bin.
    """
    request = _lock_request(request_id)
    _check_open(request)
    if _normalise(bin_code) != _normalise(request.location.code):
        shown = bin_code.strip() or "nothing"
        raise WrongCountScan(f"Wrong bin: you scanned {shown}; go to {request.location.code}.")
    current = _counting_attempt(request)
    if current is not None:
        if current.counter_id == actor.pk:
            return current
        raise InvalidTransition(f"{current.counter} is counting {request.location.code} now.")
    if request.stage == Stage.REVIEW:
        raise InvalidTransition(f"The count of {request.location.code} waits for a manager.")
    if request.stage == Stage.TO_RECOUNT and actor.pk in _previous_counters(request):
        raise CounterNotAllowed(
            f"You already counted {request.location.code}: a different counter must recount it."
        )
    _check_countable(request.location)
    _lock_bin(request)
    # Read after the locks: no move of this bin is in flight, so the balances and the highest
    # ledger id describe the same moment (see the module docstring).
    position = _ledger_position()
    balances = StockBalance.objects.filter(location_id=request.location_id)
    if request.product_id:
        balances = balances.filter(product_id=request.product_id)
    expected = (
        balances.values("product_id", "lot_id")
        .annotate(total=Sum("quantity"))
        .filter(total__gt=0)
        .order_by()
    )
    number = (request.attempts.aggregate(top=Max("number"))["top"] or 0) + 1
    attempt = CountAttempt.objects.create(
        request=request,
        number=number,
        counter=actor,
        started_at=timezone.now(),
        start_move_id=position,
    )
    CountLine.objects.bulk_create(
        CountLine(
            attempt=attempt,
            product_id=row["product_id"],
            lot_id=row["lot_id"],
            expected_at_start=row["total"],
        )
        for row in expected
    )
    request.stage = Stage.COUNTING
    request.save(update_fields=["stage"])
    return attempt


def _own_attempt(request: CountRequest, actor: AbstractBaseUser) -> CountAttempt:
    attempt = _counting_attempt(request)
    if attempt is None or attempt.counter_id != actor.pk:
        raise InvalidTransition(f"Scan bin {request.location.code} to start counting it first.")
    return attempt


@dataclass(frozen=True)
class _Item:
    product: Product
    units_per_scan: int
    lot_code: str | None
    expiry: object = None


def _identify(raw: str) -> _Item:
    """The product a scan or typed code names: a GTIN or GS1 label (item or pack), or a SKU."""
    text = raw.strip()
    if not text:
        raise WrongCountScan("Scan the item (or type its SKU).")
    product = Product.objects.filter(sku__iexact=text).first()
    if product is not None:
        return _Item(product, 1, None)
    try:
        scan = parse_scan(text)
    except BarcodeError as error:
        raise WrongCountScan(f"Not a product barcode or SKU: {error.message}") from error
    gtin = scan.gtin or scan.content_gtin
    if gtin is None:
        raise WrongCountScan("That is a pallet label (SSCC); scan the items' barcode.")
    units = scan.count or 1
    product = Product.objects.filter(gtin=gtin).first()
    if product is None:
        pack = PackSize.objects.select_related("product").filter(gtin=gtin).first()
        if pack is None:
            raise WrongCountScan(f"Unknown item {gtin}: no product or pack has this GTIN.")
        product, units = pack.product, units * pack.quantity
    return _Item(product, units, scan.lot, scan.expiry)


def _lot_for(item: _Item, typed_lot: str) -> Lot | None:
    if not item.product.is_lot_tracked:
        return None
    code = (item.lot_code or typed_lot).strip()
    if not code:
        raise WrongCountScan(
            f"{item.product.sku} is lot-tracked: scan the label with the lot or type the lot."
        )
    # A lot the system does not know yet is stock found in the bin: it is recorded as counted.
    lot, _ = Lot.objects.get_or_create(
        product=item.product, code=code[:20], defaults={"expiry_date": item.expiry}
    )
    return lot


@transaction.atomic
def record_count(
    *,
    request_id: int,
    scan: str,
    actor: AbstractBaseUser,
    key: str,
    quantity: int | None = None,
    lot: str = "",
    replace: bool = False,
) -> CountLine:
    """Count an item: a scan adds one of what was scanned (an item, a case, a GS1 count), or
    `quantity` of them; with `replace` the item's total becomes that many instead.

    A retry with the same `key` changes nothing and returns the line. Raises WrongCountScan
    (422) for an unknown item or one this count is not for, InvalidQuantity (400) and
    InvalidTransition (409) when the actor is not counting this bin.
    """
    request = _lock_request(request_id)
    _check_open(request)
    attempt = _own_attempt(request, actor)
    done = CountEntry.objects.select_related("line").filter(attempt=attempt, key=key).first()
    if done is not None:
        return done.line
    if quantity is not None and (
        isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0
    ):
        raise InvalidQuantity("Quantity must be a whole number, 0 or more.")
    if quantity == 0 and not replace:
        raise InvalidQuantity("Enter how many; to record none of an item, set its count to 0.")
    item = _identify(scan)
    if request.product_id and item.product.id != request.product_id:
        raise WrongCountScan(
            f"This count is for {request.product.sku} only; that is {item.product.sku}."
        )
    found_lot = _lot_for(item, lot)
    line, _ = CountLine.objects.select_for_update().get_or_create(
        attempt=attempt, product=item.product, lot=found_lot
    )
    units = item.units_per_scan * (1 if quantity is None else quantity)
    delta = units - line.counted if replace else units
    if line.counted + delta > MAX_COUNTED:
        raise InvalidQuantity(f"No bin holds more than {MAX_COUNTED} units of an item.")
    CountLine.objects.filter(id=line.id).update(counted=line.counted + delta)
    line.counted += delta
    CountEntry.objects.create(
        attempt=attempt, line=line, quantity=delta, scanned=scan.strip()[:128], key=key[:128]
    )
    return line


@transaction.atomic
def abandon_count(*, request_id: int, actor: AbstractBaseUser) -> CountRequest:
    """The counter leaves the bin uncounted: their attempt is dropped and the bin waits again."""
    request = _lock_request(request_id)
    _check_open(request)
    attempt = _own_attempt(request, actor)
    attempt.status = CountAttempt.Status.ABANDONED
    attempt.save(update_fields=["status"])
    request.stage = Stage.TO_RECOUNT if _previous_counters(request) else Stage.TO_COUNT
    request.save(update_fields=["stage"])
    return request


def _ledger_moves_since(request: CountRequest, attempt: CountAttempt) -> dict[Key, int]:
    """Net units per (product, lot) that the ledger moved into (+) or out of (-) the bin after
    the attempt started. A status change inside the bin moves out and in: it nets to zero."""
    moves = StockMove.objects.filter(id__gt=attempt.start_move_id).filter(
        Q(from_location_id=request.location_id) | Q(to_location_id=request.location_id)
    )
    if request.product_id:
        moves = moves.filter(product_id=request.product_id)
    net: dict[Key, int] = defaultdict(int)
    for product_id, lot_id, source, target, quantity in moves.values_list(
        "product_id", "lot_id", "from_location_id", "to_location_id", "quantity"
    ):
        if target == request.location_id:
            net[(product_id, lot_id)] += quantity
        if source == request.location_id:
            net[(product_id, lot_id)] -= quantity
    return net


@transaction.atomic
def submit_count(*, request_id: int, actor: AbstractBaseUser, key: str = "") -> SubmitOutcome:
    """The counter has counted everything: fix the variance of each line and decide.

    With the bin locked: expected = expected at start + net ledger moves of the bin after the
    start; variance = counted - expected. Every line within the thresholds: the variances are
    posted (reason `count`) and the request closes. Otherwise the first count asks for a
    recount by another counter and a recount goes to a manager. A resubmission with the same
    `key` returns the first outcome. Raises InvalidTransition (409) when the actor is not
    counting this bin.
    """
    request = _lock_request(request_id)
    if key:
        submitted = CountAttempt.objects.filter(
            request=request, counter=actor, submit_key=key, status=CountAttempt.Status.SUBMITTED
        ).exists()
        if submitted:
            return SubmitOutcome(request.id, request.stage, request.status, replayed=True)
    _check_open(request)
    attempt = _own_attempt(request, actor)
    _lock_bin(request)
    net = _ledger_moves_since(request, attempt)
    lines = {(line.product_id, line.lot_id): line for line in attempt.lines.all()}
    for product_id, lot_id in net.keys() - lines.keys():
        lines[(product_id, lot_id)] = CountLine.objects.create(
            attempt=attempt, product_id=product_id, lot_id=lot_id
        )
    limits = thresholds()
    costs = dict(
        Product.objects.filter(id__in={k[0] for k in lines}).values_list("id", "unit_cost")
    )
    over = False
    for line_key, line in lines.items():
        line.ledger_moves = net.get(line_key, 0)
        line.variance = line.counted - (line.expected_at_start + line.ledger_moves)
        over = over or limits.exceeded_by(line.variance, costs[line.product_id])
    CountLine.objects.bulk_update(lines.values(), ["ledger_moves", "variance"])
    attempt.status = CountAttempt.Status.SUBMITTED
    attempt.submitted_at = timezone.now()
    attempt.end_move_id = _ledger_position()
    attempt.submit_key = key[:128]
    attempt.is_over_threshold = over
    attempt.save(
        update_fields=["status", "submitted_at", "end_move_id", "submit_key", "is_over_threshold"]
    )
    if not over:
        try:
            with transaction.atomic():
                _post_variances(request, attempt, actor=actor, note="within threshold")
        except DomainError as error:
            # E.g. a loss of units that orders hold: a manager has to sort it out first.
            request.note = f"Not adjusted: {error.message}"[:200]
            request.stage = Stage.REVIEW
            request.save(update_fields=["note", "stage"])
        else:
            _close(request, attempt, approver=None)
    else:
        # A first count over the threshold is recounted by someone else; a recount over it
        # goes to a manager.
        request.stage = Stage.REVIEW if _is_recount(attempt) else Stage.TO_RECOUNT
        request.save(update_fields=["stage"])
    return SubmitOutcome(request.id, request.stage, request.status)


def _is_recount(attempt: CountAttempt) -> bool:
    return CountAttempt.objects.filter(
        request_id=attempt.request_id,
        status=CountAttempt.Status.SUBMITTED,
        number__lt=attempt.number,
    ).exists()


def _post_variances(
    request: CountRequest, attempt: CountAttempt, *, actor: AbstractBaseUser | None, note: str
) -> None:
    """Post each line's variance as an adjustment of the bin's available stock (reason
    `count`), against the balances as they are now, locked by `adjust_stock`."""
    for line in attempt.lines.filter(variance__isnull=False).exclude(variance=0):
        adjust_stock(
            location_id=request.location_id,
            product_id=line.product_id,
            lot_id=line.lot_id,
            delta=line.variance,
            status=StockStatus.AVAILABLE,
            reason=StockMove.Reason.COUNT,
            reference=f"count:{request.id}",
            note=f"count #{attempt.number} by {attempt.counter}, {note}",
            actor=actor,
        )


def _close(request: CountRequest, attempt: CountAttempt, *, approver) -> None:
    variances = [line.variance or 0 for line in attempt.lines.all()]
    request.status = CountRequest.Status.DONE
    request.stage = Stage.CLOSED
    request.done_at = timezone.now()
    request.approved_by = recorded_user(approver)
    request.variance_units = sum(abs(v) for v in variances)
    request.is_accurate = not any(variances)
    request.save(
        update_fields=[
            "status",
            "stage",
            "done_at",
            "approved_by",
            "variance_units",
            "is_accurate",
        ]
    )


def _last_submitted(request: CountRequest) -> CountAttempt:
    return (
        CountAttempt.objects.select_related("counter")
        .filter(request=request, status=CountAttempt.Status.SUBMITTED)
        .latest("number")
    )


@transaction.atomic
def approve_count(*, request_id: int, actor: AbstractBaseUser) -> CountRequest:
    """A manager accepts the last submitted count: its variances are posted (reason `count`,
    attributed to the manager) and the request closes, in one transaction.

    Raises InvalidTransition (409) unless the request waits for a recount or a review,
    CounterNotAllowed (403) when the manager counted it, and the inventory service's errors
    (e.g. InsufficientStock when the lost units are allocated to orders).
    """
    request = _lock_request(request_id)
    _check_open(request)
    if request.stage not in (Stage.TO_RECOUNT, Stage.REVIEW):
        raise InvalidTransition(
            f"Count {request.id} is {request.get_stage_display().lower()}: nothing to approve."
        )
    attempt = _last_submitted(request)
    if attempt.counter_id == actor.pk:
        raise CounterNotAllowed("You counted this bin: another manager must approve the count.")
    _lock_bin(request)
    _post_variances(request, attempt, actor=actor, note=f"approved by {actor}")
    _close(request, attempt, approver=actor)
    return request


@transaction.atomic
def request_recount(*, request_id: int, actor: AbstractBaseUser) -> CountRequest:
    """A manager sends a count in review back for another count by someone new."""
    request = _lock_request(request_id)
    _check_open(request)
    if request.stage != Stage.REVIEW:
        raise InvalidTransition(
            f"Count {request.id} is {request.get_stage_display().lower()}: only a count in "
            "review can be sent for a recount."
        )
    request.stage = Stage.TO_RECOUNT
    request.save(update_fields=["stage"])
    return request


@transaction.atomic
def cancel_count(*, request_id: int, actor: AbstractBaseUser) -> CountRequest:
    """A manager drops an open request (e.g. the bin was emptied and deactivated)."""
    request = _lock_request(request_id)
    _check_open(request)
    CountAttempt.objects.filter(request=request, status=CountAttempt.Status.COUNTING).update(
        status=CountAttempt.Status.ABANDONED
    )
    request.status = CountRequest.Status.CANCELLED
    request.stage = Stage.CLOSED
    request.done_at = timezone.now()
    request.save(update_fields=["status", "stage", "done_at"])
    return request
