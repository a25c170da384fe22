"""Schemathesis against the live OpenAPI schema: every operation, as every role, answers no 5xx
and nothing the schema does not declare.

The schema is read from `/api/schema/` through Django's WSGI application, and every request
goes through that application in-process (no server), in the test's transaction.
First a warehouse is seeded through the services with work in every state (ASNs, open
receipts, inspections, putaway tasks, orders, waves, pick lists, shipments from picked to
dispatched, route plans), so that the requests reach real objects: path ids are mostly drawn
from the rows the operation addresses, and body fields that name things (a SKU, a bin code, an
order id) often get a real one.

- `test_every_operation_as_every_role`: each operation x each role (and a manager of another
  warehouse) x positive and negative data, `DOCKSIDE_FUZZ_EXAMPLES` examples each (2 by
  default: about a minute on two cores).
- `test_stateful_sequences`: Schemathesis' state machine, following the links it infers between
  operations (the id a POST answered, used by the GET, PATCH, confirm or cancel of that object),
  `DOCKSIDE_FUZZ_SEQUENCES` sequences of up to `DOCKSIDE_FUZZ_STEPS` calls per role.

Checks on every answer (tests/openapi.py): not_a_server_error, response_schema_conformance
(error bodies included: they are declared as problem documents), status_code_conformance, and
no_unvalidated_write (no 409 `database-conflict` for what validation should have refused). Each
operation and each sequence starts from the seeded world. A failed check is recorded and the
run goes on, so that one run reports every problem; Hypothesis is not asked to shrink, as the
database moves on between the examples of an operation and a replay would not meet that state.
Examples are derandomized unless `DOCKSIDE_FUZZ_SEED` is set. `bench/fuzz.sh` runs these tests
long, with a fresh seed, and prints a summary from the report `DOCKSIDE_FUZZ_REPORT` names.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test
from schemathesis import Case, GenerationMode, Response

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
    Supplier,
)
from routing.models import RoutePlan, RouteStop, Vehicle
from shipping.models import (
    Customer,
    Order,
    OrderLine,
    Package,
    PickList,
    PickTask,
    Shipment,
    Wave,
    WebhookDelivery,
    WebhookSubscription,
)
from tests.conftest import make_user
from tests.factories import receiving as rf
from tests.factories import returns as returns_f
from tests.factories import routing as routing_f
from tests.factories import shipping as sf
from tests.factories import states
from tests.factories import tracking as tracking_f
from tests.factories import warehouse as wf
from tests.openapi import failures_of, live_schema, send
from warehouse.counts import services as counting
from warehouse.models import (
    CountRequest,
    DeviceToken,
    DockDoor,
    Location,
    Lot,
    Product,
    StockBalance,
    StockMove,
    Warehouse,
    Zone,
)
from warehouse.roles import ALL_ROLES
from warehouse.services import receive_stock

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("DOCKSIDE_FUZZ_EXAMPLES", "2"))
SEQUENCES = int(os.environ.get("DOCKSIDE_FUZZ_SEQUENCES", "6"))
STEPS = int(os.environ.get("DOCKSIDE_FUZZ_STEPS", "6"))
SEED = os.environ.get("DOCKSIDE_FUZZ_SEED")
REPORT = os.environ.get("DOCKSIDE_FUZZ_REPORT")  # a JSON file for bench/fuzz.sh; unset in CI
ROLES = (*ALL_ROLES, "outsider")

# The model behind `{id}`, by the path before it (under /api/v1/).
RESOURCES: dict[str, type] = {
    "auth/tokens": DeviceToken,
    "count-tasks": CountRequest,
    "customers": Customer,
    "dock-appointments": DockAppointment,
    "inbound-shipments": InboundShipment,
    "inspection-rules": InspectionRule,
    "inspections": Inspection,
    "locations": Location,
    "lots": Lot,
    "orders": Order,
    "pick-lists": PickList,
    "pick-tasks": PickTask,
    "products": Product,
    "putaway-tasks": PutawayTask,
    "receipts": Receipt,
    "return-receipts": ReturnReceipt,
    "returns": ReturnAuthorisation,
    "route-plans": RoutePlan,
    "shipments": Shipment,
    "stock/balances": StockBalance,
    "stock/moves": StockMove,
    "suppliers": Supplier,
    "vehicles": Vehicle,
    "warehouses": Warehouse,
    "waves": Wave,
    "webhook-deliveries": WebhookDelivery,
    "webhook-subscriptions": WebhookSubscription,
    "zones": Zone,
}
RESOURCE_OF_PATH = re.compile(r"^/api/v1/(?P<resource>.+?)/\{id\}/")

Values = dict[str, dict[type, list[Any]]]


# --- the world --------------------------------------------------------------------------------


@dataclass
class World:
    """The seeded warehouses, each role's Authorization header, and realistic body values by
    field name and JSON type (int: an id, str: a code)."""

    users: dict[str, User]
    headers: dict[str, dict[str, str]]
    token_ids: list[int]
    values: Values


def seed_world() -> World:
    """A warehouse with work in every state, made through the services, and another warehouse
    (the outsider's) with a little of its own. Two of each state: a request that uses one up
    leaves the other for the next."""
    site = wf.make_site()
    layout = sf.add_outbound_layout(site)
    users = {role: make_user(role, role, site=site) for role in ALL_ROLES}
    other = wf.make_site(code="OTHER")
    users["outsider"] = make_user("outsider", "manager", site=other)
    picker = users["picker"]
    headers: dict[str, dict[str, str]] = {}
    token_ids = []
    for role, user in users.items():
        token, raw = DeviceToken.issue(user=user, name=f"{role} scanner")
        headers[role] = {"Authorization": f"Bearer {raw}"}
        token_ids.append(token.id)
        DeviceToken.issue(user=user, name=f"{role} spare scanner")

    product = wf.make_product(sku="AMB-1", unit_weight_kg=Decimal("1.5"))
    lot_product = wf.make_product(
        sku="CHL-1", storage_class="chilled", is_lot_tracked=True, is_expiry_tracked=True
    )
    wf.make_lot(lot_product, "L1", timezone.localdate() + dt.timedelta(days=90))
    for bin_ in site.bins:
        receive_stock(location_id=bin_.id, product_id=product.id, quantity=50)
    InspectionRule.objects.create(product=wf.make_product(), note="Sample every delivery")
    routing_f.make_vehicle(site.warehouse, "VAN-1")
    routing_f.make_vehicle(other.warehouse, "VAN-X")
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    for number in range(2):
        announced = states.announced_asn(site, product)
        inbound.book_appointment(
            shipment_id=announced.id,
            door_id=site.doors[0].id,
            starts_at=rf.local(site, tomorrow, 8 + number),
        )
        states.arrived_asn(site, product)
        receipt = states.open_receipt(site, product)
        inbound.receive_scan(receipt_id=receipt.id, barcode=product.gtin, quantity=4)
        states.pending_inspection(site, product)
        states.open_putaway_task(site, product)
        states.stocked_order(layout, product)
        states.allocated_order(layout, product)
        states.planned_wave(layout, product)
        states.released_pick_list(layout, product, picker)
        states.started_pick_task(layout, product, picker)
    states.open_receipt(other, wf.make_product())
    for build in (
        states.picked_shipment,
        states.packed_shipment,
        states.staged_shipment,
        states.loaded_shipment,
        states.dispatched_shipment,
    ):
        build(layout, product, picker)
    states.draft_route_plan(layout, product)
    states.solved_route_plan(layout, product)
    tracking_f.make_delivery(layout, product)
    for _ in range(2):
        # Returns in every state: requested, authorised, being received, received.
        customer = sf.make_customer(site.warehouse)
        delivered = returns_f.delivered_rows(customer, [(product, 12)])
        returns_f.rma(delivered, 2)
        returns_f.authorised_rma(delivered, 2)
        receiving = returns_f.open_return_receipt(site, delivered, 2)
        inbound.receive_return_scan(return_receipt_id=receiving.id, barcode=product.gtin)
        returns_f.received_rma(site, delivered, 3, product=product)
    # Cycle counts: to count, being counted by the inspector, waiting for a recount.
    for bin_ in site.bins[:3]:
        counting.request_counts(location=bin_, actor=users["manager"])
    for task in CountRequest.objects.filter(location__in=site.bins[1:3]):
        counting.start_count(
            request_id=task.id, bin_code=task.location.code, actor=users["inspector"]
        )
    counting.submit_count(
        request_id=CountRequest.objects.get(location=site.bins[2]).id,
        actor=users["inspector"],
    )
    return World(
        users=users,
        headers=headers,
        token_ids=token_ids,
        values=realistic_values(site.warehouse, layout, users, product),
    )


def realistic_values(warehouse: Warehouse, layout: sf.OutboundSite, users, product) -> Values:
    """What a real client puts in each named body field, from the seeded rows; mostly the
    product that all the seeded work is about."""
    soon = [(timezone.now() + dt.timedelta(hours=hours)).isoformat() for hours in (1, 5, 26)]
    days = [str(timezone.localdate() + dt.timedelta(days=days)) for days in (0, 1, 2)]
    bins = list(Location.objects.values_list("code", flat=True))
    gtins = [product.gtin] * 4 + list(Product.objects.values_list("gtin", flat=True))
    skus = [product.sku] * 4 + list(Product.objects.values_list("sku", flat=True))
    product_ids = [product.id] * 4 + list(Product.objects.values_list("id", flat=True))
    lanes = [lane.id for lane in layout.lanes]
    orders = list(Order.objects.values_list("id", flat=True))
    doors = list(DockDoor.objects.values_list("id", flat=True))
    return {
        "warehouse": {int: [warehouse.id], str: [warehouse.code]},
        "product": {int: product_ids, str: skus},
        "sku": {str: skus},
        "supplier": {
            int: list(Supplier.objects.values_list("id", flat=True)),
            str: list(Supplier.objects.values_list("code", flat=True)),
        },
        "customer": {int: list(Customer.objects.values_list("id", flat=True))},
        "zone": {str: list(Zone.objects.values_list("code", flat=True))},
        **{name: {str: bins} for name in ("bin", "location", "from_location", "to_location")},
        **{name: {str: gtins} for name in ("gtin", "barcode", "item")},
        "lot": {str: ["L1"]},
        "lot_code": {str: ["L1"]},
        "pack": {str: ["case", ""]},
        "sscc": {str: list(Package.objects.values_list("sscc", flat=True))},
        "vehicle": {str: ["VAN-1"]},
        "shipment": {int: list(Shipment.objects.values_list("id", flat=True))},
        "shipments": {str: list(Shipment.objects.values_list("number", flat=True))},
        "order_ids": {int: orders},
        "orders": {int: orders},
        "order_line": {int: list(OrderLine.objects.values_list("id", flat=True))},
        "order": {int: orders},
        "rma": {int: list(ReturnAuthorisation.objects.values_list("id", flat=True))},
        "line": {int: [1, 2]},
        "line_number": {int: [1, 2]},
        "door": {int: doors},
        "outbound_door": {int: doors},
        "staging_lane": {int: lanes},
        "staging_location": {int: lanes},
        "picker": {int: [user.id for user in users.values()]},
        "stop": {int: list(RouteStop.objects.values_list("id", flat=True))},
        "route": {int: [1, 2]},
        "username": {str: list(users)},
        "password": {str: [f"pw-{username}" for username in users]},
        "quantity": {int: [1, 2, 4, 10]},
        "quantity_picked": {int: [0, 1]},
        "delta": {int: [-1, 1, 5]},
        **{name: {str: days} for name in ("delivery_date", "dispatch_date", "requested_date")},
        **{name: {str: soon} for name in ("starts_at", "cutoff_at", "expected_arrival")},
        "delivered_at": {str: [timezone.now().isoformat()]},
        "time_limit_seconds": {int: [1]},
    }


def realistic(body: Any, values: Values, rng: random.Random) -> Any:
    """`body` with, three times in four, each field that names something given a real value."""
    if isinstance(body, list):
        return [realistic(item, values, rng) for item in body]
    if not isinstance(body, dict):
        return body
    result = {}
    for name, value in body.items():
        choices = values.get(name, {})
        if isinstance(value, list) and value and type(value[0]) in choices:
            kind = type(value[0])
            if all(type(item) is kind for item in value) and rng.random() < 0.75:
                value = rng.sample(choices[kind], k=min(len(choices[kind]), rng.randint(1, 3)))
        elif type(value) in choices and rng.random() < 0.75:
            value = rng.choice(choices[type(value)])
        else:
            value = realistic(value, values, rng)
        result[name] = value
    return result


# --- recording ----------------------------------------------------------------------------------


@dataclass
class Findings:
    """Every answer's status by operation and role, and the first example of each failure."""

    statuses: dict[str, dict[str, Counter]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Counter))
    )
    failures: dict[str, str] = field(default_factory=dict)
    requests: int = 0

    def call(self, case: Case, role: str, world: World) -> Response:
        # A revoke the fuzz sends must not lock the role out for the rest of the run.
        DeviceToken.objects.filter(id__in=world.token_ids, revoked_at__isnull=False).update(
            revoked_at=None
        )
        response = send(case, world.headers[role])
        self.requests += 1
        self.statuses[case.operation.label][role][response.status_code] += 1
        for title, text in failures_of(case, response, world.headers[role]):
            self.failures.setdefault(f"{case.operation.label} [{title}]", f"as {role}: {text}")
        return response

    def report(self) -> str:
        return "\n\n".join(f"{key}\n{text}" for key, text in sorted(self.failures.items()))

    def write(self, name: str) -> None:
        """Add this run to the JSON report `bench/fuzz.sh` asked for."""
        if REPORT is None:
            return
        try:
            with open(REPORT) as stream:
                report = json.load(stream)
        except (FileNotFoundError, json.JSONDecodeError):
            report = {}
        report[name] = {
            "requests": self.requests,
            "statuses": {
                label: {role: dict(counts) for role, counts in by_role.items()}
                for label, by_role in self.statuses.items()
            },
            "failures": self.failures,
        }
        with open(REPORT, "w") as stream:
            json.dump(report, stream, indent=1, sort_keys=True)


