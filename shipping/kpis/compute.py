"""Recompute KPI snapshots and histograms from the source rows, in the database.

For each warehouse, in its own time zone and its own transaction: the warehouse's rows of
those days are deleted, then every metric family is aggregated by one or a few `WITH base AS
(...) INSERT ... SELECT ... GROUP BY ... ORDER BY` statements (see `shipping.kpis.statements`;
a family's source rows read by several statements are materialised once in a temporary table),
each row stamped with this run's `computed_at`. Readers see the old rows until the transaction
commits. The deleted rows that were not written again (a slice that no longer exists, a
delivery re-dated to another day) are counted as stale. Two recomputations of one warehouse's
days are serialised (advisory locks on PostgreSQL; SQLite has a single writer).

The metric definitions are in docs/kpis.md.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from receiving.kpis import write_inbound_kpis
from shipping.kpis.definitions import METRICS
from shipping.kpis.dialect import Dialect
from shipping.kpis.outbound import write_outbound_kpis
from shipping.kpis.statements import Run
from shipping.models import Dimension, KpiHistogram, KpiSnapshot
from shipping.services.common import setting
from warehouse.kpis import write_inventory_kpis
from warehouse.models import Warehouse


@dataclass(frozen=True)
class RecomputeResult:
    """What one `recompute_kpis` call wrote: snapshot rows per metric, histogram rows per
    metric, stale rows deleted, and how long it took."""

    rows: dict[str, int] = field(default_factory=dict)
    histogram_rows: dict[str, int] = field(default_factory=dict)
    deleted_rows: int = 0
    warehouses: int = 0
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def total_histogram_rows(self) -> int:
        return sum(self.histogram_rows.values())


def local_midnight(warehouse: Warehouse, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=warehouse.tzinfo)


# Every metric and dimension, named in the clean-up queries so that they seek the tables'
# (warehouse, metric, dimension, date, ...) index instead of scanning a warehouse's rows.
_METRICS = [metric.name for metric in METRICS]
_DIMENSIONS = [str(dimension) for dimension in Dimension]


def _in(values: list[str]) -> str:
    return ", ".join(["%s"] * len(values))


# Per table: the columns naming a row within one warehouse (its unique constraint).
_SLICE_COLUMNS = {
    KpiSnapshot: ("metric", "dimension", "date", "key"),
    KpiHistogram: ("metric", "dimension", "date", "key", "bucket"),
}


def _replaced_table(model) -> str:
    return connection.ops.quote_name(f"kpi_replaced_{model._meta.model_name}")


def _in_range(run: Run, alias: str = "") -> tuple[str, list]:
    prefix = f"{alias}." if alias else ""
    return (
        f"{prefix}warehouse_id = %s AND {prefix}metric IN ({_in(_METRICS)}) "
        f"AND {prefix}dimension IN ({_in(_DIMENSIONS)}) "
        f"AND {prefix}date >= %s AND {prefix}date <= %s",
        [
            run.warehouse_id,
            *_METRICS,
            *_DIMENSIONS,
            run.dialect.date(run.date_from),
            run.dialect.date(run.date_to),
        ],
    )


def _clear_range(cursor, run: Run) -> int:
    """Delete the rows of the run's warehouse and days before they are written anew; returns
    how many were deleted.

    Deleting and inserting costs about half of upserting over the same rows (an update also
    locks the old row and writes a new version into every index), and within the run's
    transaction readers keep seeing the old rows until it commits. The deleted rows' slices
    are kept in a temporary table, to count afterwards those not written again.
    """
    where, params = _in_range(run)
    deleted = 0
    for model, columns in _SLICE_COLUMNS.items():
        source = connection.ops.quote_name(model._meta.db_table)
        names = ", ".join(columns)
        replaced = _replaced_table(model)
        cursor.execute(
            f"CREATE TEMPORARY TABLE {replaced} AS SELECT {names} FROM {source} WHERE 1 = 0"
        )
        deleted += run.dialect.move_rows(
            cursor, source=source, target=replaced, columns=names, where=where, params=params
        )
    return deleted


def _count_stale(cursor, run: Run, deleted: int) -> int:
    """How many of the deleted rows this run did not write again: slices that no longer
    exist (a delivery re-dated to another day, a carrier corrected).

    The rows written are looked for within the run's range only, by the unique index: without
    that bound (and without statistics on the temporary table) PostgreSQL hashed every KPI row
    of the warehouse, 15 s for one day's recompute against a year of 4.4 M snapshots.
    """
    stale = 0
    within, params = _in_range(run, "written")
    for model, columns in _SLICE_COLUMNS.items():
        replaced = _replaced_table(model)
        if deleted:
            cursor.execute(f"ANALYZE {replaced}")
            same = " AND ".join(f"written.{column} = replaced.{column}" for column in columns)
            cursor.execute(
                f"SELECT COUNT(*) FROM {replaced} replaced WHERE NOT EXISTS ("
                f"SELECT 1 FROM {connection.ops.quote_name(model._meta.db_table)} written "
                f"WHERE {within} AND {same})",
                params,
            )
            stale += cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {replaced}")
    return stale


def recompute_warehouse(
    *, warehouse: Warehouse, date_from: dt.date, date_to: dt.date
) -> tuple[Counter, Counter, int]:
    """Recompute one warehouse's KPIs for its local days [date_from, date_to], atomically.

    Returns (snapshot rows per metric, histogram rows per metric, stale rows deleted).
    """
    dialect = Dialect(connection)
    with transaction.atomic(), connection.cursor() as cursor:
        dialect.begin_recompute(cursor, warehouse.id, date_from, date_to)
        # Stamped after the lock: a run that waited writes a later stamp than the one it waited on.
        run = Run(
            warehouse_id=warehouse.id,
            time_zone=warehouse.time_zone,
            date_from=date_from,
            date_to=date_to,
            starts=local_midnight(warehouse, date_from),
            ends=local_midnight(warehouse, date_to + dt.timedelta(days=1)),
            stamp=timezone.now(),
            tolerance_seconds=60.0 * int(setting("DELIVERY_WINDOW_TOLERANCE_MINUTES", 15)),
            dialect=dialect,
            # The range is cleared first: nothing can conflict.
            upsert=False,
        )
        deleted = _clear_range(cursor, run)
        rows, histograms = write_outbound_kpis(cursor, run)
        inbound_rows, inbound_histograms = write_inbound_kpis(cursor, run)
        inventory_rows, inventory_histograms = write_inventory_kpis(cursor, run)
        stale = _count_stale(cursor, run, deleted)
        return (
            rows + inbound_rows + inventory_rows,
            histograms + inbound_histograms + inventory_histograms,
            stale,
        )


def recompute_kpis(
    *,
    date_from: dt.date,
    date_to: dt.date,
    warehouse_ids: list[int] | None = None,
    jobs: int = 1,
) -> RecomputeResult:
    """Recompute the KPI snapshots and histograms of the local days [date_from, date_to] of
    every warehouse (or those in `warehouse_ids`), one transaction per warehouse.

    With `jobs` > 1 (PostgreSQL only; for backfills) each warehouse's range is cut into
    `jobs` chunks of equal length (at least MIN_CHUNK_DAYS, at most MAX_CHUNK_DAYS days),
    recomputed by that many connections side by side, one transaction per chunk: a long
    backfill then uses every core, and a failure keeps the chunks already done. Called inside
    a transaction, it stays on the caller's connection.

    Idempotent: running it again writes the same rows. Raises ValueError when date_from is
    after date_to.
    """
    if date_from > date_to:
        raise ValueError(f"The range starts ({date_from}) after it ends ({date_to}).")
    started = time.perf_counter()
    warehouses = Warehouse.objects.order_by("id")
    if warehouse_ids is not None:
        warehouses = warehouses.filter(id__in=warehouse_ids)
    ranges = [(warehouse, date_from, date_to) for warehouse in warehouses]
    # Other connections cannot see what an open transaction of the caller wrote: inside one,
    # stay on this connection.
    if jobs > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        return _recompute_in_parallel(_chunks(ranges, jobs), jobs=jobs, started=started)
    return _recompute(ranges, started=started)


# Every chunk builds its events and reads the line tables once, so fewer, longer chunks cost
# less in all: one per connection (a year on two connections: two half-years, where month-long
# chunks built the events twelve times). Bounded so that a decade's backfill keeps its
# temporary tables and sorts at a half-year's size.
MIN_CHUNK_DAYS = 31
MAX_CHUNK_DAYS = 183


def _chunks(ranges: list[tuple[Warehouse, dt.date, dt.date]], jobs: int) -> list[tuple]:
    chunks = []
    for warehouse, date_from, date_to in ranges:
        days = (date_to - date_from).days + 1
        length = min(MAX_CHUNK_DAYS, max(MIN_CHUNK_DAYS, -(-days // jobs)))
        start = date_from
        while start <= date_to:
            end = min(start + dt.timedelta(days=length - 1), date_to)
            chunks.append((warehouse, start, end))
            start = end + dt.timedelta(days=1)
    return chunks


def _recompute_in_parallel(chunks: list[tuple], *, jobs: int, started: float) -> RecomputeResult:
    def one(chunk: tuple) -> tuple[Counter, Counter, int]:
        warehouse, date_from, date_to = chunk
        try:
            return recompute_warehouse(warehouse=warehouse, date_from=date_from, date_to=date_to)
        finally:
            connection.close()  # this thread's own connection

    rows: Counter = Counter()
    histogram_rows: Counter = Counter()
    deleted = 0
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for written, histograms, stale in pool.map(one, chunks):
            rows.update(written)
            histogram_rows.update(histograms)
            deleted += stale
    return RecomputeResult(
        rows=dict(sorted(rows.items())),
        histogram_rows=dict(sorted(histogram_rows.items())),
        deleted_rows=deleted,
        warehouses=len({chunk[0].id for chunk in chunks}),
        seconds=time.perf_counter() - started,
    )


def recompute_recent_kpis(*, days: int, now: dt.datetime | None = None) -> RecomputeResult:
    """Recompute the last `days` local days (today included) of every warehouse, each in its
    own time zone: today's and yesterday's with days=2, the last week with days=7."""
    started = time.perf_counter()
    now = now or timezone.now()
    ranges = []
    for warehouse in Warehouse.objects.order_by("id"):
        today = timezone.localtime(now, warehouse.tzinfo).date()
        ranges.append((warehouse, today - dt.timedelta(days=days - 1), today))
    return _recompute(ranges, started=started)


def _recompute(
    ranges: list[tuple[Warehouse, dt.date, dt.date]], *, started: float
) -> RecomputeResult:
    rows: Counter = Counter()
    histogram_rows: Counter = Counter()
    deleted = 0
    for warehouse, date_from, date_to in ranges:
        written, histograms, stale = recompute_warehouse(
            warehouse=warehouse, date_from=date_from, date_to=date_to
        )
        rows.update(written)
        histogram_rows.update(histograms)
        deleted += stale
    return RecomputeResult(
        rows=dict(sorted(rows.items())),
        histogram_rows=dict(sorted(histogram_rows.items())),
        deleted_rows=deleted,
        warehouses=len(ranges),
        seconds=time.perf_counter() - started,
    )
