"""What the API fuzz (tests/test_api_fuzz.py) found, each in the state that showed it: answers
that contradicted the OpenAPI schema, a 500, and requests only a database constraint refused.
Each answer now passes the fuzz's checks (tests/openapi.py): no 5xx, a declared status, a body
the schema describes, and a 400 rather than a database conflict for invalid input.
"""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache

from receiving.models import InspectionRule
from routing.models import Vehicle
from shipping.models import Customer, Order
from tests.factories import routing as routing_f
from tests.factories import shipping as sf
from tests.factories import states
from tests.openapi import bearer, check, live_schema
from warehouse.models import Location, PackSize

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema():
    cache.clear()  # throttle counters
    with live_schema() as loaded:
        yield loaded


@pytest.fixture
def manager(users) -> dict[str, str]:
    return bearer(users["manager"])


@pytest.fixture
def layout(site) -> sf.OutboundSite:
    return sf.add_outbound_layout(site)


def test_inspection_rule_for_every_supplier(schema, manager, product):
    """A rule without a supplier: `supplier_code` is null, and a PATCH still answers it."""
    rule = InspectionRule.objects.create(product=product, note="Sample every delivery")
    path = "/api/v1/inspection-rules/{id}/"
    check(schema, "GET", path, manager, status=200, id=rule.id)
    patched = check(schema, "PATCH", path, manager, status=200, body={"note": "Paused"}, id=rule.id)
    assert patched.json()["supplier_code"] is None


def test_pick_list_nobody_has_started(schema, manager, layout, product):
    """Unassigned, no lot, not short: `picker_username`, `lot_code` null, `short_reason` ""."""
    pick_list = states.released_pick_list(layout, product, picker=None)
    response = check(
        schema, "GET", "/api/v1/pick-lists/{id}/", manager, status=200, id=pick_list.id
    )
    task = response.json()["tasks"][0]
    assert (task["lot_code"], task["short_reason"]) == (None, "")


def test_putaway_task_not_yet_confirmed(schema, manager, site, product):
    task = states.open_putaway_task(site, product)
    response = check(schema, "GET", "/api/v1/putaway-tasks/{id}/", manager, status=200, id=task.id)
    assert response.json()["confirmed_bin"] is None


def test_inspection_of_a_product_without_lots(schema, manager, site, product):
    inspection = states.pending_inspection(site, product)
    response = check(
        schema, "GET", "/api/v1/inspections/{id}/", manager, status=200, id=inspection.id
    )
    assert response.json()["lot_code"] is None


def test_shipment_not_yet_delivered(schema, manager, layout, product, users):
    shipment = states.picked_shipment(layout, product, users["picker"])
    response = check(schema, "GET", "/api/v1/shipments/{id}/", manager, status=200, id=shipment.id)
    assert response.json()["delivery"] is None


def test_route_plan_before_approval(schema, manager, layout, product):
    """Routes get their staging lane and door on approval; until then both are null."""
    plan = states.solved_route_plan(layout, product)
    response = check(schema, "GET", "/api/v1/route-plans/{id}/", manager, status=200, id=plan.id)
    assert response.json()["routes"][0]["staging_lane"] is None


def test_ledger_of_a_dispatched_shipment(schema, manager, layout, product, users):
    """Stock that left the building has no `to_status`: the ledger shows it as ""."""
    states.dispatched_shipment(layout, product, users["picker"])
    response = check(schema, "GET", "/api/v1/stock/moves/", manager, status=200)
    assert "" in {move["to_status"] for move in response.json()["results"]}


def test_outbound_kpis_are_one_object(schema, users):
    response = check(
        schema, "GET", "/api/v1/outbound/kpis/", bearer(users["dispatcher"]), status=200
    )
    assert response.json()["deliveries"] == 0


def test_times_of_day_are_local(schema, manager, site):
    """Customer windows and vehicle shifts are local times of day without an offset, as the
    schema now says (it claimed RFC 3339 times, which carry one)."""
    customer = sf.make_customer(site.warehouse)
    check(schema, "GET", "/api/v1/customers/{id}/", manager, status=200, id=customer.id)
    vehicle = routing_f.make_vehicle(site.warehouse)
    body = {
        "warehouse": site.warehouse.code,
        "code": vehicle.code,
        "capacity_weight_kg": "900.0",
        "capacity_volume_m3": "8.00",
        "shift_start": "06:30",
        "shift_end": "18:00:00",
        "max_route_minutes": 600,
        "average_speed_kmh": "40.0",
    }
    response = check(
        schema, "PUT", "/api/v1/vehicles/{id}/", manager, status=200, body=body, id=vehicle.id
    )
    assert response.json()["shift_start"] == "06:30:00"


