"""Outbound KPI families: the source rows behind delivery, shipment and pick metrics.

Each `*_source` returns a SELECT of one row per event (delivery, dispatched shipment, order
line of a first shipment, pick task, completed pick list) with its local `day` and slice
columns; `write_outbound_kpis` aggregates them with `shipping.kpis.statements`. The
definitions are in docs/kpis.md.
"""

from __future__ import annotations

from collections import Counter

from django.contrib.auth import get_user_model
from django.db import connection

from routing.models import Route, RoutePlan, RouteStop
from shipping.kpis.statements import (
    Ratio,
    Run,
    Source,
    drop,
    materialize,
    upsert_duration,
    upsert_ratios,
)
from shipping.models import (
    Customer,
    Delivery,
    Order,
    OrderLine,
    PickList,
    PickTask,
    Shipment,
    ShipmentLine,
)

OWN_FLEET = ("own-fleet", "Own fleet")
NO_VEHICLE = ("none", "No vehicle")
NOT_ROUTED = ("unrouted", "Not routed")
ROUTE_LABEL_PREFIX = "Route "
UNKNOWN_PICKER = ("unknown", "No picker recorded")


def _tables() -> dict[str, str]:
    models = {
        "delivery": Delivery,
        "shipment": Shipment,
        "shipment_line": ShipmentLine,
        "order": Order,
        "order_line": OrderLine,
        "customer": Customer,
        "pick_list": PickList,
        "pick_task": PickTask,
        "user": get_user_model(),
        "stop": RouteStop,
        "stop_shipment": RouteStop.shipments.through,
        "route": Route,
        "plan": RoutePlan,
    }
    return {name: connection.ops.quote_name(model._meta.db_table) for name, model in models.items()}


def _carrier_and_vehicle() -> tuple[str, list]:
    sql = """
        CASE WHEN o.carrier = '' THEN %s ELSE o.carrier END AS carrier_key,
        CASE WHEN o.carrier = '' THEN %s ELSE o.carrier END AS carrier_label,
        CASE WHEN s.vehicle_code = '' THEN %s ELSE s.vehicle_code END AS vehicle_key,
        CASE WHEN s.vehicle_code = '' THEN %s ELSE s.vehicle_code END AS vehicle_label,
        c.code AS customer_key, c.name AS customer_label"""
    return sql, [OWN_FLEET[0], OWN_FLEET[1], NO_VEHICLE[0], NO_VEHICLE[1]]


ROUTES_TABLE = "kpi_routes"


def routes_source(run: Run) -> Source:
    """One row per shipment of the run (dispatched on its days, or delivered on them) that a
    plan put on a route: `route_number`, the route of its stop in the latest plan (by delivery
    day, then id) that routed it. Shipments never routed have no row. The daily report follows
    the same rule.

    Only the run's shipments are looked up: the latest-plan test over every stop of every plan
    was most of the cost of building a month's delivery and shipment events, once for each.
    """
    t = _tables()
    dispatched, dispatched_params = run.in_days("s.dispatched_at")
    delivered, delivered_params = run.in_days("d.delivered_at")
    sql = f"""
        SELECT stop_shipment.shipment_id, route.number AS route_number
        FROM {t["stop_shipment"]} stop_shipment
        JOIN {t["stop"]} stop ON stop.id = stop_shipment.routestop_id
        JOIN {t["route"]} route ON route.id = stop.route_id
        JOIN {t["plan"]} plan ON plan.id = stop.plan_id
        WHERE stop_shipment.shipment_id IN (
            SELECT s.id FROM {t["shipment"]} s WHERE s.warehouse_id = %s AND {dispatched}
            UNION
            SELECT d.shipment_id FROM {t["delivery"]} d
            JOIN {t["shipment"]} s ON s.id = d.shipment_id
            WHERE s.warehouse_id = %s AND {delivered}
        )
        AND NOT EXISTS (
            SELECT 1 FROM {t["stop_shipment"]} later_shipment
            JOIN {t["stop"]} later_stop ON later_stop.id = later_shipment.routestop_id
            JOIN {t["plan"]} later_plan ON later_plan.id = later_stop.plan_id
            WHERE later_shipment.shipment_id = stop_shipment.shipment_id
              AND later_stop.route_id IS NOT NULL
              AND (later_plan.delivery_date > plan.delivery_date
                   OR (later_plan.delivery_date = plan.delivery_date
                       AND later_plan.id > plan.id))
        )
    """
    return Source(sql, [run.warehouse_id, *dispatched_params, run.warehouse_id, *delivered_params])


