"""Customer returns: requesting, authorising and rejecting an RMA, and closing it when done.

Lock policy for returns (with `warehouse.locking` for stock, FOR NO KEY UPDATE throughout):
- requesting an RMA locks the order row, then the returned order lines in id order, before it
  reads what was delivered and what other RMAs already hold: two requests for the same order
  are checked one after the other, so together they never exceed what was delivered;
- authorising, rejecting and closing a return receipt lock the order, then the RMA (closing a
  return receipt changes what the RMA holds against the order: from the units authorised to
  the units received);
- return scans lock the return receipt (scans of one return are counted one after another),
  then the return lines of the product in id order, then stock;
- dispositions and return putaways lock their line or task, then stock, then the RMA last (to
  close it when nothing is left to do), as inbound inspections and putaways do with the ASN.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Case, F, Q, Sum, When
from django.utils import timezone

from receiving.errors import InvalidReturn, OverReturn
from receiving.models import (
    PutawayTask,
    ReturnAuthorisation,
    ReturnEvent,
    ReturnLine,
    ReturnReason,
)
from receiving.services.common import Actor
from receiving.transitions import check_transition
from shipping.models import Allocation, DeliveryLine, Order, OrderLine
from warehouse.errors import InvalidTransition
from warehouse.models import Lot
from warehouse.roles import recorded_user

Status = ReturnAuthorisation.Status


@dataclass(frozen=True)
class ReturnLineInput:
    """One line of a return request: an order line, the units, why, and the lot if known."""

    order_line_id: int
    quantity: int
    reason: str
    lot_code: str = ""


def rma_event(rma_id: int, kind: str, actor: Actor, **data) -> None:
    """Write the audit row of a state change of RMA `rma_id`."""
    ReturnEvent.objects.create(rma_id=rma_id, kind=kind, actor=recorded_user(actor), data=data)


def lock_order(order_id: int) -> Order:
    return Order.objects.select_for_update(of=("self",), no_key=True).get(id=order_id)


def lock_rma(rma_id: int) -> ReturnAuthorisation:
    return ReturnAuthorisation.objects.select_for_update(of=("self",), no_key=True).get(id=rma_id)


def returnable_quantities(order_line_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """(delivered, already returned or on open RMAs) units per order line.

    Delivered: the proof-of-delivery lines. Held by RMAs: the units asked for on requested and
    authorised RMAs, the units actually received on received and closed ones; rejected RMAs
    hold nothing.
    """
    delivered = dict(
        DeliveryLine.objects.filter(order_line_id__in=order_line_ids)
        .values("order_line_id")
        .annotate(total=Sum("quantity_delivered"))
        .values_list("order_line_id", "total")
    )
    held = dict(
        ReturnLine.objects.filter(order_line_id__in=order_line_ids, is_expected=True)
        .values("order_line_id")
        .annotate(
            total=Sum(
                Case(
                    When(rma__status__in=ReturnAuthorisation.PENDING, then=F("quantity")),
                    When(rma__status__in=ReturnAuthorisation.RETURNED, then="received_quantity"),
                    default=0,
                )
            )
        )
        .values_list("order_line_id", "total")
    )
    return {
        line_id: (delivered.get(line_id) or 0, held.get(line_id) or 0) for line_id in order_line_ids
    }


def _shipped_lot(order_line: OrderLine, code: str) -> Lot:
    """The lot `code` of the line's product, if it left on this order line."""
    lot = Lot.objects.filter(product_id=order_line.product_id, code=code).first()
    shipped = (
        lot is not None
        and Allocation.objects.filter(
            order_line=order_line, lot=lot, status=Allocation.Status.SHIPPED
        ).exists()
    )
    if not shipped:
        raise InvalidReturn(
            f"Lot {code} of line {order_line.line_number} was not delivered on this order.",
            errors={"lot": [f"Lot {code} was not delivered on this order line."]},
        )
    return lot


