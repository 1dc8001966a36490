"""Units, read once where a metric series becomes a signal.

Rules test levels and steps of a signal against constants ("a CPU 75% busy", "errors up a
point"), and those constants mean one thing only in one unit. So every series is brought to its
kind's unit before anything reads it (`normalise`), and the rules read that unit only:

- bounded kinds (CPU, memory and pool/disk utilisation, error ratio, availability / success
  rate, cache hit ratio) as a **0–1 share**: a series in percent is a hundredth of its value;
- latency keeps its values (only its ratios are tested) but carries its unit (``s``, ``ms``,
  ``us``) for the smallest change that counts (`signals.unit_floor`).

Where the unit comes from, first that says anything:

1. the series' own unit (OpenTelemetry's ``unit``, OpenMetrics' ``# UNIT``, a collector's):
   ``%``/``percent`` is percent; ``1``/``ratio``/``fraction`` is a share; ``ms``, ``s``, ``us``
   for latency; any other unit (cores, nanocores, bytes) is not a share and is left alone;
2. the name: ``percent``, ``pct``, ``percentage`` is percent; ``_ms``, ``_milliseconds``,
   ``millis`` and ``_us``, ``_usec``, ``_microseconds`` for latency (else seconds);
3. the values, for a kind that cannot exceed one as a share (an error ratio, a success rate, a
   hit ratio, a CPU utilisation whose name says nothing of cores or seconds): a series that
   goes above 1.05 (a CPU above 1.5, which overshoots its limit between samples) and stays
   within 100 is in percent.

Limits: a percent series that never reaches 1% in the whole window (a near-idle CPU, a clean
error ratio) is indistinguishable from a share by its values and stays as sent; a CPU in cores
(``container_cpu_usage_seconds_total``) has no limit to be a share of and is left in cores.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from chronosops.analysis.buckets import read_buckets
from chronosops.analysis.counters import as_rate, is_counter
from chronosops.analysis.pairs import pair
from chronosops.analysis.quantiles import read_statistics
from chronosops.analysis.signals import SignalTable
from chronosops.core.aggregation import series_stats
from chronosops.core.artifacts import Artifact, MetricSeries, SeriesPoint

# Kinds whose level is a share of a limit, so a percent series is read as a hundredth.
BOUNDED_KINDS = frozenset(
    {"cpu", "memory", "saturation", "error_ratio", "availability", "cache_hit"}
)
# Kinds that cannot exceed one as a share: their values alone tell percent from share.
RATIO_KINDS = frozenset({"error_ratio", "availability", "cache_hit", "cpu"})

# The most a share reaches and stays one: a ratio of requests reads a little above 1 only by
# rounding; a CPU's share of its limit overshoots it between throttling periods and samples
# (1.02, 1.1), never by half again. Above these, the series is in percent.
RATIO_SHARE_MAX = 1.05
CPU_SHARE_MAX = 1.5

PERCENT_UNITS = frozenset({"%", "percent", "pct", "percentage", "percent_"})
SHARE_UNITS = frozenset({"1", "ratio", "fraction", "share", "{ratio}"})
_PERCENT_NAME = re.compile(r"percent|pct")
# A CPU counted in cores (seconds of CPU per second), nanocores or load: not a share of a limit.
_NOT_SHARE_CPU = re.compile(r"seconds|cores?\b|_cores|nanocore|load|throttl|_total$|count")

MILLIS_UNITS = frozenset({"ms", "millisecond", "milliseconds", "msec"})
MICROS_UNITS = frozenset({"us", "µs", "usec", "microsecond", "microseconds"})
SECONDS_UNITS = frozenset({"s", "sec", "second", "seconds"})
_MILLIS_NAME = re.compile(r"_ms$|_ms_|millis|_milliseconds")
_MICROS_NAME = re.compile(r"_us$|_usec|_microseconds|micros")


def share_scale(name: str, kind: str | None, unit: str | None, values: Sequence[float]) -> float:
    """What to multiply a series by to read it as a 0–1 share (1.0: already one, or not a
    bounded kind)."""
    if kind not in BOUNDED_KINDS:
        return 1.0
    hint = (unit or "").strip().lower()
    if hint in PERCENT_UNITS:
        return 0.01
    if hint:
        # A share, or a unit that is not one (cores, bytes): either way not percent.
        return 1.0
    lowered = name.lower()
    if _PERCENT_NAME.search(lowered):
        return 0.01
    if kind not in RATIO_KINDS or (kind == "cpu" and _NOT_SHARE_CPU.search(lowered)):
        return 1.0
    top = max(values, default=0.0)
    return 0.01 if (CPU_SHARE_MAX if kind == "cpu" else RATIO_SHARE_MAX) < top <= 100.0 else 1.0


def latency_unit(name: str, unit: str | None) -> str:
    """``s``, ``ms`` or ``us``: the series' own unit, else its name's, else seconds."""
    hint = (unit or "").strip().lower()
    if hint in MILLIS_UNITS:
        return "ms"
    if hint in MICROS_UNITS:
        return "us"
    if hint in SECONDS_UNITS:
        return "s"
    lowered = name.lower()
    if _MILLIS_NAME.search(lowered):
        return "ms"
    if _MICROS_NAME.search(lowered):
        return "us"
    return "s"


def normalise_series(series: MetricSeries, table: SignalTable) -> MetricSeries:
    """The series in its kind's unit, with ``unit`` saying which; a cumulative counter as its
    per-second rate (`counters`)."""
    kind = table.kind_of(series.name, series.labels)
    if is_counter(series.name, kind, [p.value for p in series.points], series.unit):
        return as_rate(series)
    if kind == "latency":
        unit = latency_unit(series.name, series.unit)
        return series if unit == series.unit else series.model_copy(update={"unit": unit})
    scale = share_scale(series.name, kind, series.unit, [p.value for p in series.points])
    if scale == 1.0:
        return series
    stats = series.stats.model_copy(
        update={
            key: value * scale
            for key, value in series.stats.model_dump().items()
            if key != "count" and isinstance(value, int | float)
        }
    )
    return series.model_copy(
        update={
            "points": [SeriesPoint(ts=p.ts, value=p.value * scale) for p in series.points],
            "stats": stats,
            "unit": "1",
        }
    )


# A container's CPU limit, as kube-state-metrics (`kube_pod_container_resource_limits` with
# `resource="cpu"`), OpenTelemetry's k8s receiver (`k8s.container.cpu_limit`) and Datadog
# (`kubernetes.cpu.limits`) export it, in cores.
_CPU_LIMIT_NAME = re.compile(r"cpu[_.]?limits?\b|cpu_limit|limits?[_.]cpu")
_RESOURCE_LIMITS_NAME = re.compile(r"resource_limits?$")
# A CPU counted in cores, by its unit or name, and how many cores one of its values is.
_NANOCORES = re.compile(r"nanocore")
_MILLICORES = re.compile(r"millicore|\bm$")
_CORES_NAME = re.compile(r"seconds_total|_cores?\b|nanocore|kubernetes\.cpu\.usage")


def cpu_limit_cores(series: MetricSeries) -> float | None:
    """The CPU limit a series states, in cores (``None``: the series states none)."""
    lowered = series.name.lower()
    is_limit = bool(_CPU_LIMIT_NAME.search(lowered)) or (
        bool(_RESOURCE_LIMITS_NAME.search(lowered)) and series.labels.get("resource") == "cpu"
    )
    if not is_limit or not series.points:
        return None
    values = sorted(p.value for p in series.points)
    limit = values[len(values) // 2] * _cores_per_value(series)
    return limit if limit > 0 else None


def _cores_per_value(series: MetricSeries) -> float:
    text = f"{series.name} {series.unit or ''}".lower()
    if _NANOCORES.search(text):
        return 1e-9
    if _MILLICORES.search((series.unit or "").lower()) or "millicore" in text:
        return 1e-3
    return 1.0


def _in_cores(series: MetricSeries) -> bool:
    unit = (series.unit or "").strip().lower()
    if unit in PERCENT_UNITS or unit in SHARE_UNITS:
        return False
    return unit in {"cores", "core", "nanocore", "nanocores", "millicores", "s/s", "/s"} or bool(
        _CORES_NAME.search(series.name.lower())
    )


def normalise(artifacts: Sequence[Artifact], table: SignalTable) -> list[Artifact]:
    """Every metric series in its kind's unit; other artifacts as they are; pairs of series as
    the signal they carry (`pairs.pair`). A CPU in cores becomes a share of its container's
    limit where the bundle states the limit for its service (a limit series, or a cgroup quota
    over its period), and the limit series itself is left out (a flat CPU level is no signal, and read as one it
    would compete with the usage)."""
    # A distribution's statistics first (`quantiles`): one of a summary's quantiles is its
    # latency, and its sum gives way. Then a histogram's buckets (`buckets`): their quantile
    # and count are what the pairs and counters below read. Then pairs (`pairs`): a
    # histogram's sum and count, failures beside requests, a cgroup's quota and period; what
    # is left is read series by series.
    paired = pair(read_buckets(read_statistics(artifacts, table), table), table)
    artifacts = paired.artifacts
    limits: dict[str | None, float] = {}
    for item in artifacts:
        if isinstance(item, MetricSeries):
            limit = cpu_limit_cores(item)
            if limit is not None:
                limits.setdefault(item.service, limit)
    for service, limit in paired.cpu_limits.items():
        limits.setdefault(service, limit)
    found: list[Artifact] = []
    for item in artifacts:
        if not isinstance(item, MetricSeries):
            found.append(item)
            continue
        if limits and cpu_limit_cores(item) is not None:
            continue
        limit = limits.get(item.service)
        if limit is not None and table.kind_of(item.name, item.labels) == "cpu" and _in_cores(item):
            found.append(_share_of_limit(normalise_series(item, table), item, limit))
        else:
            found.append(normalise_series(item, table))
    return found


def _share_of_limit(read: MetricSeries, sent: MetricSeries, limit: float) -> MetricSeries:
    """A CPU in cores (``read``: a counter already a rate) as a share of ``limit`` cores."""
    scale = _cores_per_value(sent) / limit
    points = [SeriesPoint(ts=p.ts, value=p.value * scale) for p in read.points]
    return read.model_copy(
        update={
            "points": points,
            "stats": series_stats([p.value for p in points]),
            "unit": "1",
        }
    )
