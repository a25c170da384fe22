"""All day: the later bursts of orders, a wave at each of three cut-offs, pickers working
their lists side by side (skips, a wrong bin now and then, replays of a confirmation whose
answer was lost), short picks, and packing.

Short picks re-allocate from other bins, which is a race between pickers for free stock; so
that a seed always gives the same figures, the pickers confirm side by side and report their
short picks afterwards, one at a time in a fixed order, then pick what was re-allocated.
The next cut-off's orders are allocated while the pickers confirm (a confirmation takes units
already allocated: the free units the allocation sees do not depend on the timing), and the
packing stations pack a wave while the next is picked.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from bench.simulate import gs1
from bench.simulate.client import Client, new_key
from bench.simulate.day import Day, wait_for_background
from bench.simulate.phases import orders

CUTOFFS = ((11, 0), (14, 0), (17, 0))
PACKING_STATIONS = 4
ASSIGNERS = 4
SHORT_REASONS = ("empty_bin", "not_enough", "damaged", "cannot_find")


def run_first_burst(day: Day) -> None:
    """Before the trucks come: the night's orders (some wait for the morning's stock)."""
    sizes = orders.burst_sizes(day)
    orders.place_burst(day, 0, sizes[0], 1)


def run(day: Day) -> None:
    sizes = orders.burst_sizes(day)
    firsts = [sum(sizes[:burst]) + 1 for burst in range(len(sizes))]

    def burst(number: int) -> Callable[[], object]:
        return lambda: orders.place_burst(day, number, sizes[number], firsts[number])

    burst(1)()
    # The orders for the next cut-off come in while the pickers confirm this wave, and the
    # packing stations pack a wave while the next is picked. Neither races for free stock: a
    # confirmation takes units already allocated (the free units stay as they were) and
    # packing moves none; the short picks, which do re-allocate, wait for both.
    with ThreadPoolExecutor(max_workers=1) as packing_bench:
        packing = []
        for wave_index, (hour, minute) in enumerate(CUTOFFS):
            following = wave_index + 2
            incoming = burst(following) if following < len(sizes) else None
            wave = plan_and_release(day, day.local(day.date, hour, minute))
            if wave is None:
                if incoming:
                    incoming()
                continue
            pick_wave(day, wave, meanwhile=incoming)
            packing.append(packing_bench.submit(pack_wave, day, wave))
        for done in packing:
            done.result()
    wait_for_background(day, what="after packing")


def plan_and_release(day: Day, cutoff: dt.datetime) -> dict | None:
    answer = day.dispatcher.post(
        "waves/",
        {
            "warehouse": day.warehouse_id,
            "dispatch_date": str(day.date),
            "cutoff_at": cutoff.isoformat(),
        },
        operation="POST waves/",
    )
    if answer.status == 409:
        return None  # nothing allocated to wave
    wave = day.dispatcher.expect(answer, 201, what="plan wave")
    released = day.dispatcher.post(
        f"waves/{wave['id']}/release/", operation="POST waves/{id}/release/"
    )
    if released.status == 409:
        # Beat releases waves whose cut-off has passed: it may have been first.
        released = day.dispatcher.get(f"waves/{wave['id']}/", operation="GET waves/{id}/")
        if released.body.get("status") != "released":
            day.error(f"wave {wave['number']} could not be released: {released.body}")
            return None
    day.counted.waves += 1
    return day.dispatcher.expect(released, 200, what="release wave")


# --- picking ------------------------------------------------------------------------------------


def pick_wave(day: Day, wave: dict, *, meanwhile: Callable[[], object] | None = None) -> None:
    lists = sorted(
        day.manager.list_all("pick-lists/", wave=wave["id"]), key=lambda row: row["number"]
    )
    day.counted.pick_lists += len(lists)
    shares: dict[int, list[dict]] = defaultdict(list)
    for index, pick_list in enumerate(lists):
        shares[index % len(day.pickers)].append(pick_list)
    owner = {
        pick_list["id"]: day.pickers[index]
        for index, share in shares.items()
        for pick_list in share
    }

    def assign(pick_list: dict) -> None:
        day.manager.expect(
            day.manager.post(
                f"pick-lists/{pick_list['id']}/assign/",
                {"picker": owner[pick_list["id"]].user_id},
                operation="POST pick-lists/{id}/assign/",
            ),
            200,
            what="assign pick list",
        )

    # The shift lead hands out the lists from the board, several at a time.
    with ThreadPoolExecutor(max_workers=ASSIGNERS) as pool:
        list(pool.map(assign, lists))
    day.note_work_day()
    with ThreadPoolExecutor(max_workers=len(day.pickers) + 1) as pool:
        alongside = pool.submit(meanwhile) if meanwhile else None
        deferred = list(
            pool.map(lambda i: work_lists(day, day.pickers[i], shares[i]), sorted(shares))
        )
        if alongside:
            alongside.result()
    # Short picks, one at a time in a fixed order (see the module's docstring).
    shorts = sorted((item for items in deferred for item in items), key=lambda x: short_key(x[0]))
    for task, picker in shorts:
        report_short(day, picker, task)
    # What the short picks re-allocated from other bins went to the end of the same lists:
    # their pickers pick it now, side by side (it was allocated, so nothing races for it).
    again: dict[Client, list[int]] = defaultdict(list)
    for list_id in sorted({task["pick_list"] for task, _ in shorts}):
        again[owner[list_id]].append(list_id)

    def pick_again(picker: Client) -> None:
        for list_id in again[picker]:
            work_list(day, picker, list_id, allow_short=False)

    with ThreadPoolExecutor(max_workers=max(1, len(again))) as pool:
        list(pool.map(pick_again, list(again)))
    day.note_work_day()


def short_key(task: dict) -> tuple:
    return (task["order_number"], task["sku"], task["lot_code"] or "", task["bin"])


def decision_key(task: dict) -> tuple:
    """What decides a picker's move on a task: the order line, not which bin it is in."""
    return (task["order_number"], task["sku"], task["lot_code"] or "")


