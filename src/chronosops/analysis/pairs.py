"""Series that mean something only in pairs, read as the one signal the pair carries.

Exporters often send a signal as two series, neither of which is the signal:

- a latency histogram or summary as its ``_sum`` (seconds spent) and ``_count`` (requests
  timed): Prometheus ``http_request_duration_seconds_sum``/``_count``, Micrometer
  ``http_server_requests_seconds_sum``/``_count``, OpenTelemetry
  ``http.server.request.duration.sum``/``.count``. Over any interval the increase of the sum
  over the increase of the count is the mean latency of the requests that ended in it; the sum
  alone rises with traffic as much as with slowness;
- the failures of a service beside its requests: the same request counter split by an outcome
  label (``http_requests_total{code="500"}`` beside ``{code="200"}``,
  ``grpc_server_handled_total{grpc_code="Unavailable"}`` beside ``{grpc_code="OK"}``,
  Micrometer's ``outcome``), or named apart (Datadog ``trace.http.request.errors`` beside
  ``trace.http.request.hits``). Their ratio is the share of requests that failed: a surge of
  traffic failing at the usual share multiplies the failures, not the share;
- the failures beside the *successes*, as job, queue and RPC libraries count them
  (``jobs_failed_total`` beside ``jobs_succeeded_total``, yabeda-sidekiq's
  ``sidekiq_jobs_failed_total`` beside ``_success_total``, celery-exporter's
  ``celery_task_failed_total`` beside ``_succeeded_total``, BullMQ's failed beside completed,
  dotted ``.failed`` beside ``.succeeded``): neither counts every request, so the share that
  failed is the failures over both, and both together are the requests (the successes alone
  fall as the failures rise);
- a container's CPU limit as its cgroup quota and period (cAdvisor's
  ``container_spec_cpu_quota``/``container_spec_cpu_period``, in microseconds of CPU per period):
  quota over period is the limit in cores, a quota of -1 (or none) no limit.

`pair` reads the pairs it finds by the rows of `NAME_PAIRS` (by name) and by the outcome labels
of `signals.OUTCOME_LABELS` (by labels), and replaces them with the signal: the mean latency
(``<base>:mean_latency``, latency) in place of the sum, the failure share
(``<counter>:error_ratio``, an error ratio) in place of the failure counts, the requests
(``<base>:traffic``) in place of the successes where they were counted apart, and the CPU limit in
cores for `units.normalise` (the quota and period are configuration, never signals). A derived
series keeps the id of the series it replaces, so what the analysis cites is in the bundle.

Both parts of a pair must be of the same service with the same labels (but the outcome label),
and both cumulative or both rates: a cumulative pair becomes the ratio of its increments. Where
no partner is found the series is read alone, as before.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Literal

from chronosops.analysis.counters import RESET_SHARE, as_rate, is_counter
from chronosops.analysis.signals import OUTCOME_LABELS, SignalTable, outcome_of, states_outcome
from chronosops.core.aggregation import series_stats
from chronosops.core.artifacts import Artifact, MetricSeries, SeriesPoint

PairKind = Literal["latency", "error_ratio", "cpu_limit"]


@dataclass(frozen=True)
class NamePair:
    """Two series named apart, read as one: ``numerator`` (a pattern on the lower-cased name
    with a ``base`` group, and ``sep`` or ``noun`` groups where the convention varies) over the
    first series the bundle holds of those named by ``denominators`` (templates of the groups:
    the same failures are counted beside ``http_requests_total`` by one exporter and beside
    ``http_total`` by another)."""

    numerator: str
    denominators: tuple[str, ...]
    kind: PairKind
    # The kind the signal table must give the base name (``None``: any), so that only a
    # latency histogram's sum is read as time: a garbage collector's pause sum stays GC.
    base_kind: str | None = None
    # Templates of the series that count the *other* outcomes (the successes), tried where
    # none of ``denominators`` (every outcome) is in the bundle: the total is both together.
    others: tuple[str, ...] = ()


# How the libraries that count failures beside the successes name the successes. "completed"
# is a success where it is counted beside "failed" (BullMQ, Temporal, Kubernetes jobs); where
# a stack counts the failed among the completed, failures over both is f/(f+n), which rises
# and falls with the true share f/n and is near it while failures are few.
SUCCESS_WORDS = ("succeeded", "success", "successes", "successful", "completed", "ok")


def _successes(before: str, after: str) -> tuple[str, ...]:
    return tuple(f"{before}{word}{after}" for word in SUCCESS_WORDS)


# Read top to bottom; the first row whose numerator matches a name decides its partner.
NAME_PAIRS: tuple[NamePair, ...] = (
    # a latency histogram or summary: Prometheus, Micrometer, OpenTelemetry
    NamePair(r"^(?P<base>.+)(?P<sep>[_.])sum$", ("{base}{sep}count",), "latency", "latency"),
    # Datadog APM: the spans' total time over their count (`trace.<span>.duration` is the time
    # the interval's spans took together, `.hits` how many there were)
    NamePair(r"^(?P<base>trace\..+)\.duration$", ("{base}.hits",), "latency"),
    # failures named apart from the requests: Datadog APM, and the pairs of hand-written
    # exporters: `<x>_errors_total` beside `<x>_total` or `<x>_requests_total`,
    # `<x>_request_errors_total` beside `<x>_requests_total`, `<x>_failed_requests_total`
    # beside `<x>_requests_total`, `<x>_errors_per_second` beside `<x>_per_second`
    NamePair(r"^(?P<base>trace\..+)\.errors$", ("{base}.hits",), "error_ratio"),
    # ... and beside the successes (job, queue and RPC libraries: `jobs_failed_total` beside
    # `jobs_succeeded_total`, yabeda-sidekiq's `_failed_total` beside `_success_total`,
    # celery-exporter's `celery_task_failed_total` beside `_succeeded_total`, BullMQ's failed
    # beside completed), or beside the processed ones (Sidekiq's and asynq's processed count
    # the failed too)
    NamePair(
        r"^(?P<base>.+)_(errors|failures|failed)_total$",
        (
            "{base}_total",
            "{base}s_total",
            "{base}_requests_total",
            "{base}_calls_total",
            "{base}_processed_total",
        ),
        "error_ratio",
        others=_successes("{base}_", "_total"),
    ),
    NamePair(
        r"^(?P<base>.+)_(failed|errored|error|failing)_(?P<noun>[a-z]+)_total$",
        ("{base}_{noun}_total", "{base}_processed_{noun}_total"),
        "error_ratio",
        others=_successes("{base}_", "_{noun}_total"),
    ),
    NamePair(
        r"^(?P<base>.+)_(errors|failures|failed)_per_second$",
        ("{base}_per_second", "{base}s_per_second", "{base}_requests_per_second"),
        "error_ratio",
        others=_successes("{base}_", "_per_second"),
    ),
    # StatsD and dotted exporters: `<x>.errors` beside `<x>.requests` (or hits, calls, count),
    # `<x>.failed` beside `<x>.succeeded`
    NamePair(
        r"^(?P<base>.+)\.(errors|failures|failed)$",
        ("{base}.requests", "{base}.hits", "{base}.calls", "{base}.count", "{base}.total"),
        "error_ratio",
        others=_successes("{base}.", ""),
    ),
    # Envoy's per-cluster and listener stats: `upstream_rq_5xx` beside `upstream_rq_total`
    NamePair(r"^(?P<base>.+[_.]rq)(?P<sep>[_.])5xx$", ("{base}{sep}total",), "error_ratio"),
    # AWS load balancers (CloudWatch): `HTTPCode_Target_5XX_Count` beside `RequestCount`
    NamePair(r"^(?P<base>httpcode_(target|elb))_5xx_count$", ("requestcount",), "error_ratio"),
    # a container's cgroup CPU quota over its period (cAdvisor), in cores
    NamePair(
        r"^(?P<base>.*cpu)_quota(?P<sep>_us|_microseconds|)$", ("{base}_period{sep}",), "cpu_limit"
    ),
)

# Configuration, never a signal, with or without its partner: a quota alone (no period) or a
# period alone (no quota: no limit) says nothing a rule should read as a CPU level.
CONFIG_ONLY = re.compile(r"cpu_(quota|period)(_us|_microseconds)?$")

# Outcome values that say a series counts every request, whatever its outcome.
ALL_OUTCOMES = frozenset({"all", "any", "*", "total", ""})

# The derived series' names: recording-rule suffixes that `signals.SIGNAL_TABLE` and
# `observations.FAMILIES` read as their kinds.
MEAN_SUFFIX = ":mean_latency"
RATIO_SUFFIX = ":error_ratio"
TRAFFIC_SUFFIX = ":traffic"
# At least this many points of a derived series, or the pair is read as its parts.
MIN_POINTS = 3


@dataclass
class Paired:
    """What `pair` made of the bundle's series."""

    artifacts: list[Artifact]
    # CPU limits in cores by service, from quota and period (a service without one: no entry).
    cpu_limits: dict[str | None, float]


