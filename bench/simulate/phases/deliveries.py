"""The next day: every stop confirmed by its driver at a time drawn around its planned ETA
(most on time, some late, a few refused, some handed over in part), with the arrival and
delivery times the proof-of-delivery API takes. The simulator judges each delivery on time
and in full itself, to compare with the KPIs the service computes."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

from bench.simulate.client import new_key
from bench.simulate.day import Day
from bench.simulate.phases.dispatch import eta

# The service's default DOCKSIDE["DELIVERY_WINDOW_TOLERANCE_MINUTES"].
TOLERANCE = dt.timedelta(minutes=15)


def run(day: Day) -> None:
    if not day.route_plan:
        return
    routes = [route for route in day.route_plan["routes"] if route["stops"]]
    # Every driver confirms their own stops, in order; the drivers at the same time.
    with ThreadPoolExecutor(max_workers=min(8, len(routes) or 1)) as pool:
        list(pool.map(lambda route: drive(day, route), routes))


def drive(day: Day, route: dict) -> None:
    for stop in sorted(route["stops"], key=lambda s: s["sequence"]):
        for number in sorted(stop["shipments"]):
            deliver(day, stop, number)


def deliver(day: Day, stop: dict, number: str) -> None:
    shipment = day.shipments[number]
    order_number = shipment["order_number"]
    order = day.orders[order_number]
    rng = day.rng("delivery", order_number)
    draw = rng.random()
    if draw < 0.15:
        delay = dt.timedelta(minutes=rng.randint(20, 90))  # traffic
    else:
        delay = dt.timedelta(minutes=rng.randint(-12, 12))
    arrived = eta(stop) + delay
    delivered = arrived + dt.timedelta(seconds=stop["service_seconds"])
    body: dict = {
        "arrived_at": arrived.isoformat(),
        "delivered_at": delivered.isoformat(),
        "recipient_name": f"Receiver {stop['customer']}",
    }
    picked = day.picked.get(order_number, {})
    handed = dict(picked)  # product id -> units handed over
    outcome = rng.random()
    if outcome < 0.03:
        body["exception"] = "refused"
        handed = {pid: 0 for pid in picked}
        day.count("refused")
    elif outcome < 0.07 and sum(picked.values()) > 1:
        body["exception"] = "damaged"
        lines = day.dispatcher.expect(
            day.dispatcher.get(f"orders/{order['id']}/", operation="GET orders/{id}/"), 200
        )["lines"]
        damaged = rng.choice(sorted(pid for pid, qty in picked.items() if qty > 0))
        handed[damaged] -= 1
        body["lines"] = [
            {"order_line": line["id"], "quantity": handed.get(line["product"], 0)} for line in lines
        ]
        day.count("partial")
    answer = day.dispatcher.post(
        f"shipments/{shipment['id']}/deliver/",
        body,
        operation="POST shipments/{id}/deliver/",
        key=new_key(),
    )
    day.dispatcher.expect(answer, 201, what="deliver")
    with day.tally.lock:
        day.handed[order_number] = handed
        day.counted.units_delivered += sum(handed.values())
    start, end = order["window"]
    on_time = start - TOLERANCE <= delivered <= end + TOLERANCE
    in_full = all(handed.get(pid, 0) >= qty for pid, qty in order["ordered"].items())
    day.count("deliveries")
    day.count("on_time", int(on_time))
    day.count("late", int(delivered > end + TOLERANCE))
    day.count("in_full", int(in_full))
    day.count("on_time_in_full", int(on_time and in_full))
