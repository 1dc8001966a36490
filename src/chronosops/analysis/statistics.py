"""Robust statistics for comparing an incident window with its baseline."""

from __future__ import annotations

import math
from collections.abc import Sequence

from chronosops.core.aggregation import quantile

__all__ = [
    "MAD_SCALE",
    "chi_square_sf",
    "fisher_exact",
    "homogeneity",
    "mad",
    "median",
    "quantile",
    "ratio",
    "robust_z",
]

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


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of Fisher's exact test on the 2×2 table [[a, b], [c, d]].

    The probability, with the margins fixed, of a table at most as likely as the one seen.
    Exact for the small counts a few minutes of sampled evidence give (linear in the margin).
    """
    if min(a, b, c, d) < 0:
        raise ValueError("counts must not be negative")
    row, column, total = a + b, a + c, a + b + c + d
    if total == 0:
        return 1.0

    def log_probability(x: int) -> float:
        return (
            _log_choose(column, x) + _log_choose(total - column, row - x) - _log_choose(total, row)
        )

    seen = log_probability(a)
    low, high = max(0, row + column - total), min(row, column)
    p = sum(
        math.exp(log_probability(x))
        for x in range(low, high + 1)
        if log_probability(x) <= seen + 1e-9
    )
    return min(1.0, p)


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def chi_square_sf(statistic: float, dof: float) -> float:
    """P(X >= ``statistic``) for a chi-square variable with ``dof`` degrees of freedom: the
    regularised upper incomplete gamma Q(dof/2, statistic/2), by its series below a + 1 and its
    continued fraction above (Numerical Recipes' gammq)."""
    if dof <= 0 or statistic <= 0:
        return 1.0
    a, x = dof / 2, statistic / 2
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1 / a
        for n in range(1, 1000):
            term *= x / (a + n)
            total += term
            if abs(term) < abs(total) * 1e-14:
                break
        return min(1.0, max(0.0, 1 - math.exp(log_front) * total))
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for n in range(1, 1000):
        an = -n * (n - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        step = d * c
        h *= step
        if abs(step - 1) < 1e-14:
            break
    return min(1.0, max(0.0, math.exp(log_front) * h))


def f_sf(statistic: float, dof_num: float, dof_den: float) -> float:
    """P(X >= ``statistic``) for an F variable: the regularised incomplete beta
    I(x; dof_den/2, dof_num/2) at x = dof_den / (dof_den + dof_num * statistic), by its continued
    fraction (Numerical Recipes' betai)."""
    if dof_num <= 0 or dof_den <= 0:
        return 1.0
    if statistic <= 0:
        return 1.0
    a, b = dof_den / 2, dof_num / 2
    x = dof_den / (dof_den + dof_num * statistic)
    if x <= 0:
        return 0.0
    if x >= 1:
        # A statistic so small beside the denominator's freedom that x rounds to 1: no
        # evidence at all (log1p(-1) raised: a tuned OnlineBoutique operation mix read against
        # five earlier incidents stopped its analysis).
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return min(1.0, max(0.0, math.exp(log_front) * _beta_fraction(a, b, x) / a))
    return min(1.0, max(0.0, 1 - math.exp(log_front) * _beta_fraction(b, a, 1 - x) / b))


def _beta_fraction(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (tiny if abs(d) < tiny else d)
    h = d
    for m in range(1, 1000):
        for an in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + an * d
            d = 1 / (tiny if abs(d) < tiny else d)
            c = 1 + an / c
            c = tiny if abs(c) < tiny else c
            h *= d * c
        if abs(d * c - 1) < 1e-14:
            break
    return h


def homogeneity(rows: Sequence[tuple[float, float]]) -> float:
    """Pearson's chi-square test that ``rows`` of (count before, count after) split between the
    two sides in one proportion: the p-value (1.0 with fewer than two non-empty rows or an empty
    side)."""
    rows = [row for row in rows if row[0] + row[1] > 0]
    before = sum(row[0] for row in rows)
    after = sum(row[1] for row in rows)
    if len(rows) < 2 or before <= 0 or after <= 0:
        return 1.0
    share = after / (before + after)
    statistic = 0.0
    for count_before, count_after in rows:
        total = count_before + count_after
        statistic += (count_after - total * share) ** 2 / (total * share)
        statistic += (count_before - total * (1 - share)) ** 2 / (total * (1 - share))
    return chi_square_sf(statistic, len(rows) - 1)