def pair(artifacts: Sequence[Artifact], table: SignalTable) -> Paired:
    """The bundle with each pair replaced by the signal it carries (see the module's doc)."""
    metrics = [a for a in artifacts if isinstance(a, MetricSeries)]
    replaced: dict[str, MetricSeries | None] = {}  # artifact id -> its replacement (None: gone)
    limits: dict[str | None, float] = {}
    _pair_by_name(metrics, table, replaced, limits)
    _pair_by_outcome([m for m in metrics if m.artifact_id not in replaced], table, replaced)
    return Paired(with_replacements(artifacts, replaced), limits)


def with_replacements(
    artifacts: Sequence[Artifact], replaced: dict[str, MetricSeries | None]
) -> list[Artifact]:
    """The bundle in its order, each series in ``replaced`` (by artifact id) swapped for its
    replacement, or left out where that is None (`buckets` uses it too)."""
    found: list[Artifact] = []
    for item in artifacts:
        if isinstance(item, MetricSeries) and item.artifact_id in replaced:
            substitute = replaced[item.artifact_id]
            if substitute is not None:
                found.append(substitute)
        else:
            found.append(item)
    return found


def series_key(series: MetricSeries, drop: frozenset[str] = frozenset()) -> tuple[object, ...]:
    """A series' service and labels (less ``drop``): what two series of one signal share."""
    labels = tuple(sorted((k, v) for k, v in series.labels.items() if k not in drop))
    return (series.service, labels)


