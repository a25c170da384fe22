"""Builders for work in a given state, each made the way the floor makes it: through services.

Every builder makes a new, independent object (its own ASN, order or stock), so a test may
build one per request that consumes it (closing a receipt, confirming a pick).
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from django.contrib.auth.models import User
from django.utils import timezone

from receiving import services as inbound
from receiving.models import InboundShipment, Inspection, PutawayTask, Receipt, Supplier
from routing.models import RoutePlan
from routing.services import create_route_plan
from shipping import services as outbound
from shipping.models import Order, PickList, PickTask, Shipment, Wave
from tests.factories import receiving as rf
from tests.factories import routing as routing_f
from tests.factories import shipping as sf
from warehouse.models import Location, Product
from warehouse.services import receive_stock

_numbers = itertools.count(1)


# --- inbound --------------------------------------------------------------------------------


def announced_asn(site, product: Product, *, supplier: Supplier | None = None) -> InboundShipment:
    """An ASN of 10 x `product`, announced for two hours from now."""
    return rf.make_shipment(site, [{"product": product, "quantity": 10}], supplier=supplier)


def arrived_asn(site, product: Product) -> InboundShipment:
    shipment = announced_asn(site, product)
    inbound.check_in_shipment(shipment_id=shipment.id)
    return shipment


def open_receipt(site, product: Product) -> Receipt:
    """A receipt open on the site's first door for an arrived ASN of 10 x `product`."""
    return rf.make_open_receipt(site, [{"product": product, "quantity": 10}])


def _closed_receipt(site, product: Product, supplier: Supplier, actor: User | None) -> Receipt:
    shipment = announced_asn(site, product, supplier=supplier)
    inbound.check_in_shipment(shipment_id=shipment.id, actor=actor)
    receipt = inbound.open_receipt(shipment_id=shipment.id, door_id=site.doors[0].id, actor=actor)
    inbound.receive_scan(receipt_id=receipt.id, barcode=product.gtin, quantity=10, actor=actor)
    return inbound.close_receipt(receipt_id=receipt.id, actor=actor)


def open_putaway_task(site, product: Product, actor: User | None = None) -> PutawayTask:
    """The putaway task of a closed receipt of 10 x `product` (no inspection)."""
    receipt = _closed_receipt(site, product, rf.make_supplier(), actor)
    return PutawayTask.objects.get(receipt=receipt)


def pending_inspection(site, product: Product) -> Inspection:
    """The inspection of 10 x `product` from a supplier whose deliveries are all inspected."""
    supplier = rf.make_supplier(requires_inspection=True)
    receipt = _closed_receipt(site, product, supplier, None)
    return Inspection.objects.get(receipt=receipt)


# --- outbound -------------------------------------------------------------------------------


def stocked_order(
    layout: sf.OutboundSite, product: Product, *, quantity: int = 2, **extra
) -> Order:
    """A created order of `quantity` x `product`, with that much stock on a pick face of its
    own (a short pick elsewhere blocks its bin for a count, not this one)."""
    face = layout.pick_faces[0]
    number = next(_numbers)
    bin_ = Location.objects.create(
        warehouse=face.warehouse,
        zone=face.zone,
        code=f"B-{number + 50:02d}-02-1",
        aisle="B",
        bay=number + 50,
        level=2,
        x=face.x + number,
        y=face.y,
    )
    receive_stock(location_id=bin_.id, product_id=product.id, quantity=quantity)
    return sf.make_order(sf.make_customer(layout.warehouse), [(product, quantity)], **extra)


def allocated_order(layout: sf.OutboundSite, product: Product, actor: User | None = None) -> Order:
    order = stocked_order(layout, product)
    outbound.allocate_order(order_id=order.id, actor=actor)
    return order


def planned_wave(layout: sf.OutboundSite, product: Product, actor: User | None = None) -> Wave:
    """A planned wave holding one allocated order, cut off in an hour."""
    order = allocated_order(layout, product, actor)
    return outbound.plan_wave(
        warehouse_id=layout.warehouse.id,
        dispatch_date=timezone.localdate(),
        cutoff_at=timezone.now() + dt.timedelta(hours=1),
        order_ids=[order.id],
        actor=actor,
    )


