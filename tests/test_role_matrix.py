"""Every API operation x every role: who may call it, what everyone else gets, and that a
refused call changes nothing.

The operations are read from the OpenAPI schema, so a new endpoint fails here until the table
below says who may call it. For each operation and role the test sends a realistic request
(real objects in the right state, a valid body), so an allowed call really succeeds and a
refused one is refused for who is asking, not for what was sent:

- anonymous callers get 401, staff whose role does not allow the call 403, a manager of another
  warehouse 404 for this warehouse's objects (unless a row below says otherwise);
- a refused call leaves every table of the project exactly as it was (a checksum of each
  table's rows before and after);
- lists never show the other warehouse's rows.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from receiving import services as inbound
from receiving.models import (
    DockAppointment,
    InboundShipment,
    Inspection,
    InspectionRule,
    PutawayTask,
    Receipt,
    ReturnAuthorisation,
    ReturnReceipt,
)
from routing.models import RoutePlan, Vehicle
from shipping.models import (
    Customer,
    Order,
    PickList,
    Shipment,
    Wave,
    WebhookDelivery,
    WebhookSubscription,
)
from shipping.pick import urls as pick_urls
from tests.conftest import make_user
from tests.factories import receiving as rf
from tests.factories import returns as rtf
from tests.factories import routing as routing_f
from tests.factories import shipping as sf
from tests.factories import states
from tests.factories import tracking as tracking_f
from tests.factories import warehouse as wf
from warehouse.counts import services as counting
from warehouse.models import (
    CountRequest,
    DeviceToken,
    Location,
    Product,
    StockBalance,
    StockMove,
    Warehouse,
    Zone,
)
from warehouse.services import receive_stock

pytestmark = pytest.mark.django_db

API = "/api/v1"
PROBLEM = "application/problem+json"
ROLES = ("anonymous", "dock", "inspector", "picker", "dispatcher", "manager", "outsider")
STAFF = frozenset({"dock", "inspector", "picker", "dispatcher", "manager"})
ANYONE_WITH_A_ROLE = STAFF | {"outsider"}
PLANNERS = frozenset({"dispatcher", "manager"})
# The catalogue (products, lots, suppliers, inspection rules) is shared by all warehouses.
CATALOGUE_KEEPERS = frozenset({"manager", "outsider"})
DEFAULT_REFUSAL = {"anonymous": 401, "outsider": 404}

_serial = itertools.count(1)


def serial() -> int:
    return next(_serial)


# --- the world every cell runs in ---------------------------------------------------------------


@dataclass
class World:
    site: wf.Site
    layout: sf.OutboundSite
    product: Product
    users: dict[str, User]
    clients: dict[str, APIClient]

    @property
    def warehouse(self) -> Warehouse:
        return self.site.warehouse

    @property
    def picker(self) -> User:
        return self.users["picker"]


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    data: object = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Op:
    """Who may call an operation and how to make a realistic call of it.

    `prepare(world, role)` builds what the call needs and returns it. A call that changes
    state (any but GET) gets fresh objects for every allowed role; refused roles share one.
    `scope` (lists) is the lookup from the listed model to its warehouse ("" for warehouses).
    """

    allowed: frozenset[str]
    prepare: Callable[[World, str], Call]
    status: int = 200
    refused: Mapping[str, int] = field(default_factory=dict)
    scope: str | None = None
    model: type | None = None

    def refusal_for(self, role: str) -> int:
        return self.refused.get(role, DEFAULT_REFUSAL.get(role, 403))


def get(path: str) -> Callable[[World, str], Call]:
    """A GET of `path`, formatted with the world (e.g. "{w.warehouse.id}")."""
    return lambda w, role: Call("GET", f"{API}/{path.format(w=w)}")


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def tomorrow_local(w: World, hour: int, minute: int = 0) -> dt.datetime:
    day = timezone.localdate(timezone=w.warehouse.tzinfo) + dt.timedelta(days=1)
    return rf.local(w.site, day, hour, minute)


# --- what each call needs -------------------------------------------------------------------


def new_product(w: World, role: str) -> Call:
    number = serial()
    return Call(
        "POST",
        f"{API}/products/",
        {
            "sku": f"MX-{number}",
            "name": f"Matrix product {number}",
            "gtin": wf.make_gtin(),
            "unit_weight_kg": "1.2",
            "unit_volume_m3": "0.0010",
            "pack_sizes": [{"name": "case", "quantity": 6}],
        },
    )


def put_product(w: World, role: str) -> Call:
    product = wf.make_product()
    return Call(
        "PUT",
        f"{API}/products/{product.id}/",
        {
            "sku": product.sku,
            "name": "Renamed product",
            "gtin": product.gtin,
            "unit_weight_kg": "0.75",
            "unit_volume_m3": "0.0010",
            "pack_sizes": [{"name": "case", "quantity": 12}],
        },
    )


def new_location(w: World, role: str) -> Call:
    body = {"warehouse": "AMS", "zone": "store", "code": f"M-{serial():03d}", "aisle": "M"}
    return Call("POST", f"{API}/locations/", body)


def fresh_bin(w: World) -> Location:
    return Location.objects.create(
        warehouse=w.warehouse, zone=w.site.zones["storage"], code=f"N-{serial():03d}", aisle="N"
    )


def put_location(w: World, role: str) -> Call:
    location = fresh_bin(w)
    body = {
        "warehouse": "AMS",
        "zone": "store",
        "code": location.code,
        "aisle": "N",
        "bay": 3,
        "level": 2,
        "max_weight_kg": "900.00",
    }
    return Call("PUT", f"{API}/locations/{location.id}/", body)


def stocked_balance(w: World) -> StockBalance:
    receive_stock(location_id=w.site.bins[0].id, product_id=w.product.id, quantity=5)
    return StockBalance.objects.get(location=w.site.bins[0], product=w.product)


def adjustment(w: World, role: str) -> Call:
    stocked_balance(w)
    body = {
        "warehouse": "AMS",
        "location": w.site.bins[0].code,
        "product": w.product.sku,
        "delta": -1,
        "reason": "damage",
    }
    return Call("POST", f"{API}/stock/moves/adjustments/", body, key())


def transfer(w: World, role: str) -> Call:
    stocked_balance(w)
    body = {
        "warehouse": "AMS",
        "from_location": w.site.bins[0].code,
        "to_location": w.site.bins[1].code,
        "product": w.product.sku,
        "quantity": 1,
    }
    return Call("POST", f"{API}/stock/moves/transfers/", body, key())


def issue_token(w: World, role: str) -> Call:
    username = "dock" if role == "anonymous" else role
    body = {"username": username, "password": f"pw-{username}", "device_name": "Spare scanner"}
    return Call("POST", f"{API}/auth/tokens/", body)


def revoke_token(w: World, role: str) -> Call:
    token, _ = DeviceToken.issue(user=w.users["dock"], name=f"Spare scanner {serial()}")
    return Call("POST", f"{API}/auth/tokens/{token.id}/revoke/")


def dock_token(w: World, role: str) -> Call:
    token = DeviceToken.objects.filter(user=w.users["dock"]).first()
    return Call("GET", f"{API}/auth/tokens/{token.id}/")


def supplier_body() -> dict:
    number = serial()
    return {"code": f"sup-m{number}", "name": f"Supplier M{number}", "requires_inspection": False}


def put_supplier(w: World, role: str) -> Call:
    supplier = rf.make_supplier()
    body = {**supplier_body(), "code": supplier.code, "contact_email": "in@example.com"}
    return Call("PUT", f"{API}/suppliers/{supplier.id}/", body)


def new_rule(w: World, role: str) -> Call:
    body = {"product": wf.make_product().id, "requires_inspection": True, "note": "Sample all"}
    return Call("POST", f"{API}/inspection-rules/", body)


def rule(w: World) -> InspectionRule:
    return InspectionRule.objects.create(product=wf.make_product(), note="Sample all")


def put_rule(w: World, role: str) -> Call:
    target = rule(w)
    body = {"product": target.product_id, "requires_inspection": False, "note": "Paused"}
    return Call("PUT", f"{API}/inspection-rules/{target.id}/", body)


def new_asn(w: World, role: str) -> Call:
    body = {
        "warehouse": "AMS",
        "supplier": rf.make_supplier().code,
        "reference": f"ASN-M{serial()}",
        "expected_arrival": tomorrow_local(w, 9).isoformat(),
        "lines": [{"sku": w.product.sku, "quantity": 2, "pack": "case"}],
    }
    return Call("POST", f"{API}/inbound-shipments/", body, key())


def new_appointment(w: World, role: str) -> Call:
    shipment = states.announced_asn(w.site, w.product)
    starts_at = tomorrow_local(w, 6) + dt.timedelta(hours=serial() % 15)
    body = {"shipment": shipment.id, "door": w.site.doors[0].id, "starts_at": starts_at.isoformat()}
    return Call("POST", f"{API}/dock-appointments/", body)


def appointment(w: World) -> DockAppointment:
    shipment = states.announced_asn(w.site, w.product)
    starts_at = tomorrow_local(w, 6) + dt.timedelta(hours=serial() % 15)
    return inbound.book_appointment(
        shipment_id=shipment.id, door_id=w.site.doors[0].id, starts_at=starts_at
    )


def new_receipt(w: World, role: str) -> Call:
    shipment = states.arrived_asn(w.site, w.product)
    return Call("POST", f"{API}/receipts/", {"shipment": shipment.id, "door": w.site.doors[0].id})


def scanned_receipt(w: World) -> Receipt:
    receipt = states.open_receipt(w.site, w.product)
    inbound.receive_scan(receipt_id=receipt.id, barcode=w.product.gtin, quantity=10)
    return receipt


def scan(w: World, role: str) -> Call:
    receipt = states.open_receipt(w.site, w.product)
    body = {"barcode": w.product.gtin, "quantity": 1, "pack": "case"}
    return Call("POST", f"{API}/receipts/{receipt.id}/scans/", body, key())


def confirm_putaway(w: World, role: str) -> Call:
    task = states.open_putaway_task(w.site, w.product)
    body = {"bin": task.proposed_location.code}
    return Call("POST", f"{API}/putaway-tasks/{task.id}/confirm/", body, key())


def delivered_order(w: World) -> Order:
    return rtf.delivered_rows(sf.make_customer(w.warehouse), [(w.product, 5)])


def requested_return(w: World) -> ReturnAuthorisation:
    return rtf.rma(delivered_order(w), 2)


def open_return_receipt(w: World) -> ReturnReceipt:
    return rtf.open_return_receipt(w.site, delivered_order(w), 2)


def scanned_return_receipt(w: World) -> ReturnReceipt:
    receipt = open_return_receipt(w)
    inbound.receive_return_scan(return_receipt_id=receipt.id, barcode=w.product.gtin)
    return receipt


def new_return(w: World, role: str) -> Call:
    body = {
        "order": delivered_order(w).id,
        "reason": "damaged",
        "lines": [{"line_number": 1, "quantity": 1}],
    }
    return Call("POST", f"{API}/returns/", body)


def new_return_receipt(w: World, role: str) -> Call:
    rma = rtf.authorised_rma(delivered_order(w), 2)
    return Call("POST", f"{API}/return-receipts/", {"rma": rma.id, "door": w.site.doors[0].id})


def return_scan(w: World, role: str) -> Call:
    receipt = open_return_receipt(w)
    body = {"barcode": w.product.gtin, "quantity": 1}
    return Call("POST", f"{API}/return-receipts/{receipt.id}/scans/", body, key())


def disposition(w: World, role: str) -> Call:
    rma = rtf.received_rma(w.site, delivered_order(w), 2, product=w.product)
    body = {"line": 1, "disposition": "scrap", "quantity": 1, "reason": "Torn"}
    return Call("POST", f"{API}/returns/{rma.id}/dispositions/", body, key())


def customer_body(w: World) -> dict:
    number = serial()
    return {
        "warehouse": w.warehouse.id,
        "code": f"cust-m{number}",
        "name": f"Customer M{number}",
        "address": f"{number} Quay Road",
        "latitude": "52.370000",
        "longitude": "4.890000",
        "service_time_minutes": 10,
    }


def put_customer(w: World, role: str) -> Call:
    customer = sf.make_customer(w.warehouse)
    body = {**customer_body(w), "code": customer.code}
    return Call("PUT", f"{API}/customers/{customer.id}/", body)


def order_body(w: World) -> dict:
    start, end = sf.window()
    return {
        "warehouse": w.warehouse.id,
        "customer": sf.make_customer(w.warehouse).id,
        "number": f"SO-M{serial()}",
        "requested_date": str(timezone.localdate()),
        "promised_window_start": start.isoformat(),
        "promised_window_end": end.isoformat(),
        "lines": [{"product": w.product.id, "quantity": 1, "pack": "case"}],
    }


def new_wave(w: World, role: str) -> Call:
    order = states.allocated_order(w.layout, w.product)
    body = {
        "warehouse": w.warehouse.id,
        "dispatch_date": str(timezone.localdate()),
        "cutoff_at": (timezone.now() + dt.timedelta(hours=1)).isoformat(),
        "order_ids": [order.id],
    }
    return Call("POST", f"{API}/waves/", body)


def pick_scan(action: str) -> Callable[[World, str], Call]:
    def prepare(w: World, role: str) -> Call:
        task = states.started_pick_task(w.layout, w.product, w.picker)
        body = {
            "confirm": {"bin": task.location.code, "item": w.product.gtin, "quantity": 2},
            "short": {"short_reason": "not_enough", "quantity_picked": 0},
            "skip": {},
        }[action]
        return Call("POST", f"{API}/pick-tasks/{task.id}/{action}/", body, key())

    return prepare


def shipment_in(state: Callable) -> Callable[[World], Shipment]:
    return lambda w: state(w.layout, w.product, w.picker)


def pack(w: World, role: str) -> Call:
    shipment = states.picked_shipment(w.layout, w.product, w.picker)
    body = {
        "packages": [{"weight_kg": "4.2", "length_cm": "40", "width_cm": "30", "height_cm": "20"}]
    }
    return Call("POST", f"{API}/shipments/{shipment.id}/pack/", body)


def stage(w: World, role: str) -> Call:
    shipment = states.packed_shipment(w.layout, w.product, w.picker)
    body = {"staging_lane": w.layout.lanes[1].id, "outbound_door": w.layout.door.id}
    return Call("POST", f"{API}/shipments/{shipment.id}/stage/", body)


def load(w: World, role: str) -> Call:
    shipment = states.staged_shipment(w.layout, w.product, w.picker)
    body = {"sscc": shipment.packages.get().sscc, "vehicle": "VAN-1"}
    return Call("POST", f"{API}/shipments/load/", body, key())


def deliver(w: World, role: str) -> Call:
    shipment = states.dispatched_shipment(w.layout, w.product, w.picker)
    body = {"delivered_at": timezone.now().isoformat(), "recipient_name": "J. Jansen"}
    return Call("POST", f"{API}/shipments/{shipment.id}/deliver/", body, key())


def subscription_body(w: World) -> dict:
    return {
        "warehouse": w.warehouse.id,
        "target_url": f"https://erp.example.com/hooks/{serial()}",
        "event_types": ["dispatched", "delivered"],
    }


def subscription(w: World) -> WebhookSubscription:
    return tracking_f.make_subscription(w.warehouse, "https://erp.example.com/hooks")


def put_subscription(w: World, role: str) -> Call:
    target = subscription(w)
    return Call("PUT", f"{API}/webhook-subscriptions/{target.id}/", subscription_body(w))


def vehicle_body() -> dict:
    return {
        "warehouse": "AMS",
        "code": f"VAN-M{serial()}",
        "capacity_weight_kg": "900.0",
        "capacity_volume_m3": "8.00",
        "shift_start": "06:00:00",
        "shift_end": "18:00:00",
        "max_route_minutes": 600,
        "average_speed_kmh": "40.0",
    }


def put_vehicle(w: World, role: str) -> Call:
    vehicle = routing_f.make_vehicle(w.warehouse)
    return Call("PUT", f"{API}/vehicles/{vehicle.id}/", {**vehicle_body(), "code": vehicle.code})


def new_route_plan(w: World, role: str) -> Call:
    day = states.delivery_day()
    shipments = [
        routing_f.make_shipment(sf.make_customer(w.warehouse), w.product, 2, day=day)
        for _ in range(2)
    ]
    body = {
        "warehouse": "AMS",
        "delivery_date": day.isoformat(),
        "shipments": [shipment.number for shipment in shipments],
        "solve": False,
    }
    return Call("POST", f"{API}/route-plans/", body)


def move_stop(w: World, role: str) -> Call:
    plan = states.solved_route_plan(w.layout, w.product)
    stop = plan.stops.order_by("sequence").last()
    body = {"stop": stop.id, "route": None}
    return Call("POST", f"{API}/route-plans/{plan.id}/move-stop/", body)


def kpi_run(w: World, role: str) -> Call:
    today = timezone.localdate(timezone=w.warehouse.tzinfo)
    body = {"warehouse": w.warehouse.code, "date_from": str(today), "date_to": str(today)}
    return Call("POST", f"{API}/outbound/kpi-runs/", body)


COUNTERS = frozenset({"inspector", "manager"})


def count_task(w: World):
    """A manager's count task of a fresh storage bin holding 5 units."""
    bin_ = fresh_bin(w)
    receive_stock(location_id=bin_.id, product_id=w.product.id, quantity=5)
    return counting.request_counts(location=bin_, actor=w.users["manager"])[0]


