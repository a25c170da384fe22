"""Helpers every inbound service shares: actors, the ASN's status and its audit events."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from receiving.errors import DoorNotUsable
from receiving.models import InboundEvent, InboundShipment, Inspection, PutawayTask, Receipt
from receiving.transitions import check_transition
from warehouse.errors import DomainError
from warehouse.models import DockDoor
from warehouse.roles import recorded_user

Actor = AbstractBaseUser | None
Status = InboundShipment.Status


class ManagerOverrideRequired(DomainError):
    code = "manager-override-required"
    title = "Only a manager may override"
    http_status = 403


def event(shipment_id: int, kind: str, actor: Actor, **data) -> None:
    """Write the audit row of a state change of ASN `shipment_id`."""
    InboundEvent.objects.create(
        shipment_id=shipment_id, kind=kind, actor=recorded_user(actor), data=data
    )


def set_shipment_status(shipment: InboundShipment, target: str, **extra) -> None:
    """Move a (locked) ASN to `target`; raises InvalidTransition if the table forbids it."""
    check_transition("ASN", shipment.status, target)
    shipment.status = target
    for name, value in extra.items():
        setattr(shipment, name, value)
    shipment.save(update_fields=["status", "updated_at", *extra])


def check_inbound_door(door: DockDoor, warehouse_id: int) -> None:
    """Raise DoorNotUsable unless `door` is an active inbound door of the warehouse."""
    if door.warehouse_id != warehouse_id:
        raise DoorNotUsable(f"Door {door.code} belongs to another warehouse.")
    if not door.is_active:
        raise DoorNotUsable(f"Door {door.code} is not in use.")
    if not door.is_inbound:
        raise DoorNotUsable(f"Door {door.code} is an outbound door; pick an inbound door.")


def lock_shipment(shipment_id: int) -> InboundShipment:
    return InboundShipment.objects.select_for_update(of=("self",), no_key=True).get(id=shipment_id)


def close_shipment_if_done(shipment: InboundShipment, actor: Actor) -> None:
    """Close a received ASN once none of its inspections or putaway tasks is open; `actor`
    is whoever finished the last piece of work."""
    if shipment.status != Status.RECEIVED:
        return
    receipts = Receipt.objects.filter(shipment=shipment)
    if (
        PutawayTask.objects.filter(receipt__in=receipts, status=PutawayTask.Status.OPEN).exists()
        or Inspection.objects.filter(
            receipt__in=receipts, status=Inspection.Status.PENDING
        ).exists()
    ):
        return
    set_shipment_status(shipment, Status.CLOSED)
    event(shipment.id, "asn_closed", actor)
