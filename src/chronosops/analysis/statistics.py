"""Robust statistics for comparing an incident window with its baseline."""

from __future__ import annotations

from collections.abc import Sequence

from chronosops.core.aggregation import quantile

__all__ = ["MAD_SCALE", "mad", "median", "quantile", "ratio", "robust_z"]

# Scale factor that makes the MAD a consistent estimator of the standard deviation.
MAD_SCALE = 1.4826


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of nothing")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def mad(values: Sequence[float]) -> float:
    centre = median(values)
    return median([abs(v - centre) for v in values])


def robust_z(value: float, baseline: Sequence[float]) -> float:
    """How many robust standard deviations ``value`` lies from the baseline's median.

    A flat baseline has a MAD of zero; a floor of 1 % of its level (or a tiny absolute value)
    keeps the score finite without calling every wobble an anomaly.
    """
    centre = median(baseline)
    spread = MAD_SCALE * mad(baseline)
    floor = max(abs(centre) * 0.01, 1e-9)
    return (value - centre) / max(spread, floor)


def ratio(after: float, before: float) -> float:
    """after / before, with a zero baseline read as "grew from nothing" rather than infinity."""
    if before == 0:
        return 1.0 if after == 0 else float("inf")
    return after / before