def counted_task(w: World, counters: tuple[str, ...] = ()):
    """A count task counted short (1 of 5, over the threshold) by each of `counters`."""
    task = count_task(w)
    for name in counters:
        user = w.users.get(name) or make_user(name, "inspector", site=w.site)
        counting.start_count(request_id=task.id, bin_code=task.location.code, actor=user)
        counting.record_count(
            request_id=task.id, scan=w.product.sku, quantity=1, key=f"k-{name}", actor=user
        )
        counting.submit_count(request_id=task.id, actor=user, key=f"s-{name}")
    return task


def count_call(action: str, body=None, headers: bool = False) -> Callable[[World, str], Call]:
    """A counter's call on a task that the calling role (a manager for refused roles) started."""

    def prepare(w: World, role: str) -> Call:
        task = count_task(w)
        counter = w.users[role if role in COUNTERS else "manager"]
        if action != "start":
            counting.start_count(request_id=task.id, bin_code=task.location.code, actor=counter)
        data = body(w, task) if callable(body) else body
        return Call(
            "POST", f"{API}/count-tasks/{task.id}/{action}/", data, key() if headers else {}
        )

    return prepare


def on(path: str, build: Callable[[World], object], method: str = "POST", body=None):
    """A call on `path` formatted with a fresh object from `build` as `o`."""

    def prepare(w: World, role: str) -> Call:
        target = build(w)
        return Call(method, f"{API}/{path.format(o=target, w=w)}", body)

    return prepare


