"""Arrival, receipts and closing them with the discrepancy report."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from receiving import sampling
from receiving.errors import (
    DoorNotUsable,
    OverReceiptNeedsOverride,
)
from receiving.models import (
    Discrepancy,
    InboundLine,
    InboundShipment,
    Inspection,
    Receipt,
    ReceiptScan,
)
from receiving.services.common import (
    Actor,
    ManagerOverrideRequired,
    Status,
    check_inbound_door,
    close_shipment_if_done,
    event,
    lock_shipment,
    set_shipment_status,
)
from receiving.services.work import create_putaway_task
from receiving.transitions import check_transition
from warehouse.models import (
    DockDoor,
    Product,
    StockStatus,
)
from warehouse.roles import MANAGER, has_role, recorded_user

# --- arrival and receipts --------------------------------------------------------------------


@transaction.atomic
def check_in_shipment(
    *, shipment_id: int, actor: Actor = None, arrived_at: datetime | None = None
) -> InboundShipment:
    """Record that the truck is at the gate. Raises InvalidTransition if already in or cancelled."""
    shipment = lock_shipment(shipment_id)
    set_shipment_status(shipment, Status.ARRIVED, arrived_at=arrived_at or timezone.now())
    event(shipment.id, "truck_arrived", actor, arrived_at=shipment.arrived_at.isoformat())
    return shipment


@transaction.atomic
def open_receipt(*, shipment_id: int, door_id: int, actor: Actor = None) -> Receipt:
    """Start unloading an arrived ASN at an inbound door with a dock floor location.

    Raises InvalidTransition unless the ASN has arrived, DoorNotUsable for a door that cannot
    receive.
    """
    shipment = lock_shipment(shipment_id)
    check_transition("ASN", shipment.status, Status.RECEIVING)
    door = DockDoor.objects.get(id=door_id)
    check_inbound_door(door, shipment.warehouse_id)
    if door.location_id is None:
        raise DoorNotUsable(f"Door {door.code} has no dock floor location to receive into.")
    receipt = Receipt.objects.create(shipment=shipment, door=door, opened_by=recorded_user(actor))
    set_shipment_status(shipment, Status.RECEIVING)
    event(shipment.id, "receipt_opened", actor, receipt=receipt.id, door=door.code)
    return receipt


# --- closing a receipt -----------------------------------------------------------------------


class CountedLine(Protocol):
    """A line of an ASN or an RMA as the discrepancy report reads it."""

    product_id: int
    is_expected: bool
    expected_quantity: int
    received_quantity: int
    damaged_quantity: int


def find_discrepancies(lines: Sequence[CountedLine]) -> list[tuple[CountedLine, str, int]]:
    """(line, kind, difference) for every difference between the announced lines and what was
    received: short / over per announced line, damaged units per line, unexpected product (not
    announced at all) or unexpected lot (the product announced, the lot not). Shared by inbound
    receipts and return receipts."""
    expected_products = {line.product_id for line in lines if line.is_expected}
    found: list[tuple[CountedLine, str, int]] = []
    for line in lines:
        if not line.is_expected:
            kind = (
                Discrepancy.Kind.UNEXPECTED_LOT
                if line.product_id in expected_products
                else Discrepancy.Kind.UNEXPECTED_PRODUCT
            )
            found.append((line, kind, line.received_quantity))
        elif line.received_quantity < line.expected_quantity:
            found.append(
                (line, Discrepancy.Kind.SHORT, line.received_quantity - line.expected_quantity)
            )
        elif line.received_quantity > line.expected_quantity:
            found.append(
                (line, Discrepancy.Kind.OVER, line.received_quantity - line.expected_quantity)
            )
        if line.damaged_quantity:
            found.append((line, Discrepancy.Kind.DAMAGED, line.damaged_quantity))
    return found


def _discrepancies(receipt: Receipt, lines: Sequence[InboundLine]) -> list[Discrepancy]:
    return [
        Discrepancy(
            receipt=receipt,
            line=line,
            kind=kind,
            expected_quantity=line.expected_quantity,
            received_quantity=line.received_quantity,
            difference=difference,
        )
        for line, kind, difference in find_discrepancies(lines)
    ]


def over_tolerance_lines(lines: Sequence[InboundLine], tolerance_pct: int) -> list[InboundLine]:
    """Announced lines received beyond `expected * (1 + tolerance_pct / 100)`."""
    return [
        line
        for line in lines
        if line.is_expected
        and line.received_quantity * 100 > line.expected_quantity * (100 + tolerance_pct)
    ]


@transaction.atomic
def close_receipt(*, receipt_id: int, actor: Actor = None, override: bool = False) -> Receipt:
    """Finish unloading: record discrepancies, open inspections and putaway tasks.

    Discrepancies: short / over per announced line, damaged units per line, unexpected product
    (not on the ASN) or unexpected lot (product on the ASN, lot not). Quarantined stock gets an
    inspection per product and lot, sized by `receiving.sampling`; available stock a putaway
    task per product and lot with a proposed bin.

    Raises OverReceiptNeedsOverride (409) when a line is over by more than
    DOCKSIDE["OVER_RECEIPT_TOLERANCE_PCT"] and no manager `override`,
    ManagerOverrideRequired (403) for an override by someone else, InvalidTransition when the
    receipt is not open.
    """
    receipt = (
        Receipt.objects.select_for_update(of=("self",), no_key=True)
        .select_related("door__location", "shipment")
        .get(id=receipt_id)
    )
    check_transition("receipt", receipt.status, Receipt.Status.CLOSED)
    shipment = lock_shipment(receipt.shipment_id)
    lines = list(InboundLine.objects.filter(shipment_id=shipment.id).order_by("line_number"))
    tolerance = int(settings.DOCKSIDE.get("OVER_RECEIPT_TOLERANCE_PCT", 0))
    over = over_tolerance_lines(lines, tolerance)
    if over and override and not has_role(recorded_user(actor), MANAGER):
        raise ManagerOverrideRequired("Only a manager may accept an over-receipt.")
    if over and not override:
        detail = "; ".join(
            f"line {line.line_number}: {line.received_quantity} received, "
            f"{line.expected_quantity} expected"
            for line in over
        )
        raise OverReceiptNeedsOverride(
            f"Over-receipt beyond the {tolerance}% tolerance ({detail}). A manager must close "
            "the receipt with override=true, or the surplus must be taken off the receipt."
        )
    Discrepancy.objects.bulk_create(_discrepancies(receipt, lines))
    receipt.status = Receipt.Status.CLOSED
    receipt.closed_at = timezone.now()
    receipt.closed_by = recorded_user(actor)
    receipt.override_by = recorded_user(actor) if over else None
    receipt.save(update_fields=["status", "closed_at", "closed_by", "override_by"])
    set_shipment_status(shipment, Status.RECEIVED)

    dock = receipt.door.location
    totals = (
        ReceiptScan.objects.filter(receipt=receipt)
        .exclude(status=StockStatus.DAMAGED)
        .values("status", "product_id", "lot_id")
        .annotate(total=Sum("quantity"))
        .order_by("product_id", "lot_id")
    )
    products = Product.objects.in_bulk({row["product_id"] for row in totals})
    inspections = []
    for row in totals:
        product = products[row["product_id"]]
        if row["status"] == StockStatus.QUARANTINE:
            inspections.append(
                Inspection(
                    receipt=receipt,
                    product=product,
                    lot_id=row["lot_id"],
                    location=dock,
                    quantity=row["total"],
                    sample_size=sampling.sample_size(row["total"]),
                )
            )
        else:
            create_putaway_task(
                receipt=receipt,
                product=product,
                lot_id=row["lot_id"],
                quantity=row["total"],
                dock=dock,
                warehouse_id=shipment.warehouse_id,
            )
    Inspection.objects.bulk_create(inspections)
    event(
        shipment.id,
        "receipt_closed",
        actor,
        receipt=receipt.id,
        override=bool(over),
        discrepancies=receipt.discrepancies.count(),
    )
    close_shipment_if_done(shipment, actor)
    return receipt
