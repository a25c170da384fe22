"""Customer orders: they come in bursts (bulk API, as a web shop's integration sends them),
each with a promised delivery window on the next day, and are allocated one by one in the
order they came (backorders where stock is short)."""

from __future__ import annotations

import datetime as dt

from bench.simulate.day import Day

ORDERS = 3000
# Share of the day's orders in each burst, before each wave's cut-off.
BURSTS = (0.35, 0.25, 0.22, 0.18)
BULK = 200  # orders per bulk request (one transaction each)


def burst_sizes(day: Day) -> list[int]:
    total = day.scaled(ORDERS, minimum=len(BURSTS) * 3)
    sizes = [round(total * share) for share in BURSTS]
    sizes[-1] = total - sum(sizes[:-1])
    return sizes


def place_burst(day: Day, burst: int, size: int, first_number: int) -> list[int]:
    """Create `size` orders through POST /orders/bulk/ and allocate each; returns their ids."""
    rng = day.rng("orders", burst)
    skus = sorted(day.products)
    specs = []
    for offset in range(size):
        number = first_number + offset
        customer = rng.choice(day.customers)
        lines = {}
        for sku in rng.sample(skus, k=rng.choice([1, 1, 2, 2, 3, 4, 5])):
            lines[sku] = rng.randint(1, 6)
        start = dt.time.fromisoformat(customer["window_start"])
        end = dt.time.fromisoformat(customer["window_end"])
        specs.append(
            {
                "warehouse": day.warehouse_id,
                "customer": customer["id"],
                "number": f"SIM-{day.date:%y%m%d}-{number:05d}",
                "requested_date": str(day.date),
                "promised_window_start": dt.datetime.combine(
                    day.delivery_date, start, day.tz
                ).isoformat(),
                "promised_window_end": dt.datetime.combine(
                    day.delivery_date, end, day.tz
                ).isoformat(),
                "priority": rng.choice([2, 3, 3, 3, 4]),
                "allow_partial": rng.random() < 0.4,
                "lines": [
                    {"product": day.products[sku].id, "quantity": qty} for sku, qty in lines.items()
                ],
            }
        )
    ids: list[int] = []
    for start in range(0, len(specs), BULK):
        chunk = specs[start : start + BULK]
        body = day.dispatcher.expect(
            day.dispatcher.post("orders/bulk/", {"orders": chunk}, operation="POST orders/bulk/"),
            201,
            what="bulk orders",
        )
        ids.extend(body["ids"])
        for spec, order_id in zip(chunk, body["ids"], strict=True):
            remember(day, spec, order_id)
    for order_id in ids:
        result = day.dispatcher.expect(
            day.dispatcher.post(
                f"orders/{order_id}/allocate/", operation="POST orders/{id}/allocate/"
            ),
            200,
            what="allocate",
        )
        day.counted.backordered_at_allocation += result["backordered"] > 0
    return ids


def remember(day: Day, spec: dict, order_id: int) -> None:
    day.counted.orders += 1
    day.counted.order_lines += len(spec["lines"])
    day.counted.units_ordered += sum(line["quantity"] for line in spec["lines"])
    day.orders[spec["number"]] = {
        "id": order_id,
        "customer": spec["customer"],
        "window": (
            dt.datetime.fromisoformat(spec["promised_window_start"]),
            dt.datetime.fromisoformat(spec["promised_window_end"]),
        ),
        "ordered": {line["product"]: line["quantity"] for line in spec["lines"]},
    }
