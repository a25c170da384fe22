"""ASNs: announcing a delivery with its lines (in bulk) and cancelling it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction

from receiving.errors import (
    InvalidAsn,
)
from receiving.models import (
    DockAppointment,
    InboundLine,
    InboundShipment,
)
from receiving.services.common import (
    Actor,
    Status,
    event,
    lock_shipment,
    set_shipment_status,
)
from warehouse.gs1 import is_valid_sscc
from warehouse.models import (
    PackSize,
    Product,
)

# --- ASNs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    """One line of an ASN as sent: `quantity` of `pack` (None = the base unit)."""

    sku: str
    quantity: int
    pack: str | None = None
    lot_code: str = ""
    expiry_date: date | None = None
    sscc: str = ""


@transaction.atomic
def create_shipment(
    *,
    warehouse_id: int,
    supplier_id: int,
    reference: str,
    expected_arrival: datetime,
    lines: Sequence[LineInput],
    po_reference: str = "",
    carrier: str = "",
    actor: Actor = None,
) -> InboundShipment:
    """Announce a delivery (an ASN) with its lines, in a fixed number of queries.

    Products are looked up by SKU and pack sizes converted to base units with one query each,
    whatever the number of lines; the lines are written with one bulk INSERT.

    Raises InvalidAsn (400) listing every bad line (unknown SKU or pack, bad SSCC, quantity
    below 1) and for a reference already used in the warehouse.
    """
    if not lines:
        raise InvalidAsn("An ASN needs at least one line.", errors={"lines": ["No lines."]})
    if InboundShipment.objects.filter(warehouse_id=warehouse_id, reference=reference).exists():
        raise InvalidAsn(
            f"ASN {reference} already exists in this warehouse.",
            errors={"reference": [f"ASN {reference} already exists."]},
        )
    skus = {line.sku for line in lines}
    products = {
        sku: (product_id, is_lot_tracked)
        for sku, product_id, is_lot_tracked in Product.objects.filter(sku__in=skus).values_list(
            "sku", "id", "is_lot_tracked"
        )
    }
    packs = {
        (product_id, name): quantity
        for product_id, name, quantity in PackSize.objects.filter(
            product_id__in=[pid for pid, _ in products.values()]
        ).values_list("product_id", "name", "quantity")
    }
    errors: dict[str, list[str]] = {}
    rows: list[InboundLine] = []
    for index, line in enumerate(lines):
        key = f"lines[{index}]"
        found = products.get(line.sku)
        if found is None:
            errors[f"{key}.sku"] = [f"No product with SKU {line.sku!r}."]
            continue
        product_id, _ = found
        units = 1
        if line.pack:
            units = packs.get((product_id, line.pack), 0)
            if not units:
                errors[f"{key}.pack"] = [f"{line.sku} has no pack size {line.pack!r}."]
                continue
        if line.quantity < 1:
            errors[f"{key}.quantity"] = ["Quantity must be at least 1."]
            continue
        if line.sscc and not is_valid_sscc(line.sscc):
            errors[f"{key}.sscc"] = [
                f"{line.sscc!r} is not an 18-digit SSCC with a valid check digit."
            ]
            continue
        rows.append(
            InboundLine(
                line_number=index + 1,
                product_id=product_id,
                expected_quantity=line.quantity * units,
                lot_code=line.lot_code,
                expiry_date=line.expiry_date,
                sscc=line.sscc,
            )
        )
    if errors:
        raise InvalidAsn(f"{len(errors)} line(s) of the ASN are invalid.", errors=errors)
    shipment = InboundShipment.objects.create(
        warehouse_id=warehouse_id,
        supplier_id=supplier_id,
        reference=reference,
        po_reference=po_reference,
        carrier=carrier,
        expected_arrival=expected_arrival,
    )
    for row in rows:
        row.shipment_id = shipment.id
    InboundLine.objects.bulk_create(rows, batch_size=2000)
    event(shipment.id, "asn_announced", actor, lines=len(rows))
    return shipment


@transaction.atomic
def cancel_shipment(*, shipment_id: int, actor: Actor = None) -> InboundShipment:
    """Cancel an ASN that has not arrived, and its booked appointment.

    Raises InvalidTransition once the truck has checked in.
    """
    shipment = lock_shipment(shipment_id)
    set_shipment_status(shipment, Status.CANCELLED)
    DockAppointment.objects.filter(
        shipment_id=shipment_id, status=DockAppointment.Status.BOOKED
    ).update(status=DockAppointment.Status.CANCELLED)
    event(shipment.id, "asn_cancelled", actor)
    return shipment


def create_inbound_lines_input(rows: Sequence[Mapping]) -> list[LineInput]:
    """LineInput objects from validated API rows (dicts with sku, quantity, pack, ...)."""
    return [
        LineInput(
            sku=row["sku"],
            quantity=row["quantity"],
            pack=row.get("pack") or None,
            lot_code=row.get("lot_code", ""),
            expiry_date=row.get("expiry_date"),
            sscc=row.get("sscc", ""),
        )
        for row in rows
    ]
