"""The cut at the onset and how far a side of it moved: which points are the baseline and which
the fault, the robust deviation between them, and its strength (0–1)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from chronosops.analysis.statistics import MAD_SCALE, mad, median
from chronosops.core.artifacts import MetricSeries

# Baseline points a robust reading needs (with fewer, `series.series_evidence` reads a weak one).
MIN_BASELINE = 4


def strength_of(z: float) -> float:
    """Robust z to 0–1: 3 spreads is a hint (0.29), 30 spreads is certain."""
    if z <= 0:
        return 0.0
    return min(1.0, math.log1p(z / 3) / math.log1p(10))


def deviation(
    baseline: Sequence[float], after: Sequence[float], *, floor: float, relative: float
) -> float:
    """(median after − median before) / max(1.4826·MAD, relative·|median|, floor)."""
    centre = median(baseline)
    scale = max(MAD_SCALE * mad(baseline), relative * abs(centre), floor)
    return (median(after) - centre) / scale


@dataclass(frozen=True)
class Cut:
    """Baseline ends a guard gap before the reported start; the fault is read from a minute
    before it on (alerts lag the fault they report)."""

    baseline_end: datetime
    fault_start: datetime

    @classmethod
    def around(cls, onset: datetime) -> Cut:
        return cls(
            baseline_end=onset - timedelta(minutes=2), fault_start=onset - timedelta(minutes=1)
        )

    def sides(self, series: MetricSeries) -> tuple[list[float], list[float]]:
        """The series' values before the baseline's end and from the fault's start; the guard
        gap between them belongs to neither (its points may hold the fault or not)."""
        before = [p.value for p in series.points if p.ts < self.baseline_end]
        after = [p.value for p in series.points if p.ts >= self.fault_start]
        return before, after
