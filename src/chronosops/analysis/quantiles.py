"""A latency sent as several statistics of one distribution, read as one latency.

Exporters send one latency's distribution as several series, each a statistic of it:

- a Prometheus summary (the client libraries' ``Summary``, Micrometer's published percentiles,
  an OpenTelemetry summary exported to Prometheus): one series per quantile,
  ``http_request_duration_seconds{quantile="0.5"}``, ``{quantile="0.9"}``, ``{quantile="0.99"}``;
- Datadog's percentiles and aggregates as queried: ``trace.http.request.duration.by.service.95p``
  (``.50p``, ``.99p``), ``.p95``, ``.median``, ``.avg``, ``.max``;
- Micrometer's ``<base>_max`` beside the histogram it comes with: the slowest request of the
  last step, decaying.

Read one by one, each was a latency of its own: a p99 that one slow request in a hundred moves
stood beside the p95 as another witness of the same service, a median holding while the tail
moved was one more latency, and a max stepping with a single slow request read as a slowdown.
`read_statistics` groups the statistics of one distribution (rows of `STAT_ROWS`: a name
pattern with a ``base`` group and the statistic in a ``stat`` group or a label; grouped by base,
service and every label but the statistic's) and keeps:

- the high quantile: the lowest at or above the engine's own (`buckets.QUANTILE`, the p95
  every other latency the engine reads is), else the highest below it. A quantile below the
  p95 misses a fault that slows fewer requests than its tail (a p90 sees none of one that slows
  7 in 100); one above sees every such fault, with the wider wobble of a thinner tail, which
  the z-scores scale by. With no quantile above the median, the mean (``avg``), else the max;
- the median (``quantile="0.5"``, ``.50p``, ``.median``), which `suspects` reads apart: a tail
  that moves while the median holds is a share of the requests taking another path;

and leaves out the other statistics, and the distribution's sum (``<base>_sum``, Datadog's
``trace.<span>.duration``, its spans' total time), which is no longer read into a mean beside
the quantile (as for a histogram's buckets, one distribution is one latency). A max alone
gives way to the histogram it comes with where the bundle has its buckets or its sum, which
`buckets` and `pairs` read into a better latency.

Only bases the signal table reads as latency are read: a garbage collector's
``jvm_gc_pause_seconds_max`` is no request's latency. A series alone with its statistic (a
summary exporting one quantile, the generator's gauges) is read as sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from chronosops.analysis.buckets import QUANTILE
from chronosops.analysis.pairs import series_key, with_replacements
from chronosops.analysis.signals import SignalTable
from chronosops.core.artifacts import Artifact, MetricSeries


@dataclass(frozen=True)
class StatRow:
    """One convention's statistics of a distribution: a pattern on the lower-cased name with a
    ``base`` group and, where the name carries the statistic, a ``stat`` group; else the label
    that holds it. ``sums`` name the distribution's sum, ``mates`` the series of the histogram a
    lone max gives way to (templates of ``base``)."""

    pattern: str
    stat_label: str | None
    sums: tuple[str, ...]
    mates: tuple[str, ...] = ()


# Read top to bottom; the first row whose pattern matches (and, with a label, whose series
# carries it) decides how a series is read.
STAT_ROWS: tuple[StatRow, ...] = (
    # Prometheus / OpenMetrics summaries (client libraries, Micrometer's percentiles,
    # OpenTelemetry summaries exported to Prometheus)
    StatRow(r"^(?P<base>.+)$", "quantile", ("{base}_sum", "{base}.sum")),
    # Datadog APM percentiles and aggregates as queried
    StatRow(
        r"^(?P<base>trace\..+?)\.(?:by\.[a-z_]+\.)?"
        r"(?P<stat>\d{2,3}(?:\.\d+)?p|p\d{2,3}(?:\.\d+)?|median|avg|mean|max)$",
        None,
        ("{base}",),
    ),
    # Micrometer's max beside its timer's histogram or percentiles
    StatRow(
        r"^(?P<base>.+)_(?P<stat>max)$",
        None,
        ("{base}_sum",),
        ("{base}_bucket", "{base}_sum"),
    ),
)

# A named statistic as a quantile (the median) or a kind of its own.
_NAMED: dict[str, float | str] = {"median": 0.5, "avg": "mean", "mean": "mean", "max": "max"}
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
# Labels that tell the statistics of one distribution apart, not distributions.
_STAT_LABELS = frozenset({"quantile", "le"})

Statistic = float | str


@dataclass
class _Group:
    row: StatRow
    base: str
    members: list[tuple[Statistic, MetricSeries]]


def statistic_of(series: MetricSeries) -> Statistic | None:
    """The statistic a latency series states: a quantile (0–1), ``"mean"`` or ``"max"``;
    ``None`` where its name and labels state none by the rows above."""
    found = _match(series)
    return found[1] if found else None


def is_median(series: MetricSeries) -> bool:
    """Whether a series is a distribution's median by its convention (``quantile="0.5"``,
    Datadog's ``.50p``, ``.median``)."""
    return statistic_of(series) == 0.5


