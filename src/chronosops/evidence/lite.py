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
)
from chronosops.core.artifacts import (
    Artifact,
    ChangeEvent,
    LogStatement,
    LogTemplate,
    MetricSeries,
    OtherEvent,
    SeriesPoint,
    SpanGroup,
    change_type_of,
)
from chronosops.core.call_graph import call_groups
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


def metric_artifacts(
    points: Sequence[MetricPoint], *, default_service: str | None
) -> list[MetricSeries]:
    groups: dict[tuple[str, tuple[tuple[str, str], ...], str], list[MetricPoint]] = defaultdict(
        list
    )
    for point in points:
        # Redacted before grouping: ids, titles and labels never carry a secret-named label's
        # value, and the bundle is content-addressed over this redacted form.
        labels = redact_labels(point.labels or {})
        # Points in another unit are another series: one series is read in one unit.
        groups[(point.name, tuple(sorted(labels.items())), point.unit or "")].append(point)
    artifacts: list[MetricSeries] = []
    for (name, label_items, unit), members in sorted(groups.items()):
        labels = dict(label_items)
        members = sorted(members, key=lambda p: p.timestamp)
        values = [p.value for p in members]
        stats = series_stats(values)
        readable = f"{name}{{{label_text(labels)}}}" if labels else name
        if unit:
            readable = f"{readable} [{unit}]"
        artifacts.append(
            MetricSeries(
                # A series without a unit keeps the id it had before units could be sent.
                artifact_id=bounded_id(
                    "metric", readable, [name, labels, unit] if unit else [name, labels]
                ),
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
                unit=unit or None,
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


def span_artifacts(spans: Sequence[TraceSpan]) -> list[SpanGroup]:
    """Spans per service and operation (server side) and the caller→callee calls they hold:
    the same code path as spans a collector reads (`core.call_graph.call_groups`), so the same
    spans give the same groups whichever way they came."""
    return call_groups(
        [
            RawSpan(
                ts=span.timestamp,
                service=span.service,
                operation=span.operation,
                duration_ms=span.duration,
                is_error=span.failed,
                trace_id=span.trace_id,
                span_id=span.span_id,
                parent_span_id=span.parent_span_id,
                kind=span.kind,
                peer_service=span.peer_service,
            )
            for span in spans
        ],
        id_prefix="span",
        source=SOURCE,
    )


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
        change_type = change_type_of(event.type)
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
