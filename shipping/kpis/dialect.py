"""The few places where the KPI SQL differs between PostgreSQL and SQLite.

PostgreSQL is the system of record; SQLite is the embedded default of `make run`. Everything
else in the KPI statements is written in SQL both understand (CTEs, window functions,
UNION ALL, INSERT ... ON CONFLICT DO UPDATE).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from warehouse.models import Warehouse

# First key of the two-key PostgreSQL advisory locks taken per warehouse and day while its KPIs
# are recomputed; the second key is `day_lock_key(warehouse_id, day)`. Any fixed number unused
# elsewhere will do.
KPI_LOCK_CLASS = 7_001
_LOCK_EPOCH = dt.date(2000, 1, 1)
_DAYS_PER_WAREHOUSE = 100_000  # ~270 years of days per warehouse id in a 32-bit key
# Ranges at least this long get more memory per sort and hash (a backfill's chunks).
LONG_RANGE_DAYS = 32


def day_lock_key(warehouse_id: int, day: dt.date) -> int:
    return warehouse_id * _DAYS_PER_WAREHOUSE + (day - _LOCK_EPOCH).days


@dataclass(frozen=True)
class Dialect:
    connection: BaseDatabaseWrapper

    @property
    def is_postgresql(self) -> bool:
        return self.connection.vendor == "postgresql"

    def local_date(self, timestamp: str, time_zone: str) -> tuple[str, list[Any]]:
        """SQL for the calendar date of `timestamp` (an aware column) in `time_zone`."""
        if self.is_postgresql:
            return f"CAST(({timestamp} AT TIME ZONE %s) AS DATE)", [time_zone]
        # Registered by Django on every SQLite connection; stored values are UTC.
        return (
            f"django_datetime_cast_date({timestamp}, %s, %s)",
            [time_zone, self.connection.timezone_name],
        )

    def seconds_between(self, later: str, earlier: str) -> str:
        """SQL for `later - earlier` in seconds, as a floating-point number."""
        if self.is_postgresql:
            return f"CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) AS DOUBLE PRECISION)"
        # julianday() keeps milliseconds; rounding to them removes the floating-point noise that
        # would otherwise put a delivery exactly at the tolerance a hair outside it.
        return f"ROUND((julianday({later}) - julianday({earlier})) * 86400.0, 3)"

    def timestamp(self, value: dt.datetime) -> Any:
        """A timestamp parameter in the form the backend stores and compares."""
        return self.connection.ops.adapt_datetimefield_value(value)

    def date(self, value: dt.date) -> Any:
        return self.connection.ops.adapt_datefield_value(value)

    def write_counted(self, cursor, ctes: str, insert: str, params: list[Any]) -> Counter:
        """Run `ctes` + `insert` (an INSERT ... SELECT whose rows have a `metric` column) and
        return how many rows it wrote per metric, without reading the table again."""
        if self.is_postgresql:
            # A data-modifying CTE: the counting happens in the server.
            cursor.execute(
                f"{ctes}, written AS ({insert} RETURNING metric) "
                "SELECT metric, COUNT(*) FROM written GROUP BY metric",
                params,
            )
            return Counter(dict(cursor.fetchall()))
        cursor.execute(f"{ctes} {insert} RETURNING metric", params)
        return Counter(metric for (metric,) in cursor.fetchall())

    def move_rows(
        self, cursor, *, source: str, target: str, columns: str, where: str, params: list[Any]
    ) -> int:
        """Delete the rows of `source` matching `where`, copying their `columns` into `target`
        first; returns how many were deleted."""
        if self.is_postgresql:
            # One pass over the rows: the deleted rows' columns go straight into the copy.
            cursor.execute(
                f"WITH moved AS (DELETE FROM {source} WHERE {where} RETURNING {columns}) "
                f"INSERT INTO {target} SELECT {columns} FROM moved",
                params,
            )
            return max(cursor.rowcount, 0)
        cursor.execute(f"INSERT INTO {target} SELECT {columns} FROM {source} WHERE {where}", params)
        cursor.execute(f"DELETE FROM {source} WHERE {where}", params)
        return max(cursor.rowcount, 0)

    def begin_recompute(
        self, cursor, warehouse_id: int, date_from: dt.date, date_to: dt.date
    ) -> None:
        """Serialise recomputations of the same days of one warehouse until the transaction
        ends (one lock per day, taken in date order: overlapping runs wait, disjoint ones run
        side by side), and set the session up for a few large statements.

        SQLite needs nothing: it has a single writer, and the transaction holds it.
        """
        if self.is_postgresql:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, k) FROM generate_series(%s, %s) AS k ORDER BY k",
                [
                    KPI_LOCK_CLASS,
                    day_lock_key(warehouse_id, date_from),
                    day_lock_key(warehouse_id, date_to),
                ],
            )
            # The KPI tables have no foreign key to the warehouse (a per-row check cost as much
            # as the insert): hold its row once instead, as such a check would, so that it
            # cannot be deleted under the rows being written.
            warehouses = self.connection.ops.quote_name(Warehouse._meta.db_table)
            cursor.execute(
                f"SELECT 1 FROM {warehouses} WHERE id = %s FOR KEY SHARE", [warehouse_id]
            )
            # A recomputation is a dozen large one-off statements: compiling them (JIT) costs
            # more than it saves (measured: about a second per statement on a month).
            cursor.execute("SET LOCAL jit = off")
            # The month-long aggregations and the sort before each insert spill to disk with
            # the default 4 MB (measured: 150 MB of temporary files for a month's fill rate);
            # longer ranges, a backfill's chunks, get more (with 64 MB a year's delivery
            # metrics sorted 188 MB on disk; with 256 MB a half-year's 1.1 M rows in memory).
            long_range = (date_to - date_from).days >= LONG_RANGE_DAYS
            cursor.execute(f"SET LOCAL work_mem = '{'256MB' if long_range else '64MB'}'")