def test_refusals_are_declared_problems(schema, users, layout, product):
    """Refusals answer a declared status with a problem document the schema describes."""
    pick_list = states.released_pick_list(layout, product, picker=None)
    path = "/api/v1/pick-lists/{id}/"
    check(schema, "GET", path, bearer(users["dock"]), status=403, id=pick_list.id)
    check(schema, "GET", path, bearer(users["manager"]), status=404, id=pick_list.id + 1000)
    check(schema, "GET", path, {"Authorization": "Bearer not-a-token"}, status=401, id=1)
    manager = bearer(users["manager"])
    check(schema, "POST", "/api/v1/orders/", manager, status=400, body={"lines": []})
    order = states.stocked_order(layout, product)
    cancel = "/api/v1/orders/{id}/cancel/"
    check(schema, "POST", cancel, manager, status=200, id=order.id)
    assert Order.objects.get(id=order.id).status == Order.Status.CANCELLED
    check(schema, "POST", cancel, manager, status=409, id=order.id)


def test_idempotency_key_reused_with_another_body(schema, users, layout, product):
    picker = users["picker"]
    task = states.started_pick_task(layout, product, picker)
    headers = {**bearer(picker), "Idempotency-Key": str(uuid.uuid4())}
    path = "/api/v1/pick-tasks/{id}/skip/"
    check(schema, "POST", path, headers, status=200, body={}, id=task.id)
    check(schema, "POST", path, headers, status=422, body={"note": "again"}, id=task.id)


# --- invalid input that got past validation ---------------------------------------------------


def test_patch_of_pack_sizes_without_a_name(schema, manager, product):
    """PATCH validates nested fields as partial: a pack size without a name was a KeyError."""
    body = {"pack_sizes": [{"quantity": 6}]}
    path = "/api/v1/products/{id}/"
    check(schema, "PATCH", path, manager, status=400, body=body, id=product.id)
    assert list(PackSize.objects.filter(product=product).values_list("name", flat=True)) == ["case"]


def test_second_rule_for_the_same_product(schema, manager, product):
    """The unique constraints on rules are conditional (per supplier, or for any supplier)."""
    path = "/api/v1/inspection-rules/"
    check(schema, "POST", path, manager, status=201, body={"product": product.id})
    response = check(schema, "POST", path, manager, status=400, body={"product": product.id})
    assert "product" in response.json()["errors"]
    assert InspectionRule.objects.filter(product=product).count() == 1


def test_vehicle_shift_starting_after_the_default_end(schema, manager, site):
    """A shift start later than the default end (18:00), with the end left out."""
    body = {
        "warehouse": site.warehouse.code,
        "code": "VAN-LATE",
        "capacity_weight_kg": "900.0",
        "capacity_volume_m3": "8.00",
        "shift_start": "21:00",
    }
    response = check(schema, "POST", "/api/v1/vehicles/", manager, status=400, body=body)
    assert "shift_end" in response.json()["errors"]
    assert not Vehicle.objects.filter(code="VAN-LATE").exists()


def test_customer_window_starting_after_the_default_end(schema, manager, site):
    body = {
        "warehouse": site.warehouse.id,
        "code": "cust-late",
        "name": "Late customer",
        "address": "1 Night Road",
        "latitude": "52.370000",
        "longitude": "4.890000",
        "window_start": "18:00",
    }
    response = check(schema, "POST", "/api/v1/customers/", manager, status=400, body=body)
    assert "window_end" in response.json()["errors"]
    assert not Customer.objects.filter(code="cust-late").exists()


def test_bin_of_no_capacity(schema, manager, site):
    body = {"warehouse": site.warehouse.code, "zone": "store", "code": "Z-1", "max_volume_m3": "0"}
    response = check(schema, "POST", "/api/v1/locations/", manager, status=400, body=body)
    assert "max_volume_m3" in response.json()["errors"]
    assert not Location.objects.filter(code="Z-1").exists()


def test_new_bin_answers_its_load(schema, manager, site):
    """The answer to a create has the load a GET shows (it was left out)."""
    body = {
        "warehouse": site.warehouse.code,
        "zone": "store",
        "code": "Z-2",
        "max_weight_kg": "500",
    }
    response = check(schema, "POST", "/api/v1/locations/", manager, status=201, body=body)
    assert (response.json()["used_weight_kg"], response.json()["free_weight_kg"]) == (
        "0.00",
        "500.00",
    )


def test_nul_character_in_a_code(schema, manager, site, product):
    """DRF's related fields pass a NUL character on to PostgreSQL, which refuses to compare it
    (a DataError): that was a 409 about stored data, for a request that was simply invalid."""
    body = {
        "warehouse": site.warehouse.code,
        "from_location": site.bins[0].code,
        "to_location": site.bins[1].code,
        "product": f"{product.sku}\x00",
        "quantity": 1,
    }
    response = check(
        schema, "POST", "/api/v1/stock/moves/transfers/", manager, status=400, body=body
    )
    assert response.json()["code"] == "invalid-value"
