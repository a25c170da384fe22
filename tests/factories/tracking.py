"""Builders for tracking and webhook tests: an order driven through the real outbound flow
(with a routed, approved stop for its ETA), subscriptions, and a webhook receiver on
127.0.0.1 that answers from a script."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.utils import timezone

from routing.models import RoutePlan, RouteStop
from routing.services import approve_route_plan
from shipping import services
from shipping.models import Order, Shipment, TrackingEvent, WebhookDelivery, WebhookSubscription
from tests.factories import routing as routing_f
from tests.factories import shipping as sf
from tests.factories import states
from warehouse.services import receive_stock


def box() -> services.PackageSpec:
    return services.PackageSpec("box", Decimal("4.2"), Decimal(40), Decimal(30), Decimal(20))


@dataclass
class Flow:
    """Drive one order through the outbound services, step by step. `step` wraps each call
    (e.g. to run the outbox's after-commit work)."""

    layout: sf.OutboundSite
    order: Order
    picker: object
    dispatcher: object
    step: Callable = field(default=lambda call: call())
    shipment: Shipment | None = None

    def allocate(self) -> None:
        self.step(lambda: services.allocate_order(order_id=self.order.id, actor=self.dispatcher))

    def release(self) -> None:
        def plan_and_release():
            wave = services.plan_wave(
                warehouse_id=self.layout.warehouse.id,
                dispatch_date=timezone.localdate(),
                cutoff_at=timezone.now(),
                order_ids=[self.order.id],
                carrier=self.order.carrier,
                actor=self.dispatcher,
            )
            services.release_wave(wave_id=wave.id, actor=self.dispatcher)

        self.step(plan_and_release)
        self.shipment = Shipment.objects.get(order=self.order, status="planned")

    def pick(self) -> None:
        for task in self.shipment.order.lines.get().pick_tasks.filter(status="open").order_by("id"):
            self.step(
                lambda task=task: services.confirm_pick(
                    task_id=task.id,
                    bin_code=task.location.code,
                    item_scan=task.product.gtin,
                    quantity=task.quantity,
                    actor=self.picker,
                )
            )

    def route(self, arrival: dt.datetime) -> None:
        """Put the shipment on an approved route whose stop is planned for `arrival`."""
        day = timezone.localtime(arrival, self.layout.warehouse.tzinfo).date()
        route = routing_f.make_route(self.layout.warehouse, day, 1, [self.shipment])
        RouteStop.objects.filter(route=route).update(planned_arrival=arrival)
        RoutePlan.objects.filter(id=route.plan_id).update(status=RoutePlan.Status.SOLVED)
        self.step(lambda: approve_route_plan(plan_id=route.plan_id, actor=self.dispatcher))
        self.shipment.refresh_from_db()

    def pack_stage_load(self) -> None:
        shipment_id = self.shipment.id
        self.step(
            lambda: services.pack_shipment(
                shipment_id=shipment_id, packages=[box()], actor=self.picker
            )
        )
        self.step(
            lambda: services.stage_shipment(
                shipment_id=shipment_id,
                staging_lane_id=self.layout.lanes[1].id,
                outbound_door_id=self.layout.door.id,
                actor=self.dispatcher,
            )
        )
        vehicle = Shipment.objects.get(id=shipment_id).vehicle_code or "VAN-1"
        for sscc in self.shipment.packages.values_list("sscc", flat=True):
            self.step(
                lambda sscc=sscc: services.load_package(
                    sscc=sscc, vehicle_code=vehicle, actor=self.dispatcher
                )
            )

    def dispatch(self) -> None:
        self.step(
            lambda: services.dispatch_shipment(shipment_id=self.shipment.id, actor=self.dispatcher)
        )

    def deliver(self, **extra) -> None:
        self.step(
            lambda: services.confirm_delivery(
                shipment_id=self.shipment.id,
                delivered_at=timezone.now(),
                actor=self.dispatcher,
                **{"recipient_name": "J. Jansen", **extra},
            )
        )


def stocked_flow(
    layout: sf.OutboundSite, product, users, *, customer=None, quantity: int = 2, **steps
) -> Flow:
    """A new order of `quantity` x `product` with the stock for it on a pick face."""
    receive_stock(location_id=layout.pick_faces[0].id, product_id=product.id, quantity=quantity)
    customer = customer or sf.make_customer(layout.warehouse)
    order = sf.make_order(customer, [(product, quantity)])
    return Flow(layout, order, users["picker"], users["dispatcher"], **steps)


def make_subscription(warehouse, url: str, **extra) -> WebhookSubscription:
    return WebhookSubscription.objects.create(
        warehouse=warehouse, target_url=url, secret="s3cret-for-the-receiver", **extra
    )


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


class Receiver:
    """An HTTP server on 127.0.0.1 in a thread. `answers` is the status to give each request in
    turn (the last one repeats); `redirect_to` is sent as Location with 3xx answers."""

    def __init__(self, answers: list[int], redirect_to: str = "") -> None:
        self.answers = list(answers)
        self.redirect_to = redirect_to
        self.received: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    index = len(receiver.received)
                    answer = receiver.answers[min(index, len(receiver.answers) - 1)]
                    receiver.received.append(
                        Received(self.path, dict(self.headers.items()), body, answer)
                    )
                self.send_response(answer)
                if 300 <= answer < 400:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/dockside"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    @property
    def acknowledged(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.answered < 300]


def make_delivery(layout: sf.OutboundSite, product) -> WebhookDelivery:
    """A pending delivery of an allocated order's first event to a new subscription."""
    order = states.allocated_order(layout, product)
    subscription = make_subscription(layout.warehouse, "https://erp.example.com/hooks")
    event = TrackingEvent.objects.get(order=order, status="allocated")
    now = timezone.now()
    return WebhookDelivery.objects.create(
        subscription=subscription,
        event=event,
        order=order,
        next_attempt_at=now,
        retry_until=now + dt.timedelta(hours=72),
    )
