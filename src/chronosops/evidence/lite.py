"""evidenceLite → typed artifacts.

Metrics become one series per name and label set, logs become templates, spans become groups
per service and operation, and events become change events (deploy, config, flag …) or
plain events. Artifact ids are derived from content, never from position, so the same
evidence always yields the same ids and the same bundle.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from chronosops.core.aggregation import (
    RawLogLine,
    RawSpan,
    bounded_id,
    label_text,
    log_templates,
    series_stats,
    span_groups,
)
from chronosops.core.artifacts import (
    Artifact,
    ChangeEvent,
    ChangeType,
    LogStatement,
    LogTemplate,
    MetricSeries,
    OtherEvent,
    SeriesPoint,
    SpanGroup,
)
from chronosops.core.canonical import content_hash
from chronosops.core.ingest_request import (
    ChangeOrEvent,
    EvidenceLite,
    LogLine,
    MetricPoint,
    TraceSpan,
)
from chronosops.core.log_statements import statements_of
from chronosops.core.redaction import redact_labels, redact_text
from chronosops.core.timestamps import format_instant
from chronosops.core.trace_context import hex_id

SOURCE = "evidenceLite"
EXAMPLES_PER_TEMPLATE = 5
TRACE_IDS_PER_GROUP = 5

_CHANGE_TYPES: dict[str, ChangeType] = {
    "deploy": "deploy",
    "deployment": "deploy",
    "release": "deploy",
    "rollout": "deploy",
    "rollback": "rollback",
    "config": "config",
    "config_change": "config",
    "configuration": "config",
    "config-change": "config",
    "feature_flag": "feature_flag",
    "feature-flag": "feature_flag",
    "flag": "feature_flag",
    "flag_change": "feature_flag",
    "infrastructure": "infrastructure",
    "infra": "infrastructure",
    "scaling": "infrastructure",
}


def metric_artifacts(
    points: Sequence[MetricPoint], *, default_service: str | None
) -> list[MetricSeries]:
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[MetricPoint]] = defaultdict(list)
    for point in points:
        # Redacted before grouping: ids, titles and labels never carry a secret-named label's
        # value, and the bundle is content-addressed over this redacted form.
        labels = redact_labels(point.labels or {})
        groups[(point.name, tuple(sorted(labels.items())))].append(point)
    artifacts: list[MetricSeries] = []
    for (name, label_items), members in sorted(groups.items()):
        labels = dict(label_items)
        members = sorted(members, key=lambda p: p.timestamp)
        values = [p.value for p in members]
        stats = series_stats(values)
        readable = f"{name}{{{label_text(labels)}}}" if labels else name
        artifacts.append(
            MetricSeries(
                artifact_id=bounded_id("metric", readable, [name, labels]),
                title=readable[:200],
                summary=(
                    f"{stats.count} point{'s' if stats.count != 1 else ''}, "
                    f"min {stats.min:g}, max {stats.max:g}, last {stats.last:g}"
                ),
                source=SOURCE,
                name=name,
                labels=labels,
                service=labels.get("service") or default_service,
                points=[SeriesPoint(ts=p.timestamp, value=p.value) for p in members],
                stats=stats,
            )
        )
    return artifacts


def log_artifacts(
    lines: Sequence[LogLine],
    *,
    default_service: str | None,
    known: Mapping[str, Sequence[str]] | None = None,
) -> list[LogTemplate]:
    return log_templates(
        (
            # Redacted before templating, as collectors do with what backends return.
            RawLogLine(
                ts=line.timestamp,
                message=redact_text(line.message),
                level=line.level,
                service=line.service,
            )
            for line in lines
        ),
        id_prefix="log",
        source=SOURCE,
        default_service=default_service,
        known=known,
    )


def _raw(
    span: TraceSpan,
    *,
    service: str,
    peer: str | None = None,
    duration_ms: float | None = None,
    own_ms: float | None = None,
) -> RawSpan:
    return RawSpan(
        ts=span.timestamp,
        service=service,
        operation=span.operation,
        duration_ms=span.duration if duration_ms is None else duration_ms,
        is_error=span.failed,
        trace_id=span.trace_id,
        peer_service=peer,
        own_ms=own_ms,
    )


def statement_artifacts(
    lines: Sequence[LogLine], spans: Sequence[TraceSpan], *, default_service: str | None
) -> list[LogStatement]:
    """Log statements placed in the span operations that logged them, where lines carry their
    trace context (``spanId``, or in the text) and the spans are sent too: the same code path
    as collected evidence (`core.log_statements.statements_of`)."""
    if not lines or not spans:
        return []
    return statements_of(
        (
            RawLogLine(
                ts=line.timestamp,
                message=line.message,
                level=line.level,
                service=line.service,
                trace_id=hex_id(line.trace_id),
                span_id=hex_id(line.span_id),
            )
            for line in lines
        ),
        (
            RawSpan(
                ts=span.timestamp,
                service=span.service,
                operation=span.operation,
                duration_ms=span.duration,
                trace_id=span.trace_id,
                span_id=hex_id(span.span_id),
            )
            for span in spans
        ),
        id_prefix="statement",
        source=SOURCE,
        default_service=default_service,
    )


def log_services(lite: EvidenceLite, *, default_service: str | None) -> set[str]:
    """The services whose templates the request's log lines are mined under."""
    return {line.service or default_service or "" for line in lite.logs or []}


