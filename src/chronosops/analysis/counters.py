"""Cumulative counters, read as the rates they count.

A Prometheus counter (``http_requests_total``, ``errors_total``), a histogram's ``_count`` and
``_sum``, a CPU's ``container_cpu_usage_seconds_total`` and an OpenTelemetry sum with
cumulative temporality only ever grow. Sent as they are scraped (instead of through
``rate()``), their level after any onset is above their level before it whatever happened, so
every rule read a steady counter as "errors rose: 1040 → 1115", and a real rise of its rate as
no more than the same climb a little steeper. So a counter becomes its per-second rate once,
before any rule reads it (`as_rates`), as ``rate()`` would have made it:

- a series is a counter when its name says so (``_total``; ``_count`` and ``_sum`` for
  counts of requests, errors and collections, since ``_count`` also ends gauges such as
  ``thread_count``) *and* its values never fall except by a reset, and rise in more than one
  step: a per-minute count that happens to end in ``_total`` wobbles down and is left as
  sent; a level kind (a share, memory, a pool's use, a breaker's state) is never one;
- a reset (a restarted process starts its counter at zero: a fall to under half the value
  before) counts the value after it as what was counted since;
- the rate of a step is its increase over the seconds between the two samples, stamped at
  the later one (the first sample has no rate).

Not converted here: a latency histogram's ``_count``/``_sum`` pair and its ``_bucket`` series,
which `analysis.pairs` and `analysis.buckets` read first (as the mean latency and a p95); restart and OOM-kill counts (``kube_pod_container_status_restarts_total``): the
restart rules read the count itself, where one more restart after the onset is the signal; and
a counter whose name says nothing of it (a plain ``errors`` that only grows), which values
alone cannot tell from a rate that rose throughout.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

from chronosops.core.aggregation import series_stats
from chronosops.core.artifacts import MetricSeries, SeriesPoint

# The conventions' suffix for a counter (Prometheus/OpenMetrics ``_total``, dotted ``.total``).
_TOTAL_NAME = re.compile(r"[_.]total$")
# A histogram's or summary's parts; ``_count`` also ends many gauges (``thread_count``), so
# these count only for kinds that are counts of events.
_PART_NAME = re.compile(r"[_.](count|sum)$")
_PART_KINDS = frozenset({"traffic", "errors", "gc"})
# Kinds that are levels, never counted up: a share, a footprint, a pool's use, a breaker's
# state; and restarts, whose count itself is read (one more restart after the onset is the news).
_LEVEL_KINDS = frozenset(
    {"error_ratio", "availability", "memory", "saturation", "restarts", "circuit_open", "cache_hit"}
)
# A fall to under this share of the value before is a reset (the process restarted), not noise.
RESET_SHARE = 0.5
# A unit that says the values are already a rate or a level (``requests/s``, ``cores``, ``%``):
# whatever its name, such a series was read through ``rate()`` before it was sent.
_RATE_UNIT = re.compile(r"/|\bper\b|^cores?$|^%$|percent")
# At least this many points, so a series that only grew did so more than by chance.
MIN_POINTS = 4


def is_counter(
    name: str, kind: str | None, values: Sequence[float], unit: str | None = None
) -> bool:
    """Whether a series is a cumulative counter: named as one, in no unit of a rate, never
    falling but by a reset, rising in more than one step."""
    if kind in _LEVEL_KINDS or len(values) < MIN_POINTS:
        return False
    if is_rate_unit(unit):
        return False
    lowered = name.lower()
    if not (_TOTAL_NAME.search(lowered) or (kind in _PART_KINDS and _PART_NAME.search(lowered))):
        return False
    return only_grows(values, rises=2)


def is_rate_unit(unit: str | None) -> bool:
    """Whether ``unit`` says its series was read through ``rate()`` (or is a level) already."""
    return bool(unit and _RATE_UNIT.search(unit.strip().lower()))


def only_grows(values: Sequence[float], *, rises: int = 0) -> bool:
    """Whether ``values`` never fall but by a reset, rising in at least ``rises`` steps."""
    counted = 0
    for before, after in pairwise(values):
        if after > before:
            counted += 1
        elif after < before and after >= before * RESET_SHARE:
            # A fall that is no reset: a rate or a gauge that moves both ways.
            return False
    return counted >= rises


def as_rate(series: MetricSeries) -> MetricSeries:
    """The counter's per-second rate: one point per step between samples."""
    points: list[SeriesPoint] = []
    for before, after in pairwise(series.points):
        seconds = (after.ts - before.ts).total_seconds()
        if seconds <= 0:
            continue
        counted = after.value - before.value if after.value >= before.value else after.value
        points.append(SeriesPoint(ts=after.ts, value=counted / seconds))
    if not points:
        return series
    unit = f"{series.unit}/s" if series.unit else "/s"
    return series.model_copy(
        update={
            "points": points,
            "stats": series_stats([p.value for p in points]),
            "unit": unit,
        }
    )