def _routed() -> str:
    """LEFT JOIN giving `routed.route_number` of shipment `s` from the run's routes table
    (`routes_source`); NULL when it was never routed."""
    return (
        f"LEFT JOIN {connection.ops.quote_name(ROUTES_TABLE)} routed ON routed.shipment_id = s.id"
    )


def _route_columns() -> tuple[str, list]:
    sql = """
        CASE WHEN routed.route_number IS NULL THEN %s
             ELSE CAST(routed.route_number AS TEXT) END AS route_key,
        CASE WHEN routed.route_number IS NULL THEN %s
             ELSE %s || CAST(routed.route_number AS TEXT) END AS route_label"""
    return sql, [NOT_ROUTED[0], NOT_ROUTED[1], ROUTE_LABEL_PREFIX]


def delivery_source(run: Run) -> Source:
    """One row per delivery on the run's days: on time / early / late against the promised
    window widened by the tolerance, in full, whether it is the order's first delivery
    (earliest, ties by id; earlier days count too), and the order's cycle time to it."""
    t = _tables()
    day, day_params = run.local_date("d.delivered_at")
    in_days, in_days_params = run.in_days("d.delivered_at")
    slices, slice_params = _carrier_and_vehicle()
    routes, route_params = _route_columns()
    tolerance = run.tolerance_seconds
    sql = f"""
        SELECT day, carrier_key, carrier_label, vehicle_key, vehicle_label,
               customer_key, customer_label, route_key, route_label, is_first, cycle_seconds,
               CASE WHEN before_window <= %s AND after_window <= %s THEN 1 ELSE 0 END
                   AS is_on_time,
               CASE WHEN before_window > %s THEN 1 ELSE 0 END AS is_early,
               CASE WHEN after_window > %s THEN 1 ELSE 0 END AS is_late,
               CASE WHEN after_window > %s THEN after_window / 60.0 ELSE 0 END AS minutes_late,
               CASE WHEN before_window <= %s AND after_window <= %s AND is_in_full = 1
                    THEN 1 ELSE 0 END AS is_on_time_in_full
        FROM (
            SELECT {day} AS day, {slices}, {routes},
                   {run.seconds_between("o.promised_window_start", "d.delivered_at")}
                       AS before_window,
                   {run.seconds_between("d.delivered_at", "o.promised_window_end")}
                       AS after_window,
                   CASE WHEN d.is_in_full THEN 1 ELSE 0 END AS is_in_full,
                   CASE WHEN EXISTS (
                       SELECT 1 FROM {t["delivery"]} earlier
                       JOIN {t["shipment"]} earlier_shipment
                         ON earlier_shipment.id = earlier.shipment_id
                       WHERE earlier_shipment.order_id = s.order_id
                         AND (earlier.delivered_at < d.delivered_at
                              OR (earlier.delivered_at = d.delivered_at AND earlier.id < d.id))
                   ) THEN 0 ELSE 1 END AS is_first,
                   {run.seconds_between("d.delivered_at", "o.created_at")} AS cycle_seconds
            FROM {t["delivery"]} d
            JOIN {t["shipment"]} s ON s.id = d.shipment_id
            JOIN {t["order"]} o ON o.id = s.order_id
            JOIN {t["customer"]} c ON c.id = o.customer_id
            {_routed()}
            WHERE s.warehouse_id = %s AND {in_days}
        ) AS deliveries
    """
    params = [
        *[tolerance] * 7,
        *day_params,
        *slice_params,
        *route_params,
        run.warehouse_id,
        *in_days_params,
    ]
    return Source(sql, params)


