"""Builders for customer returns: delivered orders (through the outbound services, or as rows
for tests that only need the delivered quantities) and RMAs in a given state."""

from __future__ import annotations

import datetime as dt
import itertools

from django.contrib.auth.models import User
from django.utils import timezone

from receiving import services as inbound
from receiving.models import ReturnAuthorisation, ReturnReceipt
from shipping import services as outbound
from shipping.models import Customer, DeliveryLine, Order, Shipment
from tests.factories import kpis as kf
from tests.factories import shipping as sf
from tests.factories import states
from warehouse.models import Product

_numbers = itertools.count(1)


def delivered_order(
    layout: sf.OutboundSite,
    product: Product,
    picker: User,
    *,
    quantity: int = 6,
    actor: User | None = None,
    delivered_at: dt.datetime | None = None,
) -> Order:
    """An order of `quantity` x `product` taken through every outbound service to delivery:
    stock received, allocated, waved, picked, packed, staged, loaded, dispatched, delivered."""
    order = states.stocked_order(layout, product, quantity=quantity)
    outbound.allocate_order(order_id=order.id, actor=actor)
    wave = outbound.plan_wave(
        warehouse_id=layout.warehouse.id,
        dispatch_date=timezone.localdate(),
        cutoff_at=timezone.now() + dt.timedelta(hours=1),
        order_ids=[order.id],
        actor=actor,
    )
    outbound.release_wave(wave_id=wave.id, actor=actor)
    pick_list = wave.pick_lists.get()
    outbound.assign_pick_list(pick_list_id=pick_list.id, picker_id=picker.id, actor=actor)
    outbound.start_pick_list(pick_list_id=pick_list.id, actor=picker)
    for task in pick_list.tasks.select_related("location", "product").order_by("sequence"):
        outbound.confirm_pick(
            task_id=task.id,
            bin_code=task.location.code,
            item_scan=task.product.gtin,
            quantity=task.quantity,
            actor=picker,
        )
    shipment = Shipment.objects.get(order=order)
    outbound.pack_shipment(shipment_id=shipment.id, packages=[states.box()], actor=actor)
    outbound.stage_shipment(
        shipment_id=shipment.id,
        staging_lane_id=layout.lanes[1].id,
        outbound_door_id=layout.door.id,
        actor=actor,
    )
    for sscc in shipment.packages.values_list("sscc", flat=True):
        outbound.load_package(sscc=sscc, vehicle_code="VAN-1", actor=actor)
    outbound.dispatch_shipment(shipment_id=shipment.id, actor=actor)
    outbound.confirm_delivery(
        shipment_id=shipment.id, delivered_at=delivered_at or timezone.now(), actor=actor
    )
    order.refresh_from_db()
    return order


def delivered_rows(
    customer: Customer,
    lines: list[tuple[Product, int]],
    *,
    delivered_at: dt.datetime | None = None,
) -> Order:
    """A delivered order as rows only (no stock moved): its shipment, proof of delivery and
    delivery lines. For tests of what may be returned and of the return rate."""
    delivered_at = delivered_at or timezone.now()
    window = (delivered_at - dt.timedelta(hours=2), delivered_at + dt.timedelta(hours=2))
    shipment = kf.dispatched_order(
        customer,
        [kf.Line(product, quantity) for product, quantity in lines],
        window=window,
        dispatched_at=delivered_at - dt.timedelta(hours=3),
    )
    delivery = kf.deliver(shipment, delivered_at=delivered_at)
    DeliveryLine.objects.bulk_create(
        DeliveryLine(
            delivery=delivery, order_line=line.order_line, quantity_delivered=line.quantity
        )
        for line in shipment.lines.select_related("order_line")
    )
    return Order.objects.get(id=shipment.order_id)


def rma(
    order: Order,
    quantity: int,
    *,
    line_number: int = 1,
    reason: str = "damaged",
    actor: User | None = None,
) -> ReturnAuthorisation:
    """A requested RMA of `quantity` units of one line of a delivered order."""
    line = order.lines.get(line_number=line_number)
    return inbound.request_return(
        order_id=order.id,
        lines=[inbound.ReturnLineInput(order_line_id=line.id, quantity=quantity, reason=reason)],
        actor=actor,
    )


def authorised_rma(order: Order, quantity: int, **kwargs) -> ReturnAuthorisation:
    requested = rma(order, quantity, **kwargs)
    return inbound.authorise_return(rma_id=requested.id)


def open_return_receipt(site, order: Order, quantity: int, **kwargs) -> ReturnReceipt:
    authorised = authorised_rma(order, quantity, **kwargs)
    return inbound.open_return_receipt(rma_id=authorised.id, door_id=site.doors[0].id)


def received_rma(site, order: Order, quantity: int, *, product: Product) -> ReturnAuthorisation:
    """An RMA of `quantity` units whose return receipt received them all and closed."""
    receipt = open_return_receipt(site, order, quantity)
    inbound.receive_return_scan(
        return_receipt_id=receipt.id, barcode=product.gtin, quantity=quantity
    )
    inbound.close_return_receipt(return_receipt_id=receipt.id)
    return ReturnAuthorisation.objects.get(id=receipt.rma_id)
