"""The end of the day: invariant checks through the API, and the printed summary."""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import fields

from bench.simulate.day import Day


def check_invariants(day: Day) -> None:
    """What must hold after the day, read back through the API."""
    manager = day.manager
    balances = manager.list_all("stock/balances/", warehouse=day.warehouse_code)
    bad = [b for b in balances if b["quantity"] < 0 or b["allocated"] > b["quantity"]]
    day.invariants.append(
        (
            "no negative or over-allocated balance",
            not bad,
            f"{len(balances)} balances, {len(bad)} bad",
        )
    )
    received = 0
    for shipment in manager.list_all("inbound-shipments/", warehouse__code=day.warehouse_code):
        detail = manager.expect(
            manager.get(
                f"inbound-shipments/{shipment['id']}/", operation="GET inbound-shipments/{id}/"
            ),
            200,
        )
        received += sum(line["received_quantity"] for line in detail["lines"])
    day.invariants.append(
        (
            "units received = units of the accepted scans (replays counted once)",
            received == day.counted.units_received,
            f"service {received}, simulator {day.counted.units_received}",
        )
    )
    counted = day.counted
    day.invariants.append(
        (
            "every replayed request answered as the first time",
            counted.replays_matching == counted.replays_sent,
            f"{counted.replays_matching} of {counted.replays_sent}",
        )
    )
    open_putaways = manager.list_all("putaway-tasks/", status="open")
    day.invariants.append(
        ("every putaway task done", not open_putaways, f"{len(open_putaways)} open")
    )
    rmas = manager.list_all("returns/", warehouse__code=day.warehouse_code)
    closed = sum(rma["status"] == "closed" for rma in rmas)
    day.invariants.append(
        (
            "every RMA received, dispositioned and closed",
            closed == len(rmas) == counted.rmas,
            f"{closed} closed of {len(rmas)}, simulator {counted.rmas}",
        )
    )
    day.invariants.append(
        (
            "cycle counts found what the simulator's book says (no adjustment posted)",
            counted.counts_adjusted == 0 and counted.counts_done == counted.count_tasks,
            f"{counted.counts_done} of {counted.count_tasks} tasks done, "
            f"{counted.counts_adjusted} adjusted",
        )
    )


def figures(day: Day) -> dict:
    """The day's figures, those that depend only on the seed (and scale and date) first."""
    c = day.counted
    rate = lambda part, whole: round(part / whole, 4) if whole else None  # noqa: E731
    return {
        "trucks": c.trucks,
        "trucks late": c.trucks_late,
        "ASN lines": c.asn_lines,
        "units received": c.units_received,
        "scans accepted": c.scans_accepted,
        "scans refused": dict(sorted(c.scans_refused.items())),
        "discrepancies": dict(sorted(c.discrepancies.items())),
        "inspections passed/failed": f"{c.inspections_passed}/{c.inspections_failed}",
        "putaways": c.putaways,
        "orders": c.orders,
        "order lines": c.order_lines,
        "backordered at allocation": c.backordered_at_allocation,
        "waves": c.waves,
        "pick lists": c.pick_lists,
        "lines picked": c.tasks_closed - c.tasks_short,
        "short picks": c.tasks_short,
        "units picked": c.units_picked,
        "shipments packed": c.shipments_packed,
        "vehicles": c.vehicles_used,
        "km": round(c.km, 1),
        "stops": c.stops_planned,
        "stops dropped": dict(sorted(c.stops_dropped.items())),
        "shipments dispatched": c.shipments_dispatched,
        "deliveries": c.deliveries,
        "refused / partial": f"{c.refused}/{c.partial}",
        "RMAs (lines)": f"{c.rmas} ({c.rma_lines})",
        "units returned (damaged)": f"{c.units_returned} ({c.returned_damaged})",
        "dispositions (units)": dict(sorted(c.dispositions.items())),
        "restock putaways": c.restock_putaways,
        "count tasks": c.count_tasks,
        "counted (recounts)": f"{c.counts_submitted} ({c.recounts})",
        "count variances": c.counts_over_threshold,
        "counts adjusted": c.counts_adjusted,
        "OTD": rate(c.on_time, c.deliveries),
        "OTIF": rate(c.on_time_in_full, c.deliveries),
        "fill rate (units)": rate(c.units_shipped_capped, c.units_ordered_shipped),
        "fill rate (lines)": rate(c.lines_shipped_full, c.lines_shipped),
        "pick accuracy": rate(c.tasks_picked_complete, c.tasks_closed),
    }