def _pair_by_name(
    metrics: Sequence[MetricSeries],
    table: SignalTable,
    replaced: dict[str, MetricSeries | None],
    limits: dict[str | None, float],
) -> None:
    by_name: dict[tuple[str, tuple[object, ...]], MetricSeries] = {
        (m.name.lower(), series_key(m)): m for m in metrics
    }
    rows = [(re.compile(row.numerator), row) for row in NAME_PAIRS]
    for numerator in metrics:
        lowered = numerator.name.lower()
        for pattern, row in rows:
            match = pattern.match(lowered)
            if match is None:
                continue
            groups = {k: v or "" for k, v in match.groupdict().items()}
            if row.base_kind is not None and table.kind_of(groups["base"]) != row.base_kind:
                break
            partner = next(
                (
                    found
                    for template in row.denominators
                    if (found := by_name.get((template.format(**groups), series_key(numerator))))
                    is not None
                ),
                None,
            )
            if row.kind == "cpu_limit":
                # Configuration, not a signal, whether or not it states a limit.
                replaced[numerator.artifact_id] = None
                if partner is not None:
                    replaced[partner.artifact_id] = None
                    limit = _cpu_limit(numerator, partner)
                    if limit is not None:
                        limits.setdefault(numerator.service, limit)
                break
            if partner is not None:
                derived = _ratio_series(numerator, [numerator], [partner], row.kind, groups["base"])
                if derived is not None:
                    replaced[numerator.artifact_id] = derived
                break
            successes = next(
                (
                    found
                    for template in row.others
                    if (found := by_name.get((template.format(**groups), series_key(numerator))))
                    is not None
                    and found.artifact_id not in replaced
                ),
                None,
            )
            if successes is not None:
                _pair_with_successes(numerator, successes, groups["base"], replaced)
            break
    for item in metrics:
        if item.artifact_id not in replaced and CONFIG_ONLY.search(item.name.lower()):
            replaced[item.artifact_id] = None


def _pair_with_successes(
    failures: MetricSeries,
    successes: MetricSeries,
    base: str,
    replaced: dict[str, MetricSeries | None],
) -> None:
    """Failures counted beside the successes: the failures over both, and both as the
    requests (``<base>:traffic``, under the successes' id)."""
    ratio = _ratio_series(failures, [failures], [failures, successes], "error_ratio", base)
    traffic = _summed(successes, [failures, successes], frozenset())
    if ratio is None or traffic is None:
        return
    replaced[failures.artifact_id] = ratio
    replaced[successes.artifact_id] = traffic.model_copy(update={"name": f"{base}{TRAFFIC_SUFFIX}"})


def _pair_by_outcome(
    metrics: Sequence[MetricSeries], table: SignalTable, replaced: dict[str, MetricSeries | None]
) -> None:
    """A request counter split by how requests ended: the failed ones over all of them."""
    outcome_keys = frozenset(OUTCOME_LABELS)
    groups: dict[tuple[object, ...], list[MetricSeries]] = defaultdict(list)
    for item in metrics:
        if table.kind_of(item.name) != "traffic":
            continue
        groups[(item.name, *series_key(item, outcome_keys))].append(item)
    for members in groups.values():
        failed = [m for m in members if outcome_of(m.labels) == "failed"]
        rest = [m for m in members if outcome_of(m.labels) != "failed"]
        if not failed or not rest:
            continue
        every = [m for m in rest if _counts_every_outcome(m, outcome_keys)]
        # The total is the series that counts every request, else the sum of every outcome.
        total = every[:1] or members
        derived = _ratio_series(failed[0], failed, total, "error_ratio", failed[0].name)
        if derived is None:
            continue
        for item in failed[1:]:
            replaced[item.artifact_id] = None
        replaced[failed[0].artifact_id] = derived
        if not every:
            # The requests are every outcome's together: one traffic series in place of the
            # successes, which alone would fall as the failures rise (a throttled count stays).
            successes = [m for m in rest if outcome_of(m.labels) is None]
            if not successes:
                continue
            traffic = _summed(successes[0], members, outcome_keys)
            if traffic is None:
                continue
            for item in successes[1:]:
                replaced[item.artifact_id] = None
            replaced[successes[0].artifact_id] = traffic


