"""PagerDuty: V3 webhooks, Events API v2 events, and the integration guide's ``{incident: …}``.

- V3 webhooks (``{"event": {"event_type": "incident.triggered", "data": {…}}}``) are signed:
  ``X-PagerDuty-Signature`` carries ``v1=<HMAC-SHA256 of the body>``, one per signing secret
  while PagerDuty rotates them. ``X-Webhook-Id`` is the same on every retry of a delivery.
- Events API v2 events (``{"routing_key", "event_action", "dedup_key", "payload"}``) are what
  monitoring tools send *to* PagerDuty; a tool can send the same event here. Such senders
  cannot sign, so they authenticate with the source's token — as a bearer token, a basic-auth
  password, or as the ``routing_key`` itself. The routing key is never stored.
- The guide's shape is normalised exactly as the guide's example does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chronosops.core.ingest_request import Severity
from chronosops.sources.base import (
    LifecycleMove,
    Normalization,
    Note,
    Shape,
    Source,
    SourceEvent,
    WebhookAuth,
    payload_error,
)
from chronosops.sources.builder import RequestBuilder
from chronosops.sources.fields import at, first_text, mapping, names, text

REDACTED = "[REDACTED]"

# The integration guide's mapPagerDutyUrgency.
URGENCY: dict[str, Severity] = {
    "critical": "critical",
    "high": "high",
    "low": "low",
    "urgent": "critical",
    "normal": "medium",
}
# PD-CEF severities of the Events API v2.
EVENT_SEVERITY: dict[str, Severity] = {
    "critical": "critical",
    "error": "high",
    "warning": "medium",
    "info": "info",
}

# V3 event types that describe the incident itself, and what they mean for it.
_V3_ACTIONS = {
    "incident.triggered": "trigger",
    "incident.reopened": "trigger",
    "incident.resolved": "resolve",
    "incident.acknowledged": "acknowledge",
    "incident.unacknowledged": "acknowledge",
    "incident.escalated": "acknowledge",
    "incident.reassigned": "acknowledge",
    "incident.delegated": "acknowledge",
    "incident.priority_updated": "acknowledge",
}
# The V3 event types that are someone moving the incident along its lifecycle.
_V3_LIFECYCLE: dict[str, LifecycleMove] = {
    "incident.acknowledged": "acknowledge",
    "incident.unacknowledged": "unacknowledge",
    "incident.reopened": "reopen",
}


class PagerDutySource(Source):
    kind = "pagerduty"
    title = "PagerDuty"
    source_type = "PAGERDUTY"
    shapes = (
        Shape(
            "v3-webhook",
            "V3 webhook subscription events: incident.triggered / reopened open or match the "
            "incident, incident.resolved resolves it, incident.acknowledged / unacknowledged / "
            "escalated / reassigned / delegated / priority_updated keep it open; notes, "
            "responders, status updates and service events are recorded only.",
        ),
        Shape(
            "events-v2",
            "Events API v2 events (event_action trigger / acknowledge / resolve, by dedup_key).",
        ),
        Shape(
            "guide",
            "The integration guide's {incident: {id, title, urgency, status, created_at, "
            "resolved_at, service, assigned_to, priority, incident_key}}.",
        ),
    )
    auth = WebhookAuth(
        signature_header="X-PagerDuty-Signature", token=True, body_token_field="routing_key"
    )
    delivery_id_headers = ("X-Webhook-Id",)
    severity_mappings = (
        ("urgency (v3-webhook, guide)", URGENCY),
        ("payload.severity (events-v2)", EVENT_SEVERITY),
    )

    def parse(
        self, body: Any, *, headers: Mapping[str, str], received_at: datetime
    ) -> Normalization:
        if not isinstance(body, Mapping):
            raise self.unrecognised()
        if isinstance(body.get("event"), Mapping):
            return _v3(body, received_at)
        if "event_action" in body:
            return _events_v2(body, received_at)
        if isinstance(body.get("incident"), Mapping):
            return _guide(body, received_at)
        raise self.unrecognised()


def _v3(body: Mapping[str, Any], received_at: datetime) -> Normalization:
    event = body["event"]
    event_type = text(event.get("event_type"))
    if event_type is None:
        raise payload_error("event.event_type", "is required (e.g. incident.triggered)")
    data = mapping(event.get("data")) or {}
    action = _V3_ACTIONS.get(event_type)
    if action is None or data.get("type") not in (None, "incident"):
        incident_id = first_text(
            at(data, "incident", "id"), data.get("id") if data.get("type") == "incident" else None
        )
        if incident_id is None:
            return Normalization(
                shape="v3-webhook",
                events=(),
                notes=(
                    Note("event-ignored", f"{event_type} does not concern an incident; recorded"),
                ),
            )
        return Normalization.of(
            "v3-webhook",
            SourceEvent(
                action="ignore",
                source_type="PAGERDUTY",
                source_ref=incident_id,
                summary=f"PagerDuty {event_type}",
            ),
        )
    builder = RequestBuilder("PAGERDUTY", received_at=received_at)
    ref = builder.ref(
        first_text(data.get("id")), "event.data.id", derive_from=data.get("incident_key") or data
    )
    occurred = builder.first_instant((event.get("occurred_at"), "event.occurred_at"))
    # Who did it: the agent of the event (a user, or a service for automatic changes).
    actor = first_text(at(event, "agent", "summary"), at(event, "agent", "id"))
    if action == "resolve":
        resolved_at = occurred or _received(builder, received_at, "event.occurred_at")
        return Normalization.of(
            "v3-webhook",
            builder.event(
                "resolve",
                ref,
                "PagerDuty incident.resolved",
                resolved_at=resolved_at,
                actor=actor,
            ),
        )
    if event_type == "incident.reopened":
        # A reopened incident starts again now; after a resolve it is the next occurrence.
        start = occurred or builder.start((data.get("created_at"), "event.data.created_at"))
    else:
        start = builder.start(
            (data.get("created_at"), "event.data.created_at"),
            (event.get("occurred_at"), "event.occurred_at"),
        )
    urgency = text(data.get("urgency"))
    priority = first_text(at(data, "priority", "summary"), at(data, "priority", "name"))
    request = builder.build(
        source_ref=ref,
        title=builder.title(
            (data.get("title"), "event.data.title"),
            (data.get("summary"), "event.data.summary"),
            fallback=f"PagerDuty incident {ref}",
        ),
        start=start,
        detected_at=builder.instant(data.get("created_at"), "event.data.created_at"),
        severity=builder.severity(urgency, URGENCY, "event.data.urgency"),
        description=text(data.get("description")),
        service=builder.name(at(data, "service", "summary"), "event.data.service.summary"),
        team=builder.name(
            first_text(*names(data.get("teams")), *names(data.get("assignees"))),
            "event.data.teams",
        ),
        tags={
            key: value
            for key, value in (("urgency", urgency), ("status", text(data.get("status"))))
            if value is not None
        }
        or None,
        custom_fields={
            key: value
            for key, value in (
                ("priority", priority),
                ("incidentKey", text(data.get("incident_key"))),
                ("incidentNumber", data.get("number")),
                ("htmlUrl", text(data.get("html_url"))),
                ("escalationPolicy", text(at(data, "escalation_policy", "summary"))),
                ("assignees", names(data.get("assignees")) or None),
                ("eventType", event_type),
                ("eventId", text(event.get("id"))),
            )
            if value is not None
        },
        source_payload=dict(body),
    )
    return Normalization.of(
        "v3-webhook",
        builder.event(
            "trigger" if action == "trigger" else "acknowledge",
            ref,
            f"PagerDuty {event_type}",
            request=request,
            lifecycle=_V3_LIFECYCLE.get(event_type),
            actor=actor,
        ),
    )


def _received(builder: RequestBuilder, received_at: datetime, path: str) -> datetime:
    builder.note(
        "time-defaulted", "no time in the payload; used the time ChronosOps received it", path
    )
    return received_at


def _events_v2(body: Mapping[str, Any], received_at: datetime) -> Normalization:
    action = text(body.get("event_action"))
    if action not in ("trigger", "acknowledge", "resolve"):
        raise payload_error("event_action", "must be one of trigger, acknowledge, resolve")
    stored = dict(body)
    if "routing_key" in stored:
        stored["routing_key"] = REDACTED
    builder = RequestBuilder("PAGERDUTY", received_at=received_at)
    dedup_key = first_text(body.get("dedup_key"))
    if action != "trigger" and dedup_key is None:
        raise payload_error("dedup_key", f"is required to {action} an event")
    payload = mapping(body.get("payload")) or {}
    ref = builder.ref(dedup_key, "dedup_key", derive_from=stored)
    if action == "resolve":
        resolved_at = _received(builder, received_at, "payload.timestamp")
        return Normalization.of(
            "events-v2",
            builder.event(
                "resolve", ref, "PagerDuty Events API v2 resolve", resolved_at=resolved_at
            ),
        )
    if action == "acknowledge":
        return Normalization.of(
            "events-v2",
            SourceEvent(
                action="acknowledge",
                source_type="PAGERDUTY",
                source_ref=ref,
                summary="PagerDuty Events API v2 acknowledge",
                lifecycle="acknowledge",
            ),
        )
    if not payload:
        raise payload_error(
            "payload", "is required to trigger an event (summary, source, severity)"
        )
    severity = text(payload.get("severity"))
    request = builder.build(
        source_ref=ref,
        title=builder.title(
            (payload.get("summary"), "payload.summary"),
            fallback=f"PagerDuty event {ref}",
        ),
        start=builder.start((payload.get("timestamp"), "payload.timestamp")),
        severity=builder.severity(severity, EVENT_SEVERITY, "payload.severity"),
        # `source` is the affected system itself (a host, a cluster): closer to what failed than
        # the `group` of components, and PD-CEF requires it, so a service is always named.
        service=builder.name(
            first_text(payload.get("component"), payload.get("source"), payload.get("group")),
            "payload.component",
        ),
        tags={
            key: value
            for key, value in (
                ("source", text(payload.get("source"))),
                ("component", text(payload.get("component"))),
                ("group", text(payload.get("group"))),
                ("class", text(payload.get("class"))),
                ("severity", severity),
            )
            if value is not None
        }
        or None,
        custom_fields={
            key: value
            for key, value in (
                ("customDetails", payload.get("custom_details")),
                ("client", text(body.get("client"))),
                ("clientUrl", text(body.get("client_url"))),
                ("links", body.get("links")),
                ("images", body.get("images")),
            )
            if value is not None
        },
        source_payload=stored,
    )
    return Normalization.of(
        "events-v2",
        builder.event("trigger", ref, "PagerDuty Events API v2 trigger", request=request),
    )


def _guide(body: Mapping[str, Any], received_at: datetime) -> Normalization:
    incident = body["incident"]
    builder = RequestBuilder("PAGERDUTY", received_at=received_at)
    ref = builder.ref(first_text(incident.get("id")), "incident.id", derive_from=incident)
    urgency = text(incident.get("urgency"))
    status = text(incident.get("status"))
    created = builder.start((incident.get("created_at"), "incident.created_at"))
    resolved = builder.instant(incident.get("resolved_at"), "incident.resolved_at")
    request = builder.build(
        source_ref=ref,
        title=builder.title(
            (incident.get("title"), "incident.title"), fallback=f"PagerDuty incident {ref}"
        ),
        start=created,
        end=resolved,
        detected_at=created,
        resolved_at=resolved,
        severity=builder.severity(urgency, URGENCY, "incident.urgency"),
        description=text(incident.get("description")),
        service=builder.name(
            first_text(
                at(incident, "service", "name"),
                at(incident, "service", "summary"),
                at(incident, "service", "id"),
            ),
            "incident.service.name",
        ),
        team=builder.name(at(incident, "assigned_to", 0, "summary"), "incident.assigned_to"),
        tags={key: value for key, value in (("urgency", urgency), ("status", status)) if value}
        or None,
        custom_fields={
            key: value
            for key, value in (
                ("priority", text(at(incident, "priority", "name"))),
                ("incidentKey", text(incident.get("incident_key"))),
            )
            if value is not None
        },
        source_payload=dict(body),
    )
    summary = f"PagerDuty incident ({status or 'status unknown'})"
    return Normalization.of("guide", builder.event("trigger", ref, summary, request=request))