def fuzz_settings(max_examples: int, **extra) -> settings:
    return settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        derandomize=SEED is None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        **extra,
    )


@contextmanager
def rolled_back() -> Iterator[None]:
    savepoint = transaction.savepoint()
    try:
        yield
    finally:
        transaction.savepoint_rollback(savepoint)


def model_of(path: str) -> type | None:
    match = RESOURCE_OF_PATH.match(path)
    return None if match is None else RESOURCES[match["resource"]]


# --- the tests ----------------------------------------------------------------------------------


def test_every_operation_as_every_role():
    world = seed_world()
    findings = Findings()
    with live_schema() as schema:
        operations = [result.ok() for result in schema.get_all_operations()]
        unknown = {op.label for op in operations if "{id}" in op.path and model_of(op.path) is None}
        assert not unknown, f"add the model behind {{id}} to RESOURCES: {sorted(unknown)}"
        for operation in operations:
            # Every operation meets the seeded world, not what the ones before it left.
            with rolled_back():
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    strategy = operation.as_strategy(generation_mode=mode)
                    for role in ROLES:
                        cache.clear()  # throttle counters: a fuzz is not a burst to refuse
                        fuzz_operation(operation, strategy, mode, role, world, findings)
    findings.write("operations")
    assert findings.requests >= len(operations) * len(ROLES) * 2 * EXAMPLES
    assert not findings.failures, findings.report()