# Clocks of one host round a span's start to the millisecond (and two hosts disagree by about
# as much): a child may seem to start or end this much outside its parent.
ENCLOSURE_SLACK_MS = 0.5


def enclosing_parents(spans: Sequence[TraceSpan]) -> dict[str, TraceSpan]:
    """Span id → its parent, inferred where no span of a trace names one: the innermost span of
    the same trace that started no later and ended no earlier (a call runs inside its caller's
    span). Traces whose spans carry ``parentSpanId`` are left to it; spans without a duration
    enclose nothing. Linear after sorting: a stack of the open spans per trace."""
    by_trace: dict[str, list[TraceSpan]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    found: dict[str, TraceSpan] = {}
    for members in by_trace.values():
        if len(members) < 2 or any(m.parent_span_id for m in members):
            continue
        timed = [
            (m.timestamp.timestamp() * 1000, float(m.duration or 0.0), m)
            for m in members
            if m.duration is not None
        ]
        # Earlier first; of two starting together, the longer one is the caller.
        timed.sort(key=lambda item: (item[0], -item[1], item[2].span_id))
        open_spans: list[tuple[float, TraceSpan]] = []  # (end, span), innermost last
        for start, duration, span in timed:
            end = start + duration
            while open_spans and open_spans[-1][0] < end - ENCLOSURE_SLACK_MS:
                open_spans.pop()
            if open_spans:
                found[span.span_id] = open_spans[-1][1]
            open_spans.append((end, span))
    return found


def span_artifacts(spans: Sequence[TraceSpan]) -> list[SpanGroup]:
    """Spans per service and operation (server side), with per-minute counts, failures and p95.

    Where spans say who called whom (``parentSpanId`` across services, or a client span's
    ``peerService``), the calls also become caller→callee edge groups: what the caller saw of
    its callee. Where a trace names no parents at all, each span's parent is inferred as the
    innermost span of the trace that encloses it in time (`enclosing_parents`).
    """
    by_id = {span.span_id: span for span in spans}
    inferred = enclosing_parents(spans)
    # Per span, the services its children run in: a span whose children all run in one other
    # service is a call to it (a client span, whatever its kind says).
    children: dict[str, set[str]] = defaultdict(set)
    waited: dict[str, float] = defaultdict(float)  # span id → its children's time
    for span in spans:
        parent_id = span.parent_span_id or (
            inferred[span.span_id].span_id if span.span_id in inferred else None
        )
        if parent_id:
            children[parent_id].add(span.service)
            waited[parent_id] += float(span.duration or 0.0)
    server: list[RawSpan] = []
    calls: list[RawSpan] = []
    for span in spans:
        if span.kind == "client" or (span.kind is None and span.peer_service):
            if span.peer_service and span.peer_service != span.service:
                calls.append(_raw(span, service=span.service, peer=span.peer_service))
            continue
        own = None
        known = bool(span.parent_span_id) or span.span_id in inferred or span.span_id in waited
        calls_out = children.get(span.span_id, set()) - {span.service}
        if (
            span.duration is not None
            and known
            and not (calls_out and len(children[span.span_id]) == 1)
        ):
            # Its duration less its children's: the time it spent in its own code (children
            # running in parallel can add up to more than it took: none, then). A span wrapping
            # calls to one other service only is a client span: what it adds is time between
            # the two (the network), read from the call's edge group instead.
            own = max(0.0, float(span.duration) - waited.get(span.span_id, 0.0))
        server.append(_raw(span, service=span.service, own_ms=own))
        parent = (
            by_id.get(span.parent_span_id) if span.parent_span_id else inferred.get(span.span_id)
        )
        if parent is not None and parent.service != span.service:
            # The callee's server span under the caller's span: the call. Where the caller's
            # span wraps calls to this callee and nothing else (a client span), its duration is
            # how long the caller waited, network included; otherwise the callee's own.
            waited_for = (
                parent.duration
                if children[parent.span_id] == {span.service} and parent.duration is not None
                else None
            )
            # The call's time outside the callee's own span (the caller's wait less what the
            # callee took): the network, proxies and queues between the two ends, per call.
            outside = (
                max(0.0, waited_for - float(span.duration))
                if waited_for is not None and span.duration is not None
                else None
            )
            calls.append(
                _raw(
                    span,
                    service=parent.service,
                    peer=span.service,
                    duration_ms=waited_for,
                    own_ms=outside,
                )
            )
    groups = span_groups(server, id_prefix="span", source=SOURCE)
    groups += span_groups(
        [
            RawSpan(
                ts=c.ts,
                service=c.service,
                operation=f"→{c.peer_service}",
                duration_ms=c.duration_ms,
                is_error=c.is_error,
                trace_id=c.trace_id,
                peer_service=c.peer_service,
                own_ms=c.own_ms,
            )
            for c in calls
        ],
        id_prefix="span",
        source=SOURCE,
    )
    return groups


def _text(metadata: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = metadata.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def event_artifacts(
    events: Sequence[ChangeOrEvent], *, default_service: str | None
) -> list[Artifact]:
    artifacts: list[Artifact] = []
    for event in sorted(events, key=lambda e: (e.timestamp, e.type, e.description)):
        metadata = dict(event.metadata or {})
        identity = content_hash(event.model_dump(mode="json"))[:16]
        change_type = _CHANGE_TYPES.get(event.type.strip().lower())
        if change_type is None:
            artifacts.append(
                OtherEvent(
                    artifact_id=f"event:{identity}",
                    title=f"{event.type}: {event.description}"[:200],
                    summary=f"{event.type} at {format_instant(event.timestamp)}",
                    source=SOURCE,
                    event_type=event.type,
                    timestamp=event.timestamp,
                    description=event.description,
                    metadata=metadata,
                )
            )
            continue
        service = _text(metadata, "service", "serviceName", "service_name") or default_service
        version_to = _text(
            metadata, "versionTo", "version_to", "toVersion", "newVersion", "version"
        )
        version_from = _text(
            metadata, "versionFrom", "version_from", "fromVersion", "previousVersion", "oldVersion"
        )
        artifacts.append(
            ChangeEvent(
                artifact_id=f"change:{identity}",
                title=f"{change_type} on {service or 'unknown service'}: {event.description}"[:200],
                summary=(
                    f"{change_type}"
                    + (f" {version_from or '?'} → {version_to}" if version_to else "")
                    + f" at {format_instant(event.timestamp)}"
                ),
                source=SOURCE,
                change_type=change_type,
                timestamp=event.timestamp,
                description=event.description,
                service=service,
                environment=_text(metadata, "environment", "env"),
                version_from=version_from,
                version_to=version_to,
                author=_text(metadata, "author", "actor", "user"),
                link=_text(metadata, "link", "url"),
                metadata=metadata,
            )
        )
    return artifacts


def artifacts_from_lite(
    lite: EvidenceLite,
    *,
    default_service: str | None,
    known_templates: Mapping[str, Sequence[str]] | None = None,
) -> list[Artifact]:
    """Typed artifacts from evidenceLite; ``known_templates`` (per service, from earlier
    evidence) are fed to template mining first so that template ids carry over."""
    return [
        *metric_artifacts(lite.metrics or [], default_service=default_service),
        *log_artifacts(lite.logs or [], default_service=default_service, known=known_templates),
        *span_artifacts(lite.traces or []),
        *statement_artifacts(lite.logs or [], lite.traces or [], default_service=default_service),
        *event_artifacts(lite.events or [], default_service=default_service),
    ]
