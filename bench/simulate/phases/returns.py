"""After the deliveries: a few customers send goods back. Customer service requests an RMA for
part of a delivered order, a manager authorises it, the dock receives the parcel on a return
receipt (GS1 scans with idempotency keys, a damaged unit now and then, a lost answer sent
again) and closes it, the inspector decides what becomes of each unit (restock, quarantine,
scrap), and the dock puts the restocked units away.

The RMAs are received side by side (each its own parcel and door); the dispositions and the
restock putaways, which choose bins and so compete for room, are done one at a time in a fixed
order so that a seed always puts the same units in the same bins.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from bench.simulate import gs1
from bench.simulate.client import new_key
from bench.simulate.day import Day
from bench.simulate.phases.inbound import new_figures, put_away

SHARE = 0.015  # of the delivered orders, some of their units come back
REASONS = ("damaged", "not_wanted", "wrong_item", "expired", "other")
DOCK_TEAMS = 4


def run(day: Day) -> None:
    delivered = sorted(n for n, handed in day.handed.items() if sum(handed.values()) > 0)
    if not delivered:
        return
    rng = day.rng("returns")
    chosen = sorted(
        rng.sample(delivered, k=min(len(delivered), max(1, round(len(delivered) * SHARE))))
    )
    day.note_work_day()
    with ThreadPoolExecutor(max_workers=min(DOCK_TEAMS, len(chosen))) as pool:
        received = [rma for rma in pool.map(lambda n: receive(day, n), chosen) if rma]
    restocks: list[int] = []
    for rma in received:
        restocks.extend(decide(day, rma))
    figures = new_figures()
    for task_id in restocks:
        task = day.dock.expect(
            day.dock.get(f"putaway-tasks/{task_id}/", operation="GET putaway-tasks/{id}/"), 200
        )
        put_away(day, task, figures)
    day.counted.restock_putaways += figures["putaways"]
    day.counted.errors.extend(figures["errors"])
    for rma in received:
        detail = day.manager.expect(
            day.manager.get(f"returns/{rma['id']}/", operation="GET returns/{id}/"), 200
        )
        if detail["status"] != "closed":
            day.error(f"{detail['number']} is {detail['status']} after its dispositions")
    day.note_work_day()


def receive(day: Day, order_number: str) -> dict | None:
    """Request, authorise, receive and close one return; returns the RMA with what was
    scanned per line and lot: {"id", "number", "scanned": {line number: Counter(lot)}}."""
    rng = day.rng("return", order_number)
    order = day.orders[order_number]
    handed = day.handed[order_number]
    by_id = {p.id: p for p in day.products.values()}
    products = sorted(pid for pid, units in handed.items() if units > 0)
    returned = rng.sample(products, k=rng.randint(1, min(2, len(products))))
    reason = rng.choice(REASONS)
    lines = [
        {"sku": by_id[pid].sku, "quantity": rng.randint(1, min(3, handed[pid]))}
        for pid in sorted(returned)
    ]
    rma = day.dispatcher.expect(
        day.dispatcher.post(
            "returns/",
            {
                "order": order["id"],
                "reason": reason,
                "customer_reference": f"Ticket {rng.randint(1000, 9999)}",
                "lines": lines,
            },
            operation="POST returns/",
            key=new_key(),
        ),
        201,
        what="request return",
    )
    day.manager.expect(
        day.manager.post(
            f"returns/{rma['id']}/authorise/", operation="POST returns/{id}/authorise/"
        ),
        200,
        what="authorise return",
    )
    dock = day.dock
    receipt = dock.expect(
        dock.post(
            "return-receipts/",
            {"rma": rma["id"], "door": day.doors[rng.randrange(len(day.doors))]},
            operation="POST return-receipts/",
        ),
        201,
        what="open return receipt",
    )
    scanned: dict[int, Counter] = {}
    damaged: dict[int, Counter] = {}
    for line in rma["lines"]:
        product = day.products[line["sku"]]
        # The units come back from the lots that left on the order, first lot first.
        lots = day.picked_lots[order_number][product.id]
        left = line["quantity"]
        for lot in sorted(code for code, units in lots.items() if units > 0):
            units = min(left, lots[lot])
            left -= units
            broken = (
                1 if reason == "damaged" and units and not damaged.get(line["line_number"]) else 0
            )
            for quantity, is_damaged in ((units - broken, False), (broken, True)):
                if quantity <= 0:
                    continue
                body = {"barcode": return_label(product, lot, rng), "quantity": quantity}
                if is_damaged:
                    body["damaged"] = True
                answer = scan(day, receipt["id"], body, rng)
                if answer is None:
                    continue
                if answer["line"]["line_number"] != line["line_number"]:
                    day.error(f"{rma['number']}: a scan of {line['sku']} went to another line")
                target = damaged if is_damaged else scanned
                target.setdefault(line["line_number"], Counter())[lot] += answer["quantity"]
            if not left:
                break
    report = dock.expect(
        dock.post(
            f"return-receipts/{receipt['id']}/close/",
            operation="POST return-receipts/{id}/close/",
            key=new_key(),
        ),
        200,
        what="close return receipt",
    )
    if report["rma_status"] != "received":
        day.error(f"{rma['number']} is {report['rma_status']} after its receipt closed")
        return None
    with day.tally.lock:
        counted = day.counted
        counted.rmas += 1
        counted.rma_lines += len(rma["lines"])
        counted.units_returned += sum(
            sum(c.values()) for c in (*scanned.values(), *damaged.values())
        )
        counted.returned_damaged += sum(sum(c.values()) for c in damaged.values())
    return {
        "id": rma["id"],
        "number": rma["number"],
        "reason": reason,
        "good": scanned,
        "damaged": damaged,
        "lot_tracked": {
            line["line_number"]: day.products[line["sku"]].is_lot_tracked for line in rma["lines"]
        },
    }


def return_label(product, lot: str, rng) -> str:
    """What the dock scans on a returned item: the GS1 label with the lot for lot-tracked
    products (required), else the GTIN, printed plain or as a GS1 label."""
    if product.is_lot_tracked:
        return gs1.item_label(product.gtin, lot=lot)
    return rng.choice([product.gtin, gs1.item_label(product.gtin)])


def scan(day: Day, receipt_id: int, body: dict, rng) -> dict | None:
    """One return scan; now and then the answer is lost and the scan sent again with the same
    key: the replay must be the first answer, and count once."""
    key = new_key()
    path = f"return-receipts/{receipt_id}/scans/"
    answer = day.dock.post(path, body, operation="POST return-receipts/{id}/scans/", key=key)
    if rng.random() < 0.2:
        replay = day.dock.post(
            path, body, operation="POST return-receipts/{id}/scans/ (replay)", key=key
        )
        day.count("replays_sent")
        day.count(
            "replays_matching", int(replay.status == answer.status and replay.body == answer.body)
        )
    if answer.status != 201:
        day.error(f"return scan {body['barcode']!r}: {answer.status} {str(answer.body)[:200]}")
        return None
    return answer.body


def decide(day: Day, rma: dict) -> list[int]:
    """The inspector's dispositions of one received RMA; returns its restock putaway tasks."""
    rng = day.rng("dispositions", rma["number"])
    decisions: list[tuple[int, str, str, int]] = []  # (line, lot, kind, units)
    for line_number in sorted(set(rma["good"]) | set(rma["damaged"])):
        for lot, units in sorted(rma["damaged"].get(line_number, Counter()).items()):
            decisions.append((line_number, lot, "scrap", units))
        for lot, units in sorted(rma["good"].get(line_number, Counter()).items()):
            draw = rng.random()
            if draw < 0.15:
                decisions.append((line_number, lot, "quarantine", units))
            elif draw < 0.25:
                decisions.append((line_number, lot, "scrap", units))
            elif draw < 0.4 and units > 1:
                decisions.append((line_number, lot, "restock", units - 1))
                decisions.append((line_number, lot, "quarantine", 1))
            else:
                decisions.append((line_number, lot, "restock", units))
    tasks = []
    for line_number, lot, kind, units in decisions:
        body = {"line": line_number, "disposition": kind, "quantity": units}
        if rma["lot_tracked"][line_number]:
            body["lot"] = lot
        if kind == "scrap":
            body["reason"] = (
                "Damaged in transit" if rma["reason"] == "damaged" else "Not resaleable"
            )
        if kind == "quarantine":
            body["reason"] = "Opened packaging: check before resale"
        done = day.inspector.expect(
            day.inspector.post(
                f"returns/{rma['id']}/dispositions/",
                body,
                operation="POST returns/{id}/dispositions/",
                key=new_key(),
            ),
            201,
            what="disposition",
        )
        day.counted.dispositions[kind] += units
        if kind == "restock":
            if done["putaway_task"] is None:
                day.error(f"{rma['number']}: a restock without a putaway task")
            else:
                tasks.append(done["putaway_task"])
    return tasks
