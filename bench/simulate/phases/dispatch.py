"""Evening: the next day's routes planned by the service (OR-Tools, through the route plan
API), approved, then every routed shipment staged in its route's lane, its packages loaded
onto the vehicle in the route's load order (last stop first), and dispatched."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

from bench.simulate.client import new_key
from bench.simulate.day import Day, wait_for_background

DOCK_STAFF = 8


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
                # What was packed: left out, the plan would also take the day's shipments
                # that nothing was picked for. (A list holds DOCKSIDE_MAX_LIST_ITEMS numbers:
                # the service the simulator starts allows a whole day's.)
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
    stops = [stop for route in plan["routes"] for stop in route["stops"]] + plan["unplanned"]
    covered = sorted(number for stop in stops for number in stop["shipments"])
    if covered != numbers:
        day.error(f"route plan {plan['id']} has {len(covered)} shipments; packed {len(numbers)}")
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
    routes = [route for route in plan["routes"] if route["stops"]]
    # Each route's crew stages its shipments in the route's lane (one after another: a move
    # into a lane locks the lane's row) and loads its vehicle in load order; the routes side
    # by side. Then the loaded shipments are closed, side by side.
    with ThreadPoolExecutor(max_workers=min(DOCK_STAFF, len(routes) or 1)) as pool:
        list(pool.map(lambda route: load_route(day, route), routes))
    with ThreadPoolExecutor(max_workers=DOCK_STAFF) as pool:
        list(
            pool.map(
                lambda number: dispatch(day, number),
                sorted(n for route in routes for n in in_stop_order(route)),
            )
        )
    day.note_work_day()


def in_stop_order(route: dict) -> list[str]:
    return [
        number
        for stop in sorted(route["stops"], key=lambda s: s["sequence"])
        for number in sorted(stop["shipments"])
    ]


def stage(day: Day, number: str, lane: int) -> dict:
    shipment = day.shipments[number]
    return day.dispatcher.expect(
        day.dispatcher.post(
            f"shipments/{shipment['id']}/stage/",
            {"staging_lane": lane},
            operation="POST shipments/{id}/stage/",
        ),
        200,
        what="stage",
    )


def load_route(day: Day, route: dict) -> None:
    """The route's crew: one stages the shipments in the lane, last stop first, and the other
    loads each onto the vehicle as soon as it is staged (the last stop goes on first, so the
    first stop's goods are at the doors)."""
    lane = day.locations_by_code[route["staging_lane"]]
    last_first = list(reversed(in_stop_order(route)))
    with ThreadPoolExecutor(max_workers=1) as stager:
        staged = [stager.submit(stage, day, number, lane) for number in last_first]
        for shipment in staged:
            load(day, route, shipment.result())


def load(day: Day, route: dict, shipment: dict) -> None:
    dispatcher = day.dispatcher
    for package in shipment["packages"]:
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


def dispatch(day: Day, number: str) -> None:
    shipment = day.shipments[number]
    day.dispatcher.expect(
        day.dispatcher.post(
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