_ROWS = tuple((re.compile(row.pattern), row) for row in STAT_ROWS)


def _match(series: MetricSeries) -> tuple[StatRow, Statistic, str] | None:
    lowered = series.name.lower()
    for pattern, row in _ROWS:
        if row.stat_label is not None and row.stat_label not in series.labels:
            continue
        match = pattern.match(lowered)
        if match is None:
            continue
        stat: Statistic | None = (
            _quantile(series.labels.get(row.stat_label))
            if row.stat_label is not None
            else _parse(match.group("stat"))
        )
        if stat is not None:
            return row, stat, match.group("base")
    return None


def _quantile(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if 0.0 < value < 1.0 else None


def _parse(text: str) -> Statistic | None:
    if text in _NAMED:
        return _NAMED[text]
    digits = _DIGITS.search(text)
    if digits is None:
        return None
    value = float(digits.group(0)) / 100
    if value == 1.0:
        return "max"  # Datadog's 100p
    return value if 0.0 < value < 1.0 else None


def read_statistics(artifacts: Sequence[Artifact], table: SignalTable) -> list[Artifact]:
    """The bundle with each distribution's statistics read as one latency and its median (see
    the module's doc)."""
    metrics = [a for a in artifacts if isinstance(a, MetricSeries)]
    groups = _groups(metrics, table)
    if not groups:
        return list(artifacts)
    present = {(m.name.lower(), series_key(m, _STAT_LABELS)): m for m in metrics}
    replaced: dict[str, MetricSeries | None] = {}
    for (_, labels_key), group in groups.items():
        if len(group.members) < 2 and not _has_mate(group, labels_key, present):
            continue
        kept = _kept(group, labels_key, present)
        for _, series in group.members:
            if series.artifact_id not in kept:
                replaced[series.artifact_id] = None
        if any(isinstance(stat, float) and stat > 0.5 for stat, _ in group.members):
            for template in group.row.sums:
                total = present.get((template.format(base=group.base), labels_key))
                if total is not None:
                    replaced[total.artifact_id] = None
    return with_replacements(artifacts, replaced)


def _groups(
    metrics: Sequence[MetricSeries], table: SignalTable
) -> dict[tuple[str, tuple[object, ...]], _Group]:
    groups: dict[tuple[str, tuple[object, ...]], _Group] = {}
    for series in metrics:
        found = _match(series)
        if found is None:
            continue
        row, stat, base = found
        if table.kind_of(base) != "latency":
            continue
        key = (base, series_key(series, _STAT_LABELS))
        groups.setdefault(key, _Group(row, base, [])).members.append((stat, series))
    return groups


def _has_mate(
    group: _Group,
    labels_key: tuple[object, ...],
    present: dict[tuple[str, tuple[object, ...]], MetricSeries],
) -> bool:
    return any(
        (template.format(base=group.base), labels_key) in present for template in group.row.mates
    )


def _kept(
    group: _Group,
    labels_key: tuple[object, ...],
    present: dict[tuple[str, tuple[object, ...]], MetricSeries],
) -> set[str]:
    """The ids of the statistics read: the quantile nearest the engine's own (else the mean,
    else the max where no histogram stands beside it), and the median."""
    quantiles = [(q, s) for q, s in group.members if isinstance(q, float) and q > 0.5]
    kept = {s.artifact_id for q, s in group.members if q == 0.5}
    if quantiles:
        above = [(q, s) for q, s in quantiles if q >= QUANTILE]
        _, chosen = min(above) if above else max(quantiles)
        return kept | {chosen.artifact_id}
    means = [s for q, s in group.members if q == "mean"]
    if means:
        return kept | {means[0].artifact_id}
    if _has_mate(group, labels_key, present):
        return kept
    return kept | {s.artifact_id for q, s in group.members if q == "max"}


__all__ = ["STAT_ROWS", "is_median", "read_statistics", "statistic_of"]
