"""Recompute KPI snapshots and histograms from the source rows, in the database.

For each warehouse, in its own time zone and its own transaction: every metric family is
aggregated by one or a few `WITH base AS (...) INSERT ... SELECT ... GROUP BY ... ON CONFLICT
DO UPDATE` statements (see `shipping.kpis.statements`; a family's source rows read by several
statements are materialised once in a temporary table), each row stamped with this run's
`computed_at`; then the warehouse's rows of those days that this run did not write (a slice
that no longer exists, a delivery re-dated to another day) are deleted. Two recomputations of
one warehouse are serialised (an advisory lock on PostgreSQL; SQLite has a single writer).
Days without any rows yet (a backfill) are inserted without the conflict clause.

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


def _has_rows(
    cursor, warehouse_id: int, date_from: dt.date, date_to: dt.date, dialect: Dialect
) -> bool:
    """Whether the warehouse has snapshot rows on any of these days (every metric with data
    on a day has a whole-warehouse row, and histograms come with snapshots)."""
    cursor.execute(
        f"SELECT 1 FROM {connection.ops.quote_name(KpiSnapshot._meta.db_table)} "
        f"WHERE warehouse_id = %s AND metric IN ({_in(_METRICS)}) AND dimension = %s "
        "AND date >= %s AND date <= %s LIMIT 1",
        [
            warehouse_id,
            *_METRICS,
            str(Dimension.ALL),
            dialect.date(date_from),
            dialect.date(date_to),
        ],
    )
    return cursor.fetchone() is not None


def _delete_stale(cursor, run: Run) -> int:
    """Rows of the run's warehouse and days not written by this run. Compared by inequality
    with the stamp, not "older than", so a clock that went back cannot keep a stale row."""
    deleted = 0
    for model in (KpiSnapshot, KpiHistogram):
        cursor.execute(
            f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)} "
            f"WHERE warehouse_id = %s AND metric IN ({_in(_METRICS)}) "
            f"AND dimension IN ({_in(_DIMENSIONS)}) AND date >= %s AND date <= %s "
            "AND computed_at <> %s",
            [
                run.warehouse_id,
                *_METRICS,
                *_DIMENSIONS,
                run.dialect.date(run.date_from),
                run.dialect.date(run.date_to),
                run.dialect.timestamp(run.stamp),
            ],
        )
        deleted += max(cursor.rowcount, 0)
    return deleted


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
            upsert=_has_rows(cursor, warehouse.id, date_from, date_to, dialect),
        )
        rows, histograms = write_outbound_kpis(cursor, run)
        inbound_rows, inbound_histograms = write_inbound_kpis(cursor, run)
        deleted = _delete_stale(cursor, run) if run.upsert else 0
        return rows + inbound_rows, histograms + inbound_histograms, deleted


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
    chunks of at most CHUNK_DAYS days, recomputed by that many connections side by side, one
    transaction per chunk: a long backfill then uses every core, and a failure keeps the
    chunks already done. Called inside a transaction, it stays on the caller's connection.

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
        return _recompute_in_parallel(_chunks(ranges), jobs=jobs, started=started)
    return _recompute(ranges, started=started)


CHUNK_DAYS = 31


def _chunks(ranges: list[tuple[Warehouse, dt.date, dt.date]]) -> list[tuple]:
    chunks = []
    for warehouse, date_from, date_to in ranges:
        start = date_from
        while start <= date_to:
            end = min(start + dt.timedelta(days=CHUNK_DAYS - 1), date_to)
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