DELIVERY_RATIOS = (
    Ratio("otd", "is_on_time", "1"),
    Ratio("early", "is_early", "1"),
    Ratio("late", "is_late", "1"),
    Ratio("minutes_late", "minutes_late", "is_late"),
    # Per order, on its first delivery.
    Ratio("otif", "is_first * is_on_time_in_full", "is_first"),
)


def shipment_source(run: Run) -> Source:
    """One row per shipment dispatched on the run's days: dispatched by its planned departure,
    whether it is its order's first dispatched shipment (earliest, ties by id), and the
    order's cycle time to it."""
    t = _tables()
    day, day_params = run.local_date("s.dispatched_at")
    in_days, in_days_params = run.in_days("s.dispatched_at")
    slices, slice_params = _carrier_and_vehicle()
    routes, route_params = _route_columns()
    sql = f"""
        SELECT s.id AS shipment_id, s.order_id AS order_id, o.status AS order_status,
               {day} AS day, {slices}, {routes},
               CASE WHEN s.dispatched_at <= s.planned_departure THEN 1 ELSE 0 END AS is_on_time,
               CASE WHEN EXISTS (
                   SELECT 1 FROM {t["shipment"]} earlier
                   WHERE earlier.order_id = s.order_id AND earlier.dispatched_at IS NOT NULL
                     AND (earlier.dispatched_at < s.dispatched_at
                          OR (earlier.dispatched_at = s.dispatched_at AND earlier.id < s.id))
               ) THEN 0 ELSE 1 END AS is_first,
               {run.seconds_between("s.dispatched_at", "o.created_at")} AS cycle_seconds
        FROM {t["shipment"]} s
        JOIN {t["order"]} o ON o.id = s.order_id
        JOIN {t["customer"]} c ON c.id = o.customer_id
        {_routed()}
        WHERE s.warehouse_id = %s AND {in_days}
    """
    return Source(
        sql, [*day_params, *slice_params, *route_params, run.warehouse_id, *in_days_params]
    )


def fill_source(shipments: Source) -> Source:
    """One row per order line of each order's first dispatched shipment (rows of `shipments`),
    with the units of it on that shipment. Cancelled orders are left out."""
    t = _tables()
    sql = f"""
        SELECT shipments.day, shipments.carrier_key, shipments.carrier_label,
               shipments.vehicle_key, shipments.vehicle_label,
               shipments.customer_key, shipments.customer_label,
               ol.quantity AS ordered, COALESCE(sl.quantity, 0) AS shipped
        FROM ({shipments.sql}) AS shipments
        JOIN {t["order_line"]} ol ON ol.order_id = shipments.order_id
        LEFT JOIN {t["shipment_line"]} sl
          ON sl.shipment_id = shipments.shipment_id AND sl.order_line_id = ol.id
        WHERE shipments.is_first = 1 AND shipments.order_status <> %s
    """
    return Source(sql, [*shipments.params, Order.Status.CANCELLED.value])


FILL_RATIOS = (
    Ratio("fill_rate_lines", "CASE WHEN shipped >= ordered THEN 1 ELSE 0 END", "1"),
    Ratio(
        "fill_rate_units", "CASE WHEN shipped < ordered THEN shipped ELSE ordered END", "ordered"
    ),
)


def _picker(user: str) -> tuple[str, list]:
    sql = f"""
        COALESCE(SUBSTR({user}.username, 1, 64), %s) AS picker_key,
        COALESCE(SUBSTR(COALESCE(NULLIF(TRIM({user}.first_name || ' ' || {user}.last_name), ''),
                                 {user}.username), 1, 120), %s) AS picker_label"""
    return sql, [UNKNOWN_PICKER[0], UNKNOWN_PICKER[1]]