def passed(day: Day, server_errors: int, reconciled: bool | None) -> bool:
    kpis_equal = all(ours == theirs for _, _, ours, theirs in day.kpi_checks)
    return (
        server_errors == 0
        and not day.counted.errors
        and all(ok for _, ok, _ in day.invariants)
        and kpis_equal
        and bool(day.kpi_checks)
        and day.report_found
        and reconciled is not False
    )


def render(day: Day, *, reconciled: bool | None, reconcile_output: str) -> str:
    tally = day.tally
    wall = time.perf_counter() - day.started
    c = day.counted
    lines = [
        f"Dockside, a day in the warehouse: {day.date} (deliveries {day.delivery_date}), "
        f"seed {day.seed}, scale {day.scale}",
        "",
    ]
    width = 28
    for name, value in figures(day).items():
        lines.append(f"  {name:<{width}} {value}")
    d2s = sorted(c.dock_to_stock_seconds)
    median = statistics.median(d2s) / 60 if d2s else None
    lines.append(
        f"  {'dock-to-stock median':<{width}} "
        + (f"{median:.0f} min" if median is not None else "-")
    )
    lines.append(f"  {'errors':<{width}} {len(c.errors)}")
    for error in c.errors[:10]:
        lines.append(f"      {error}")
    lines += ["", "Checks"]
    mark = lambda ok: "ok  " if ok else "FAIL"  # noqa: E731
    server_errors = tally.server_error_count
    lines.append(f"  {mark(server_errors == 0)} zero 5xx answers ({server_errors})")
    for text in tally.server_errors[:10]:
        lines.append(f"        {text}")
    if reconciled is None:
        lines.append("  --   reconcile_stock: not run (the service was given by URL)")
    else:
        said = reconcile_output.splitlines()[-1] if reconcile_output else ""
        lines.append(f"  {mark(reconciled)} reconcile_stock (run on the service's side): {said}")
    for name, ok, detail in day.invariants:
        lines.append(f"  {mark(ok)} {name}: {detail}")
    for metric, period, ours, theirs in day.kpi_checks:
        span = str(period[0]) if period[0] == period[1] else f"{period[0]}..{period[1]}"
        lines.append(
            f"  {mark(ours == theirs)} KPI {metric} {span}: simulator {ours[0]}/{ours[1]}, "
            f"admin {theirs[0]}/{theirs[1]}"
        )
    lines.append(
        f"  {mark(day.report_found)} on-time-delivery report of {day.delivery_date} produced"
    )
    slowest = ", ".join(
        f"{name} {seconds:.0f} s" for name, seconds in tally.seconds_by_operation.most_common(6)
    )
    lines += ["", f"Time in requests by operation: {slowest}"]
    load = os.getloadavg()
    lines += [
        "",
        f"Wall time {wall:.0f} s, {tally.requests} requests, {tally.requests / wall:.1f} req/s, "
        f"{tally.retries} dropped connections retried; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        "PASS" if passed(day, server_errors, reconciled) else "FAIL",
    ]
    return "\n".join(lines)


def as_json(day: Day, *, reconciled: bool | None) -> str:
    return json.dumps(
        {
            "figures": figures(day),
            # Not dataclasses.asdict: it rebuilds a Counter from (key, count) pairs as keys.
            "counted": {
                f.name: getattr(day.counted, f.name)
                for f in fields(day.counted)
                if f.name != "dock_to_stock_seconds"
            },
            "kpi_checks": [
                {
                    "metric": m,
                    "period": [str(p[0]), str(p[1])],
                    "simulator": list(o),
                    "admin": list(t),
                }
                for m, p, o, t in day.kpi_checks
            ],
            "invariants": [{"name": n, "ok": ok, "detail": d} for n, ok, d in day.invariants],
            "report_found": day.report_found,
            "reconciled": reconciled,
            "server_errors": day.tally.server_error_count,
            "requests": day.tally.requests,
            "phase_seconds": day.phase_seconds,
            "operations": {
                name: [sum(day.tally.statuses[name].values()), round(seconds, 2)]
                for name, seconds in day.tally.seconds_by_operation.most_common()
            },
            "passed": passed(day, day.tally.server_error_count, reconciled),
        },
        default=str,
        indent=1,
    )
