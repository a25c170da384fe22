"""Inventory KPIs: inventory record accuracy from cycle counts, per local day and zone.

The warehouse app owns what the metric means; the statements that write it are the KPI
engine's (`shipping.kpis.statements`), which calls `write_inventory_kpis` for each warehouse
it recomputes. Definition in docs/kpis.md.
"""

from __future__ import annotations

from collections import Counter

from django.db import connection

from shipping.kpis.statements import Ratio, Run, Source, upsert_ratios
from warehouse.models import CountRequest, Location, Zone


def _tables() -> dict[str, str]:
    models = {
        "request": CountRequest,
        "location": Location,
        "zone": Zone,
    }
    return {name: connection.ops.quote_name(model._meta.db_table) for name, model in models.items()}


def record_accuracy_source(run: Run) -> Source:
    """One row per count request done on the run's days (a bin, or a product in a bin,
    counted); accurate when its approved count found no variance on any line."""
    t = _tables()
    day, day_params = run.local_date("request.done_at")
    in_days, in_days_params = run.in_days("request.done_at")
    sql = f"""
        SELECT {day} AS day,
               zone.code AS zone_key, SUBSTR(zone.name, 1, 120) AS zone_label,
               CASE WHEN request.is_accurate THEN 1 ELSE 0 END AS is_accurate
        FROM {t["request"]} request
        JOIN {t["location"]} location ON location.id = request.location_id
        JOIN {t["zone"]} zone ON zone.id = location.zone_id
        WHERE request.warehouse_id = %s AND request.status = %s AND {in_days}
    """
    params = [*day_params, run.warehouse_id, CountRequest.Status.DONE.value, *in_days_params]
    return Source(sql, params)


def write_inventory_kpis(cursor, run: Run) -> tuple[Counter, Counter]:
    """Every inventory metric of `run`'s warehouse and days, upserted. Returns the snapshot and
    histogram rows written per metric."""
    rows = upsert_ratios(
        cursor,
        run,
        record_accuracy_source(run),
        [Ratio("inventory_record_accuracy", "is_accurate", "1")],
    )
    return rows, Counter()
