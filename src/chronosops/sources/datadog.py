"""Datadog: Incidents API objects, monitor-alert webhooks, and the guide's ``{incident: …}``.

Monitor webhooks carry whatever payload template the Datadog webhook was given, with ``$``
variables rendered in. Field names are read in snake_case or camelCase (``alert_transition``
or ``alertTransition``); docs/sources.md gives the recommended template. The reference that
ties a trigger to its recovery is, in order of preference, ``$ALERT_CYCLE_KEY`` (one per
trigger-to-recovery cycle), ``$AGGREG_KEY``, ``$ALERT_ID`` with ``$ALERT_SCOPE``, and for
Datadog's default template (which has none of them) the event title without its
``[Triggered]`` / ``[Recovered]`` prefix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chronosops.core.ingest_request import Severity
from chronosops.sources.base import Normalization, Shape, Source, WebhookAuth
from chronosops.sources.builder import RequestBuilder, digest
from chronosops.sources.fields import at, first_text, mapping, names, text

# The integration guide's mapDatadogSeverity, plus SEV-5 (info); looked up case-insensitively.
SEV: dict[str, Severity] = {
    "sev-1": "critical",
    "sev-2": "high",
    "sev-3": "medium",
    "sev-4": "low",
    "sev-5": "info",
    "sev1": "critical",
    "sev2": "high",
    "sev3": "medium",
    "sev4": "low",
    "sev5": "info",
}
PRIORITY: dict[str, Severity] = {
    "p1": "critical",
    "p2": "high",
    "p3": "medium",
    "p4": "low",
    "p5": "info",
}
ALERT_TYPE: dict[str, Severity] = {
    "error": "high",
    "warning": "medium",
    "info": "info",
    "success": "info",
}

_MONITOR_KEYS = (
    "alert_transition",
    "alertTransition",
    "alert_id",
    "alertId",
    "alert_cycle_key",
    "alertCycleKey",
    "aggreg_key",
    "aggregKey",
    "event_type",
    "eventType",
    "last_updated",
)
_TITLE_PREFIX = re.compile(
    r"^\s*(?:\[P[1-5]\]\s*)?\[(?P<transition>Re-Triggered|Triggered|Recovered|Warn|Re-Warn|"
    r"No Data|Re-No Data|Renotify)(?: on (?P<scope>\{[^\]]*\}))?\]\s*",
    re.IGNORECASE,
)
_RESOLVING = {"recovered", "warn recovered", "no data recovered"}


def _field(body: Mapping[str, Any], snake: str) -> Any:
    """``body[snake]``, or its camelCase spelling (templates use either)."""
    if snake in body:
        return body[snake]
    head, *rest = snake.split("_")
    return body.get(head + "".join(part.title() for part in rest))


class DatadogSource(Source):
    kind = "datadog"
    title = "Datadog"
    source_type = "DATADOG"
    shapes = (
        Shape(
            "incident",
            "An Incidents API object ({data: {type: incidents, id, attributes}} or the bare "
            "data object); a resolved incident carries its end.",
        ),
        Shape(
            "monitor-webhook",
            "A monitor notification from the Webhooks integration: Datadog's default payload "
            "or a template with $ALERT_TRANSITION, $ALERT_CYCLE_KEY, $AGGREG_KEY, $ALERT_ID, "
            "$ALERT_PRIORITY, $ALERT_TYPE, $TAGS, $DATE …; Recovered resolves, every other "
            "transition opens or matches the incident.",
        ),
        Shape(
            "guide",
            "The integration guide's {incident: {id, attributes: {title, severity, created, "
            "resolved, detected, customer_impact_scope, region, tags}, state}}.",
        ),
    )
    auth = WebhookAuth(token=True)
    severity_mappings = (
        ("severity (incident, guide)", {k: v for k, v in SEV.items() if "-" in k}),
        ("$ALERT_PRIORITY (monitor-webhook)", PRIORITY),
        ("$ALERT_TYPE when no priority (monitor-webhook)", ALERT_TYPE),
    )

    def parse(
        self, body: Any, *, headers: Mapping[str, str], received_at: datetime
    ) -> Normalization:
        if not isinstance(body, Mapping):
            raise self.unrecognised()
        incident = body.get("incident")
        if isinstance(incident, Mapping) and isinstance(incident.get("attributes"), Mapping):
            return _guide(body, incident, received_at)
        data = body.get("data") if isinstance(body.get("data"), Mapping) else body
        if isinstance(data, Mapping) and data.get("type") == "incidents":
            return _incident(body, data, received_at)
        if any(key in body for key in _MONITOR_KEYS) or (
            "title" in body and ("date" in body or "body" in body)
        ):
            return _monitor(body, received_at)
        raise self.unrecognised()


def _tag_metadata(builder: RequestBuilder, tags: dict[str, str] | None) -> dict[str, str | None]:
    tags = tags or {}

    def pick(*keys: str) -> str | None:
        for key in keys:
            if tags.get(key):
                return tags[key].split(",")[0]
        return None

    return {
        "service": builder.name(pick("service"), "tags.service"),
        "environment": builder.name(pick("env", "environment"), "tags.env"),
        "region": builder.name(pick("region", "availability-zone", "zone"), "tags.region"),
        "team": builder.name(pick("team"), "tags.team"),
    }


def _guide(
    body: Mapping[str, Any], incident: Mapping[str, Any], received_at: datetime
) -> Normalization:
    attributes = incident["attributes"]
    builder = RequestBuilder("DATADOG", received_at=received_at)
    ref = builder.ref(first_text(incident.get("id")), "incident.id", derive_from=incident)
    resolved = builder.instant(attributes.get("resolved"), "incident.attributes.resolved")
    state = first_text(incident.get("state"), attributes.get("state"))
    request = builder.build(
        source_ref=ref,
        title=builder.title(
            (attributes.get("title"), "incident.attributes.title"),
            fallback=f"Datadog incident {ref}",
        ),
        start=builder.start((attributes.get("created"), "incident.attributes.created")),
        end=resolved,
        detected_at=builder.instant(attributes.get("detected"), "incident.attributes.detected"),
        resolved_at=resolved,
        severity=builder.severity(attributes.get("severity"), SEV, "incident.attributes.severity"),
        service=builder.name(
            attributes.get("customer_impact_scope"), "incident.attributes.customer_impact_scope"
        ),
        region=builder.name(attributes.get("region"), "incident.attributes.region"),
        tags=builder.tags(attributes.get("tags"), "incident.attributes.tags"),
        custom_fields={"state": state} if state is not None else None,
        source_payload=dict(body),
    )
    summary = f"Datadog incident ({state or 'state unknown'})"
    return Normalization.of("guide", builder.event("trigger", ref, summary, request=request))


def _incident(
    body: Mapping[str, Any], data: Mapping[str, Any], received_at: datetime
) -> Normalization:
    attributes = mapping(data.get("attributes")) or {}
    fields = mapping(attributes.get("fields")) or {}
    prefix = "data.attributes" if data is not body else "attributes"
    builder = RequestBuilder("DATADOG", received_at=received_at)
    ref = builder.ref(first_text(data.get("id")), "data.id", derive_from=data)
    state = first_text(attributes.get("state"), at(fields, "state", "value"))
    severity = first_text(attributes.get("severity"), at(fields, "severity", "value"))
    resolved = builder.instant(attributes.get("resolved"), f"{prefix}.resolved")
    if resolved is None and state is not None and state.lower() == "resolved":
        resolved = builder.instant(attributes.get("modified"), f"{prefix}.modified")
    services = names(at(fields, "services", "value"))
    teams = names(at(fields, "teams", "value"))
    request = builder.build(
        source_ref=ref,
        title=builder.title(
            (attributes.get("title"), f"{prefix}.title"), fallback=f"Datadog incident {ref}"
        ),
        start=builder.start(
            (attributes.get("customer_impact_start"), f"{prefix}.customer_impact_start"),
            (attributes.get("created"), f"{prefix}.created"),
        ),
        end=resolved,
        detected_at=builder.instant(attributes.get("detected"), f"{prefix}.detected"),
        resolved_at=resolved,
        severity=builder.severity(severity, SEV, f"{prefix}.severity"),
        service=builder.name(
            services[0] if services else attributes.get("customer_impact_scope"),
            f"{prefix}.fields.services",
        ),
        team=builder.name(teams[0] if teams else None, f"{prefix}.fields.teams"),
        tags={key: value for key, value in (("state", state), ("severity", severity)) if value}
        or None,
        custom_fields={
            key: value
            for key, value in (
                ("publicId", attributes.get("public_id")),
                ("state", state),
                ("customerImpacted", attributes.get("customer_impacted")),
                ("customerImpactScope", text(attributes.get("customer_impact_scope"))),
                ("services", services or None),
                ("teams", teams or None),
            )
            if value is not None
        },
        source_payload=dict(body),
    )
    summary = f"Datadog incident ({state or 'state unknown'})"
    return Normalization.of("incident", builder.event("trigger", ref, summary, request=request))


def _monitor(body: Mapping[str, Any], received_at: datetime) -> Normalization:
    builder = RequestBuilder("DATADOG", received_at=received_at)
    event_title = first_text(_field(body, "event_title"), body.get("title"))
    alert_title = first_text(_field(body, "alert_title"))
    match = _TITLE_PREFIX.match(event_title or alert_title or "")
    transition = first_text(_field(body, "alert_transition"), body.get("transition"))
    if transition is None and match is not None:
        transition = match["transition"]
    alert_type = text(_field(body, "alert_type"))
    resolving = (transition or "").strip().lower() in _RESOLVING or (
        transition is None and (alert_type or "").lower() == "success"
    )
    alert_id = first_text(_field(body, "alert_id"))
    scope = first_text(_field(body, "alert_scope"))
    raw_ref = first_text(_field(body, "alert_cycle_key"), _field(body, "aggreg_key"))
    ref_path = "alert_cycle_key"
    if raw_ref is None and alert_id is not None:
        raw_ref = f"monitor-{alert_id}" + (f":{scope}" if scope else "")
        ref_path = "alert_id"
    if raw_ref is None and (event_title or alert_title):
        stripped = _TITLE_PREFIX.sub("", event_title or alert_title or "", count=1)
        scope_part = match["scope"] if match is not None and match["scope"] else ""
        raw_ref = f"title-sha256:{digest([stripped.strip(), scope_part])[:32]}"
        ref_path = "title"
        builder.note(
            "ref-derived",
            "no $ALERT_CYCLE_KEY, $AGGREG_KEY or $ALERT_ID in the payload; the reference is a "
            "hash of the title without its [Triggered] / [Recovered] prefix, so a recovery "
            "finds its trigger",
            "title",
        )
    ref = builder.ref(raw_ref, ref_path, derive_from=dict(body))
    when = builder.first_instant(
        (body.get("date"), "date"), (_field(body, "last_updated"), "last_updated")
    )
    summary = f"Datadog monitor {transition or alert_type or 'notification'}"
    if resolving:
        if when is None:
            builder.note(
                "time-defaulted", "no time in date or last_updated; used the receiving time"
            )
        return Normalization.of(
            "monitor-webhook",
            builder.event("resolve", ref, summary, resolved_at=when or received_at),
        )
    priority = first_text(_field(body, "alert_priority"), body.get("priority"))
    if priority is not None and priority.strip().lower() in PRIORITY:
        severity = builder.severity(priority, PRIORITY, "alert_priority")
    else:
        severity = builder.severity(alert_type, ALERT_TYPE, "alert_type")
    tags = builder.tags(body.get("tags"), "tags")
    metadata = _tag_metadata(builder, tags)
    custom = {
        "alertId": alert_id,
        "alertCycleKey": text(_field(body, "alert_cycle_key")),
        "aggregKey": text(_field(body, "aggreg_key")),
        "alertMetric": text(_field(body, "alert_metric")),
        "alertQuery": text(_field(body, "alert_query")),
        "alertScope": scope,
        "alertStatus": text(_field(body, "alert_status")),
        "alertTransition": transition,
        "alertType": alert_type,
        "alertPriority": priority,
        "eventType": text(_field(body, "event_type")),
        "eventId": text(body.get("id")),
        "hostname": text(body.get("hostname")),
        "link": first_text(body.get("link"), body.get("url")),
        "snapshot": text(body.get("snapshot")),
        "org": body.get("org") if isinstance(body.get("org"), Mapping) else None,
    }
    request = builder.build(
        source_ref=ref,
        title=builder.title(
            (alert_title, "alert_title"),
            (event_title, "title"),
            fallback=f"Datadog monitor {alert_id or ref}",
        ),
        start=when or builder.start(),
        description=first_text(
            body.get("body"), _field(body, "event_msg"), _field(body, "text_only_msg")
        ),
        description_path="body",
        severity=severity,
        service=metadata["service"],
        environment=metadata["environment"],
        region=metadata["region"],
        team=metadata["team"],
        tags=tags,
        custom_fields={key: value for key, value in custom.items() if value is not None},
        source_payload=dict(body),
    )
    return Normalization.of(
        "monitor-webhook", builder.event("trigger", ref, summary, request=request)
    )