def fuzz_operation(operation, strategy, mode, role: str, world: World, findings) -> None:
    """Send `EXAMPLES` generated requests of `operation` as `role`."""
    model = model_of(operation.path)

    @fuzz_settings(EXAMPLES)
    @given(case=strategy, data=st.data())
    def send_one(case: Case, data: st.DataObject) -> None:
        # The draws do not depend on the database, so the same choices make the same request.
        if model is not None and data.draw(st.integers(0, 3), label="real id"):
            ids = list(model.objects.order_by("id").values_list("id", flat=True)[:200])
            position = data.draw(st.integers(0, 199), label="id")
            if ids:
                case.path_parameters["id"] = ids[position % len(ids)]
        if mode is GenerationMode.POSITIVE and isinstance(case.body, dict):
            rng = data.draw(st.randoms(use_true_random=False), label="values")
            case.body = realistic(case.body, world.values, rng)
        findings.call(case, role, world)

    if SEED is not None:
        send_one = seed(int(SEED))(send_one)
    send_one()


def test_stateful_sequences():
    world = seed_world()
    findings = Findings()
    with live_schema() as schema:
        workflow = schema.as_state_machine()
        for role in ROLES:

            class AsRole(workflow):
                # Each sequence starts from the seeded world: the same steps meet the same state.
                def setup(self) -> None:
                    self.savepoint = transaction.savepoint()

                def teardown(self) -> None:
                    transaction.savepoint_rollback(self.savepoint)

                def before_call(self, case: Case) -> None:
                    cache.clear()
                    positive = case.meta is not None and not case.meta.generation.mode.is_negative
                    if positive and isinstance(case.body, dict):
                        # Chosen by the case itself, so that a replayed step sends the same.
                        body = json.dumps(case.body, sort_keys=True, default=str)
                        rng = random.Random(f"{case.operation.label} {body}")
                        case.body = realistic(case.body, world.values, rng)

                def call(self, case: Case, role=role, **kwargs: Any) -> Response:
                    return findings.call(case, role, world)

                def validate_response(self, response, case, additional_checks=None, **kwargs):
                    """Checked (and recorded) in `call`."""

            run_state_machine_as_test(
                AsRole, settings=fuzz_settings(SEQUENCES, stateful_step_count=STEPS)
            )
    findings.write("stateful")
    assert findings.requests >= len(ROLES) * SEQUENCES
    assert not findings.failures, findings.report()