def released_pick_list(
    layout: sf.OutboundSite, product: Product, picker: User | None, actor: User | None = None
) -> PickList:
    """The one pick list of a released wave, assigned to `picker` (or to nobody)."""
    wave = planned_wave(layout, product, actor)
    outbound.release_wave(wave_id=wave.id, actor=actor)
    pick_list = wave.pick_lists.get()
    if picker is not None:
        outbound.assign_pick_list(pick_list_id=pick_list.id, picker_id=picker.id, actor=actor)
    return pick_list


def started_pick_task(layout: sf.OutboundSite, product: Product, picker: User) -> PickTask:
    """The open task of a pick list `picker` has started."""
    pick_list = released_pick_list(layout, product, picker)
    outbound.start_pick_list(pick_list_id=pick_list.id, actor=picker)
    return pick_list.tasks.get()


def picked_shipment(
    layout: sf.OutboundSite, product: Product, picker: User, actor: User | None = None
) -> Shipment:
    """The planned shipment of an order whose only task `picker` has picked in full."""
    pick_list = released_pick_list(layout, product, picker, actor)
    outbound.start_pick_list(pick_list_id=pick_list.id, actor=picker)
    task = pick_list.tasks.select_related("location", "product").get()
    outbound.confirm_pick(
        task_id=task.id,
        bin_code=task.location.code,
        item_scan=task.product.gtin,
        quantity=task.quantity,
        actor=picker,
    )
    return Shipment.objects.get(order_id=task.order_line.order_id)


def box() -> outbound.PackageSpec:
    return outbound.PackageSpec("box", Decimal("4.2"), Decimal(40), Decimal(30), Decimal(20))


def packed_shipment(layout, product, picker: User, actor: User | None = None) -> Shipment:
    shipment = picked_shipment(layout, product, picker, actor)
    outbound.pack_shipment(shipment_id=shipment.id, packages=[box()], actor=actor)
    return shipment


def staged_shipment(layout, product, picker: User, actor: User | None = None) -> Shipment:
    shipment = packed_shipment(layout, product, picker, actor)
    outbound.stage_shipment(
        shipment_id=shipment.id,
        staging_lane_id=layout.lanes[1].id,
        outbound_door_id=layout.door.id,
        actor=actor,
    )
    return shipment


def loaded_shipment(layout, product, picker: User, actor: User | None = None) -> Shipment:
    shipment = staged_shipment(layout, product, picker, actor)
    for sscc in shipment.packages.values_list("sscc", flat=True):
        outbound.load_package(sscc=sscc, vehicle_code="VAN-1", actor=actor)
    return shipment


def dispatched_shipment(layout, product, picker: User, actor: User | None = None) -> Shipment:
    shipment = loaded_shipment(layout, product, picker, actor)
    outbound.dispatch_shipment(shipment_id=shipment.id, actor=actor)
    return shipment


# --- routing --------------------------------------------------------------------------------


def delivery_day() -> dt.date:
    """A day far enough ahead that no other test's shipments are planned on it."""
    return timezone.localdate() + dt.timedelta(days=30 + next(_numbers))


def draft_route_plan(layout: sf.OutboundSite, product: Product) -> RoutePlan:
    """A draft plan of two own-fleet shipments on a day of its own."""
    day = delivery_day()
    shipments = [
        routing_f.make_shipment(sf.make_customer(layout.warehouse), product, 2, day=day)
        for _ in range(2)
    ]
    return create_route_plan(
        warehouse_id=layout.warehouse.id,
        delivery_date=day,
        shipment_ids=[shipment.id for shipment in shipments],
        time_limit_seconds=1,
    )


def solved_route_plan(layout: sf.OutboundSite, product: Product) -> RoutePlan:
    """A solved plan: one route of two stops on a vehicle of its own, on a day of its own."""
    day = delivery_day()
    shipments = [
        routing_f.make_shipment(sf.make_customer(layout.warehouse), product, 2, day=day)
        for _ in range(2)
    ]
    route = routing_f.make_route(layout.warehouse, day, 1, shipments)
    RoutePlan.objects.filter(id=route.plan_id).update(status=RoutePlan.Status.SOLVED)
    return RoutePlan.objects.get(id=route.plan_id)
