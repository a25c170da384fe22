"""The statements every KPI family shares: aggregate a family's source rows per local day and
slice, in the database, into KpiSnapshot and KpiHistogram rows, inserted in the order of the
tables' unique index (rows arriving in index order touch each index page once; in hash order,
any page at random: measured 30 % less CPU per row written).

A family provides a `Source`: a SELECT (with its parameters) returning one row per event,
with a `day` column (the warehouse's local day) and, for every dimension the family's metrics
are sliced by, `<dimension>_key` and `<dimension>_label` columns. It becomes the `base` CTE;
one branch per dimension, joined with UNION ALL, groups it by day and slice. A source read by
several statements is first `materialize`d into a temporary table, so its joins run once.

Rows are written only for slices with a positive denominator: a day without events has no
rows, and `value` is never NULL.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from shipping.kpis.buckets import STEPS_PER_DOUBLING, bucket_sql
from shipping.kpis.definitions import BY_NAME
from shipping.kpis.dialect import Dialect
from shipping.models import Dimension, KpiHistogram, KpiSnapshot

ALL_LABEL = str(Dimension.ALL.label)


@dataclass(frozen=True)
class Run:
    """One warehouse's recomputation: its local days [date_from, date_to] and the stamp that
    marks every row written, so rows not written this time can be found and deleted."""

    warehouse_id: int
    time_zone: str
    date_from: dt.date
    date_to: dt.date
    starts: dt.datetime  # local midnight starting date_from
    ends: dt.datetime  # local midnight after date_to
    stamp: dt.datetime
    tolerance_seconds: float
    dialect: Dialect
    # Whether the statements need a conflict clause. `recompute_warehouse` deletes the days'
    # rows first, so its runs insert without one (the conflict checks cost 10-35 %, an update
    # over an existing row about twice an insert); True writes over rows left in place.
    upsert: bool = True

    def local_date(self, timestamp: str) -> tuple[str, list[Any]]:
        return self.dialect.local_date(timestamp, self.time_zone)

    def seconds_between(self, later: str, earlier: str) -> str:
        return self.dialect.seconds_between(later, earlier)

    def in_days(self, timestamp: str) -> tuple[str, list[Any]]:
        """A condition keeping `timestamp` inside the run's local days (index friendly)."""
        return (
            f"{timestamp} >= %s AND {timestamp} < %s",
            [self.dialect.timestamp(self.starts), self.dialect.timestamp(self.ends)],
        )


@dataclass(frozen=True)
class Source:
    sql: str
    params: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class Ratio:
    """A rate or average: SUM(numerator) / SUM(denominator) over the base rows of a slice.
    Both are SQL expressions over the source's columns."""

    metric: str
    numerator: str
    denominator: str


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def table(model) -> str:
    return quote(model._meta.db_table)


def materialize(cursor, name: str, source: Source) -> Source:
    """Run `source` once into the temporary table `name`; return a source reading it.

    The table lives in this transaction's session only; `drop` it when done (a rollback
    removes it too: both databases roll DDL back).
    """
    cursor.execute(f"CREATE TEMPORARY TABLE {quote(name)} AS {source.sql}", source.params)
    # Temporary tables get no automatic statistics; the aggregations plan better with them.
    cursor.execute(f"ANALYZE {quote(name)}")
    return Source(f"SELECT * FROM {quote(name)}")


def drop(cursor, name: str) -> None:
    cursor.execute(f"DROP TABLE {quote(name)}")


def _per_slice(
    dimensions: Sequence[str], columns: str, *, extra_group: str = ""
) -> tuple[str, list[Any]]:
    """One grouped SELECT over `base` per dimension, joined with UNION ALL.

    Each branch yields day, dimension, slice_key, slice_label, then `columns` (aggregates).
    """
    branches, params = [], []
    group = f", {extra_group}" if extra_group else ""
    for dimension in dimensions:
        if dimension == Dimension.ALL:
            branches.append(
                f"SELECT day, %s AS dimension, %s AS slice_key, %s AS slice_label{group}, "
                f"{columns} FROM base GROUP BY day{group}"
            )
            params += [str(dimension), "", ALL_LABEL]
        else:
            branches.append(
                f"SELECT day, %s AS dimension, {dimension}_key AS slice_key, "
                f"MAX({dimension}_label) AS slice_label{group}, {columns} "
                f"FROM base GROUP BY day, {dimension}_key{group}"
            )
            params.append(str(dimension))
    return "\nUNION ALL\n".join(branches), params


def _columns(*names: str) -> str:
    return ", ".join(quote(name) for name in names)


SNAPSHOT_COLUMNS = (
    "date",
    "warehouse_id",
    "dimension",
    "key",
    "label",
    "metric",
    "numerator",
    "denominator",
    "value",
    "computed_at",
)
SNAPSHOT_SLICE = ("date", "warehouse_id", "dimension", "key", "metric")
HISTOGRAM_COLUMNS = (
    "date",
    "warehouse_id",
    "dimension",
    "key",
    "metric",
    "bucket",
    "count",
    "computed_at",
)


def _on_conflict(run: Run, unique: Sequence[str], updated: Sequence[str]) -> str:
    if not run.upsert:
        return ""
    sets = ", ".join(f"{quote(name)} = excluded.{quote(name)}" for name in updated)
    return f"ON CONFLICT ({_columns(*unique)}) DO UPDATE SET {sets}"


def _snapshot_upsert(run: Run) -> str:
    return _on_conflict(
        run, SNAPSHOT_SLICE, ("label", "numerator", "denominator", "value", "computed_at")
    )