def work_lists(day: Day, picker: Client, lists: list[dict]) -> list[tuple[dict, Client]]:
    deferred = []
    for pick_list in lists:
        picker.expect(
            picker.post(
                f"pick-lists/{pick_list['id']}/start/", operation="POST pick-lists/{id}/start/"
            ),
            200,
            what="start pick list",
        )
        deferred.extend(
            (task, picker) for task in work_list(day, picker, pick_list["id"], allow_short=True)
        )
    return deferred


def work_list(day: Day, picker: Client, list_id: int, *, allow_short: bool) -> list[dict]:
    """Walk the list's open tasks in order; returns the tasks to report short later. The list
    is read again only after a skip (the task moved to the end), as a handheld does."""
    shorts: set[int] = set()
    deferred: list[dict] = []
    skipped: set[int] = set()
    while True:
        current = picker.expect(
            picker.get(f"pick-lists/{list_id}/", operation="GET pick-lists/{id}/"), 200
        )
        waiting = [
            t
            for t in sorted(current["tasks"], key=lambda t: t["sequence"])
            if t["status"] == "open" and t["id"] not in shorts
        ]
        if not waiting:
            return deferred
        for position, task in enumerate(waiting):
            rng = day.rng("pick", *decision_key(task))
            draw = rng.random()
            if allow_short and draw < 0.03:
                shorts.add(task["id"])
                deferred.append(task)
                continue
            if draw < 0.07 and task["id"] not in skipped and position < len(waiting) - 1:
                skipped.add(task["id"])
                picker.expect(
                    picker.post(
                        f"pick-tasks/{task['id']}/skip/",
                        operation="POST pick-tasks/{id}/skip/",
                        key=new_key(),
                    ),
                    200,
                    what="skip",
                )
                day.count("skips")
                break  # the order of the list changed: read it again
            confirm(day, picker, task, rng)
        else:
            return deferred


def confirm(day: Day, picker: Client, task: dict, rng) -> None:
    product = day.products[task["sku"]]
    path = f"pick-tasks/{task['id']}/confirm/"
    item = gs1.pick_item(product.gtin, task["lot_code"] or "")
    wrong_bin = rng.random() < 0.03
    if wrong_bin:
        # The neighbouring bin: what a picker one bay off scans.
        body = {"bin": neighbour(day, task["bin"]), "item": item, "quantity": task["quantity"]}
        answer = picker.post(
            path, body, operation="POST pick-tasks/{id}/confirm/ (wrong bin)", key=new_key()
        )
        if answer.status != 422:
            day.error(f"wrong bin for task of {task['order_number']} answered {answer.status}")
        day.count("wrong_bin_scans")
    body = {"bin": task["bin"], "item": item, "quantity": task["quantity"]}
    key = new_key()
    answer = picker.post(path, body, operation="POST pick-tasks/{id}/confirm/", key=key)
    outcome = picker.expect(answer, 200, what="confirm pick")
    if rng.random() < 0.04:
        replay = picker.post(
            path, body, operation="POST pick-tasks/{id}/confirm/ (replay)", key=key
        )
        day.count("replays_sent")
        same = (
            replay.status == 200
            and replay.body.get("quantity_picked") == outcome["quantity_picked"]
        )
        day.count("replays_matching", int(same))
    picked = outcome["quantity_picked"]
    with day.tally.lock:
        counted = day.counted
        counted.tasks_closed += 1
        counted.units_picked += picked
        if picked == task["quantity"] and not wrong_bin:
            counted.tasks_picked_complete += 1
        lines = day.picked[task["order_number"]]
        lines[product.id] = lines.get(product.id, 0) + picked
        day.picked_lots[task["order_number"]][product.id][task["lot_code"] or ""] += picked
        day.bin_stock[(task["bin"], task["sku"], task["lot_code"] or "")] -= picked


