from shipping.models.events import OutboundEvent
from shipping.models.kpis import Dimension, KpiHistogram, KpiReport, KpiSnapshot
from shipping.models.orders import Allocation, Customer, Order, OrderLine
from shipping.models.shipments import (
    Delivery,
    DeliveryLine,
    Package,
    SerialCounter,
    Shipment,
    ShipmentLine,
)
from shipping.models.tracking import Tracking, TrackingEvent, TrackingReason, TrackingStatus
from shipping.models.waves import PickList, PickTask, Wave
from shipping.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookSubscription

__all__ = [
    "Allocation",
    "Customer",
    "Delivery",
    "DeliveryLine",
    "Dimension",
    "KpiHistogram",
    "KpiReport",
    "KpiSnapshot",
    "Order",
    "OrderLine",
    "OutboundEvent",
    "Package",
    "PickList",
    "PickTask",
    "SerialCounter",
    "Shipment",
    "ShipmentLine",
    "Tracking",
    "TrackingEvent",
    "TrackingReason",
    "TrackingStatus",
    "Wave",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
]
