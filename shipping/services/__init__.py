"""The outbound services: every write of the shipping app goes through one of these.

Split by stage: orders (intake), allocation, waves, picking, packing (and staging),
dispatch (loading, dispatch, delivery).
"""

from shipping.services.allocation import (
    AllocationResult,
    allocate_order,
    allocate_orders,
    cancel_order,
    reallocate_backorders,
)
from shipping.services.dispatch import (
    confirm_delivery,
    dispatch_shipment,
    is_on_time,
    load_package,
    sequence_loading,
)
from shipping.services.orders import LineSpec, OrderSpec, create_order, create_orders
from shipping.services.packing import PackageSpec, pack_shipment, stage_shipment
from shipping.services.picking import (
    PickOutcome,
    check_bin,
    check_item,
    confirm_pick,
    short_pick,
    skip_task,
    start_pick_list,
)
from shipping.services.waves import (
    assign_pick_list,
    cancel_wave,
    plan_wave,
    release_due_waves,
    release_wave,
)

__all__ = [
    "AllocationResult",
    "LineSpec",
    "OrderSpec",
    "PackageSpec",
    "PickOutcome",
    "allocate_order",
    "allocate_orders",
    "assign_pick_list",
    "cancel_order",
    "cancel_wave",
    "check_bin",
    "check_item",
    "confirm_delivery",
    "confirm_pick",
    "create_order",
    "create_orders",
    "dispatch_shipment",
    "is_on_time",
    "load_package",
    "pack_shipment",
    "plan_wave",
    "reallocate_backorders",
    "release_due_waves",
    "release_wave",
    "sequence_loading",
    "short_pick",
    "skip_task",
    "stage_shipment",
    "start_pick_list",
]
