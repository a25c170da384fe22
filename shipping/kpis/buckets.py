"""Log-scale duration buckets: what lets medians and p90s add up across days and slices.

A duration of s seconds (s >= 1) falls in bucket floor(STEPS_PER_DOUBLING * log2(s)); each
bucket is 2**(1/16) ~ 4.4 % wide, so a percentile read back from buckets is within ~2.2 % of
the exact one (the bucket's geometric middle is reported). Durations under a second share
bucket 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

STEPS_PER_DOUBLING = 16


def bucket_sql(seconds_sql: str) -> str:
    """SQL for the bucket of a duration in seconds; LN and FLOOR exist on PostgreSQL and on
    Django's SQLite connections."""
    return (
        f"CAST(FLOOR({STEPS_PER_DOUBLING} * LN(CASE WHEN ({seconds_sql}) < 1 THEN 1 "
        f"ELSE ({seconds_sql}) END) / LN(2)) AS INTEGER)"
    )


def bucket_of(seconds: float) -> int:
    return math.floor(STEPS_PER_DOUBLING * math.log2(max(seconds, 1.0)))


def bucket_middle(bucket: int) -> float:
    """The bucket's geometric middle, in seconds."""
    return 2 ** ((bucket + 0.5) / STEPS_PER_DOUBLING)


def percentile(counts: Iterable[tuple[int, int]], fraction: float) -> float | None:
    """The `fraction` percentile (0.5 = median), in seconds, of (bucket, count) pairs."""
    ordered = sorted((bucket, count) for bucket, count in counts if count)
    total = sum(count for _, count in ordered)
    if not total:
        return None
    # Nearest rank: the smallest value with at least `fraction` of the durations at or below it.
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bucket, count in ordered:
        seen += count
        if seen >= rank:
            return bucket_middle(bucket)
    return bucket_middle(ordered[-1][0])
