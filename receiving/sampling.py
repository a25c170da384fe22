"""How many units of a quarantined lot an inspector samples.

An AQL-style table after ISO 2859-1, general inspection level II, single sampling, normal
inspection: the lot size picks a sample size code letter, the letter a sample size. Lots
smaller than the sample are inspected in full. The inspector decides pass or fail from what
the sample shows; the table only says how much to look at.
"""

from __future__ import annotations

# (largest lot size of the band, sample size)
SAMPLING_TABLE: tuple[tuple[int, int], ...] = (
    (8, 2),
    (15, 3),
    (25, 5),
    (50, 8),
    (90, 13),
    (150, 20),
    (280, 32),
    (500, 50),
    (1_200, 80),
    (3_200, 125),
    (10_000, 200),
    (35_000, 315),
    (150_000, 500),
    (500_000, 800),
)
LARGEST_SAMPLE = 1_250


def sample_size(lot_size: int) -> int:
    """Units to inspect for a lot of `lot_size` units (never more than the lot)."""
    if lot_size <= 0:
        return 0
    for upper, size in SAMPLING_TABLE:
        if lot_size <= upper:
            return min(size, lot_size)
    return LARGEST_SAMPLE
