"""Quantiles from cumulative histogram buckets, computed the way Prometheus' ``histogram_quantile`` does.

For scripts that read a scrape and want what a dashboard's
``histogram_quantile(0.95, sum by (le) (rate(..._bucket[5m])))`` says. The load summary does not
use it: within a bucket this can only interpolate (a 0-50 ms bucket gives a 25 ms median whatever
the values), so the summary takes its quantiles from the measured values (``latency.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

__all__ = ["histogram_quantile", "merge_buckets"]


def merge_buckets(series: Iterable[Mapping[float, float]]) -> dict[float, float]:
    """Add cumulative buckets of several label sets by upper bound (``sum by (le)``)."""
    merged: dict[float, float] = {}
    for buckets in series:
        for upper, count in buckets.items():
            merged[upper] = merged.get(upper, 0.0) + count
    return merged


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The ``q`` quantile (0..1) of cumulative ``{upper bound: count}`` buckets, ``+Inf`` included.

    Linear interpolation inside the bucket holding the rank; the first bucket starts at 0 (these
    histograms measure non-negative things). A rank in the ``+Inf`` bucket gives the highest finite
    bound, as Prometheus does. ``None`` when there is no observation.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be between 0 and 1, not {q}")
    bounds = sorted(buckets)
    if not bounds or not math.isinf(bounds[-1]):
        raise ValueError("buckets need a +Inf bucket holding the total count")
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    previous_bound, previous_count = 0.0, 0.0
    for bound in bounds[:-1]:
        count = buckets[bound]
        if count >= rank and count > previous_count:
            if bound <= 0:
                return bound
            share = (rank - previous_count) / (count - previous_count)
            return previous_bound + (bound - previous_bound) * max(0.0, share)
        previous_bound, previous_count = bound, count
    # Only the +Inf bucket is left: its width is unknown, so its lower edge is the best answer.
    return bounds[-2] if len(bounds) > 1 else None
