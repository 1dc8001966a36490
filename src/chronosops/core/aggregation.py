"""Raw observations (points, log lines, spans) aggregated into artifacts.

One implementation shared by every producer of evidence: collectors, the demo scenarios and
(through the same rules) evidenceLite. Sharing it is what makes a log template from Loki, one
from Datadog and one from a scenario comparable: same template rule, same quantiles, same
per-minute histograms.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chronosops.core.artifacts import (
    ERROR_LEVELS,
    LogExample,
    LogTemplate,
    MetricSeries,
    SeriesPoint,
    SeriesStats,
    SpanBucket,
    SpanGroup,
    SpanStats,
    normalise_level,
)
from chronosops.core.canonical import content_hash

# Re-exported: every producer of evidence finds the template rule here.
from chronosops.core.log_mining import TEMPLATE_MAX as TEMPLATE_MAX
from chronosops.core.log_mining import log_template as log_template
from chronosops.core.log_mining import mine, template_id
from chronosops.core.redaction import redact_labels
from chronosops.core.timestamps import format_instant

ID_MAX = 160
EXAMPLES_PER_TEMPLATE = 5
TRACE_IDS_PER_GROUP = 5
MESSAGE_MAX = 1000
# The template rules see at most this much of a message: a template keeps 300 characters, and
# whatever the rules do to the first 4 KiB decides them. It keeps a megabyte line as cheap as a
# short one (docs/operations.md, "Security limits").
TEMPLATE_INPUT_MAX = 4096


def quantile(values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile (``q`` in 0–1) of a non-empty sample."""
    if not values:
        raise ValueError("quantile of nothing")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def series_stats(values: Sequence[float]) -> SeriesStats:
    ordered = sorted(values)
    count = len(values)
    middle = count // 2
    median = ordered[middle] if count % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return SeriesStats(
        count=count,
        min=ordered[0],
        max=ordered[-1],
        mean=round(sum(values) / count, 6),
        median=median,
        first=values[0],
        last=values[-1],
    )


def bounded_id(prefix: str, readable: str, identity: Any) -> str:
    """``prefix:readable`` when short enough, else ``prefix:<first part>~<hash>``: stable either way."""
    candidate = f"{prefix}:{readable}"
    if len(candidate) <= ID_MAX:
        return candidate
    return f"{prefix}:{readable[: max(8, ID_MAX - len(prefix) - 15)]}~{content_hash(identity)[:12]}"


def minute_of(instant: datetime) -> datetime:
    return instant.replace(second=0, microsecond=0)


