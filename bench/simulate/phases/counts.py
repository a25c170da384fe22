"""The day's cycle counts: the counts the short picks raised (the bin and the product), and a
manager's requests for a few whole bins, counted blind through the count API (scan the bin,
scan each item with how many, submit) by inventory control's crew under the inspector's login,
bins side by side.

The counter finds what the simulator believes is in the bin: the opening balances plus its own
putaways, minus its own picks (`Day.bin_stock`). So every count must come out without a
variance, except one the inspector deliberately gets wrong (a case overlooked behind the
others): the service sends that bin for a recount by another counter (the manager, who holds
every role), whose correct figure closes it, and the manager's review shows both counts.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bench.simulate import gs1
from bench.simulate.client import Client, new_key
from bench.simulate.day import Day

MANAGER_BINS = 20  # whole bins the manager asks to count, at scale 1
MISCOUNT = 4  # units overlooked: over the service's threshold of 2, so a recount follows
COUNTERS = 4


def run(day: Day) -> None:
    manager, inspector = day.manager, day.inspector
    open_tasks = manager.list_all("count-tasks/", warehouse=day.warehouse_code, status="open")
    busy = {task["location"] for task in open_tasks}
    request_bins(day, busy)
    # The day's counts; the counting rule's (beat, hourly) are left for their own day's round.
    tasks = sorted(
        (
            task
            for task in manager.list_all(
                "count-tasks/", warehouse=day.warehouse_code, status="open"
            )
            if task["reason"] in ("short_pick", "manager")
        ),
        key=lambda task: (task["location"], task["product"] or "", task["reason"]),
    )
    day.counted.count_tasks += len(tasks)
    day.note_work_day()
    candidates = [t for t in tasks if t["reason"] == "manager" and big_enough(day, t)]
    miscounted = day.rng("miscount").choice(candidates)["id"] if candidates else None
    # Inventory control counts with a crew under the inspector's login (as the dock's teams
    # share the dock login), bins side by side: nothing moves stock meanwhile, so the order
    # the bins are counted in changes nothing.
    with ThreadPoolExecutor(max_workers=COUNTERS) as pool:
        outcomes = list(
            pool.map(
                lambda task: count(day, inspector, task, miscount=task["id"] == miscounted),
                tasks,
            )
        )
    for task, outcome in zip(tasks, outcomes, strict=True):
        if task["id"] == miscounted:
            if outcome["stage"] != "to_recount":
                day.error(f"count of {task['location']} off by {MISCOUNT}: {outcome}")
                continue
            day.counted.recounts += 1
            outcome = count(day, manager, task)
            review(day, task)
        settle(day, task, outcome)
    # What the counts posted to the ledger: nothing, when the simulator's book was right.
    moves = manager.list_all("stock/moves/", reason="count", operation="GET stock/moves/")
    day.counted.counts_adjusted = len({move["reference"] for move in moves})
    day.note_work_day()


def request_bins(day: Day, busy: set[str]) -> None:
    """The manager asks for counts of a few whole bins that hold stock (by the simulator's
    book), chosen by the seed among those without an open count."""
    stocked = sorted({b for (b, _, _), units in day.bin_stock.items() if units > 0} - busy)
    if not stocked:
        return
    rng = day.rng("count requests")
    for bin_code in sorted(rng.sample(stocked, k=min(len(stocked), day.scaled(MANAGER_BINS, 3)))):
        day.manager.expect(
            day.manager.post(
                "count-tasks/",
                {"warehouse": day.warehouse_code, "location": bin_code, "note": "Spot check"},
                operation="POST count-tasks/",
            ),
            201,
            what="request count",
        )


def believed(day: Day, task: dict) -> dict[tuple[str, str], int]:
    """(SKU, lot) -> units the simulator believes the task's bin (or product in it) holds."""
    found = {}
    for (bin_code, sku, lot), units in sorted(day.bin_stock.items()):
        if bin_code != task["location"] or (task["product"] and sku != task["product"]):
            continue
        if units < 0:
            day.error(f"the simulator's book says {units} of {sku} in {bin_code}")
        if units > 0:
            found[(sku, lot)] = units
    return found


def big_enough(day: Day, task: dict) -> bool:
    return any(units > MISCOUNT for units in believed(day, task).values())


def count(day: Day, counter: Client, task: dict, *, miscount: bool = False) -> dict:
    """Count the task's bin blind: scan the bin, each item with how many, submit."""
    path = f"count-tasks/{task['id']}/"
    counter.expect(
        counter.post(
            path + "start/", {"bin": task["location"]}, operation="POST count-tasks/{id}/start/"
        ),
        200,
        what="start count",
    )
    items = believed(day, task)
    overlooked = max(items, key=lambda item: (items[item], item)) if miscount else None
    for (sku, lot), units in items.items():
        if (sku, lot) == overlooked:
            units -= MISCOUNT
        product = day.products[sku]
        counter.expect(
            counter.post(
                path + "scan/",
                {"scan": gs1.pick_item(product.gtin, lot), "quantity": units},
                operation="POST count-tasks/{id}/scan/",
                key=new_key(),
            ),
            200,
            what="count scan",
        )
    outcome = counter.expect(
        counter.post(path + "submit/", operation="POST count-tasks/{id}/submit/", key=new_key()),
        200,
        what="submit count",
    )
    day.count("counts_submitted")
    day.count("counts_over_threshold", int(outcome["stage"] in ("to_recount", "review")))
    return outcome


def settle(day: Day, task: dict, outcome: dict) -> None:
    if outcome["status"] != "done":
        day.error(f"count of {task['location']} {task['product'] or ''} is {outcome['stage']}")
        return
    day.counted.counts_done += 1
    day.counted.counts_accurate += 1  # the simulator counted what it believes is there


def review(day: Day, task: dict) -> None:
    """The manager reads the bin's counts: the first off by the miscount, the recount exact."""
    body = day.manager.expect(
        day.manager.get(
            f"count-tasks/{task['id']}/review/", operation="GET count-tasks/{id}/review/"
        ),
        200,
    )
    variances = [sum(line["variance"] or 0 for line in a["lines"]) for a in body["attempts"]]
    if variances != [-MISCOUNT, 0] or not body["is_accurate"]:
        day.error(f"review of {task['location']}: variances {variances}, {body['is_accurate']}")
