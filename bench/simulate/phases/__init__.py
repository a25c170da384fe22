"""The phases of a simulated day, in the order they are played. Each is a module with a
`run(day)` function that works only through the API (bench.simulate.client)."""

from __future__ import annotations

from bench.simulate.phases import deliveries, dispatch, evening, inbound, picking, setup

# Returns (receiving's RMA API) and cycle counts (the warehouse app's count tasks) get phases of
# their own once their endpoints are settled; docs/day-in-the-warehouse.md says how to add one.
PHASES = (
    ("setup", setup.run),
    ("night: the first orders", picking.run_first_burst),
    ("morning: inbound trucks", inbound.run),
    ("all day: orders, waves, picking", picking.run),
    ("routes, staging, loading, dispatch", dispatch.run),
    ("deliveries", deliveries.run),
    ("evening: KPIs and report", evening.run),
)

__all__ = ["PHASES"]
