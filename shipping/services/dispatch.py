"""Loading, dispatch and delivery: packages onto a vehicle, stock out, proof of delivery."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.core.files.base import File
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from shipping.errors import LoadOrderViolation, NotPacked, UnknownPackage, WrongVehicle
from shipping.models import (
    Allocation,
    Delivery,
    DeliveryLine,
    Order,
    OrderLine,
    Package,
    Shipment,
    ShipmentLine,
    TrackingStatus,
)
from shipping.services.common import record_event, setting
from shipping.services.packing import _lock_shipment
from shipping.services.tracking import delivery_outcome, planned_eta, record_tracking
from shipping.transitions import check_transition
from warehouse.errors import InvalidQuantity
from warehouse.roles import recorded_user
from warehouse.services import ship_allocated_stock


@transaction.atomic
def sequence_loading(*, shipment_ids_in_stop_order: list[int], vehicle_code: str = "") -> None:
    """Set the load order of a route's shipments: the last stop is loaded first.

    For the routing side: pass the shipments in the order the vehicle visits them.
    """
    count = len(shipment_ids_in_stop_order)
    shipments = {
        s.id: s
        for s in Shipment.objects.select_for_update()
        .filter(id__in=shipment_ids_in_stop_order)
        .order_by("id")
    }
    for stop_index, shipment_id in enumerate(shipment_ids_in_stop_order):
        shipment = shipments[shipment_id]
        shipment.load_sequence = count - stop_index
        if vehicle_code:
            shipment.vehicle_code = vehicle_code
    Shipment.objects.bulk_update(shipments.values(), ["load_sequence", "vehicle_code"])


@transaction.atomic
def load_package(*, sscc: str, vehicle_code: str, actor=None) -> Package:
    """Scan a staged package onto a vehicle; the shipment is loaded with its last package.

    Loading the same package again onto the same vehicle is a no-op. Raises UnknownPackage
    (404), WrongVehicle (409) if its shipment loads elsewhere, LoadOrderViolation (409) while
    a shipment with a lower load sequence on this vehicle is not loaded yet, InvalidTransition
    (409) unless the shipment is staged.
    """
    vehicle_code = vehicle_code.strip()
    if not vehicle_code:
        raise InvalidQuantity("Give the vehicle code.")
    found = Package.objects.filter(sscc=sscc.strip()).values_list("shipment_id", flat=True).first()
    if found is None:
        raise UnknownPackage(f"No package with SSCC {sscc.strip()}.")
    order, shipment = _lock_shipment(found)
    package = Package.objects.select_for_update().get(sscc=sscc.strip())
    if package.loaded_at and package.vehicle_code == vehicle_code:
        return package
    if shipment.vehicle_code and shipment.vehicle_code != vehicle_code:
        raise WrongVehicle(
            f"Shipment {shipment.number} loads onto {shipment.vehicle_code}, not {vehicle_code}."
        )
    check_transition("shipment", shipment.status, Shipment.Status.LOADED, label=shipment.number)
    if shipment.load_sequence is not None:
        earlier = (
            Shipment.objects.filter(
                warehouse_id=shipment.warehouse_id,
                vehicle_code=vehicle_code,
                load_sequence__lt=shipment.load_sequence,
                status__in=[Shipment.Status.PACKED, Shipment.Status.STAGED],
            )
            .order_by("load_sequence")
            .first()
        )
        if earlier is not None:
            raise LoadOrderViolation(
                f"Load {earlier.number} first: its stop comes later on the route."
            )
    package.loaded_at = timezone.now()
    package.vehicle_code = vehicle_code
    package.loaded_by = recorded_user(actor)
    package.save(update_fields=["loaded_at", "vehicle_code", "loaded_by"])
    shipment.vehicle_code = vehicle_code
    fields = ["vehicle_code"]
    if not shipment.packages.filter(loaded_at__isnull=True).exists():
        shipment.status = Shipment.Status.LOADED
        fields.append("status")
    shipment.save(update_fields=fields)
    record_event(
        warehouse_id=shipment.warehouse_id,
        kind="package.loaded",
        order_id=order.id,
        shipment_id=shipment.id,
        actor=actor,
        data={"sscc": package.sscc, "vehicle": vehicle_code},
    )
    return package


@transaction.atomic
def dispatch_shipment(*, shipment_id: int, actor=None) -> Shipment:
    """Close a loaded shipment: its picked stock leaves the ledger (`ship`), the order ships.

    What is still backordered on the order is cut (shipped short). Raises NotPacked (409) for
    a shipment not packed, staged and loaded.
    """
    order, shipment = _lock_shipment(shipment_id)
    if shipment.status in (
        Shipment.Status.PLANNED,
        Shipment.Status.PACKED,
        Shipment.Status.STAGED,
    ):
        raise NotPacked(
            f"Shipment {shipment.number} is {shipment.get_status_display().lower()}: "
            "pack, stage and load it before dispatch."
        )
    check_transition("shipment", shipment.status, Shipment.Status.DISPATCHED, label=shipment.number)
    lines = {
        line.id: line
        for line in OrderLine.objects.select_for_update().filter(order=order).order_by("id")
    }
    picked = list(
        Allocation.objects.select_for_update()
        .filter(order_line__order=order, status=Allocation.Status.PICKED)
        .order_by("balance_id", "id")
    )
    ship_allocated_stock(
        units=[(allocation.balance_id, allocation.quantity) for allocation in picked],
        reference=f"shipment:{shipment.number}",
        actor=actor,
    )
    for allocation in picked:
        lines[allocation.order_line_id].quantity_shipped += allocation.quantity
    Allocation.objects.filter(id__in=[a.id for a in picked]).update(
        status=Allocation.Status.SHIPPED
    )
    on_shipment: dict[int, int] = defaultdict(int)
    for allocation in picked:
        on_shipment[allocation.order_line_id] += allocation.quantity
    ShipmentLine.objects.bulk_create(
        ShipmentLine(shipment=shipment, order_line_id=line_id, quantity=quantity)
        for line_id, quantity in sorted(on_shipment.items())
    )
    cut = {}
    for line in lines.values():
        if line.quantity_backordered:
            cut[line.id] = line.quantity_backordered
            line.quantity_backordered = 0
    OrderLine.objects.bulk_update(lines.values(), ["quantity_shipped", "quantity_backordered"])
    now = timezone.now()
    shipment.status = Shipment.Status.DISPATCHED
    shipment.dispatched_at = now
    shipment.save(update_fields=["status", "dispatched_at"])
    check_transition("order", order.status, Order.Status.DISPATCHED, label=order.number)
    order.status = Order.Status.DISPATCHED
    order.save(update_fields=["status", "updated_at"])
    record_event(
        warehouse_id=order.warehouse_id,
        kind="shipment.dispatched",
        order_id=order.id,
        shipment_id=shipment.id,
        actor=actor,
        data={"units": sum(a.quantity for a in picked), "cut": cut},
    )
    record_tracking(
        order_id=order.id, status=TrackingStatus.DISPATCHED, shipment_id=shipment.id, actor=actor
    )
    if not order.carrier:
        # Our own vehicle left with it: it is on its way to the customer, at the planned ETA.
        record_tracking(
            order_id=order.id,
            status=TrackingStatus.OUT_FOR_DELIVERY,
            shipment_id=shipment.id,
            eta=planned_eta(order.id),
            actor=actor,
        )
    return shipment


def is_on_time(
    *, delivered_at: dt.datetime, window_start: dt.datetime, window_end: dt.datetime
) -> bool:
    """Delivered inside the promised window, widened by the configured tolerance each side."""
    tolerance = dt.timedelta(minutes=int(setting("DELIVERY_WINDOW_TOLERANCE_MINUTES", 15)))
    return window_start - tolerance <= delivered_at <= window_end + tolerance


@transaction.atomic
def confirm_delivery(
    *,
    shipment_id: int,
    delivered_at: dt.datetime,
    recipient_name: str = "",
    arrived_at: dt.datetime | None = None,
    exception: str = "",
    delivered_quantities: dict[int, int] | None = None,
    proof_file: File | None = None,
    note: str = "",
    actor=None,
) -> Delivery:
    """Record a stop's proof of delivery and judge it on time and in full.

    `delivered_quantities` maps order line id -> units handed over; by default everything
    shipped (nothing when refused or nobody was home). On time: inside the promised window
    +/- DOCKSIDE["DELIVERY_WINDOW_TOLERANCE_MINUTES"]. In full: every line of the order has
    had its ordered quantity delivered. Raises InvalidQuantity (400) for a line not on the
    order or more than shipped, InvalidTransition (409) unless dispatched.
    """
    order, shipment = _lock_shipment(shipment_id)
    check_transition("shipment", shipment.status, Shipment.Status.DELIVERED, label=shipment.number)
    if exception not in Delivery.ExceptionKind.values:
        raise InvalidQuantity(f"Unknown exception {exception!r}.")
    lines = list(OrderLine.objects.filter(order=order).order_by("id"))
    shipped = {line.id: line.quantity_shipped for line in lines}
    if delivered_quantities is None:
        nothing = exception in (Delivery.ExceptionKind.REFUSED, Delivery.ExceptionKind.NOT_HOME)
        delivered_quantities = {lid: 0 if nothing else q for lid, q in shipped.items()}
    errors: dict[str, list[str]] = {}
    for line_id, quantity in delivered_quantities.items():
        if line_id not in shipped:
            errors[str(line_id)] = ["This line is not on the order."]
        elif quantity < 0 or quantity > shipped[line_id]:
            errors[str(line_id)] = [f"Deliver 0 to {shipped[line_id]} units."]
    if errors:
        raise InvalidQuantity("Delivered quantities are invalid.", errors=errors)
    earlier = defaultdict(
        int,
        DeliveryLine.objects.filter(order_line__order=order)
        .values("order_line_id")
        .annotate(total=Sum("quantity_delivered"))
        .values_list("order_line_id", "total"),
    )
    in_full = all(
        earlier[line.id] + delivered_quantities.get(line.id, 0) >= line.quantity for line in lines
    )
    delivery = Delivery(
        shipment=shipment,
        arrived_at=arrived_at,
        delivered_at=delivered_at,
        recipient_name=recipient_name,
        exception=exception,
        note=note,
        is_on_time=is_on_time(
            delivered_at=delivered_at,
            window_start=order.promised_window_start,
            window_end=order.promised_window_end,
        ),
        is_in_full=in_full,
        confirmed_by=recorded_user(actor),
    )
    if proof_file is not None:
        delivery.proof_file.save(proof_file.name, proof_file, save=False)
    delivery.save()
    DeliveryLine.objects.bulk_create(
        DeliveryLine(delivery=delivery, order_line_id=line_id, quantity_delivered=quantity)
        for line_id, quantity in sorted(delivered_quantities.items())
    )
    shipment.status = Shipment.Status.DELIVERED
    shipment.save(update_fields=["status"])
    order.status = Order.Status.DELIVERED
    order.save(update_fields=["status", "updated_at"])
    record_event(
        warehouse_id=order.warehouse_id,
        kind="shipment.delivered",
        order_id=order.id,
        shipment_id=shipment.id,
        actor=actor,
        data={"on_time": delivery.is_on_time, "in_full": in_full, "exception": exception},
    )
    status, reason = delivery_outcome(
        exception=exception,
        delivered=sum(delivered_quantities.values()),
        shipped=sum(shipped.values()),
    )
    record_tracking(
        order_id=order.id, status=status, reason=reason, shipment_id=shipment.id, actor=actor
    )
    return delivery