def upsert_ratios(cursor, run: Run, source: Source, ratios: Sequence[Ratio]) -> Counter:
    """Snapshot rows for rate and average metrics sharing one source, each metric for the
    slices its definition names. Returns the rows written per metric."""
    dimensions = tuple(
        dict.fromkeys(d for ratio in ratios for d in BY_NAME[ratio.metric].dimensions)
    )
    sums = ", ".join(
        f"SUM({ratio.numerator}) AS n{index}, SUM({ratio.denominator}) AS d{index}"
        for index, ratio in enumerate(ratios)
    )
    per_slice, slice_params = _per_slice(dimensions, sums)
    # Unpivot: one output row per slice and metric, picking that metric's pair of sums, for
    # the (metric, dimension) pairs the catalogue asks for.
    wanted = [
        (index, ratio.metric, str(dimension))
        for index, ratio in enumerate(ratios)
        for dimension in BY_NAME[ratio.metric].dimensions
    ]
    metrics = " UNION ALL ".join(
        f"SELECT {index} AS position, %s AS metric, %s AS dimension" for index, _, _ in wanted
    )
    numerator = " ".join(f"WHEN {index} THEN s.n{index}" for index in range(len(ratios)))
    denominator = " ".join(f"WHEN {index} THEN s.d{index}" for index in range(len(ratios)))
    ctes = f"""
        WITH base AS ({source.sql}),
        per_slice AS ({per_slice})"""
    insert = f"""
        INSERT INTO {table(KpiSnapshot)} ({_columns(*SNAPSHOT_COLUMNS)})
        SELECT day, %s, dimension, slice_key, slice_label, metric, numerator, denominator,
               numerator * 1.0 / denominator, %s
        FROM (
            SELECT s.day, s.dimension, s.slice_key, s.slice_label, m.metric,
                   CASE m.position {numerator} END AS numerator,
                   CASE m.position {denominator} END AS denominator
            FROM per_slice s JOIN ({metrics}) m ON m.dimension = s.dimension
        ) AS unpivoted
        WHERE denominator > 0
        ORDER BY metric, dimension, day, slice_key
        {_snapshot_upsert(run)}"""
    params = [
        *source.params,
        *slice_params,
        run.warehouse_id,
        run.dialect.timestamp(run.stamp),
        *[value for _, metric, dimension in wanted for value in (metric, dimension)],
    ]
    return run.dialect.write_counted(cursor, ctes, insert, params)


def _per_bucket(source: Source, metric: str, seconds: str, where: str) -> tuple[str, list[Any]]:
    """The CTEs of a duration metric, ending in `per_bucket`: durations and their total
    seconds per day, slice and log-scale bucket."""
    per_slice, params = _per_slice(
        BY_NAME[metric].dimensions,
        "COUNT(*) AS durations, SUM(seconds) AS total_seconds",
        extra_group="bucket",
    )
    # Negative durations (clock skew between devices) count as zero, as the buckets do.
    clamped = f"CASE WHEN ({seconds}) < 0 THEN 0 ELSE ({seconds}) END"
    filtered = f"WHERE {where}" if where else ""
    ctes = f"""
        WITH measured AS (
            SELECT events.*, {clamped} AS seconds FROM ({source.sql}) AS events {filtered}
        ),
        base AS (SELECT measured.*, {bucket_sql("seconds")} AS bucket FROM measured),
        per_bucket AS ({per_slice})"""
    return ctes, [*source.params, *params]


def upsert_duration(
    cursor, run: Run, source: Source, *, metric: str, seconds: str, where: str = ""
) -> tuple[Counter, Counter]:
    """Histogram rows of a duration metric, then its snapshot rows: numerator = total seconds,
    denominator = durations, value = the median read from the same buckets (nearest rank,
    as `buckets.percentile`), so a day's value agrees with a one-day period's median.

    Returns (snapshot rows, histogram rows) written, per metric."""
    ctes, params = _per_bucket(source, metric, seconds, where)
    stamp = run.dialect.timestamp(run.stamp)
    histograms = run.dialect.write_counted(
        cursor,
        ctes,
        f"""
        INSERT INTO {table(KpiHistogram)} ({_columns(*HISTOGRAM_COLUMNS)})
        SELECT day, %s, dimension, slice_key, %s, bucket, durations, %s
        FROM per_bucket WHERE durations > 0
        ORDER BY dimension, day, slice_key, bucket
        {_on_conflict(run, (*SNAPSHOT_SLICE, "bucket"), ("count", "computed_at"))}""",
        [*params, run.warehouse_id, metric, stamp],
    )
    # Median by nearest rank: the first bucket whose running count reaches half the durations.
    ranked = f"""{ctes},
        ranked AS (
            SELECT per_bucket.*,
                   SUM(durations) OVER (
                       PARTITION BY day, dimension, slice_key ORDER BY bucket
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
                   ) AS running,
                   SUM(durations) OVER (PARTITION BY day, dimension, slice_key) AS slice_total
            FROM per_bucket
        )"""
    snapshots = run.dialect.write_counted(
        cursor,
        ranked,
        f"""
        INSERT INTO {table(KpiSnapshot)} ({_columns(*SNAPSHOT_COLUMNS)})
        SELECT day, %s, dimension, slice_key, MAX(slice_label), %s,
               SUM(total_seconds), SUM(durations),
               POWER(CAST(2 AS DOUBLE PRECISION),
                     (MIN(CASE WHEN 2 * running >= slice_total THEN bucket END) + 0.5)
                     / {STEPS_PER_DOUBLING}),
               %s
        FROM ranked WHERE durations > 0
        GROUP BY day, dimension, slice_key
        ORDER BY dimension, day, slice_key
        {_snapshot_upsert(run)}""",
        [*params, run.warehouse_id, metric, stamp],
    )
    return snapshots, histograms
