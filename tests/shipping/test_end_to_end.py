"""The whole outbound flow through the services, ending with a reconciled ledger."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from shipping import services
from shipping.errors import LoadOrderViolation, NotPacked, OrderNotPickable
from shipping.models import Allocation, Order, Package, PickList, PickTask, Shipment, Wave
from tests.factories import shipping as sf
from tests.factories import warehouse as wf
from warehouse import selectors
from warehouse.gs1 import is_valid_sscc
from warehouse.models import CountRequest, StockBalance, StockMove
from warehouse.services import receive_stock


def box() -> services.PackageSpec:
    return services.PackageSpec("box", Decimal("4.2"), Decimal(40), Decimal(30), Decimal(20))


def pick_everything(pick_list: PickList, user, *, short_task: PickTask | None = None) -> None:
    services.start_pick_list(pick_list_id=pick_list.id, actor=user)
    while task := pick_list.tasks.filter(status="open").order_by("sequence").first():
        if short_task is not None and task.id == short_task.id:
            services.short_pick(
                task_id=task.id,
                quantity_picked=task.quantity - 1,
                reason="not_enough",
                bin_code=task.location.code,
                item_scan=task.product.gtin,
                actor=user,
            )
            continue
        services.confirm_pick(
            task_id=task.id,
            bin_code=task.location.code,
            item_scan=task.product.gtin,
            quantity=task.quantity,
            actor=user,
        )


def test_orders_to_delivery(site, users, lot_product, product, django_capture_on_commit_callbacks):
    outbound = sf.add_outbound_layout(site)
    today = timezone.localdate()
    old_lot = wf.make_lot(lot_product, "OLD", today + dt.timedelta(days=30))
    new_lot = wf.make_lot(lot_product, "NEW", today + dt.timedelta(days=90))
    receive_stock(
        location_id=site.chilled_bins[1].id,
        product_id=lot_product.id,
        quantity=10,
        lot_id=new_lot.id,
    )
    receive_stock(
        location_id=site.chilled_bins[0].id,
        product_id=lot_product.id,
        quantity=4,
        lot_id=old_lot.id,
    )
    receive_stock(location_id=outbound.pick_faces[0].id, product_id=product.id, quantity=3)
    receive_stock(location_id=site.bins[2].id, product_id=product.id, quantity=20)
    other = wf.make_product(sku="AMB-2")
    receive_stock(location_id=outbound.pick_faces[1].id, product_id=other.id, quantity=5)

    customer = sf.make_customer(site.warehouse)
    far = sf.make_customer(site.warehouse, code="far")
    first = sf.make_order(customer, [(lot_product, 6), (product, 5)])
    second = sf.make_order(far, [(other, 8)], allow_partial=True)

    # Allocation: FEFO takes the 4 of the older lot first; the partial order backorders 3.
    assert services.allocate_order(order_id=first.id).status == Order.Status.ALLOCATED
    lots = dict(
        Allocation.objects.filter(order_line__order=first, lot__isnull=False).values_list(
            "lot__code", "quantity"
        )
    )
    assert lots == {"OLD": 4, "NEW": 2}
    result = services.allocate_order(order_id=second.id)
    assert (result.status, result.backordered) == (Order.Status.PARTIALLY_ALLOCATED, 3)

    # Wave: both orders, released into one pick list sequenced by walking path.
    wave = services.plan_wave(
        warehouse_id=site.warehouse.id,
        dispatch_date=today,
        cutoff_at=timezone.now(),
        actor=users["dispatcher"],
    )
    assert set(wave.orders.values_list("id", flat=True)) == {first.id, second.id}
    assert services.release_due_waves() == [wave.id]
    wave.refresh_from_db()
    assert wave.status == Wave.Status.RELEASED
    pick_list = wave.pick_lists.get()
    assert pick_list.path_method in {"tsp", "s-shape"}
    assert pick_list.path_distance_m <= pick_list.order_line_distance_m
    services.assign_pick_list(
        pick_list_id=pick_list.id, picker_id=users["picker"].id, actor=users["manager"]
    )

    # Picking, with a short pick on the pick face of `product` (3 there, 1 missing).
    face_task = pick_list.tasks.get(location=outbound.pick_faces[0])
    pick_everything(pick_list, users["picker"], short_task=face_task)
    face_task.refresh_from_db()
    assert face_task.status == PickTask.Status.SHORT
    count = CountRequest.objects.get()
    assert (count.location_id, count.reason) == (outbound.pick_faces[0].id, "short_pick")
    # The shortfall was re-allocated from the storage bin and picked as an extra task.
    extra = pick_list.tasks.order_by("sequence").last()
    assert (extra.location_id, extra.quantity, extra.status) == (site.bins[2].id, 1, "picked")
    pick_list.refresh_from_db()
    wave.refresh_from_db()
    assert pick_list.status == PickList.Status.DONE
    assert wave.status == Wave.Status.COMPLETED
    first.refresh_from_db()
    assert first.status == Order.Status.PICKED
    staged = StockBalance.objects.get(location=site.staging, product=product)
    assert (staged.quantity, staged.allocated) == (5, 5)

    # A cancelled order cannot be picked; an unpacked shipment cannot leave.
    ship_first = Shipment.objects.get(order=first)
    with pytest.raises(NotPacked):
        services.dispatch_shipment(shipment_id=ship_first.id)

    # Pack, stage, load (last stop first), dispatch.
    ship_second = Shipment.objects.get(order=second)
    for shipment in (ship_first, ship_second):
        services.pack_shipment(shipment_id=shipment.id, packages=[box(), box()])
        services.stage_shipment(
            shipment_id=shipment.id,
            staging_lane_id=outbound.lanes[1].id,
            outbound_door_id=outbound.door.id,
        )
    assert all(is_valid_sscc(code) for code in Package.objects.values_list("sscc", flat=True))
    assert Package.objects.values("sscc").distinct().count() == 4
    # Route: first order is stop 1, second is stop 2 -> the second is loaded first.
    services.sequence_loading(
        shipment_ids_in_stop_order=[ship_first.id, ship_second.id], vehicle_code="VAN-1"
    )
    with pytest.raises(LoadOrderViolation):
        services.load_package(sscc=ship_first.packages.first().sscc, vehicle_code="VAN-1")
    for shipment in (ship_second, ship_first):
        for package in shipment.packages.all():
            services.load_package(
                sscc=package.sscc, vehicle_code="VAN-1", actor=users["dispatcher"]
            )
        services.dispatch_shipment(shipment_id=shipment.id, actor=users["dispatcher"])
    ships = StockMove.objects.filter(reason=StockMove.Reason.SHIP)
    assert sum(ships.values_list("quantity", flat=True)) == 6 + 5 + 5
    assert StockBalance.objects.filter(location=outbound.lanes[1], quantity__gt=0).count() == 0

    # Delivery: the first is late (tolerance 15 min), the second arrives on time but partial.
    late = first.promised_window_end + dt.timedelta(minutes=16)
    delivery = services.confirm_delivery(
        shipment_id=ship_first.id, delivered_at=late, recipient_name="J. Doe"
    )
    assert (delivery.is_on_time, delivery.is_in_full) == (False, True)
    line = second.lines.get()
    on_time = second.promised_window_end + dt.timedelta(minutes=15)
    delivery = services.confirm_delivery(
        shipment_id=ship_second.id,
        delivered_at=on_time,
        recipient_name="K. Roe",
        exception="damaged",
        delivered_quantities={line.id: 4},
    )
    assert (delivery.is_on_time, delivery.is_in_full) == (True, False)
    assert Order.objects.get(id=second.id).status == Order.Status.DELIVERED
    assert selectors.list_ledger_mismatches() == []


def test_picking_a_cancelled_order_is_refused(site, users, product):
    outbound = sf.add_outbound_layout(site)
    receive_stock(location_id=outbound.pick_faces[0].id, product_id=product.id, quantity=5)
    order = sf.make_order(sf.make_customer(site.warehouse), [(product, 2)])
    services.allocate_order(order_id=order.id)
    wave = services.plan_wave(
        warehouse_id=site.warehouse.id, dispatch_date=timezone.localdate(), cutoff_at=timezone.now()
    )
    services.release_wave(wave_id=wave.id)
    task = PickTask.objects.get()
    services.cancel_order(order_id=order.id)
    task.refresh_from_db()
    assert task.status == PickTask.Status.CANCELLED
    with pytest.raises(OrderNotPickable):
        services.confirm_pick(
            task_id=task.id,
            bin_code=task.location.code,
            item_scan=product.gtin,
            quantity=2,
            actor=users["picker"],
        )
    assert StockBalance.objects.get(product=product).allocated == 0
    assert PickList.objects.get().status == PickList.Status.DONE
