from shipping.models.events import OutboundEvent
from shipping.models.orders import Allocation, Customer, Order, OrderLine
from shipping.models.shipments import Delivery, DeliveryLine, Package, SerialCounter, Shipment
from shipping.models.waves import PickList, PickTask, Wave

__all__ = [
    "Allocation",
    "Customer",
    "Delivery",
    "DeliveryLine",
    "Order",
    "OrderLine",
    "OutboundEvent",
    "Package",
    "PickList",
    "PickTask",
    "SerialCounter",
    "Shipment",
    "Wave",
]