def neighbour(day: Day, code: str) -> str:
    codes = sorted(c for codes in day.bins_by_class.values() for c in codes)
    return codes[(codes.index(code) + 1) % len(codes)] if code in codes else "X-99-99-9"


def report_short(day: Day, picker: Client, task: dict) -> None:
    rng = day.rng("short", *decision_key(task))
    reason = rng.choice(SHORT_REASONS)
    taken = 0 if reason in ("empty_bin", "cannot_find") else rng.randint(0, task["quantity"] - 1)
    body = {"short_reason": reason, "quantity_picked": taken}
    if taken:
        product = day.products[task["sku"]]
        body.update(
            {"bin": task["bin"], "item": gs1.pick_item(product.gtin, task["lot_code"] or "")}
        )
    outcome = picker.expect(
        picker.post(
            f"pick-tasks/{task['id']}/short/",
            body,
            operation="POST pick-tasks/{id}/short/",
            key=new_key(),
        ),
        200,
        what="short pick",
    )
    counted = day.counted
    counted.tasks_closed += 1
    counted.tasks_short += 1
    counted.units_picked += outcome["quantity_picked"]
    lines = day.picked[task["order_number"]]
    product_id = day.products[task["sku"]].id
    lines[product_id] = lines.get(product_id, 0) + outcome["quantity_picked"]
    lot = task["lot_code"] or ""
    day.picked_lots[task["order_number"]][product_id][lot] += outcome["quantity_picked"]
    day.move_in_bin(task["bin"], task["sku"], lot, -outcome["quantity_picked"])


# --- packing ------------------------------------------------------------------------------------


def pack_wave(day: Day, wave: dict) -> None:
    numbers = {
        row["number"]: row["id"] for row in day.dispatcher.list_all("orders/", wave=wave["id"])
    }
    shipments = [
        s
        for s in day.dispatcher.list_all("shipments/", warehouse=day.warehouse_id, status="planned")
        if s["order_number"] in numbers
    ]
    stations: dict[int, list[dict]] = defaultdict(list)
    for index, shipment in enumerate(sorted(shipments, key=lambda s: s["number"])):
        stations[index % PACKING_STATIONS].append(shipment)
    with ThreadPoolExecutor(max_workers=PACKING_STATIONS) as pool:
        list(pool.map(lambda n: pack_station(day, stations[n]), sorted(stations)))


def pack_station(day: Day, shipments: list[dict]) -> None:
    """One packing station packs its share of the wave's shipments."""
    for shipment in shipments:
        picked = day.picked.get(shipment["order_number"], {})
        units = sum(picked.values())
        if units == 0:
            continue  # nothing was found for this order: nothing to pack
        weight = sum(
            qty * next(p.weight_kg for p in day.products.values() if p.id == pid)
            for pid, qty in picked.items()
        )
        boxes = min(4, math.ceil(units / 12))
        packages = [
            {
                "package_type": "box",
                "weight_kg": f"{max(weight / boxes, 0.1):.3f}",
                "length_cm": "40",
                "width_cm": "30",
                "height_cm": "30",
            }
            for _ in range(boxes)
        ]
        answer = day.dispatcher.post(
            f"shipments/{shipment['id']}/pack/",
            {"packages": packages},
            operation="POST shipments/{id}/pack/",
        )
        if answer.status != 200:
            day.error(f"pack {shipment['number']}: {answer.status} {str(answer.body)[:200]}")
            continue
        day.count("shipments_packed")
        day.count("packages", len(answer.body["packages"]))
        day.shipments[answer.body["number"]] = answer.body