@transaction.atomic
def request_return(
    *,
    order_id: int,
    lines: Sequence[ReturnLineInput],
    customer_reference: str = "",
    note: str = "",
    actor: Actor = None,
) -> ReturnAuthorisation:
    """Request a return of delivered units of an order: a new RMA in status requested.

    Each order line may be returned up to what was delivered on it less what other RMAs hold
    (see `returnable_quantities`). Raises InvalidTransition (409) unless the order is
    delivered, InvalidReturn (400) for no lines, a line of another order, an unknown reason or
    a lot that was not delivered, OverReturn (400, a message per offending line) for more
    than may be returned.
    """
    order = lock_order(order_id)
    if order.status != Order.Status.DELIVERED:
        raise InvalidTransition(
            f"Order {order.number} is {order.get_status_display().lower()}; only delivered "
            "orders can be returned."
        )
    if not lines:
        raise InvalidReturn("A return needs at least one line.", errors={"lines": ["Required."]})
    line_ids = sorted({line.order_line_id for line in lines})
    order_lines = {
        line.id: line
        for line in OrderLine.objects.select_for_update(of=("self",), no_key=True)
        .filter(order=order, id__in=line_ids)
        .order_by("id")
    }
    errors: dict[str, list[str]] = {}
    for index, line in enumerate(lines):
        if line.order_line_id not in order_lines:
            errors[f"lines[{index}].order_line"] = ["Not a line of this order."]
        if line.reason not in ReturnReason.values:
            errors[f"lines[{index}].reason"] = [f"Give one of {', '.join(ReturnReason.values)}."]
        if isinstance(line.quantity, bool) or line.quantity < 1:
            errors[f"lines[{index}].quantity"] = ["Return at least 1 unit."]
    if errors:
        raise InvalidReturn("The return lines are invalid.", errors=errors)
    asked: dict[int, int] = defaultdict(int)
    for line in lines:
        asked[line.order_line_id] += line.quantity
    quantities = returnable_quantities(line_ids)
    for index, line in enumerate(lines):
        delivered, held = quantities[line.order_line_id]
        if asked[line.order_line_id] > delivered - held:
            number = order_lines[line.order_line_id].line_number
            errors[f"lines[{index}].quantity"] = [
                f"At most {max(delivered - held, 0)} of order line {number} can be returned "
                f"({delivered} delivered, {held} on other returns)."
            ]
    if errors:
        raise OverReturn("More units asked back than were delivered.", errors=errors)
    lots = {
        index: _shipped_lot(order_lines[line.order_line_id], line.lot_code)
        for index, line in enumerate(lines)
        if line.lot_code
    }
    count = ReturnAuthorisation.objects.filter(order=order).count()
    rma = ReturnAuthorisation.objects.create(
        warehouse_id=order.warehouse_id,
        order=order,
        customer_id=order.customer_id,
        number=f"RMA-{order.number}-{count + 1}"[:40],
        customer_reference=customer_reference[:60],
        note=note[:200],
        requested_by=recorded_user(actor),
    )
    ReturnLine.objects.bulk_create(
        ReturnLine(
            rma=rma,
            line_number=index,
            order_line_id=line.order_line_id,
            product_id=order_lines[line.order_line_id].product_id,
            lot=lots.get(index - 1),
            quantity=line.quantity,
            reason=line.reason,
        )
        for index, line in enumerate(lines, start=1)
    )
    rma_event(rma.id, "rma_requested", actor, lines=len(lines))
    return rma


@transaction.atomic
def authorise_return(*, rma_id: int, actor: Actor = None) -> ReturnAuthorisation:
    """Authorise a requested return: the customer may send the goods. Raises
    InvalidTransition (409) unless requested."""
    rma = ReturnAuthorisation.objects.only("order_id").get(id=rma_id)
    lock_order(rma.order_id)
    rma = lock_rma(rma_id)
    check_transition("RMA", rma.status, Status.AUTHORISED)
    rma.status = Status.AUTHORISED
    rma.decided_by = recorded_user(actor)
    rma.decided_at = timezone.now()
    rma.save(update_fields=["status", "decided_by", "decided_at"])
    rma_event(rma.id, "rma_authorised", actor)
    return rma


@transaction.atomic
def reject_return(*, rma_id: int, reason: str, actor: Actor = None) -> ReturnAuthorisation:
    """Reject a requested or authorised return whose goods have not arrived; its units are free
    to be returned on another RMA. Raises InvalidReturn (400) without a reason,
    InvalidTransition (409) once received or when a return receipt is open for it."""
    if not reason.strip():
        raise InvalidReturn("Give the reason for the rejection.", errors={"reason": ["Required."]})
    rma = ReturnAuthorisation.objects.only("order_id").get(id=rma_id)
    lock_order(rma.order_id)
    rma = lock_rma(rma_id)
    check_transition("RMA", rma.status, Status.REJECTED)
    if rma.receipts.exists():
        raise InvalidTransition(
            f"RMA {rma.number} is being received; close its return receipt instead."
        )
    rma.status = Status.REJECTED
    rma.decided_by = recorded_user(actor)
    rma.decided_at = timezone.now()
    rma.rejection_reason = reason.strip()[:200]
    rma.save(update_fields=["status", "decided_by", "decided_at", "rejection_reason"])
    rma_event(rma.id, "rma_rejected", actor, reason=rma.rejection_reason)
    return rma


def close_return_if_done(rma: ReturnAuthorisation, actor: Actor) -> bool:
    """Close a (locked) received RMA once every unit received has a disposition and no restock
    putaway of it is open; `actor` finished the last piece of work. True if it closed."""
    if rma.status != Status.RECEIVED:
        return False
    undecided = ReturnLine.objects.filter(
        rma=rma, dispositioned_quantity__lt=F("received_quantity")
    ).exists()
    open_putaways = PutawayTask.objects.filter(
        Q(return_receipt__rma=rma), status=PutawayTask.Status.OPEN
    ).exists()
    if undecided or open_putaways:
        return False
    check_transition("RMA", rma.status, Status.CLOSED)
    rma.status = Status.CLOSED
    rma.closed_at = timezone.now()
    rma.save(update_fields=["status", "closed_at"])
    rma_event(rma.id, "rma_closed", actor)
    return True


def return_putaway_confirmed(*, task: PutawayTask, bin_code: str, actor: Actor) -> None:
    """After a restock putaway of returned goods: the audit row, and close the RMA if done."""
    rma = lock_rma(task.return_receipt.rma_id)
    rma_event(rma.id, "putaway_confirmed", actor, task=task.id, bin=bin_code)
    close_return_if_done(rma, actor)