# --- the matrix -----------------------------------------------------------------------------

OWNER_OR_MANAGER = frozenset({"dock", "manager"})
NOT_YOURS = {"inspector": 404, "picker": 404, "dispatcher": 404}
PICK_READERS = frozenset({"picker", "dispatcher", "manager"})
PICKERS = frozenset({"picker", "manager"})


def listed(path: str, scope: str | None, model, build: Callable | None = None, roles=None) -> Op:
    """A list every role may read (the outsider too, scoped to their warehouse)."""

    def prepare(w: World, role: str) -> Call:
        if build is not None:
            build(w)
        return Call("GET", f"{API}/{path}")

    allowed = roles if roles is not None else ANYONE_WITH_A_ROLE
    return Op(allowed, prepare, scope=scope, model=model)


EXPECTATIONS: dict[str, Op] = {
    # access
    "GET /auth/tokens/": listed("auth/tokens/", "user__warehouses", DeviceToken),
    "POST /auth/tokens/": Op(ANYONE_WITH_A_ROLE | {"anonymous"}, issue_token, 201),
    "GET /auth/tokens/{id}/": Op(OWNER_OR_MANAGER, dock_token, refused=NOT_YOURS),
    "POST /auth/tokens/{id}/revoke/": Op(OWNER_OR_MANAGER, revoke_token, refused=NOT_YOURS),
    # layout and catalogue
    "GET /warehouses/": listed("warehouses/", "", Warehouse),
    "GET /warehouses/{id}/": Op(STAFF, get("warehouses/{w.warehouse.id}/")),
    "GET /zones/": listed("zones/", "warehouse", Zone),
    "GET /zones/{id}/": Op(STAFF, get("zones/{w.site.zones[storage].id}/")),
    "GET /products/": Op(ANYONE_WITH_A_ROLE, get("products/")),
    "POST /products/": Op(CATALOGUE_KEEPERS, new_product, 201),
    "GET /products/{id}/": Op(ANYONE_WITH_A_ROLE, get("products/{w.product.id}/")),
    "PUT /products/{id}/": Op(CATALOGUE_KEEPERS, put_product),
    "PATCH /products/{id}/": Op(
        CATALOGUE_KEEPERS,
        on("products/{o.id}/", lambda w: wf.make_product(), "PATCH", {"name": "Oat milk 2 l"}),
    ),
    "GET /lots/": Op(ANYONE_WITH_A_ROLE, get("lots/")),
    "POST /lots/": Op(
        CATALOGUE_KEEPERS,
        lambda w, role: Call(
            "POST", f"{API}/lots/", {"product": w.product.sku, "code": f"L-{serial()}"}
        ),
        201,
    ),
    "GET /lots/{id}/": Op(
        ANYONE_WITH_A_ROLE, on("lots/{o.id}/", lambda w: wf.make_lot(w.product, "L9"), "GET")
    ),
    "GET /locations/": listed("locations/", "warehouse", Location),
    "POST /locations/": Op(frozenset({"manager"}), new_location, 201),
    "GET /locations/{id}/": Op(STAFF, get("locations/{w.site.bins[0].id}/")),
    "PUT /locations/{id}/": Op(frozenset({"manager"}), put_location),
    "PATCH /locations/{id}/": Op(
        frozenset({"manager"}), on("locations/{o.id}/", fresh_bin, "PATCH", {"max_volume_m3": "2"})
    ),
    # stock
    "GET /stock/balances/": listed(
        "stock/balances/", "location__warehouse", StockBalance, stocked_balance
    ),
    "GET /stock/balances/{id}/": Op(STAFF, on("stock/balances/{o.id}/", stocked_balance, "GET")),
    "GET /stock/moves/": listed(
        "stock/moves/", "warehouse", StockMove, lambda w: stocked_balance(w)
    ),
    "GET /stock/moves/{id}/": Op(
        STAFF,
        on(
            "stock/moves/{o.id}/",
            lambda w: (stocked_balance(w), StockMove.objects.latest("id"))[1],
            "GET",
        ),
    ),
    "POST /stock/moves/adjustments/": Op(frozenset({"manager"}), adjustment, 201),
    "POST /stock/moves/transfers/": Op(frozenset({"manager"}), transfer, 201),
    # cycle counts
    "GET /count-tasks/": listed(
        "count-tasks/", "warehouse", CountRequest, count_task, roles=COUNTERS | {"outsider"}
    ),
    "POST /count-tasks/": Op(
        frozenset({"manager"}),
        lambda w, role: Call(
            "POST", f"{API}/count-tasks/", {"warehouse": "AMS", "location": fresh_bin(w).code}
        ),
        201,
    ),
    "GET /count-tasks/{id}/": Op(COUNTERS, on("count-tasks/{o.id}/", count_task, "GET")),
    "POST /count-tasks/{id}/start/": Op(
        COUNTERS, count_call("start", lambda w, task: {"bin": task.location.code})
    ),
    "POST /count-tasks/{id}/scan/": Op(
        COUNTERS, count_call("scan", lambda w, task: {"scan": w.product.sku}, headers=True)
    ),
    "POST /count-tasks/{id}/submit/": Op(COUNTERS, count_call("submit", headers=True)),
    "POST /count-tasks/{id}/abandon/": Op(COUNTERS, count_call("abandon")),
    "GET /count-tasks/{id}/review/": Op(
        frozenset({"manager"}),
        on("count-tasks/{o.id}/review/", lambda w: counted_task(w, ("inspector",)), "GET"),
    ),
    "POST /count-tasks/{id}/approve/": Op(
        frozenset({"manager"}),
        on("count-tasks/{o.id}/approve/", lambda w: counted_task(w, ("inspector",))),
    ),
    "POST /count-tasks/{id}/recount/": Op(
        frozenset({"manager"}),
        on(
            "count-tasks/{o.id}/recount/",
            lambda w: counted_task(w, ("inspector", f"recounter{serial()}")),
        ),
    ),
    # receiving
    "GET /suppliers/": Op(ANYONE_WITH_A_ROLE, get("suppliers/")),
    "POST /suppliers/": Op(
        CATALOGUE_KEEPERS, lambda w, role: Call("POST", f"{API}/suppliers/", supplier_body()), 201
    ),
    "GET /suppliers/{id}/": Op(
        ANYONE_WITH_A_ROLE, on("suppliers/{o.id}/", lambda w: rf.make_supplier(), "GET")
    ),
    "PUT /suppliers/{id}/": Op(CATALOGUE_KEEPERS, put_supplier),
    "PATCH /suppliers/{id}/": Op(
        CATALOGUE_KEEPERS,
        on("suppliers/{o.id}/", lambda w: rf.make_supplier(), "PATCH", {"name": "Renamed"}),
    ),
    "GET /inspection-rules/": Op(ANYONE_WITH_A_ROLE, get("inspection-rules/")),
    "POST /inspection-rules/": Op(CATALOGUE_KEEPERS, new_rule, 201),
    "GET /inspection-rules/{id}/": Op(
        ANYONE_WITH_A_ROLE, on("inspection-rules/{o.id}/", rule, "GET")
    ),
    "PUT /inspection-rules/{id}/": Op(CATALOGUE_KEEPERS, put_rule),
    "PATCH /inspection-rules/{id}/": Op(
        CATALOGUE_KEEPERS, on("inspection-rules/{o.id}/", rule, "PATCH", {"note": "Every pallet"})
    ),
    "DELETE /inspection-rules/{id}/": Op(
        CATALOGUE_KEEPERS, on("inspection-rules/{o.id}/", rule, "DELETE"), 204
    ),
    "GET /inbound-shipments/": listed(
        "inbound-shipments/",
        "warehouse",
        InboundShipment,
        lambda w: states.announced_asn(w.site, w.product),
    ),
    "POST /inbound-shipments/": Op(frozenset({"manager"}), new_asn, 201),
    "GET /inbound-shipments/{id}/": Op(
        STAFF,
        on("inbound-shipments/{o.id}/", lambda w: states.announced_asn(w.site, w.product), "GET"),
    ),
    "POST /inbound-shipments/{id}/cancel/": Op(
        frozenset({"manager"}),
        on("inbound-shipments/{o.id}/cancel/", lambda w: states.announced_asn(w.site, w.product)),
    ),
    "POST /inbound-shipments/{id}/check-in/": Op(
        OWNER_OR_MANAGER,
        on(
            "inbound-shipments/{o.id}/check-in/",
            lambda w: states.announced_asn(w.site, w.product),
            body={},
        ),
    ),
    "GET /dock-appointments/": listed(
        "dock-appointments/", "door__warehouse", DockAppointment, appointment
    ),
    "POST /dock-appointments/": Op(OWNER_OR_MANAGER, new_appointment, 201),
    "GET /dock-appointments/{id}/": Op(STAFF, on("dock-appointments/{o.id}/", appointment, "GET")),
    "POST /dock-appointments/{id}/cancel/": Op(
        OWNER_OR_MANAGER, on("dock-appointments/{o.id}/cancel/", appointment)
    ),
    "POST /dock-appointments/schedule/": Op(
        frozenset({"manager"}),
        lambda w, role: Call(
            "POST",
            f"{API}/dock-appointments/schedule/",
            {"warehouse": "AMS", "date": str(tomorrow_local(w, 12).date())},
        ),
        202,
    ),
    "GET /receipts/": listed(
        "receipts/",
        "shipment__warehouse",
        Receipt,
        lambda w: states.open_receipt(w.site, w.product),
    ),
    "POST /receipts/": Op(OWNER_OR_MANAGER, new_receipt, 201),
    "GET /receipts/{id}/": Op(
        STAFF, on("receipts/{o.id}/", lambda w: states.open_receipt(w.site, w.product), "GET")
    ),
    "POST /receipts/{id}/close/": Op(
        OWNER_OR_MANAGER, on("receipts/{o.id}/close/", scanned_receipt, body={})
    ),
    "GET /receipts/{id}/discrepancies/": Op(
        STAFF, on("receipts/{o.id}/discrepancies/", scanned_receipt, "GET")
    ),
    "POST /receipts/{id}/scans/": Op(OWNER_OR_MANAGER, scan, 201),
    "GET /inspections/": listed(
        "inspections/",
        "receipt__shipment__warehouse",
        Inspection,
        lambda w: states.pending_inspection(w.site, w.product),
    ),
    "GET /inspections/{id}/": Op(
        STAFF,
        on("inspections/{o.id}/", lambda w: states.pending_inspection(w.site, w.product), "GET"),
    ),
    "POST /inspections/{id}/record/": Op(
        frozenset({"inspector", "manager"}),
        on(
            "inspections/{o.id}/record/",
            lambda w: states.pending_inspection(w.site, w.product),
            body={"result": "pass"},
        ),
    ),
    "GET /putaway-tasks/": listed(
        "putaway-tasks/",
        "receipt__shipment__warehouse",
        PutawayTask,
        lambda w: states.open_putaway_task(w.site, w.product),
    ),
    "GET /putaway-tasks/{id}/": Op(
        STAFF,
        on("putaway-tasks/{o.id}/", lambda w: states.open_putaway_task(w.site, w.product), "GET"),
    ),
    "POST /putaway-tasks/{id}/confirm/": Op(OWNER_OR_MANAGER, confirm_putaway),
    "POST /putaway-tasks/{id}/propose/": Op(
        OWNER_OR_MANAGER,
        on("putaway-tasks/{o.id}/propose/", lambda w: states.open_putaway_task(w.site, w.product)),
    ),
    "GET /returns/": listed("returns/", "warehouse", ReturnAuthorisation, requested_return),
    "POST /returns/": Op(PLANNERS, new_return, 201),
    "GET /returns/{id}/": Op(STAFF, on("returns/{o.id}/", requested_return, "GET")),
    "POST /returns/{id}/authorise/": Op(
        frozenset({"manager"}), on("returns/{o.id}/authorise/", requested_return)
    ),
    "POST /returns/{id}/reject/": Op(
        frozenset({"manager"}),
        on("returns/{o.id}/reject/", requested_return, body={"reason": "Too late"}),
    ),
    "POST /returns/{id}/dispositions/": Op(frozenset({"inspector", "manager"}), disposition, 201),
    "GET /return-receipts/": listed(
        "return-receipts/", "rma__warehouse", ReturnReceipt, open_return_receipt
    ),
    "POST /return-receipts/": Op(OWNER_OR_MANAGER, new_return_receipt, 201),
    "GET /return-receipts/{id}/": Op(
        STAFF, on("return-receipts/{o.id}/", open_return_receipt, "GET")
    ),
    "POST /return-receipts/{id}/scans/": Op(OWNER_OR_MANAGER, return_scan, 201),
    "POST /return-receipts/{id}/close/": Op(
        OWNER_OR_MANAGER, on("return-receipts/{o.id}/close/", scanned_return_receipt)
    ),
    "GET /return-receipts/{id}/discrepancies/": Op(
        STAFF, on("return-receipts/{o.id}/discrepancies/", scanned_return_receipt, "GET")
    ),
    # shipping
    "GET /customers/": listed(
        "customers/", "warehouse", Customer, lambda w: sf.make_customer(w.warehouse)
    ),
    "POST /customers/": Op(
        PLANNERS, lambda w, role: Call("POST", f"{API}/customers/", customer_body(w)), 201
    ),
    "GET /customers/{id}/": Op(
        STAFF, on("customers/{o.id}/", lambda w: sf.make_customer(w.warehouse), "GET")
    ),
    "PUT /customers/{id}/": Op(PLANNERS, put_customer),
    "PATCH /customers/{id}/": Op(
        PLANNERS,
        on(
            "customers/{o.id}/",
            lambda w: sf.make_customer(w.warehouse),
            "PATCH",
            {"service_time_minutes": 15},
        ),
    ),
    "GET /orders/": listed(
        "orders/", "warehouse", Order, lambda w: states.stocked_order(w.layout, w.product)
    ),
    "POST /orders/": Op(
        PLANNERS, lambda w, role: Call("POST", f"{API}/orders/", order_body(w)), 201
    ),
    "POST /orders/bulk/": Op(
        PLANNERS,
        lambda w, role: Call(
            "POST", f"{API}/orders/bulk/", {"orders": [order_body(w), order_body(w)]}
        ),
        201,
    ),
    "GET /orders/{id}/": Op(
        STAFF, on("orders/{o.id}/", lambda w: states.stocked_order(w.layout, w.product), "GET")
    ),
    "POST /orders/{id}/allocate/": Op(
        PLANNERS,
        on("orders/{o.id}/allocate/", lambda w: states.stocked_order(w.layout, w.product)),
    ),
    "POST /orders/{id}/cancel/": Op(
        PLANNERS,
        on(
            "orders/{o.id}/cancel/",
            lambda w: states.allocated_order(w.layout, w.product),
            body={"reason": "Customer called"},
        ),
    ),
    "GET /waves/": listed(
        "waves/", "warehouse", Wave, lambda w: states.planned_wave(w.layout, w.product)
    ),
    "POST /waves/": Op(PLANNERS, new_wave, 201),
    "GET /waves/{id}/": Op(
        STAFF, on("waves/{o.id}/", lambda w: states.planned_wave(w.layout, w.product), "GET")
    ),
    "POST /waves/{id}/release/": Op(
        PLANNERS,
        on("waves/{o.id}/release/", lambda w: states.planned_wave(w.layout, w.product)),
    ),
    "POST /waves/{id}/cancel/": Op(
        PLANNERS,
        on("waves/{o.id}/cancel/", lambda w: states.planned_wave(w.layout, w.product)),
    ),
    "GET /pick-lists/": listed(
        "pick-lists/",
        "warehouse",
        PickList,
        lambda w: states.released_pick_list(w.layout, w.product, w.picker),
        roles=PICK_READERS | {"outsider"},
    ),
    "GET /pick-lists/{id}/": Op(
        PICK_READERS,
        on(
            "pick-lists/{o.id}/",
            lambda w: states.released_pick_list(w.layout, w.product, w.picker),
            "GET",
        ),
    ),
    "POST /pick-lists/{id}/assign/": Op(
        frozenset({"manager"}),
        lambda w, role: Call(
            "POST",
            f"{API}/pick-lists/{states.released_pick_list(w.layout, w.product, None).id}/assign/",
            {"picker": w.picker.id},
        ),
    ),
    "POST /pick-lists/{id}/start/": Op(
        PICKERS,
        on(
            "pick-lists/{o.id}/start/",
            lambda w: states.released_pick_list(w.layout, w.product, w.picker),
        ),
    ),
    "GET /pick-tasks/{id}/": Op(
        PICK_READERS,
        on(
            "pick-tasks/{o.id}/",
            lambda w: states.started_pick_task(w.layout, w.product, w.picker),
            "GET",
        ),
    ),
    "POST /pick-tasks/{id}/confirm/": Op(PICKERS, pick_scan("confirm")),
    "POST /pick-tasks/{id}/short/": Op(PICKERS, pick_scan("short")),
    "POST /pick-tasks/{id}/skip/": Op(PICKERS, pick_scan("skip")),
    "GET /shipments/": listed(
        "shipments/", "warehouse", Shipment, shipment_in(states.picked_shipment)
    ),
    "GET /shipments/{id}/": Op(
        STAFF, on("shipments/{o.id}/", shipment_in(states.picked_shipment), "GET")
    ),
    "POST /shipments/{id}/pack/": Op(PLANNERS | {"picker"}, pack),
    "POST /shipments/{id}/stage/": Op(PLANNERS, stage),
    "POST /shipments/load/": Op(PLANNERS, load),
    "POST /shipments/{id}/dispatch/": Op(
        PLANNERS, on("shipments/{o.id}/dispatch/", shipment_in(states.loaded_shipment))
    ),
    "POST /shipments/{id}/deliver/": Op(PLANNERS, deliver, 201),
    "GET /outbound/kpis/": Op(PLANNERS | {"outsider"}, get("outbound/kpis/")),
    # tracking and webhooks
    "GET /orders/{id}/tracking/": Op(
        PLANNERS,
        on("orders/{o.id}/tracking/", lambda w: states.allocated_order(w.layout, w.product), "GET"),
    ),
    "GET /shipments/{id}/tracking/": Op(
        PLANNERS, on("shipments/{o.id}/tracking/", shipment_in(states.picked_shipment), "GET")
    ),
    "GET /webhook-subscriptions/": listed(
        "webhook-subscriptions/",
        "warehouse",
        WebhookSubscription,
        subscription,
        roles=frozenset({"manager", "outsider"}),
    ),
    "POST /webhook-subscriptions/": Op(
        frozenset({"manager"}),
        lambda w, role: Call("POST", f"{API}/webhook-subscriptions/", subscription_body(w)),
        201,
    ),
    "GET /webhook-subscriptions/{id}/": Op(
        frozenset({"manager"}), on("webhook-subscriptions/{o.id}/", subscription, "GET")
    ),
    "PUT /webhook-subscriptions/{id}/": Op(frozenset({"manager"}), put_subscription),
    "PATCH /webhook-subscriptions/{id}/": Op(
        frozenset({"manager"}),
        on("webhook-subscriptions/{o.id}/", subscription, "PATCH", {"is_active": False}),
    ),
    "DELETE /webhook-subscriptions/{id}/": Op(
        frozenset({"manager"}), on("webhook-subscriptions/{o.id}/", subscription, "DELETE"), 204
    ),
    "GET /webhook-deliveries/": listed(
        "webhook-deliveries/",
        "subscription__warehouse",
        WebhookDelivery,
        lambda w: tracking_f.make_delivery(w.layout, w.product),
        roles=frozenset({"manager", "outsider"}),
    ),
    "GET /webhook-deliveries/{id}/": Op(
        frozenset({"manager"}),
        on(
            "webhook-deliveries/{o.id}/",
            lambda w: tracking_f.make_delivery(w.layout, w.product),
            "GET",
        ),
    ),
    "POST /webhook-deliveries/{id}/replay/": Op(
        frozenset({"manager"}),
        on(
            "webhook-deliveries/{o.id}/replay/",
            lambda w: tracking_f.make_delivery(w.layout, w.product),
        ),
        202,
    ),
    "POST /outbound/kpi-runs/": Op(frozenset({"manager"}), kpi_run, 202),
    # Counts of the whole service's waiting work, no warehouse's rows: any manager may ask.
    "GET /background-work/": Op(frozenset({"manager", "outsider"}), get("background-work/")),
    # routing
    "GET /vehicles/": listed(
        "vehicles/",
        "warehouse",
        Vehicle,
        lambda w: routing_f.make_vehicle(w.warehouse),
        roles=PLANNERS | {"outsider"},
    ),
    "POST /vehicles/": Op(
        PLANNERS, lambda w, role: Call("POST", f"{API}/vehicles/", vehicle_body()), 201
    ),
    "GET /vehicles/{id}/": Op(
        PLANNERS, on("vehicles/{o.id}/", lambda w: routing_f.make_vehicle(w.warehouse), "GET")
    ),
    "PUT /vehicles/{id}/": Op(PLANNERS, put_vehicle),
    "PATCH /vehicles/{id}/": Op(
        PLANNERS,
        on(
            "vehicles/{o.id}/",
            lambda w: routing_f.make_vehicle(w.warehouse),
            "PATCH",
            {"is_refrigerated": True},
        ),
    ),
    "GET /route-plans/": listed(
        "route-plans/",
        "warehouse",
        RoutePlan,
        lambda w: states.draft_route_plan(w.layout, w.product),
        roles=PLANNERS | {"outsider"},
    ),
    "POST /route-plans/": Op(PLANNERS, new_route_plan, 201),
    "GET /route-plans/{id}/": Op(
        PLANNERS,
        on("route-plans/{o.id}/", lambda w: states.solved_route_plan(w.layout, w.product), "GET"),
    ),
    "POST /route-plans/{id}/solve/": Op(
        PLANNERS,
        on("route-plans/{o.id}/solve/", lambda w: states.draft_route_plan(w.layout, w.product)),
    ),
    "POST /route-plans/{id}/move-stop/": Op(PLANNERS, move_stop),
    "POST /route-plans/{id}/approve/": Op(
        PLANNERS,
        on(
            "route-plans/{o.id}/approve/",
            lambda w: states.solved_route_plan(w.layout, w.product),
        ),
    ),
}


