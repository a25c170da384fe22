"""Evening: the next day's routes planned by the service (OR-Tools, through the route plan
API), approved, then every routed shipment staged in its route's lane, its packages loaded
onto the vehicle in the route's load order (last stop first), and dispatched."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

from bench.simulate.client import new_key
from bench.simulate.day import Day, wait_for_background


def time_limit(day: Day) -> int:
    return 20 if day.scale >= 0.5 else 5


def run(day: Day) -> None:
    dispatcher = day.dispatcher
    numbers = sorted(day.shipments)
    if not numbers:
        day.error("nothing packed: no routes to plan")
        return
    created = dispatcher.expect(
        dispatcher.post(
            "route-plans/",
            {
                "warehouse": day.warehouse_code,
                "delivery_date": str(day.delivery_date),
                "shipments": numbers,
                "time_limit_seconds": time_limit(day),
                "seed": day.seed % 1000,
            },
            operation="POST route-plans/",
        ),
        201,
        what="route plan",
    )
    wait_for_background(day, timeout=time_limit(day) * 4 + 300, what="route solving")
    plan = dispatcher.expect(
        dispatcher.get(f"route-plans/{created['id']}/", operation="GET route-plans/{id}/"), 200
    )
    if plan["status"] != "solved":
        day.error(f"route plan {plan['id']} is {plan['status']}: {plan['error']}")
        return
    plan = dispatcher.expect(
        dispatcher.post(
            f"route-plans/{plan['id']}/approve/", operation="POST route-plans/{id}/approve/"
        ),
        200,
        what="approve routes",
    )
    day.route_plan = plan
    counted = day.counted
    counted.vehicles_used = sum(1 for route in plan["routes"] if route["stops"])
    counted.km = plan["total_distance_m"] / 1000
    counted.stops_planned = sum(len(route["stops"]) for route in plan["routes"])
    for stop in plan["unplanned"]:
        counted.stops_dropped[stop["dropped_reason_code"] or "unplanned"] += 1
    # Each route has its own lane, door and vehicle: the routes are loaded side by side.
    routes = [route for route in plan["routes"] if route["stops"]]
    with ThreadPoolExecutor(max_workers=min(8, len(routes) or 1)) as pool:
        list(pool.map(lambda route: load_route(day, route), routes))
    day.note_work_day()


def load_route(day: Day, route: dict) -> None:
    dispatcher = day.dispatcher
    lane = day.locations_by_code[route["staging_lane"]]
    in_stop_order = [
        number
        for stop in sorted(route["stops"], key=lambda s: s["sequence"])
        for number in sorted(stop["shipments"])
    ]
    staged = {}
    for number in in_stop_order:
        shipment = day.shipments[number]
        staged[number] = dispatcher.expect(
            dispatcher.post(
                f"shipments/{shipment['id']}/stage/",
                {"staging_lane": lane},
                operation="POST shipments/{id}/stage/",
            ),
            200,
            what="stage",
        )
    # The last stop goes on first, so the first stop's goods are at the doors.
    for number in reversed(in_stop_order):
        for package in staged[number]["packages"]:
            dispatcher.expect(
                dispatcher.post(
                    "shipments/load/",
                    {"sscc": package["sscc"], "vehicle": route["vehicle"]},
                    operation="POST shipments/load/",
                    key=new_key(),
                ),
                200,
                what="load",
            )
    for number in in_stop_order:
        shipment = day.shipments[number]
        dispatcher.expect(
            dispatcher.post(
                f"shipments/{shipment['id']}/dispatch/", operation="POST shipments/{id}/dispatch/"
            ),
            200,
            what="dispatch",
        )
        with day.tally.lock:
            day.counted.shipments_dispatched += 1
            record_shipped(day, shipment["order_number"])


def record_shipped(day: Day, order_number: str) -> None:
    """Fill rate as the simulator counts it: what left on this (first) shipment per line."""
    order = day.orders[order_number]
    picked = day.picked.get(order_number, {})
    counted = day.counted
    for product_id, ordered in order["ordered"].items():
        shipped = picked.get(product_id, 0)
        counted.lines_shipped += 1
        counted.lines_shipped_full += shipped >= ordered
        counted.units_shipped_capped += min(shipped, ordered)
        counted.units_ordered_shipped += ordered


def eta(stop: dict) -> dt.datetime:
    """The planned start of service: arrival plus any wait for the window to open."""
    return dt.datetime.fromisoformat(stop["planned_arrival"]) + dt.timedelta(
        seconds=stop["waiting_seconds"] or 0
    )
