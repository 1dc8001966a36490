"""Notifications that carry a group of Prometheus-style alerts (Alertmanager, Grafana).

One alert is one incident, referenced by its fingerprint: the hash of its label set, the same
for every notification about the alert, from firing to resolved. When a notification carries
no fingerprint it is computed exactly as Prometheus computes it (FNV-1a 64 over the sorted
label names and values, each followed by the byte 0xff), so the reference does not change.

A firing alert opens or matches its incident; a resolved alert resolves it at ``endsAt``. A
firing alert's ``endsAt`` is Go's zero time or a timeout in the future, not an end, and is
ignored. ``truncatedAlerts`` (alerts the sender left out because of ``max_alerts``) is
reported as a note on the whole delivery: those alerts are not in the payload, so they cannot
be ingested, and saying nothing would hide them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from chronosops.core.ingest_request import SourceType
from chronosops.sources.base import Normalization, Note, SourceEvent, payload_error
from chronosops.sources.builder import LABEL_SEVERITY, RequestBuilder
from chronosops.sources.fields import first_text, mapping, text

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_SEPARATOR = 0xFF
_MASK = (1 << 64) - 1

SERVICE_LABELS = ("service", "service_name", "app", "app_kubernetes_io_name", "job", "container")
REGION_LABELS = ("region", "zone", "location", "availability_zone")
ENVIRONMENT_LABELS = ("env", "environment")
TEAM_LABELS = ("team", "owner")
SEVERITY_LABELS = ("severity", "priority", "level")


def fingerprint(labels: Mapping[str, str]) -> str:
    """Prometheus' fingerprint of a label set, as 16 hex digits."""
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                value = ((value ^ byte) * _FNV_PRIME) & _MASK
            value = ((value ^ _SEPARATOR) * _FNV_PRIME) & _MASK
    return f"{value:016x}"


def _label(labels: Mapping[str, str], names: tuple[str, ...]) -> tuple[str | None, str]:
    for name in names:
        if labels.get(name, "").strip():
            return labels[name], name
    return None, names[0]


def parse_group(
    body: Any,
    *,
    source_type: SourceType,
    vendor: str,
    shape: str,
    received_at: datetime,
    extra_fields: Callable[[Mapping[str, Any]], dict[str, Any]] = lambda _alert: {},
) -> Normalization:
    if not isinstance(body, Mapping) or not isinstance(body.get("alerts"), list):
        raise payload_error("alerts", f"is required: a {vendor} notification lists its alerts")
    envelope = {key: value for key, value in body.items() if key != "alerts"}
    common_labels = mapping(body.get("commonLabels")) or {}
    common_annotations = mapping(body.get("commonAnnotations")) or {}
    notes: list[Note] = []
    truncated = body.get("truncatedAlerts")
    if isinstance(truncated, int) and not isinstance(truncated, bool) and truncated > 0:
        notes.append(
            Note(
                "alerts-truncated",
                f"{vendor} left {truncated} alert(s) of this group out of the notification "
                "(max_alerts); they are not in the payload and were not ingested",
                "truncatedAlerts",
            )
        )
    events = []
    for index, alert in enumerate(body["alerts"]):
        if not isinstance(alert, Mapping):
            raise payload_error(f"alerts[{index}]", "must be an object")
        events.append(
            _alert(
                alert,
                path=f"alerts[{index}]",
                envelope=envelope,
                group_status=text(body.get("status")),
                common_labels=common_labels,
                common_annotations=common_annotations,
                source_type=source_type,
                vendor=vendor,
                received_at=received_at,
                extra_fields=extra_fields,
            )
        )
    return Normalization(shape=shape, events=tuple(events), notes=tuple(notes))


def _alert(
    alert: Mapping[str, Any],
    *,
    path: str,
    envelope: Mapping[str, Any],
    group_status: str | None,
    common_labels: Mapping[str, Any],
    common_annotations: Mapping[str, Any],
    source_type: SourceType,
    vendor: str,
    received_at: datetime,
    extra_fields: Callable[[Mapping[str, Any]], dict[str, Any]],
) -> SourceEvent:
    builder = RequestBuilder(source_type, received_at=received_at)
    raw_labels = mapping(alert.get("labels"))
    labels = (
        builder.labels(raw_labels if raw_labels is not None else common_labels, f"{path}.labels")
        or {}
    )
    annotations = (
        builder.labels(
            mapping(alert.get("annotations")) or common_annotations, f"{path}.annotations"
        )
        or {}
    )
    given = first_text(alert.get("fingerprint"))
    ref = builder.ref(given or fingerprint(labels), f"{path}.fingerprint", derive_from=labels)
    status = (first_text(alert.get("status"), group_status) or "firing").lower()
    alertname = labels.get("alertname")
    summary = f"{vendor} alert {alertname or ref} {status}"
    if status == "resolved":
        ended = builder.instant(alert.get("endsAt"), f"{path}.endsAt")
        if ended is None:
            builder.note(
                "time-defaulted",
                "a resolved alert without endsAt; used the time ChronosOps received it",
                f"{path}.endsAt",
            )
        return builder.event("resolve", ref, summary, resolved_at=ended or received_at)
    severity_word, severity_label = _label(labels, SEVERITY_LABELS)
    service, service_label = _label(labels, SERVICE_LABELS)
    region, region_label = _label(labels, REGION_LABELS)
    environment, environment_label = _label(labels, ENVIRONMENT_LABELS)
    team, team_label = _label(labels, TEAM_LABELS)
    custom = {
        "fingerprint": ref,
        "status": status,
        "annotations": annotations or None,
        "generatorURL": text(alert.get("generatorURL")),
        "groupKey": text(envelope.get("groupKey")),
        "receiver": text(envelope.get("receiver")),
        "externalURL": text(envelope.get("externalURL")),
        **extra_fields(alert),
    }
    request = builder.build(
        source_ref=ref,
        title=builder.title(
            (annotations.get("summary"), f"{path}.annotations.summary"),
            (annotations.get("title"), f"{path}.annotations.title"),
            (alertname, f"{path}.labels.alertname"),
            fallback=f"{vendor} alert {ref}",
        ),
        start=builder.start((alert.get("startsAt"), f"{path}.startsAt")),
        severity=builder.severity(severity_word, LABEL_SEVERITY, f"{path}.labels.{severity_label}"),
        description=first_text(annotations.get("description"), annotations.get("message")),
        description_path=f"{path}.annotations.description",
        service=builder.name(service, f"{path}.labels.{service_label}"),
        region=builder.name(region, f"{path}.labels.{region_label}"),
        environment=builder.name(environment, f"{path}.labels.{environment_label}"),
        team=builder.name(team, f"{path}.labels.{team_label}"),
        tags=labels or None,
        custom_fields={key: value for key, value in custom.items() if value is not None},
        source_payload={**envelope, "alerts": [dict(alert)]},
    )
    return builder.event("trigger", ref, summary, request=request)
