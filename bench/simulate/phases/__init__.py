"""The phases of a simulated day, in the order they are played. Each is a module with a
`run(day)` function that works only through the API (bench.simulate.client)."""

from __future__ import annotations

from bench.simulate.phases import (
    counts,
    deliveries,
    dispatch,
    evening,
    inbound,
    picking,
    returns,
    setup,
)

# A new phase is a module with a `run(day)`, put here in the order of the day; the summary's
# phase timings and docs/day-in-the-warehouse.md's table follow this list.
PHASES = (
    ("setup", setup.run),
    ("night: the first orders", picking.run_first_burst),
    ("morning: inbound trucks", inbound.run),
    ("all day: orders, waves, picking", picking.run),
    ("routes, staging, loading, dispatch", dispatch.run),
    ("deliveries", deliveries.run),
    ("returns", returns.run),
    ("cycle counts", counts.run),
    ("evening: KPIs and report", evening.run),
)

__all__ = ["PHASES"]