# --- the operations the API documents --------------------------------------------------------

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def documented_operations() -> dict[str, set[str]]:
    """{path under /api/v1 with {id}: the documented methods}, from the OpenAPI schema."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths: dict[str, set[str]] = {}
    for path, operations in schema["paths"].items():
        if path.startswith(API):
            documented = {method.upper() for method in operations if method.upper() in METHODS}
            paths[path.removeprefix(API)] = documented
    return paths


DOCUMENTED = documented_operations()
OPERATIONS = sorted(
    f"{method} {path}" for path, methods in DOCUMENTED.items() for method in methods
)


def test_the_matrix_has_no_operation_the_api_lacks():
    stale = sorted(set(EXPECTATIONS) - set(OPERATIONS))
    assert not stale, f"The role matrix lists operations the API no longer has: {stale}"


# --- running a cell -----------------------------------------------------------------------------


def _tables() -> list[str]:
    labels = {"warehouse", "receiving", "shipping", "routing", "auth", "admin", "sessions"}
    return sorted(
        {
            model._meta.db_table
            for model in apps.get_models(include_auto_created=True)
            if model._meta.app_label in labels and not model._meta.proxy
        }
    )


# Bookkeeping that a read legitimately touches: when a device token was last used.
_IGNORED_COLUMNS = "ARRAY['last_used_at']"


def checksum() -> dict[str, tuple[int, str]]:
    """Each project table's row count and a digest of all its rows (in any order)."""
    parts = [
        f"SELECT '{table}', count(*), md5(coalesce(string_agg(r, '|' ORDER BY r), '')) "
        f'FROM (SELECT (to_jsonb(t) - {_IGNORED_COLUMNS})::text AS r FROM "{table}" t) s'
        for table in _tables()
    ]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts))
        return {table: (count, digest) for table, count, digest in cursor.fetchall()}


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(table for table in before if before[table] != after[table])


