"""Every change to stock, orders and routes says who made it and when.

The test walks the main write paths through the API, each as the person who does it on the
floor, and then reads the ledger (StockMove) and the audit trails (InboundEvent,
OutboundEvent, RoutePlanEvent): every row the walk wrote names its actor, the right one, and
has its time. The only rows without an actor are the planner's own (a solve finishing).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

import pytest
from django.core.cache import cache
from django.utils import timezone

from receiving.models import InboundEvent, InspectionRule, PutawayTask, ReceiptScan
from routing.models import RoutePlan, RoutePlanEvent
from routing.services import solve_route_plan
from shipping.models import Delivery, OutboundEvent, Package, PickTask, Shipment
from tests.factories import receiving as rf
from tests.factories import routing as routing_f
from tests.factories import shipping as sf
from tests.factories import states
from tests.factories import warehouse as wf
from warehouse.models import StockMove
from warehouse.services import receive_stock

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.content
    return response.json()


def key() -> dict[str, str]:
    return {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}


def receive_and_put_away(api, site, product) -> None:
    """Manager announces, dock books, checks in, receives and puts away; inspector judges."""
    inspected = wf.make_product(sku="INSPECT-1")
    InspectionRule.objects.create(product=inspected)
    tomorrow = timezone.localdate(timezone=site.warehouse.tzinfo) + dt.timedelta(days=1)
    asn = ok(
        api["manager"].post(
            f"{API}/inbound-shipments/",
            {
                "warehouse": "AMS",
                "supplier": rf.make_supplier().code,
                "reference": "ASN-WHO-1",
                "expected_arrival": rf.local(site, tomorrow, 9).isoformat(),
                "lines": [
                    {"sku": product.sku, "quantity": 2, "pack": "case"},
                    {"sku": inspected.sku, "quantity": 5},
                ],
            },
            format="json",
        ),
        201,
    )
    ok(
        api["dock"].post(
            f"{API}/dock-appointments/",
            {
                "shipment": asn["id"],
                "door": site.doors[0].id,
                "starts_at": rf.local(site, tomorrow, 10).isoformat(),
            },
            format="json",
        ),
        201,
    )
    ok(api["dock"].post(f"{API}/inbound-shipments/{asn['id']}/check-in/", {}, format="json"))
    receipt = ok(
        api["dock"].post(
            f"{API}/receipts/", {"shipment": asn["id"], "door": site.doors[0].id}, format="json"
        ),
        201,
    )
    for barcode, quantity in ((product.gtin, 24), (inspected.gtin, 5)):
        ok(
            api["dock"].post(
                f"{API}/receipts/{receipt['id']}/scans/",
                {"barcode": barcode, "quantity": quantity},
                format="json",
                **key(),
            ),
            201,
        )
    report = ok(api["dock"].post(f"{API}/receipts/{receipt['id']}/close/", {}, format="json"))
    ok(
        api["inspector"].post(
            f"{API}/inspections/{report['inspections'][0]}/record/",
            {"result": "pass"},
            format="json",
        )
    )
    for task in PutawayTask.objects.filter(status="open").select_related("proposed_location"):
        ok(
            api["dock"].post(
                f"{API}/putaway-tasks/{task.id}/confirm/",
                {"bin": task.proposed_location.code},
                format="json",
                **key(),
            )
        )


def adjust(api, site, product) -> None:
    ok(
        api["manager"].post(
            f"{API}/stock/moves/adjustments/",
            {
                "warehouse": "AMS",
                "location": site.bins[0].code,
                "product": product.sku,
                "delta": 3,
                "reason": "count",
            },
            format="json",
        ),
        201,
    )


def order_to_delivery(api, layout, product, users) -> None:
    """Dispatcher takes the order, waves and ships it; the manager assigns; the picker picks."""
    customer = sf.make_customer(layout.warehouse)
    start, end = sf.window()
    order = ok(
        api["dispatcher"].post(
            f"{API}/orders/",
            {
                "warehouse": layout.warehouse.id,
                "customer": customer.id,
                "number": "SO-WHO-1",
                "requested_date": str(timezone.localdate()),
                "promised_window_start": start.isoformat(),
                "promised_window_end": end.isoformat(),
                "lines": [{"product": product.id, "quantity": 2}],
            },
            format="json",
        ),
        201,
    )
    ok(api["dispatcher"].post(f"{API}/orders/{order['id']}/allocate/"))
    wave = ok(
        api["dispatcher"].post(
            f"{API}/waves/",
            {
                "warehouse": layout.warehouse.id,
                "dispatch_date": str(timezone.localdate()),
                "cutoff_at": (timezone.now() + dt.timedelta(hours=1)).isoformat(),
                "order_ids": [order["id"]],
            },
            format="json",
        ),
        201,
    )
    ok(api["dispatcher"].post(f"{API}/waves/{wave['id']}/release/"))
    pick_list = ok(api["dispatcher"].get(f"{API}/pick-lists/", {"wave": wave["id"]}))["results"][0]
    ok(
        api["manager"].post(
            f"{API}/pick-lists/{pick_list['id']}/assign/",
            {"picker": users["picker"].id},
            format="json",
        )
    )
    ok(api["picker"].post(f"{API}/pick-lists/{pick_list['id']}/start/"))
    task = PickTask.objects.select_related("location").get(pick_list_id=pick_list["id"])
    ok(
        api["picker"].post(
            f"{API}/pick-tasks/{task.id}/confirm/",
            {"bin": task.location.code, "item": product.gtin, "quantity": task.quantity},
            format="json",
            **key(),
        )
    )
    shipment = Shipment.objects.get(order_id=order["id"])
    ok(
        api["picker"].post(
            f"{API}/shipments/{shipment.id}/pack/",
            {
                "packages": [
                    {"weight_kg": "2.5", "length_cm": "30", "width_cm": "20", "height_cm": "10"}
                ]
            },
            format="json",
        )
    )
    ok(
        api["dispatcher"].post(
            f"{API}/shipments/{shipment.id}/stage/",
            {"staging_lane": layout.lanes[1].id, "outbound_door": layout.door.id},
            format="json",
        )
    )
    ok(
        api["dispatcher"].post(
            f"{API}/shipments/load/",
            {"sscc": shipment.packages.get().sscc, "vehicle": "VAN-1"},
            format="json",
            **key(),
        )
    )
    ok(api["dispatcher"].post(f"{API}/shipments/{shipment.id}/dispatch/"))
    ok(
        api["dispatcher"].post(
            f"{API}/shipments/{shipment.id}/deliver/",
            {"delivered_at": timezone.now().isoformat(), "recipient_name": "J. Jansen"},
            format="json",
        ),
        201,
    )


def deliveries_to_plan(layout, product) -> tuple[dt.date, list[str]]:
    """Two shipments waiting for a route on a day of their own, and a van."""
    day = states.delivery_day()
    numbers = [
        routing_f.make_shipment(sf.make_customer(layout.warehouse), product, 2, day=day).number
        for _ in range(2)
    ]
    routing_f.make_vehicle(layout.warehouse, "VAN-W")
    return day, numbers


def plan_routes(api, day: dt.date, numbers: list[str]) -> None:
    """Dispatcher plans and re-solves, the planner solves, dispatcher edits, manager approves."""
    plan = ok(
        api["dispatcher"].post(
            f"{API}/route-plans/",
            {
                "warehouse": "AMS",
                "delivery_date": day.isoformat(),
                "shipments": numbers,
                "time_limit_seconds": 1,
                "solve": False,
            },
            format="json",
        ),
        201,
    )
    ok(api["dispatcher"].post(f"{API}/route-plans/{plan['id']}/solve/"))
    solve_route_plan(plan_id=plan["id"], attempt=RoutePlan.objects.get(id=plan["id"]).solve_attempt)
    detail = ok(api["dispatcher"].get(f"{API}/route-plans/{plan['id']}/"))
    stop = detail["routes"][0]["stops"][-1]
    ok(
        api["dispatcher"].post(
            f"{API}/route-plans/{plan['id']}/move-stop/",
            {"stop": stop["id"], "route": 1, "position": 1},
            format="json",
        )
    )
    ok(api["manager"].post(f"{API}/route-plans/{plan['id']}/approve/"))


def test_every_ledger_and_event_row_of_the_main_flows_names_its_actor(api, site, product, users):
    layout = sf.add_outbound_layout(site)
    receive_stock(location_id=layout.pick_faces[0].id, product_id=product.id, quantity=10)
    day, numbers = deliveries_to_plan(layout, product)
    since = timezone.now()
    baseline = {
        model: model.objects.order_by("-id").values_list("id", flat=True).first() or 0
        for model in (StockMove, InboundEvent, OutboundEvent, RoutePlanEvent)
    }

    receive_and_put_away(api, site, product)
    adjust(api, site, product)
    order_to_delivery(api, layout, product, users)
    plan_routes(api, day, numbers)

    def written(model):
        return list(
            model.objects.filter(id__gt=baseline[model]).select_related("actor").order_by("id")
        )

    # The ledger: who moved stock, for each reason.
    movers = defaultdict(set)
    for move in written(StockMove):
        assert move.created_at is not None and move.created_at >= since, move
        movers[move.reason].add(move.actor.username if move.actor else None)
    assert dict(movers) == {
        "receipt": {"dock"},
        "putaway": {"dock"},
        "release": {"inspector"},
        "count": {"manager"},
        "pick": {"picker"},
        "move": {"dispatcher"},
        "ship": {"dispatcher"},
    }

    # The audit trails: every event of a person's change names them.
    def actors(model) -> dict[str, set[str | None]]:
        found = defaultdict(set)
        for event in written(model):
            assert event.created_at is not None and event.created_at >= since, event
            found[event.kind].add(event.actor.username if event.actor else None)
        return dict(found)

    inbound = actors(InboundEvent)
    assert inbound["asn_announced"] == {"manager"}
    assert None not in set().union(*inbound.values()), sorted(inbound.items())
    assert {"dock", "inspector"} <= set().union(*inbound.values())

    outbound = actors(OutboundEvent)
    assert None not in set().union(*outbound.values()), sorted(outbound.items())
    assert {"dispatcher", "manager", "picker"} <= set().union(*outbound.values())

    routing = actors(RoutePlanEvent)
    assert routing == {
        "created": {"dispatcher"},
        "solve_requested": {"dispatcher"},
        "solved": {None},  # the planner's own work
        "stop_moved": {"dispatcher"},
        "approved": {"manager"},
    }

    # And the rows that carry their own "by" say the same.
    assert set(ReceiptScan.objects.values_list("scanned_by__username", flat=True)) == {"dock"}
    assert set(PutawayTask.objects.values_list("confirmed_by__username", flat=True).distinct()) == {
        "dock"
    }
    task = PickTask.objects.filter(status="picked").latest("id")
    assert task.picked_by.username == "picker" and task.picked_at is not None
    assert Package.objects.latest("id").loaded_by.username == "dispatcher"
    assert Delivery.objects.get().confirmed_by.username == "dispatcher"
    plan = RoutePlan.objects.latest("id")
    assert (plan.created_by.username, plan.approved_by.username) == ("dispatcher", "manager")
