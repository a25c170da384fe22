"""Morning: inbound trucks. ASNs announced, dock appointments scheduled by the service's own
rule, arrivals spread around their slots (some late), receipts scanned at the doors with
GS1-128 labels (retries with the same idempotency key, unknown and malformed barcodes, over,
short and damaged units), inspections of the sampled lots, and putaway."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from bench.simulate import gs1
from bench.simulate.client import new_key
from bench.simulate.day import Day, wait_for_background

TRUCKS = 40
LATE_AFTER = dt.timedelta(minutes=15)


def run(day: Day) -> None:
    trucks = [announce(day, number) for number in range(1, day.scaled(TRUCKS, minimum=3) + 1)]
    schedule(day, trucks)
    by_door: dict[int, list[dict]] = defaultdict(list)
    for truck in trucks:
        by_door[truck["door"]].append(truck)
    # One dock team per door, working its trucks in slot order; the doors work side by side.
    with ThreadPoolExecutor(max_workers=len(by_door)) as pool:
        results = list(pool.map(lambda door: receive_door(day, by_door[door]), sorted(by_door)))
    for door_figures in results:
        merge(day, door_figures)
    # The forklift drivers then take the putaway tasks in a fixed order: where stock lands
    # (and so what is allocated from where) never depends on how the doors' threads ran. One
    # driver per storage class (ambient, chilled, frozen), side by side: a class's goods only
    # go into that class's bins, so one driver never fills a bin another is heading for.
    tasks = day.dock.list_all("putaway-tasks/", status="open")
    trucks_by_receipt = {truck["receipt"]: truck["number"] for truck in trucks}
    by_class: dict[str, list[dict]] = defaultdict(list)
    for task in sorted(
        tasks,
        key=lambda t: (
            trucks_by_receipt.get(t["receipt"], 0),
            t["sku"],
            t["lot_code"] or "",
            t["quantity"],
        ),
    ):
        by_class[day.products[task["sku"]].storage_class].append(task)

    def drive(storage_class: str) -> dict:
        figures = new_figures()
        for task in by_class[storage_class]:
            put_away(day, task, figures)
        return figures

    with ThreadPoolExecutor(max_workers=max(1, len(by_class))) as pool:
        for figures in pool.map(drive, sorted(by_class)):
            merge(day, figures)
    # Putaway made stock available: the backorders waiting for it are re-allocated by the
    # worker. Wait for that before the next orders compete for the same stock.
    wait_for_background(day, what="backorders after putaway")


# --- ASNs and appointments ----------------------------------------------------------------------


def announce(day: Day, number: int) -> dict:
    rng = day.rng("truck", number)
    skus = sorted(day.products)
    # Trucks bring mostly what runs low: products out of stock are on several ASNs.
    scarce = sorted(skus, key=lambda sku: (day.stock_by_sku.get(sku, 0), sku))[: len(skus) // 5]
    count = rng.randint(1, 30)
    chosen = rng.sample(scarce, k=min(len(scarce), max(1, count // 3)))
    chosen += rng.sample([s for s in skus if s not in chosen], k=count - len(chosen))
    pallets = rng.random() < 0.25
    lines = []
    for index, sku in enumerate(chosen):
        product = day.products[sku]
        quantity = rng.randint(2, 12) * product.case_quantity
        line = {"sku": sku, "quantity": quantity}
        if product.is_lot_tracked:
            line["lot_code"] = f"S{day.date:%y%j}{number:02d}{index:02d}"
        if product.is_expiry_tracked:
            line["expiry_date"] = str(day.date + dt.timedelta(days=rng.randint(30, 400)))
        if pallets and index < 3:
            line["sscc"] = gs1.sscc(day.date.toordinal() % 1000 * 10_000 + number * 100 + index)
        lines.append(line)
    arrival = day.local(day.date, 6) + dt.timedelta(minutes=rng.randint(0, 7 * 60))
    body = {
        "warehouse": day.warehouse_code,
        "supplier": rng.choice(day.suppliers),
        "reference": f"SIM-{day.date:%Y%m%d}-{number:03d}",
        "po_reference": f"PO-{number:05d}",
        "carrier": rng.choice(["DHL Freight", "DB Schenker", "PostNL Cargo", "Raben"]),
        "expected_arrival": arrival.isoformat(),
        "lines": lines,
    }
    created = day.manager.expect(
        day.manager.post("inbound-shipments/", body, operation="POST inbound-shipments/"),
        201,
        what="ASN",
    )
    day.counted.trucks += 1
    day.counted.asn_lines += len(lines)
    day.counted.units_expected += sum(line["quantity"] for line in lines)
    return {"number": number, "id": created["id"], "body": body}


def schedule(day: Day, trucks: list[dict]) -> None:
    """The manager asks the service to schedule the day (its greedy rule), then reads the
    appointments it booked; an ASN left without a slot is booked by hand on the next free one."""
    day.manager.expect(
        day.manager.post(
            "dock-appointments/schedule/",
            {"warehouse": day.warehouse_code, "date": str(day.date)},
            operation="POST dock-appointments/schedule/",
        ),
        202,
        what="schedule",
    )
    wait_for_background(day, what="dock scheduling")
    booked = {
        row["shipment"]: row for row in day.manager.list_all("dock-appointments/", status="booked")
    }
    doors = sorted({row["door"] for row in booked.values()})
    day.doors = doors
    for truck in trucks:
        slot = booked.get(truck["id"])
        if slot is None:
            slot = book_by_hand(day, truck, doors)
        truck["door"] = slot["door"]
        truck["slot"] = dt.datetime.fromisoformat(slot["starts_at"])


def book_by_hand(day: Day, truck: dict, doors: list[int]) -> dict:
    starts = dt.datetime.fromisoformat(truck["body"]["expected_arrival"])
    for _ in range(20):
        answer = day.dock.post(
            "dock-appointments/",
            {
                "shipment": truck["id"],
                "door": doors[truck["number"] % len(doors)],
                "starts_at": starts.isoformat(),
            },
            operation="POST dock-appointments/",
        )
        if answer.status == 201:
            return answer.body
        next_free = isinstance(answer.body, dict) and answer.body.get("next_free_slot")
        if answer.status != 409 or not next_free:
            break
        starts = dt.datetime.fromisoformat(next_free)
    raise RuntimeError(f"no dock slot for truck {truck['number']}: {answer.status} {answer.body}")


# --- at the door --------------------------------------------------------------------------------


def new_figures() -> dict:
    figures: dict = defaultdict(int)
    figures["refused"] = defaultdict(int)
    figures["discrepancies"] = defaultdict(int)
    figures["dock_to_stock"] = []
    figures["errors"] = []
    return figures


def receive_door(day: Day, trucks: list[dict]) -> dict:
    figures = new_figures()
    for truck in sorted(trucks, key=lambda t: (t["slot"], t["number"])):
        receive_truck(day, truck, figures)
    return figures


def arrival_time(day: Day, truck: dict) -> tuple[dt.datetime, bool]:
    rng = day.rng("arrival", truck["number"])
    draw = rng.random()
    if draw < 0.2:
        delay = dt.timedelta(minutes=rng.randint(30, 120))  # traffic, a late loading
    elif draw < 0.3:
        delay = -dt.timedelta(minutes=rng.randint(10, 40))
    else:
        delay = dt.timedelta(minutes=rng.randint(-10, 14))
    arrived = truck["slot"] + delay
    # A check-in is recorded when it happens: never in the future of the service's clock.
    now = dt.datetime.now(day.tz) - dt.timedelta(seconds=1)
    return min(arrived, now), delay > LATE_AFTER


def receive_truck(day: Day, truck: dict, figures: dict) -> None:
    dock = day.dock
    arrived, late = arrival_time(day, truck)
    figures["late"] += late
    dock.expect(
        dock.post(
            f"inbound-shipments/{truck['id']}/check-in/",
            {"arrived_at": arrived.isoformat()},
            operation="POST inbound-shipments/{id}/check-in/",
        ),
        200,
        what="check-in",
    )
    receipt = dock.expect(
        dock.post(
            "receipts/",
            {"shipment": truck["id"], "door": truck["door"]},
            operation="POST receipts/",
        ),
        201,
        what="open receipt",
    )
    truck["receipt"] = receipt["id"]
    rng = day.rng("scans", truck["number"])
    for line in truck["body"]["lines"]:
        scan_line(day, receipt["id"], line, rng, figures)
    if rng.random() < 0.3:
        bad_scan(day, receipt["id"], rng, figures)
    close_receipt(day, receipt["id"], figures)
    for inspection in day.inspector.list_all("inspections/", receipt=receipt["id"]):
        inspect(day, inspection, figures)


def scan(day: Day, receipt_id: int, body: dict, rng, figures: dict) -> dict | None:
    """One scan; now and then the handheld loses the answer and sends it again with the same
    key: the replay must be the first answer, and count once."""
    key = new_key()
    path = f"receipts/{receipt_id}/scans/"
    answer = day.dock.post(path, body, operation="POST receipts/{id}/scans/", key=key)
    if rng.random() < 0.06:
        replay = day.dock.post(path, body, operation="POST receipts/{id}/scans/ (replay)", key=key)
        figures["replays"] += 1
        figures["replays_matching"] += replay.status == answer.status and replay.body == answer.body
    if answer.status == 201:
        figures["scans"] += 1
        figures["units"] += sum(item["quantity"] for item in answer.body["items"])
        return answer.body
    figures["refused"][answer.problem_code() or str(answer.status)] += 1
    return None


def scan_line(day: Day, receipt_id: int, line: dict, rng, figures: dict) -> None:
    product = day.products[line["sku"]]
    expected = line["quantity"]
    if line.get("sscc"):
        scan(day, receipt_id, {"barcode": gs1.pallet_label(line["sscc"])}, rng, figures)
        return
    draw = rng.random()
    if draw < 0.06:
        quantity = expected - rng.randint(1, max(1, expected // 3))  # short
    elif draw < 0.11:
        quantity = expected + rng.randint(1, 3)  # over (small: within the tolerance mostly)
    elif draw < 0.13:
        quantity = expected + max(4, expected // 5)  # over beyond the tolerance: override
    else:
        quantity = expected
    damaged = rng.randint(1, min(3, quantity)) if rng.random() < 0.06 and quantity > 1 else 0
    expiry = dt.date.fromisoformat(line["expiry_date"]) if line.get("expiry_date") else None
    label = (
        gs1.item_label(product.gtin, lot=line["lot_code"], expiry=expiry)
        if product.is_lot_tracked
        else rng.choice([product.gtin, gs1.item_label(product.gtin)])
    )
    good = quantity - damaged
    # Two scans for a big line (the counter sends part of it, then the rest).
    parts = [good] if good < 24 or rng.random() < 0.5 else [good // 2, good - good // 2]
    for part in parts:
        if part > 0:
            scan(day, receipt_id, {"barcode": label, "quantity": part}, rng, figures)
    if damaged:
        body = {"barcode": label, "quantity": damaged, "damaged": True}
        scan(day, receipt_id, body, rng, figures)


def bad_scan(day: Day, receipt_id: int, rng, figures: dict) -> None:
    product = day.products[rng.choice(sorted(day.products))]
    barcode = rng.choice(
        [
            gs1.bad_check_digit(product.gtin),
            gs1.unknown_gtin(rng.randint(1, 999_999)),
            gs1.malformed(),
        ]
    )
    if scan(day, receipt_id, {"barcode": barcode}, rng, figures) is not None:
        figures["errors"].append(f"bad barcode {barcode!r} was accepted")


def close_receipt(day: Day, receipt_id: int, figures: dict) -> None:
    path = f"receipts/{receipt_id}/close/"
    answer = day.dock.post(path, {}, operation="POST receipts/{id}/close/", key=new_key())
    if answer.status == 409 and answer.problem_code() == "over-receipt-needs-override":
        figures["overrides"] += 1
        answer = day.manager.post(
            path,
            {"override": True},
            operation="POST receipts/{id}/close/ (override)",
            key=new_key(),
        )
    report = day.dock.expect(answer, 200, what="close receipt")
    figures["closed"] += 1
    for row in report["discrepancies"]:
        figures["discrepancies"][row["kind"]] += 1


def inspect(day: Day, inspection: dict, figures: dict) -> None:
    rng = day.rng("inspection", inspection["sku"], inspection["lot_code"] or "")
    if rng.random() < 0.85:
        body = {"result": "pass", "defects_found": 0}
        figures["passed"] += 1
    else:
        body = {"result": "fail", "reason": "Crushed cartons", "disposition": "damaged"}
        body["defects_found"] = rng.randint(1, max(1, inspection["sample_size"]))
        figures["failed"] += 1
    day.inspector.expect(
        day.inspector.post(
            f"inspections/{inspection['id']}/record/",
            body,
            operation="POST inspections/{id}/record/",
            key=new_key(),
        ),
        200,
        what="inspection",
    )


def put_away(day: Day, task: dict, figures: dict) -> None:
    """Take the task to its proposed bin; when that bin filled up since the proposal (other
    doors put away too) or none was proposed, the driver asks the service to propose again
    (`/propose/`), as a handheld does, and goes there."""
    product = day.products[task["sku"]]
    bin_code = task["proposed_bin"]
    for attempt in range(10):
        if bin_code is None:
            task = day.dock.expect(
                day.dock.post(
                    f"putaway-tasks/{task['id']}/propose/",
                    {},
                    operation="POST putaway-tasks/{id}/propose/",
                ),
                200,
                what="putaway proposal",
            )
            bin_code = task["proposed_bin"]
            if bin_code is None:
                break
        answer = day.dock.post(
            f"putaway-tasks/{task['id']}/confirm/",
            {"bin": bin_code},
            operation="POST putaway-tasks/{id}/confirm/",
            key=new_key(),
        )
        if answer.status == 409 and answer.problem_code() == "capacity-exceeded":
            bin_code = None
            continue
        done = day.dock.expect(answer, 200, what="putaway")
        day.move_in_bin(bin_code, task["sku"], task["lot_code"], task["quantity"])
        figures["putaways"] += 1
        figures["other_bin"] += attempt > 0 or not task["proposed_bin"]
        day.note_work_day()
        if done["dock_to_stock_seconds"] is not None:
            figures["dock_to_stock"].append(done["dock_to_stock_seconds"])
        return
    figures["errors"].append(
        f"putaway task of {task['sku']} ({product.storage_class}): no bin with room"
    )


def merge(day: Day, figures: dict) -> None:
    counted = day.counted
    counted.trucks_late += figures["late"]
    counted.scans_accepted += figures["scans"]
    counted.units_received += figures["units"]
    counted.replays_sent += figures["replays"]
    counted.replays_matching += figures["replays_matching"]
    counted.receipts_closed += figures["closed"]
    counted.overrides += figures["overrides"]
    counted.inspections_passed += figures["passed"]
    counted.inspections_failed += figures["failed"]
    counted.putaways += figures["putaways"]
    counted.putaways_elsewhere += figures["other_bin"]
    counted.dock_to_stock_seconds.extend(figures["dock_to_stock"])
    counted.scans_refused.update(figures["refused"])
    counted.discrepancies.update(figures["discrepancies"])
    counted.errors.extend(figures["errors"])
