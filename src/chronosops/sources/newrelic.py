"""New Relic: workflow webhooks (default and custom templates), legacy alert channels, the guide.

A workflow's webhook destination renders a Handlebars template. The default template sends
``id`` (the issue id), ``title``, ``priority`` (CRITICAL, HIGH, MEDIUM, LOW), ``state``
(CREATED, ACTIVATED, ACKNOWLEDGED, CLOSED) and epoch-millisecond ``createdAt`` / ``updatedAt``;
custom templates commonly use ``issueId``, ``issueTitle``, ``issuePageUrl``, ``closedAt``,
``activatedAt``, ``acknowledgedAt``. Both are read. CLOSED resolves the issue; every other
state opens or matches it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from chronosops.core.ingest_request import IngestIncidentRequest, Severity
from chronosops.sources.base import Normalization, Shape, Source, WebhookAuth
from chronosops.sources.builder import RequestBuilder
from chronosops.sources.fields import at, first_text, items, names, text

# The integration guide's mapNewRelicPriority.
GUIDE_PRIORITY: dict[str, Severity] = {
    "p1": "critical",
    "p2": "high",
    "p3": "medium",
    "p4": "low",
}
# Workflow issue priorities; the guide's P1–P4 are accepted too.
ISSUE_PRIORITY: dict[str, Severity] = {
    "critical": "critical",
    "high": "high",
    "medium": "medium",
    "low": "low",
    **GUIDE_PRIORITY,
}
# Legacy alert-channel condition severities.
LEGACY_SEVERITY: dict[str, Severity] = {
    "critical": "critical",
    "warning": "medium",
    "info": "info",
}

_WORKFLOW_KEYS = ("issueId", "issueUrl", "issuePageUrl", "totalIncidents", "workflowName")


class NewRelicSource(Source):
    kind = "newrelic"
    title = "New Relic"
    source_type = "NEW_RELIC"
    shapes = (
        Shape(
            "workflow-webhook",
            "A workflow webhook (default or custom template): issueId / id, title, priority "
            "CRITICAL…LOW, state CREATED / ACTIVATED / ACKNOWLEDGED / CLOSED, epoch-ms "
            "createdAt / updatedAt / closedAt; CLOSED resolves.",
        ),
        Shape(
            "legacy-channel",
            "A legacy alert notification channel webhook: incident_id, current_state "
            "open / acknowledged / closed, severity, condition_name, timestamp (epoch ms).",
        ),
        Shape(
            "guide",
            "The integration guide's {incident: {id, title, priority P1–P4, createdAt, "
            "resolvedAt, entityName, region, environment, state}}.",
        ),
    )
    auth = WebhookAuth(token=True)
    severity_mappings = (
        ("priority (workflow-webhook)", ISSUE_PRIORITY),
        ("priority (guide)", GUIDE_PRIORITY),
        ("severity (legacy-channel)", LEGACY_SEVERITY),
    )

    def parse(
        self, body: Any, *, headers: Mapping[str, str], received_at: datetime
    ) -> Normalization:
        if not isinstance(body, Mapping):
            raise self.unrecognised()
        if isinstance(body.get("incident"), Mapping):
            return _guide(body, body["incident"], received_at)
        if "current_state" in body and "incident_id" in body:
            return _legacy(body, received_at)
        if any(key in body for key in _WORKFLOW_KEYS) or (
            "state" in body and ("id" in body or "priority" in body)
        ):
            return _workflow(body, received_at)
        raise self.unrecognised()


def _event(
    builder: RequestBuilder,
    *,
    shape: str,
    state: str,
    ref: str,
    closed_at: Any,
    closed_path: str,
    build: Callable[[], IngestIncidentRequest],
) -> Normalization:
    """One event for a New Relic state: CLOSED resolves, ACKNOWLEDGED acknowledges, else trigger."""
    upper = state.upper()
    if upper == "CLOSED":
        resolved = builder.instant(closed_at, closed_path)
        if resolved is None:
            builder.note(
                "time-defaulted",
                "no closing time in the payload; used the time ChronosOps received it",
                closed_path,
            )
        return Normalization.of(
            shape,
            builder.event(
                "resolve",
                ref,
                "New Relic issue CLOSED",
                resolved_at=resolved or builder.received_at,
            ),
        )
    request = build()
    return Normalization.of(
        shape,
        builder.event(
            "acknowledge" if upper == "ACKNOWLEDGED" else "trigger",
            ref,
            f"New Relic issue {upper or 'notification'}",
            request=request,
            lifecycle="acknowledge" if upper == "ACKNOWLEDGED" else None,
        ),
    )


def _workflow(body: Mapping[str, Any], received_at: datetime) -> Normalization:
    builder = RequestBuilder("NEW_RELIC", received_at=received_at)
    ref = builder.ref(first_text(body.get("issueId"), body.get("id")), "issueId", derive_from=body)
    state = text(body.get("state")) or ""
    priority = text(body.get("priority"))
    entities = names(body.get("impactedEntities")) or names(at(body, "entitiesData", "names"))
    annotation_title = at(body, "annotations", "title")
    conditions = names(body.get("alertConditionNames"))

    def build() -> IngestIncidentRequest:
        return builder.build(
            source_ref=ref,
            title=builder.title(
                (body.get("title"), "title"),
                (body.get("issueTitle"), "issueTitle"),
                (
                    annotation_title[0]
                    if isinstance(annotation_title, list) and annotation_title
                    else annotation_title,
                    "annotations.title",
                ),
                (conditions[0] if conditions else None, "alertConditionNames"),
                fallback=f"New Relic issue {ref}",
            ),
            start=builder.start(
                (body.get("activatedAt"), "activatedAt"), (body.get("createdAt"), "createdAt")
            ),
            detected_at=builder.instant(body.get("createdAt"), "createdAt"),
            severity=builder.severity(priority, ISSUE_PRIORITY, "priority"),
            description=first_text(body.get("description"), body.get("details")),
            service=builder.name(entities[0] if entities else None, "impactedEntities"),
            tags={key: value for key, value in (("priority", priority), ("state", state)) if value}
            or None,
            custom_fields={
                key: value
                for key, value in (
                    ("issueUrl", first_text(body.get("issueUrl"), body.get("issuePageUrl"))),
                    ("impactedEntities", entities or None),
                    ("alertPolicyNames", names(body.get("alertPolicyNames")) or None),
                    ("alertConditionNames", conditions or None),
                    ("workflowName", text(body.get("workflowName"))),
                    ("totalIncidents", body.get("totalIncidents")),
                    ("trigger", text(body.get("trigger"))),
                    ("isCorrelated", body.get("isCorrelated")),
                    ("owner", text(body.get("owner"))),
                    ("sources", names(body.get("sources")) or None),
                )
                if value is not None
            },
            source_payload=dict(body),
        )

    return _event(
        builder,
        shape="workflow-webhook",
        state=state,
        ref=ref,
        closed_at=body.get("closedAt") or body.get("updatedAt"),
        closed_path="closedAt",
        build=build,
    )


def _legacy(body: Mapping[str, Any], received_at: datetime) -> Normalization:
    builder = RequestBuilder("NEW_RELIC", received_at=received_at)
    ref = builder.ref(first_text(body.get("incident_id")), "incident_id", derive_from=body)
    state = text(body.get("current_state")) or ""
    severity = text(body.get("severity"))
    targets = [target for target in items(body.get("targets")) if isinstance(target, Mapping)]

    def build() -> IngestIncidentRequest:
        return builder.build(
            source_ref=ref,
            title=builder.title(
                (body.get("condition_name"), "condition_name"),
                (body.get("details"), "details"),
                fallback=f"New Relic incident {ref}",
            ),
            start=builder.start((body.get("timestamp"), "timestamp")),
            severity=builder.severity(severity, LEGACY_SEVERITY, "severity"),
            description=text(body.get("details")),
            description_path="details",
            service=builder.name(targets[0].get("name") if targets else None, "targets[0].name"),
            tags=builder.labels(targets[0].get("labels"), "targets[0].labels") if targets else None,
            custom_fields={
                key: value
                for key, value in (
                    ("incidentUrl", text(body.get("incident_url"))),
                    ("policyName", text(body.get("policy_name"))),
                    ("conditionId", body.get("condition_id")),
                    ("runbookUrl", text(body.get("runbook_url"))),
                    ("accountId", body.get("account_id")),
                    ("owner", text(body.get("owner"))),
                )
                if value is not None
            },
            source_payload=dict(body),
        )

    return _event(
        builder,
        shape="legacy-channel",
        state=state,
        ref=ref,
        closed_at=body.get("timestamp"),
        closed_path="timestamp",
        build=build,
    )


def _guide(
    body: Mapping[str, Any], incident: Mapping[str, Any], received_at: datetime
) -> Normalization:
    builder = RequestBuilder("NEW_RELIC", received_at=received_at)
    ref = builder.ref(first_text(incident.get("id")), "incident.id", derive_from=incident)
    resolved = builder.instant(incident.get("resolvedAt"), "incident.resolvedAt")
    state = text(incident.get("state"))
    request = builder.build(
        source_ref=ref,
        title=builder.title(
            (incident.get("title"), "incident.title"), fallback=f"New Relic incident {ref}"
        ),
        start=builder.start((incident.get("createdAt"), "incident.createdAt")),
        end=resolved,
        detected_at=builder.instant(incident.get("openedAt"), "incident.openedAt"),
        resolved_at=resolved,
        severity=builder.severity(incident.get("priority"), GUIDE_PRIORITY, "incident.priority"),
        service=builder.name(incident.get("entityName"), "incident.entityName"),
        region=builder.name(incident.get("region"), "incident.region"),
        environment=builder.name(incident.get("environment"), "incident.environment"),
        custom_fields={
            key: value
            for key, value in (("state", state), ("policyId", incident.get("policyId")))
            if value is not None
        },
        source_payload=dict(body),
    )
    summary = f"New Relic incident ({state or 'state unknown'})"
    return Normalization.of("guide", builder.event("trigger", ref, summary, request=request))