def pick_task_source(run: Run) -> Source:
    """One row per pick task closed (picked or short) on the run's days, by who picked it."""
    t = _tables()
    day, day_params = run.local_date("task.picked_at")
    in_days, in_days_params = run.in_days("task.picked_at")
    picker, picker_params = _picker("picker")
    sql = f"""
        SELECT {day} AS day, {picker},
               CASE WHEN task.status = %s AND task.quantity_picked = task.quantity
                         AND task.wrong_item_scans = 0 AND task.wrong_bin_scans = 0
                    THEN 1 ELSE 0 END AS is_accurate,
               CASE WHEN task.status = %s THEN 1 ELSE 0 END AS is_short
        FROM {t["pick_task"]} task
        JOIN {t["pick_list"]} pick_list ON pick_list.id = task.pick_list_id
        LEFT JOIN {t["user"]} picker ON picker.id = COALESCE(task.picked_by_id, pick_list.picker_id)
        WHERE pick_list.warehouse_id = %s AND {in_days} AND task.status IN (%s, %s)
    """
    picked, short = PickTask.Status.PICKED.value, PickTask.Status.SHORT.value
    params = [
        *day_params,
        *picker_params,
        picked,
        short,
        run.warehouse_id,
        *in_days_params,
        picked,
        short,
    ]
    return Source(sql, params)


PICK_RATIOS = (
    Ratio("pick_accuracy", "is_accurate", "1"),
    Ratio("short_pick_rate", "is_short", "1"),
)


def pick_list_source(run: Run) -> Source:
    """One row per pick list completed on the run's days: the picker's time on it (started ->
    completed) and the tasks closed on it (picked or short)."""
    t = _tables()
    day, day_params = run.local_date("pick_list.completed_at")
    in_days, in_days_params = run.in_days("pick_list.completed_at")
    picker, picker_params = _picker("picker")
    seconds = run.seconds_between("pick_list.completed_at", "pick_list.started_at")
    sql = f"""
        SELECT {day} AS day, {picker},
               {seconds} / 3600.0 AS hours,
               (SELECT COUNT(*) FROM {t["pick_task"]} task
                WHERE task.pick_list_id = pick_list.id AND task.status IN (%s, %s)) AS lines
        FROM {t["pick_list"]} pick_list
        LEFT JOIN {t["user"]} picker ON picker.id = pick_list.picker_id
        WHERE pick_list.warehouse_id = %s AND pick_list.status = %s
          AND pick_list.started_at IS NOT NULL AND {in_days}
    """
    params = [
        *day_params,
        *picker_params,
        PickTask.Status.PICKED.value,
        PickTask.Status.SHORT.value,
        run.warehouse_id,
        PickList.Status.DONE.value,
        *in_days_params,
    ]
    return Source(sql, params)


def write_outbound_kpis(cursor, run: Run) -> tuple[Counter, Counter]:
    """Every outbound metric of `run`'s warehouse and days, upserted. Returns the snapshot
    and histogram rows written per metric."""
    rows, histograms = Counter(), Counter()

    # Read by both the delivery and the shipment events: looked up once.
    materialize(cursor, ROUTES_TABLE, routes_source(run))
    deliveries = materialize(cursor, "kpi_deliveries", delivery_source(run))
    rows += upsert_ratios(cursor, run, deliveries, DELIVERY_RATIOS)
    written = upsert_duration(
        cursor,
        run,
        deliveries,
        metric="cycle_time_total",
        seconds="cycle_seconds",
        where="is_first = 1",
    )
    rows, histograms = rows + written[0], histograms + written[1]
    drop(cursor, "kpi_deliveries")

    shipments = materialize(cursor, "kpi_shipments", shipment_source(run))
    rows += upsert_ratios(cursor, run, shipments, [Ratio("on_time_shipment", "is_on_time", "1")])
    written = upsert_duration(
        cursor,
        run,
        shipments,
        metric="cycle_time_internal",
        seconds="cycle_seconds",
        where="is_first = 1",
    )
    rows, histograms = rows + written[0], histograms + written[1]
    rows += upsert_ratios(cursor, run, fill_source(shipments), FILL_RATIOS)
    drop(cursor, "kpi_shipments")
    drop(cursor, ROUTES_TABLE)

    rows += upsert_ratios(cursor, run, pick_task_source(run), PICK_RATIOS)
    rows += upsert_ratios(
        cursor, run, pick_list_source(run), [Ratio("lines_per_picker_hour", "lines", "hours")]
    )
    return rows, histograms