def send(client: APIClient, call: Call):
    headers = {f"HTTP_{name.upper().replace('-', '_')}": v for name, v in call.headers.items()}
    handler = getattr(client, call.method.lower())
    if call.data is None:
        return handler(call.path, **headers)
    return handler(call.path, call.data, format="json", **headers)


@pytest.fixture
def world(site, users, api, product) -> World:
    # Throttle counters live in the cache: every test starts with none spent.
    cache.clear()
    return World(
        site=site,
        layout=sf.add_outbound_layout(site),
        product=product,
        users=users,
        clients=api,
    )


def _ids(response) -> set[int]:
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return {row["id"] for row in rows}


def _in_warehouse(op: Op, warehouse: Warehouse) -> set[int]:
    lookup = op.scope or "pk"
    value = warehouse if op.scope else warehouse.pk
    return set(op.model.objects.filter(**{lookup: value}).values_list("id", flat=True))


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_role_gets_its_answer_and_a_refusal_changes_nothing(operation: str, world: World):
    op = EXPECTATIONS.get(operation)
    assert op is not None, (
        f"{operation} is not in the role matrix: add who may call it to EXPECTATIONS"
    )
    failures: list[str] = []
    shared = op.prepare(world, "anonymous")
    before = checksum()
    for role in (r for r in ROLES if r not in op.allowed):
        response = send(world.clients[role], shared)
        expected = op.refusal_for(role)
        if response.status_code != expected:
            failures.append(f"{role}: {response.status_code} (expected {expected})")
        elif not response["Content-Type"].startswith(PROBLEM):
            failures.append(f"{role}: {response['Content-Type']} is not a problem")
        after = checksum()
        changed = changed_tables(before, after)
        if changed:
            failures.append(f"{role}: a refused call changed {changed}")
        before = after
    answers = {}
    for role in (r for r in ROLES if r in op.allowed):
        call = shared if shared.method == "GET" else op.prepare(world, role)
        response = send(world.clients[role], call)
        answers[role] = response
        if response.status_code != op.status:
            failures.append(
                f"{role}: {response.status_code} (expected {op.status}): {response.content[:300]}"
            )
    if op.scope is not None and not failures:
        ours = _in_warehouse(op, world.warehouse)
        assert ours, f"{operation}: the test made no row of this warehouse to hide"
        assert _ids(answers["manager"]) & ours, f"{operation}: the manager sees none of theirs"
        leaked = _ids(answers["outsider"]) & ours
        if leaked:
            failures.append(f"outsider sees rows {sorted(leaked)} of another warehouse")
    assert not failures, f"{operation}:\n  " + "\n  ".join(failures)