def _counts_every_outcome(series: MetricSeries, outcome_keys: frozenset[str]) -> bool:
    values = [
        v.strip().lower()
        for k, v in series.labels.items()
        if k in outcome_keys and states_outcome(k, v)
    ]
    return all(v in ALL_OUTCOMES for v in values)


def _rates(parts: Sequence[MetricSeries]) -> list[dict[datetime, float]] | None:
    """Each part as its values by instant, per second where the parts are cumulative (all of
    them, or none: a rate over a running count means nothing)."""
    cumulative = [
        is_counter(p.name, "traffic", [x.value for x in p.points], p.unit) or _never_falls(p)
        for p in parts
    ]
    strict = [is_counter(p.name, "traffic", [x.value for x in p.points], p.unit) for p in parts]
    if any(strict):
        if not all(cumulative):
            return None
        parts = [as_rate(p) for p in parts]
    return [{x.ts: x.value for x in p.points} for p in parts]


def _shared_instants(read: Sequence[dict[datetime, float]]) -> list[datetime]:
    shared = set(read[0])
    for values in read[1:]:
        shared &= set(values)
    return sorted(shared)


def _never_falls(series: MetricSeries) -> bool:
    """A running count that did not move in the window (no failures at all) never falls."""
    values = [p.value for p in series.points]
    return len(values) >= 2 and all(
        after >= before or after < before * RESET_SHARE for before, after in pairwise(values)
    )


def _ratio_series(
    keep: MetricSeries,
    numerators: Sequence[MetricSeries],
    denominators: Sequence[MetricSeries],
    kind: PairKind,
    base: str,
) -> MetricSeries | None:
    """``sum(numerators) / sum(denominators)`` at every instant all of them share and the
    denominator is above zero, under ``keep``'s id."""
    read = _rates([*numerators, *denominators])
    if read is None:
        return None
    tops, bottoms = read[: len(numerators)], read[len(numerators) :]
    instants = _shared_instants(read)
    points = []
    for ts in instants:
        bottom = sum(r[ts] for r in bottoms)
        if bottom > 0:
            points.append(SeriesPoint(ts=ts, value=sum(r[ts] for r in tops) / bottom))
    if len(points) < MIN_POINTS:
        return None
    if kind == "latency":
        from chronosops.analysis.units import latency_unit

        name, unit = f"{base}{MEAN_SUFFIX}", latency_unit(base, keep.unit)
    else:
        name, unit = f"{base}{RATIO_SUFFIX}", "1"
    labels = {k: v for k, v in keep.labels.items() if k not in OUTCOME_LABELS}
    return keep.model_copy(
        update={
            "name": name,
            "labels": labels,
            "unit": unit,
            "points": points,
            "stats": series_stats([p.value for p in points]),
        }
    )


def _summed(
    keep: MetricSeries, members: Sequence[MetricSeries], outcome_keys: frozenset[str]
) -> MetricSeries | None:
    """Every outcome's requests together, as one series under ``keep``'s id."""
    read = _rates(members)
    if read is None:
        return None
    instants = _shared_instants(read)
    points = [SeriesPoint(ts=ts, value=sum(r[ts] for r in read)) for ts in instants]
    if len(points) < MIN_POINTS:
        return None
    rated = any(is_counter(m.name, "traffic", [x.value for x in m.points], m.unit) for m in members)
    return keep.model_copy(
        update={
            "labels": {k: v for k, v in keep.labels.items() if k not in outcome_keys},
            "unit": as_rate(keep).unit if rated else keep.unit,
            "points": points,
            "stats": series_stats([p.value for p in points]),
        }
    )


def _cpu_limit(quota: MetricSeries, period: MetricSeries) -> float | None:
    """Quota over period, in cores; ``None`` for no limit (a quota of -1, or none above zero)."""
    quotas = sorted(p.value for p in quota.points)
    periods = sorted(p.value for p in period.points)
    if not quotas or not periods:
        return None
    q, p = quotas[len(quotas) // 2], periods[len(periods) // 2]
    return q / p if q > 0 and p > 0 else None