def label_text(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def metric_series(
    *,
    id_prefix: str,
    name: str,
    points: Iterable[tuple[datetime, float]],
    source: str,
    labels: dict[str, str] | None = None,
    service: str | None = None,
    unit: str | None = None,
    synthetic: bool = False,
) -> MetricSeries | None:
    """One series from (instant, value) pairs: NaN/inf dropped, sorted, de-duplicated by instant.

    None when no finite point is left: an empty series is no evidence.
    """
    by_instant: dict[datetime, float] = {}
    for instant, value in points:
        if math.isfinite(value):
            by_instant[instant] = value
    if not by_instant:
        return None
    ordered = sorted(by_instant.items())
    values = [value for _, value in ordered]
    stats = series_stats(values)
    # Secret-named labels are redacted before the id and title are built from them.
    labels = redact_labels(labels or {})
    readable = f"{name}{{{label_text(labels)}}}" if labels else name
    return MetricSeries(
        artifact_id=bounded_id(id_prefix, readable, [name, labels]),
        title=readable[:200],
        summary=(
            f"{stats.count} point{'s' if stats.count != 1 else ''}, "
            f"min {stats.min:g}, max {stats.max:g}, last {stats.last:g}"
            + (f" {unit}" if unit else "")
        ),
        source=source,
        synthetic=synthetic,
        name=name,
        labels=labels,
        service=service or labels.get("service"),
        unit=unit,
        points=[SeriesPoint(ts=ts, value=value) for ts, value in ordered],
        stats=stats,
    )


@dataclass(frozen=True)
class RawLogLine:
    """One log line as a backend returned it (already redacted when it must be).

    ``trace_id``/``span_id``: the trace context the backend attached to the record (Cloud
    Logging's ``trace``/``spanId``, Loki structured metadata, Datadog's ``dd.span_id``, an
    OpenTelemetry log record's ids), lower-case hex, the span id as its trace backend writes it.
    None when the record carries none; the message text may still name it
    (`core.log_statements`).
    """

    ts: datetime
    message: str
    level: str | None = None
    service: str | None = None
    trace_id: str | None = None
    span_id: str | None = None


def log_templates(
    lines: Iterable[RawLogLine],
    *,
    id_prefix: str,
    source: str,
    default_service: str | None = None,
    synthetic: bool = False,
    known: Mapping[str, Sequence[str]] | None = None,
) -> list[LogTemplate]:
    """Lines clustered by template per service, with level counts, examples and lines per minute.

    Templates are mined per service (``known`` holds a service's templates from earlier runs,
    fed first so that they keep their text and id); a template's id is a hash of the service and
    the template text, the same in every run.
    """
    by_service: dict[str, list[RawLogLine]] = defaultdict(list)
    for line in lines:
        by_service[line.service or default_service or ""].append(line)
    groups: dict[tuple[str, str], list[RawLogLine]] = defaultdict(list)
    for service_key, members in by_service.items():
        templates = mine((m.message for m in members), known=(known or {}).get(service_key, ()))
        for line, template in zip(members, templates, strict=True):
            groups[(template, service_key)].append(line)
    artifacts: list[LogTemplate] = []
    for (template, service_key), members in sorted(groups.items()):
        levels: dict[str, int] = defaultdict(int)
        per_minute: dict[datetime, int] = defaultdict(int)
        for line in members:
            levels[normalise_level(line.level)] += 1
            per_minute[minute_of(line.ts)] += 1
        # Error lines first, then in time order: the examples a responder wants to read.
        chosen = sorted(
            members,
            key=lambda line: (
                normalise_level(line.level) not in ERROR_LEVELS,
                line.ts,
                line.message,
            ),
        )[:EXAMPLES_PER_TEMPLATE]
        first = min(line.ts for line in members)
        last = max(line.ts for line in members)
        errors = sum(n for level, n in levels.items() if level in ERROR_LEVELS)
        artifacts.append(
            LogTemplate(
                artifact_id=f"{id_prefix}:{template_id(service_key or None, template)}",
                title=template[:200],
                summary=(
                    f"{len(members)} line{'s' if len(members) != 1 else ''} ({errors} error), "
                    f"{format_instant(first)} to {format_instant(last)}"
                ),
                source=source,
                synthetic=synthetic,
                template=template,
                count=len(members),
                levels=dict(sorted(levels.items())),
                services=[service_key] if service_key else [],
                first_seen=first,
                last_seen=last,
                examples=[
                    LogExample(
                        ts=line.ts,
                        level=normalise_level(line.level),
                        message=line.message[:MESSAGE_MAX],
                        service=line.service or default_service,
                    )
                    for line in chosen
                ],
                histogram=[SeriesPoint(ts=m, value=n) for m, n in sorted(per_minute.items())],
            )
        )
    return artifacts


@dataclass(frozen=True)
class RawSpan:
    """One span: who did what, when, for how long, and whether it failed."""

    ts: datetime
    service: str
    operation: str
    duration_ms: float | None
    is_error: bool = False
    trace_id: str | None = None
    peer_service: str | None = None  # set on client spans: the service called
    # Its duration less its children's (known where parents are): time spent in its own code.
    own_ms: float | None = None
    # Lower-case hex, as the log lines of the span name it: what places them in its operation.
    span_id: str | None = None
    # The call graph (`core.call_graph`): the caller's span id, spelled as ``span_id`` is, and
    # the OpenTelemetry kind in lower case ("server", "client", …; None when not written).
    parent_span_id: str | None = None
    kind: str | None = None
    # Set by `core.call_graph`: the span is its trace's root (the request as it entered), and
    # the span is where a request cut short ended (`call_graph.cut_short_ends`).
    is_root: bool = False
    ends_cut_short: bool = False


def span_stats(spans: Sequence[RawSpan]) -> SpanStats | None:
    if not spans:
        return None
    durations = [s.duration_ms for s in spans if s.duration_ms is not None]
    return SpanStats(
        count=len(spans),
        error_count=sum(1 for s in spans if s.is_error),
        p50_ms=round(quantile(durations, 0.5), 3) if durations else None,
        p95_ms=round(quantile(durations, 0.95), 3) if durations else None,
        max_ms=round(max(durations), 3) if durations else None,
    )


def _own_median(spans: Sequence[RawSpan]) -> float | None:
    own = [s.own_ms for s in spans if s.own_ms is not None]
    return round(quantile(own, 0.5), 3) if own else None


def span_groups(
    spans: Iterable[RawSpan],
    *,
    id_prefix: str,
    source: str,
    onset: datetime | None = None,
    synthetic: bool = False,
) -> list[SpanGroup]:
    """Spans grouped per service and operation; split at ``onset`` into baseline and incident."""
    groups: dict[tuple[str, str, str], list[RawSpan]] = defaultdict(list)
    for span in spans:
        groups[(span.service, span.operation, span.peer_service or "")].append(span)
    artifacts: list[SpanGroup] = []
    for (service, operation, peer), members in sorted(groups.items()):
        members.sort(key=lambda s: (s.ts, s.trace_id or ""))
        overall = span_stats(members)
        assert overall is not None  # a group has at least one member
        trace_ids: list[str] = []
        # The slowest failing traces first: the ones worth opening.
        for span in sorted(
            members, key=lambda s: (not s.is_error, -(s.duration_ms or 0), s.ts, s.trace_id or "")
        ):
            if span.trace_id and span.trace_id not in trace_ids:
                trace_ids.append(span.trace_id)
            if len(trace_ids) == TRACE_IDS_PER_GROUP:
                break
        per_minute: dict[datetime, list[RawSpan]] = defaultdict(list)
        for span in members:
            per_minute[minute_of(span.ts)].append(span)
        histogram = []
        for minute, bucket in sorted(per_minute.items()):
            stats = span_stats(bucket)
            assert stats is not None
            histogram.append(
                SpanBucket(
                    ts=minute,
                    count=stats.count,
                    error_count=stats.error_count,
                    p95_ms=stats.p95_ms,
                    p50_ms=stats.p50_ms,
                    own_p50_ms=_own_median(bucket),
                    traces=sum(1 for s in bucket if s.is_root) or None,
                    cut_short=sum(1 for s in bucket if s.ends_cut_short) or None,
                )
            )
        baseline = incident = None
        if onset is not None:
            baseline = span_stats([s for s in members if s.ts < onset])
            incident = span_stats([s for s in members if s.ts >= onset])
        summary = (
            f"{overall.count} span{'s' if overall.count != 1 else ''}, {overall.error_count} failed"
        )
        if overall.p95_ms is not None:
            summary += f", p50 {overall.p50_ms:g} ms, p95 {overall.p95_ms:g} ms"
        if baseline and incident and baseline.p95_ms and incident.p95_ms:
            summary += f" (p95 {baseline.p95_ms:g} → {incident.p95_ms:g} ms at the onset)"
        artifacts.append(
            SpanGroup(
                artifact_id=bounded_id(id_prefix, f"{service}:{operation}", [service, operation]),
                title=f"{service} {operation}"[:200],
                summary=summary,
                source=source,
                synthetic=synthetic,
                service=service,
                operation=operation,
                peer_service=peer or None,
                count=overall.count,
                error_count=overall.error_count,
                p50_ms=overall.p50_ms,
                p95_ms=overall.p95_ms,
                max_ms=overall.max_ms,
                first_seen=members[0].ts,
                last_seen=max(s.ts for s in members),
                trace_ids=trace_ids,
                baseline=baseline,
                incident=incident,
                histogram=histogram,
            )
        )
    return artifacts