def test_a_refusal_comes_before_the_body_is_judged(world: World):
    """Every write sent with an invalid body by someone whose role may not make it: still
    401/403 (as in the matrix), never a 400 that would judge the body first."""
    failures = []
    for operation, op in sorted(EXPECTATIONS.items()):
        method, path = operation.split(" ", 1)
        if method == "GET":
            continue
        url = f"{API}{path.replace('{id}', '999999')}"
        for role in (r for r in ROLES if r not in op.allowed and r != "outsider"):
            response = send(world.clients[role], Call(method, url, {"lines": "not a list"}))
            if response.status_code != op.refusal_for(role):
                failures.append(f"{role} {operation}: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_methods_the_api_does_not_offer_are_refused(world: World):
    """Every path x every method it does not document: 405 for a manager (who passes every
    role check), 401 for anonymous callers; nothing changes."""
    before = checksum()
    failures = []
    for path, documented in sorted(DOCUMENTED.items()):
        url = f"{API}{path.replace('{id}', '1')}"
        for method in (m for m in METHODS if m not in documented):
            for role, expected in (("anonymous", 401), ("manager", 405)):
                response = send(world.clients[role], Call(method, url, {}))
                if response.status_code != expected:
                    failures.append(f"{role} {method} {path}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert changed_tables(before, checksum()) == []


# --- pickers and the pick pages -----------------------------------------------------------------


@pytest.fixture
def two_pickers(world: World) -> dict[str, PickList]:
    """A pick list of `picker`, one of another picker, and one of nobody yet."""
    other = make_user("picker2", "picker", site=world.site)
    return {
        "mine": states.released_pick_list(world.layout, world.product, world.picker),
        "theirs": states.released_pick_list(world.layout, world.product, other),
        "unassigned": states.released_pick_list(world.layout, world.product, None),
    }


def test_a_picker_sees_and_works_only_their_own_pick_lists(world: World, two_pickers):
    client = world.clients["picker"]
    mine, theirs = two_pickers["mine"], two_pickers["theirs"]
    assert _ids(client.get(f"{API}/pick-lists/")) == {mine.id}
    assert _ids(world.clients["dispatcher"].get(f"{API}/pick-lists/")) == {
        pick_list.id for pick_list in two_pickers.values()
    }
    their_task = theirs.tasks.get()
    page = Client()
    page.force_login(world.picker)
    before = checksum()
    refused = [
        client.get(f"{API}/pick-lists/{theirs.id}/"),
        client.get(f"{API}/pick-tasks/{their_task.id}/"),
        client.post(f"{API}/pick-lists/{theirs.id}/start/"),
        client.post(
            f"{API}/pick-tasks/{their_task.id}/confirm/",
            {"bin": their_task.location.code, "item": world.product.gtin, "quantity": 2},
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        ),
    ]
    assert [response.status_code for response in refused] == [404, 404, 404, 404]
    assert changed_tables(before, checksum()) == []
    # The pick pages show the same: their list is not there for this picker.
    home = page.get(reverse("pick:home")).content.decode()
    assert mine.number in home
    assert theirs.number not in home
    assert page.get(reverse("pick:list", args=[theirs.id])).status_code == 404
    assert page.post(reverse("pick:start", args=[theirs.id])).status_code == 404
    assert changed_tables(before, checksum()) == []


@dataclass(frozen=True)
class Page:
    """A pick page: the roles allowed and their answer; others 403, the outsider 404, anonymous
    callers (unless allowed) a redirect to the login page."""

    method: str
    url: Callable[[World, PickList, Shipment], str]
    allowed: frozenset[str]
    status: int = 200
    outsider: int = 404
    anonymous: int = 302


PICK_PAGES: dict[str, Page] = {
    "home": Page("GET", lambda w, pl, sh: reverse("pick:home"), PICKERS | {"outsider"}),
    # Someone logged in is sent on to the pick lists.
    "login": Page(
        "GET", lambda w, pl, sh: reverse("pick:login"), ANYONE_WITH_A_ROLE, 302, anonymous=200
    ),
    "logout": Page("POST", lambda w, pl, sh: reverse("pick:logout"), ANYONE_WITH_A_ROLE, 302),
    "list": Page("GET", lambda w, pl, sh: reverse("pick:list", args=[pl.id]), PICKERS),
    "start": Page("POST", lambda w, pl, sh: reverse("pick:start", args=[pl.id]), PICKERS, 302),
    "task": Page("GET", lambda w, pl, sh: reverse("pick:task", args=[pl.id]), PICKERS),
    "packing-slip": Page(
        "GET",
        lambda w, pl, sh: reverse("pick:packing-slip", args=[sh.id]),
        PICKERS | {"dispatcher"},
    ),
}


def test_every_pick_page_answers_each_role_as_the_table_says(world: World):
    names = {pattern.name for pattern in pick_urls.urlpatterns}
    assert names == set(PICK_PAGES), (
        f"Pick pages missing from PICK_PAGES: {names ^ set(PICK_PAGES)}"
    )
    failures = []
    shipment = states.picked_shipment(world.layout, world.product, world.picker)
    for name, page in PICK_PAGES.items():
        shared = states.released_pick_list(world.layout, world.product, world.picker)
        for role in ROLES:
            fresh = page.method == "POST" and role in page.allowed
            pick_list = (
                states.released_pick_list(world.layout, world.product, world.picker)
                if fresh
                else shared
            )
            client = Client()
            if role != "anonymous":
                client.force_login(world.users[role])
            url = page.url(world, pick_list, shipment)
            before = checksum()
            response = getattr(client, page.method.lower())(url)
            if role == "anonymous":
                expected = page.anonymous
                if expected == 302 and not response["Location"].startswith(reverse("pick:login")):
                    failures.append(f"{name} {role}: not sent to the login page")
            elif role in page.allowed:
                expected = page.status
            else:
                expected = page.outsider if role == "outsider" else 403
            if response.status_code != expected:
                failures.append(f"{name} {role}: {response.status_code} (expected {expected})")
            if role not in page.allowed and changed_tables(before, checksum()):
                failures.append(f"{name} {role}: a refused request changed something")
    assert not failures, "\n".join(failures)
