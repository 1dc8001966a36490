"""A latency histogram sent only as its buckets, read into a quantile and its requests.

Exporters send a latency histogram as one series per bucket, ``<base>_bucket{le="…"}``, each
counting the requests that took at most ``le`` (the Prometheus client libraries'
``http_request_duration_seconds_bucket``, Micrometer's ``http_server_requests_seconds_bucket``,
an OpenTelemetry explicit-bucket histogram exported to Prometheus as
``http_server_request_duration_seconds_bucket``); ``le="+Inf"`` counts every request. No
bucket alone is a latency: each rises with traffic, and read as a latency (the signal table
reads ``_seconds_bucket`` so) a surge was a slowdown and a slowdown only moved the few
buckets above the old tail.

`read_buckets` groups the buckets by base name, service and every label but the bound, and per
interval reads the buckets' increments (cumulative counters, as scraped) or their values (rates,
or counts per interval). From them it computes the quantile `QUANTILE` the way Prometheus's
``histogram_quantile`` does: the +Inf bucket's count is the total, the quantile's rank falls in
the first bucket whose count reaches it, linear inside that bucket (from 0 for the first), and
where the rank falls in +Inf the answer is the highest finite bound. The result replaces the
buckets:

- ``<base>:p95_latency`` (latency, in the unit the base's name gives its bounds), under the id
  of the lowest bucket, so what the analysis cites is in the bundle;
- where the bundle has no ``<base>_count`` of the same labels, the +Inf bucket under that name
  and its own id: the histogram's count is its requests (engine 3.18), so `pairs` and
  `counters` read it as they read a count that was sent (failures by outcome over it, a
  cumulative count as its rate);
- the histogram's ``<base>_sum`` of the same labels is no longer read into a mean
  (`pairs`): the quantile is the better witness of a tail, and one histogram is one latency.

The count and sum may come under the histogram's other name (`same_histogram`): an
OpenTelemetry service sends ``http.server.request.duration.count`` beside its buckets exported
to Prometheus as ``http_server_request_duration_seconds_bucket`` (dots as underscores, the
unit appended, label keys likewise). Such a count is the requests as a count under the bucket
name is: the +Inf bucket leaves rather than count the requests a second time (engine 3.26).

Only bases the signal table reads as latency are read: a garbage collector's pause buckets
(``jvm_gc_pause_seconds_bucket``) are not requests. A group needs a +Inf bucket and one finite
bound, and `MIN_POINTS` intervals with requests, or it is left as sent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from chronosops.analysis.counters import MIN_POINTS as COUNTER_POINTS
from chronosops.analysis.counters import as_rate, is_rate_unit, only_grows
from chronosops.analysis.pairs import series_key, with_replacements
from chronosops.analysis.signals import SignalTable
from chronosops.core.aggregation import series_stats
from chronosops.core.artifacts import Artifact, MetricSeries, SeriesPoint


@dataclass(frozen=True)
class BucketRow:
    """One convention's bucket series: a pattern on the lower-cased name with a ``base`` and a
    ``sep`` group, the label that holds the bound, and the names of the histogram's count and
    sum (templates of those groups)."""

    pattern: str
    bound_label: str
    count: str
    total: str


# Read top to bottom; the first row whose pattern matches a name decides how it is read.
BUCKET_ROWS: tuple[BucketRow, ...] = (
    # Prometheus / OpenMetrics classic histograms (client libraries, Micrometer, OpenTelemetry
    # exported to Prometheus) and OpenTelemetry's dotted names
    BucketRow(r"^(?P<base>.+)(?P<sep>[_.])bucket$", "le", "{base}{sep}count", "{base}{sep}sum"),
)

# The quantile read from the buckets: the p95 every other latency the engine reads is (the
# generator's and the Prometheus collector's default latency, the exporters' usual gauge), so a
# histogram is the same signal as the gauge it stands for. A higher quantile falls in the +Inf
# bucket or the widest finite one sooner, where the answer is a bound, not a measurement.
QUANTILE = 0.95
QUANTILE_SUFFIX = f":p{round(QUANTILE * 100)}_latency"
# Intervals with requests a quantile series needs, or the buckets are read as sent (as `pairs`).
MIN_POINTS = 3

_INFINITE = frozenset({"+inf", "inf", "+infinity", "infinity"})

# What tells one histogram's names apart across conventions: OpenTelemetry's dots where
# Prometheus has underscores, and the unit Prometheus exporters append to the base.
_SEPARATORS = re.compile(r"[.]")
_PART = re.compile(
    r"^(?P<base>.*?)(?:_seconds|_milliseconds|_microseconds|_ms|_us)?_(?P<part>count|sum)$"
)


@dataclass
class _Group:
    base: str
    sep: str
    row: BucketRow
    buckets: list[tuple[float, MetricSeries]]


def read_buckets(artifacts: Sequence[Artifact], table: SignalTable) -> list[Artifact]:
    """The bundle with each latency histogram's buckets replaced by its quantile and, where no
    count was sent, its requests (see the module's doc)."""
    metrics = [a for a in artifacts if isinstance(a, MetricSeries)]
    groups = _groups(metrics, table)
    if not groups:
        return list(artifacts)
    sent = {(m.name.lower(), series_key(m)): m for m in metrics}
    alike = {same_histogram(m.name, m): m for m in metrics if _PART.match(_plain(m.name))}
    replaced: dict[str, MetricSeries | None] = {}
    for key, group in groups.items():
        _, labels_key = key
        buckets = sorted(group.buckets, key=lambda b: b[0])
        if not math.isinf(buckets[-1][0]) or len(buckets) < 2:
            continue
        quantile = _quantile_series(group, buckets)
        if quantile is None:
            continue
        for _, series in buckets:
            replaced[series.artifact_id] = None
        replaced[buckets[0][1].artifact_id] = quantile
        count = group.row.count.format(base=group.base, sep=group.sep)
        infinite = buckets[-1][1]
        if (count, labels_key) not in sent:
            # Sent under the histogram's other name, the requests are in the bundle already:
            # the +Inf bucket would count them a second time.
            elsewhere = same_histogram(count, infinite, group.row.bound_label) in alike
            replaced[infinite.artifact_id] = (
                None if elsewhere else _as_count(infinite, count, group.row)
            )
        total_name = group.row.total.format(base=group.base, sep=group.sep)
        total = sent.get((total_name, labels_key)) or alike.get(
            same_histogram(total_name, infinite, group.row.bound_label)
        )
        if total is not None:
            replaced[total.artifact_id] = None
    return with_replacements(artifacts, replaced)


def _plain(name: str) -> str:
    return _SEPARATORS.sub("_", name.lower())


def same_histogram(
    name: str, series: MetricSeries, drop: str | None = None
) -> tuple[str, str, tuple[object, ...]]:
    """What a histogram's count or sum (``name``, with ``series``' service and labels less
    ``drop``) is called in every convention: dots as underscores, no unit before the part."""
    plain = _plain(name)
    match = _PART.match(plain)
    base, part = (match.group("base"), match.group("part")) if match else (plain, "")
    labels = tuple(sorted((_plain(k), v) for k, v in series.labels.items() if k != drop))
    return (base, part, (series.service, labels))


def _groups(
    metrics: Sequence[MetricSeries], table: SignalTable
) -> dict[tuple[str, tuple[object, ...]], _Group]:
    rows = [(re.compile(row.pattern), row) for row in BUCKET_ROWS]
    groups: dict[tuple[str, tuple[object, ...]], _Group] = {}
    for series in metrics:
        lowered = series.name.lower()
        for pattern, row in rows:
            match = pattern.match(lowered)
            if match is None:
                continue
            bound = _bound(series.labels.get(row.bound_label))
            base, sep = match.group("base"), match.group("sep")
            if bound is None or table.kind_of(base) != "latency":
                break
            key = (f"{base}{sep}", series_key(series, frozenset({row.bound_label})))
            group = groups.setdefault(key, _Group(base, sep, row, []))
            group.buckets.append((bound, series))
            break
    return groups


def _bound(text: str | None) -> float | None:
    if text is None:
        return None
    cleaned = text.strip().lower()
    if cleaned in _INFINITE:
        return math.inf
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _per_interval(buckets: Sequence[tuple[float, MetricSeries]]) -> list[dict[datetime, float]]:
    """Each bucket's requests per interval: the increments of cumulative counters (all of them
    only grow but by a reset), else the values as sent."""
    total = buckets[-1][1]
    cumulative = (
        len(total.points) >= COUNTER_POINTS
        and not is_rate_unit(total.unit)
        and only_grows([p.value for p in total.points], rises=2)
        and all(only_grows([p.value for p in s.points]) for _, s in buckets)
    )
    read = [as_rate(s) if cumulative else s for _, s in buckets]
    return [{p.ts: p.value for p in s.points} for s in read]


def _quantile_series(
    group: _Group, buckets: Sequence[tuple[float, MetricSeries]]
) -> MetricSeries | None:
    read = _per_interval(buckets)
    bounds = [b for b, _ in buckets]
    shared = set(read[0])
    for values in read[1:]:
        shared &= set(values)
    points = []
    for ts in sorted(shared):
        value = histogram_quantile(QUANTILE, bounds, [r[ts] for r in read])
        if value is not None:
            points.append(SeriesPoint(ts=ts, value=value))
    if len(points) < MIN_POINTS:
        return None
    from chronosops.analysis.units import latency_unit  # units reads the buckets first

    keep = buckets[0][1]
    labels = {k: v for k, v in keep.labels.items() if k != group.row.bound_label}
    return keep.model_copy(
        update={
            "name": f"{group.base}{QUANTILE_SUFFIX}",
            "labels": labels,
            "unit": latency_unit(group.base, None),
            "points": points,
            "stats": series_stats([p.value for p in points]),
        }
    )


def histogram_quantile(q: float, bounds: Sequence[float], counts: Sequence[float]) -> float | None:
    """The ``q`` quantile of cumulative bucket ``counts`` with upper ``bounds`` (the last
    +Inf), as Prometheus's ``histogram_quantile``; ``None`` with no requests."""
    # Counts may dip across bounds by rounding or a scrape between buckets; Prometheus too
    # reads them as never falling.
    cumulative: list[float] = []
    for count in counts:
        cumulative.append(max(count, cumulative[-1]) if cumulative else max(count, 0.0))
    total = cumulative[-1]
    if total <= 0 or not math.isfinite(total):
        return None
    rank = q * total
    index = next(i for i, count in enumerate(cumulative) if count >= rank)
    if math.isinf(bounds[index]):
        return bounds[-2]
    upper = bounds[index]
    if index == 0:
        if upper <= 0:
            return upper
        lower, below = 0.0, 0.0
    else:
        lower, below = bounds[index - 1], cumulative[index - 1]
    inside = cumulative[index] - below
    if inside <= 0:
        return upper
    return lower + (upper - lower) * (rank - below) / inside


def _as_count(total: MetricSeries, name: str, row: BucketRow) -> MetricSeries:
    """The +Inf bucket as the histogram's count: every request, as sent."""
    labels = {k: v for k, v in total.labels.items() if k != row.bound_label}
    return total.model_copy(update={"name": name, "labels": labels})


__all__ = [
    "BUCKET_ROWS",
    "QUANTILE",
    "QUANTILE_SUFFIX",
    "histogram_quantile",
    "read_buckets",
]
