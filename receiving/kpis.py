"""Inbound KPIs: dock-to-stock time and receiving accuracy, per local day, carrier and supplier;
and the return rate of customer returns, per local day, product, customer and reason.

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
    ReturnAuthorisation,
    ReturnLine,
    ReturnReason,
    ReturnReceipt,
    Supplier,
)
from shipping.kpis.definitions import BY_NAME
from shipping.kpis.statements import (
    ALL_LABEL,
    SNAPSHOT_COLUMNS,
    SNAPSHOT_SLICE,
    Ratio,
    Run,
    Source,
    drop,
    materialize,
    quote,
    table,
    upsert_duration,
    upsert_ratios,
)
from shipping.models import (
    Customer,
    Delivery,
    DeliveryLine,
    Dimension,
    KpiSnapshot,
    Order,
    OrderLine,
    Shipment,
)
from warehouse.models import Product

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


def return_rate_source(run: Run) -> Source:
    """One row per order line delivered on the run's days (`delivered` units, no reason) and one
    per RMA line received on a return receipt closed on the run's days (`returned` units, with
    the line's reason), each with its product and customer."""
    t = {
        name: table(model)
        for name, model in {
            "delivery": Delivery,
            "delivery_line": DeliveryLine,
            "shipment": Shipment,
            "order_line": OrderLine,
            "order": Order,
            "customer": Customer,
            "product": Product,
            "rma": ReturnAuthorisation,
            "return_line": ReturnLine,
            "return_receipt": ReturnReceipt,
        }.items()
    }
    delivered_day, delivered_day_params = run.local_date("delivery.delivered_at")
    delivered_in, delivered_in_params = run.in_days("delivery.delivered_at")
    returned_day, returned_day_params = run.local_date("receipt.closed_at")
    returned_in, returned_in_params = run.in_days("receipt.closed_at")
    reason_label = " ".join("WHEN %s THEN %s" for _ in ReturnReason.choices)
    reason_params = [value for choice in ReturnReason.choices for value in choice]
    slices = """product.sku AS product_key, SUBSTR(product.name, 1, 120) AS product_label,
        customer.code AS customer_key, SUBSTR(customer.name, 1, 120) AS customer_label"""
    sql = f"""
        SELECT {returned_day} AS day, {slices},
               line.reason AS reason_key, CASE line.reason {reason_label} END AS reason_label,
               line.received_quantity AS returned, 0 AS delivered
        FROM {t["return_receipt"]} receipt
        JOIN {t["rma"]} rma ON rma.id = receipt.rma_id
        JOIN {t["return_line"]} line ON line.rma_id = rma.id
        JOIN {t["product"]} product ON product.id = line.product_id
        JOIN {t["customer"]} customer ON customer.id = rma.customer_id
        WHERE rma.warehouse_id = %s AND receipt.status = %s AND line.received_quantity > 0
          AND {returned_in}
        UNION ALL
        SELECT {delivered_day} AS day, {slices},
               NULL AS reason_key, NULL AS reason_label,
               0 AS returned, delivery_line.quantity_delivered AS delivered
        FROM {t["delivery"]} delivery
        JOIN {t["shipment"]} shipment ON shipment.id = delivery.shipment_id
        JOIN {t["delivery_line"]} delivery_line ON delivery_line.delivery_id = delivery.id
        JOIN {t["order_line"]} order_line ON order_line.id = delivery_line.order_line_id
        JOIN {t["order"]} o ON o.id = order_line.order_id
        JOIN {t["product"]} product ON product.id = order_line.product_id
        JOIN {t["customer"]} customer ON customer.id = o.customer_id
        WHERE shipment.warehouse_id = %s AND delivery_line.quantity_delivered > 0
          AND {delivered_in}
    """
    params = [
        *returned_day_params,
        *reason_params,
        run.warehouse_id,
        ReturnReceipt.Status.CLOSED.value,
        *returned_in_params,
        *delivered_day_params,
        run.warehouse_id,
        *delivered_in_params,
    ]
    return Source(sql, params)


def upsert_return_rate(cursor, run: Run) -> Counter:
    """The `return_rate` snapshot rows of the run, for the slices the catalogue names.

    Units returned / units delivered per day and slice. A reason has no deliveries of its own:
    each reason's denominator is the day's units delivered, so the reasons add up to the
    whole. A slice with returns but no deliveries that day keeps its row (denominator 0, no
    value), so that a period's sum(returned) / sum(delivered) counts those returns too.
    """
    branches = {
        Dimension.ALL: (
            "SELECT day, %s AS dimension, %s AS slice_key, %s AS slice_label, "
            "SUM(returned) AS numerator, SUM(delivered) AS denominator FROM base GROUP BY day",
            [str(Dimension.ALL), "", ALL_LABEL],
        ),
        Dimension.PRODUCT: (
            "SELECT day, %s, product_key, MAX(product_label), SUM(returned), SUM(delivered) "
            "FROM base GROUP BY day, product_key",
            [str(Dimension.PRODUCT)],
        ),
        Dimension.CUSTOMER: (
            "SELECT day, %s, customer_key, MAX(customer_label), SUM(returned), SUM(delivered) "
            "FROM base GROUP BY day, customer_key",
            [str(Dimension.CUSTOMER)],
        ),
        Dimension.REASON: (
            "SELECT base.day, %s, base.reason_key, MAX(base.reason_label), SUM(base.returned), "
            "MAX(daily.delivered) FROM base "
            "LEFT JOIN delivered_per_day daily ON daily.day = base.day "
            "WHERE base.reason_key IS NOT NULL GROUP BY base.day, base.reason_key",
            [str(Dimension.REASON)],
        ),
    }
    chosen = [branches[dimension] for dimension in BY_NAME["return_rate"].dimensions]
    per_slice = "\nUNION ALL\n".join(sql for sql, _ in chosen)
    source = return_rate_source(run)
    ctes = f"""
        WITH base AS ({source.sql}),
        delivered_per_day AS (SELECT day, SUM(delivered) AS delivered FROM base GROUP BY day),
        per_slice AS ({per_slice})"""
    upsert = ""
    if run.upsert:
        updated = ("label", "numerator", "denominator", "value", "computed_at")
        sets = ", ".join(f"{quote(name)} = excluded.{quote(name)}" for name in updated)
        upsert = (
            f"ON CONFLICT ({', '.join(quote(name) for name in SNAPSHOT_SLICE)}) "
            f"DO UPDATE SET {sets}"
        )
    insert = f"""
        INSERT INTO {table(KpiSnapshot)} ({", ".join(quote(c) for c in SNAPSHOT_COLUMNS)})
        SELECT day, %s, dimension, slice_key, slice_label, %s, numerator, COALESCE(denominator, 0),
               CASE WHEN denominator > 0 THEN numerator * 1.0 / denominator END, %s
        FROM per_slice
        WHERE numerator > 0 OR denominator > 0
        ORDER BY dimension, day, slice_key
        {upsert}"""
    params = [
        *source.params,
        *[value for _, branch_params in chosen for value in branch_params],
        run.warehouse_id,
        "return_rate",
        run.dialect.timestamp(run.stamp),
    ]
    return run.dialect.write_counted(cursor, ctes, insert, params)


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
    rows += upsert_return_rate(cursor, run)
    return rows, histograms
