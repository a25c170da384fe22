"""Order intake: one order or hundreds in one call, quantities converted to base units."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from shipping.models import Order, OrderLine, OutboundEvent
from warehouse.errors import InvalidQuantity
from warehouse.models import PackSize
from warehouse.roles import recorded_user


@dataclass(frozen=True)
class LineSpec:
    product_id: int
    quantity: int
    pack: str = ""


@dataclass(frozen=True)
class OrderSpec:
    warehouse_id: int
    customer_id: int
    number: str
    requested_date: dt.date
    promised_window_start: dt.datetime
    promised_window_end: dt.datetime
    lines: list[LineSpec]
    priority: int = Order.Priority.NORMAL
    carrier: str = ""
    allow_partial: bool = False
    note: str = ""


def _pack_sizes(product_ids: set[int]) -> dict[tuple[int, str], int]:
    return {
        (product_id, name): quantity
        for product_id, name, quantity in PackSize.objects.filter(
            product_id__in=product_ids
        ).values_list("product_id", "name", "quantity")
    }


@transaction.atomic
def create_orders(*, specs: list[OrderSpec], actor=None) -> list[Order]:
    """Create orders with their lines in a fixed number of queries, whatever their count.

    Pack quantities convert to base units (3 cases of 12 = 36). Raises InvalidQuantity (400)
    naming the order and line when a pack size does not exist for the product.
    """
    packs = _pack_sizes({line.product_id for spec in specs for line in spec.lines})
    orders = Order.objects.bulk_create(
        Order(
            warehouse_id=spec.warehouse_id,
            customer_id=spec.customer_id,
            number=spec.number,
            requested_date=spec.requested_date,
            promised_window_start=spec.promised_window_start,
            promised_window_end=spec.promised_window_end,
            priority=spec.priority,
            carrier=spec.carrier,
            allow_partial=spec.allow_partial,
            note=spec.note,
        )
        for spec in specs
    )
    lines = []
    errors: dict[str, list[str]] = {}
    for order, spec in zip(orders, specs, strict=True):
        for number, line in enumerate(spec.lines, start=1):
            per_pack = 1
            if line.pack and line.pack != "each":
                per_pack = packs.get((line.product_id, line.pack), 0)
                if not per_pack:
                    errors[f"{spec.number}/{number}"] = [
                        f"Product {line.product_id} has no pack size {line.pack!r}."
                    ]
                    continue
            lines.append(
                OrderLine(
                    order=order,
                    line_number=number,
                    product_id=line.product_id,
                    pack=line.pack,
                    pack_quantity=line.quantity,
                    quantity=line.quantity * per_pack,
                )
            )
    if errors:
        raise InvalidQuantity("Unknown pack sizes.", errors=errors)
    OrderLine.objects.bulk_create(lines, batch_size=2000)
    OutboundEvent.objects.bulk_create(
        OutboundEvent(
            warehouse_id=order.warehouse_id,
            kind="order.created",
            order=order,
            actor=recorded_user(actor),
        )
        for order in orders
    )
    return orders


def create_order(*, spec: OrderSpec, actor=None) -> Order:
    """Create one order (see `create_orders`)."""
    return create_orders(specs=[spec], actor=actor)[0]
