"""Inbound KPIs: dock-to-stock time and receiving accuracy, per local day, carrier and supplier.

Receiving owns what these metrics mean; the statements that write them are the KPI engine's
(`shipping.kpis.statements`), which calls `write_inbound_kpis` for each warehouse it
recomputes. Definitions in docs/kpis.md.
"""

from __future__ import annotations

from collections import Counter

from django.db import connection

from receiving.models import (
    Discrepancy,
    InboundLine,
    InboundShipment,
    PutawayTask,
    Receipt,
    Supplier,
)
from shipping.kpis.statements import (
    Ratio,
    Run,
    Source,
    drop,
    materialize,
    upsert_duration,
    upsert_ratios,
)

# An ASN without a carrier named: the supplier's own truck, or nobody filled it in.
NO_CARRIER = ("none", "No carrier given")


def _tables() -> dict[str, str]:
    models = {
        "asn": InboundShipment,
        "line": InboundLine,
        "receipt": Receipt,
        "discrepancy": Discrepancy,
        "putaway": PutawayTask,
        "supplier": Supplier,
    }
    return {name: connection.ops.quote_name(model._meta.db_table) for name, model in models.items()}


def _slices() -> tuple[str, list]:
    # Keys and labels are cut to the snapshot's column sizes (carrier names may be longer).
    sql = """
        CASE WHEN asn.carrier = '' THEN %s ELSE SUBSTR(asn.carrier, 1, 64) END AS carrier_key,
        CASE WHEN asn.carrier = '' THEN %s ELSE asn.carrier END AS carrier_label,
        supplier.code AS supplier_key, SUBSTR(supplier.name, 1, 120) AS supplier_label"""
    return sql, [NO_CARRIER[0], NO_CARRIER[1]]


def dock_to_stock_source(run: Run) -> Source:
    """One row per putaway task confirmed on the run's days: the truck's arrival (check-in) to
    the confirmation that put the stock in its bin."""
    t = _tables()
    day, day_params = run.local_date("task.confirmed_at")
    in_days, in_days_params = run.in_days("task.confirmed_at")
    slices, slice_params = _slices()
    sql = f"""
        SELECT {day} AS day, {slices},
               {run.seconds_between("task.confirmed_at", "asn.arrived_at")} AS dock_to_stock
        FROM {t["putaway"]} task
        JOIN {t["receipt"]} receipt ON receipt.id = task.receipt_id
        JOIN {t["asn"]} asn ON asn.id = receipt.shipment_id
        JOIN {t["supplier"]} supplier ON supplier.id = asn.supplier_id
        WHERE asn.warehouse_id = %s AND task.status = %s AND asn.arrived_at IS NOT NULL
          AND {in_days}
    """
    params = [
        *day_params,
        *slice_params,
        run.warehouse_id,
        PutawayTask.Status.DONE.value,
        *in_days_params,
    ]
    return Source(sql, params)


def receiving_accuracy_source(run: Run) -> Source:
    """One row per ASN line of the receipts closed on the run's days; accurate when closing the
    receipt found no discrepancy on it. Lines the scans added for products or lots the ASN did
    not announce always carry an unexpected-product/lot discrepancy: they count as inaccurate."""
    t = _tables()
    day, day_params = run.local_date("receipt.closed_at")
    in_days, in_days_params = run.in_days("receipt.closed_at")
    slices, slice_params = _slices()
    sql = f"""
        SELECT {day} AS day, {slices},
               CASE WHEN EXISTS (
                   SELECT 1 FROM {t["discrepancy"]} discrepancy
                   WHERE discrepancy.receipt_id = receipt.id AND discrepancy.line_id = line.id
               ) THEN 0 ELSE 1 END AS is_accurate
        FROM {t["receipt"]} receipt
        JOIN {t["asn"]} asn ON asn.id = receipt.shipment_id
        JOIN {t["line"]} line ON line.shipment_id = asn.id
        JOIN {t["supplier"]} supplier ON supplier.id = asn.supplier_id
        WHERE asn.warehouse_id = %s AND receipt.status = %s AND {in_days}
    """
    params = [
        *day_params,
        *slice_params,
        run.warehouse_id,
        Receipt.Status.CLOSED.value,
        *in_days_params,
    ]
    return Source(sql, params)


def write_inbound_kpis(cursor, run: Run) -> tuple[Counter, Counter]:
    """Every inbound metric of `run`'s warehouse and days, upserted. Returns the snapshot and
    histogram rows written per metric."""
    putaways = materialize(cursor, "kpi_putaways", dock_to_stock_source(run))
    rows, histograms = upsert_duration(
        cursor, run, putaways, metric="dock_to_stock", seconds="dock_to_stock"
    )
    drop(cursor, "kpi_putaways")
    rows += upsert_ratios(
        cursor,
        run,
        receiving_accuracy_source(run),
        [Ratio("receiving_accuracy", "is_accurate", "1")],
    )
    return rows, histograms
