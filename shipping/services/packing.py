"""Packing and staging: packages with SSCCs for a picked order, staged in a lane."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from shipping.errors import InvalidDockDoor, InvalidStagingLane
from shipping.models import Allocation, Order, Package, SerialCounter, Shipment, TrackingStatus
from shipping.services.common import record_event, setting
from shipping.services.tracking import record_tracking
from shipping.transitions import check_transition
from warehouse.errors import InvalidQuantity
from warehouse.gs1 import make_sscc
from warehouse.models import DockDoor, Location, StockMove, Zone
from warehouse.services import move_allocated_stock


@dataclass(frozen=True)
class PackageSpec:
    package_type: str
    weight_kg: Decimal
    length_cm: Decimal
    width_cm: Decimal
    height_cm: Decimal


def next_sscc_serials(count: int) -> list[str]:
    """`count` new SSCCs for the configured GS1 company prefix, never handed out twice.

    The counter row is locked for update, so concurrent packers get disjoint serials.
    """
    prefix = str(setting("GS1_COMPANY_PREFIX", "0950110"))
    SerialCounter.objects.get_or_create(company_prefix=prefix)
    counter = SerialCounter.objects.select_for_update().get(company_prefix=prefix)
    first = counter.next_serial
    counter.next_serial = first + count
    counter.save(update_fields=["next_serial"])
    return [make_sscc(company_prefix=prefix, serial_reference=first + i) for i in range(count)]


def _lock_shipment(shipment_id: int) -> tuple[Order, Shipment]:
    order_id = Shipment.objects.values_list("order_id", flat=True).get(id=shipment_id)
    order = Order.objects.select_for_update().get(id=order_id)
    shipment = Shipment.objects.select_for_update().get(id=shipment_id)
    return order, shipment


@transaction.atomic
def pack_shipment(*, shipment_id: int, packages: list[PackageSpec], actor=None) -> Shipment:
    """Pack a picked order into `packages`, each given its own SSCC.

    Raises InvalidTransition (409) unless the order is picked and its shipment planned,
    InvalidQuantity (400) without packages.
    """
    if not packages:
        raise InvalidQuantity("Pack at least one package.")
    order, shipment = _lock_shipment(shipment_id)
    check_transition("order", order.status, Order.Status.PACKED, label=order.number)
    check_transition("shipment", shipment.status, Shipment.Status.PACKED, label=shipment.number)
    serials = next_sscc_serials(len(packages))
    Package.objects.bulk_create(
        Package(
            shipment=shipment,
            sscc=sscc,
            package_type=spec.package_type,
            weight_kg=spec.weight_kg,
            length_cm=spec.length_cm,
            width_cm=spec.width_cm,
            height_cm=spec.height_cm,
        )
        for sscc, spec in zip(serials, packages, strict=True)
    )
    now = timezone.now()
    shipment.status = Shipment.Status.PACKED
    shipment.packed_at = now
    shipment.save(update_fields=["status", "packed_at"])
    order.status = Order.Status.PACKED
    order.save(update_fields=["status", "updated_at"])
    record_event(
        warehouse_id=order.warehouse_id,
        kind="shipment.packed",
        order_id=order.id,
        shipment_id=shipment.id,
        actor=actor,
        data={"packages": serials},
    )
    record_tracking(
        order_id=order.id, status=TrackingStatus.PACKED, shipment_id=shipment.id, actor=actor
    )
    return shipment


@transaction.atomic
def stage_shipment(
    *, shipment_id: int, staging_lane_id: int, outbound_door_id: int | None = None, actor=None
) -> Shipment:
    """Put a packed shipment's packages in a staging lane for its outbound door.

    The picked stock follows to the lane (a ledger move) when it sits elsewhere. Raises
    InvalidStagingLane / InvalidDockDoor (400), InvalidTransition (409) unless packed.
    """
    order, shipment = _lock_shipment(shipment_id)
    check_transition("shipment", shipment.status, Shipment.Status.STAGED, label=shipment.number)
    lane = (
        Location.objects.select_related("zone")
        .filter(id=staging_lane_id, warehouse_id=shipment.warehouse_id, is_active=True)
        .first()
    )
    if lane is None or lane.zone.kind != Zone.Kind.STAGING:
        raise InvalidStagingLane("Stage in an active location of a staging zone.")
    door = None
    if outbound_door_id is not None:
        door = DockDoor.objects.filter(
            id=outbound_door_id, warehouse_id=shipment.warehouse_id, is_active=True
        ).first()
        if door is None or not door.is_outbound:
            raise InvalidDockDoor("Choose an active outbound door of this warehouse.")
    picked = list(
        Allocation.objects.select_for_update(of=("self",))
        .select_related("product", "lot")
        .filter(order_line__order=order, status=Allocation.Status.PICKED)
        .exclude(location_id=lane.id)
        .order_by("balance_id", "id")
    )
    for allocation in picked:
        # The lane is checked like any target; one without a capacity limit is not locked,
        # so shipments of many routes stage into it side by side (warehouse.locking, rule 1).
        allocation.balance_id = move_allocated_stock(
            from_location_id=allocation.location_id,
            source_balance_id=allocation.balance_id,
            to_location=lane,
            product=allocation.product,
            lot=allocation.lot,
            quantity=allocation.quantity,
            reason=StockMove.Reason.MOVE,
            reference=f"shipment:{shipment.number}",
            actor=actor,
        )
        allocation.location_id = lane.id
    Allocation.objects.bulk_update(picked, ["balance", "location"])
    shipment.status = Shipment.Status.STAGED
    shipment.staging_lane = lane
    shipment.outbound_door = door
    shipment.staged_at = timezone.now()
    shipment.save(update_fields=["status", "staging_lane", "outbound_door", "staged_at"])
    record_event(
        warehouse_id=order.warehouse_id,
        kind="shipment.staged",
        order_id=order.id,
        shipment_id=shipment.id,
        actor=actor,
        data={"lane": lane.code, "door": door.code if door else ""},
    )
    record_tracking(
        order_id=order.id, status=TrackingStatus.STAGED, shipment_id=shipment.id, actor=actor
    )
    return shipment
