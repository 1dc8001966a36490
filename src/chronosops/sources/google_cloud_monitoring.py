"""Google Cloud Monitoring: alerting-policy notifications from a webhook channel, schema 1.2.

The notification is ``{"incident": {…}, "version": "1.2"}`` with epoch-second
``started_at`` / ``ended_at`` and ``state`` ``open`` or ``closed``. A ``closed`` notification
resolves the incident with the same ``incident_id``. Cloud Monitoring can send no custom
header, so its channel authenticates with basic auth (the "Webhook with basic auth" channel
type) or with ``?token=`` in the URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chronosops.core.ingest_request import Severity
from chronosops.sources.base import (
    Normalization,
    Shape,
    Source,
    WebhookAuth,
    payload_error,
)
from chronosops.sources.builder import RequestBuilder
from chronosops.sources.fields import at, first_text, mapping, text

# Alerting-policy severities (the policy's "severity" level).
POLICY_SEVERITY: dict[str, Severity] = {
    "critical": "critical",
    "error": "high",
    "warning": "medium",
}


class GoogleCloudMonitoringSource(Source):
    kind = "google-cloud-monitoring"
    title = "Google Cloud Monitoring"
    source_type = "GOOGLE_CLOUD"
    shapes = (
        Shape(
            "alerting-1.2",
            "A webhook notification of an alerting policy, schema version 1.2: incident "
            "{incident_id, state open/closed, started_at/ended_at epoch seconds, policy_name, "
            "condition_name, summary, severity, resource, metric, documentation …}.",
        ),
    )
    auth = WebhookAuth(token=True, query_token=True)
    severity_mappings = (("incident.severity", POLICY_SEVERITY),)

    def parse(
        self, body: Any, *, headers: Mapping[str, str], received_at: datetime
    ) -> Normalization:
        if not isinstance(body, Mapping) or not isinstance(body.get("incident"), Mapping):
            raise self.unrecognised()
        version = text(body.get("version"))
        if version is not None and not version.startswith("1."):
            raise payload_error("version", f"{version!r} is not a schema ChronosOps reads (1.x)")
        incident = body["incident"]
        builder = RequestBuilder("GOOGLE_CLOUD", received_at=received_at)
        ref = builder.ref(
            first_text(incident.get("incident_id")), "incident.incident_id", derive_from=incident
        )
        state = (text(incident.get("state")) or "").lower()
        if state == "closed":
            ended = builder.instant(incident.get("ended_at"), "incident.ended_at")
            if ended is None:
                builder.note(
                    "time-defaulted",
                    "a closed incident without ended_at; used the time ChronosOps received it",
                    "incident.ended_at",
                )
            return Normalization.of(
                "alerting-1.2",
                builder.event(
                    "resolve",
                    ref,
                    "Cloud Monitoring incident closed",
                    resolved_at=ended or received_at,
                ),
            )
        resource_labels = mapping(at(incident, "resource", "labels")) or {}
        policy_labels = mapping(incident.get("policy_user_labels")) or {}
        user_labels = mapping(at(incident, "metadata", "user_labels")) or {}
        labels = {**user_labels, **policy_labels}
        policy = text(incident.get("policy_name"))
        condition = text(incident.get("condition_name"))
        started = builder.start((incident.get("started_at"), "incident.started_at"))
        documentation = text(at(incident, "documentation", "content"))
        summary = text(incident.get("summary"))
        description = "\n\n".join(part for part in (summary, documentation) if part) or None
        request = builder.build(
            source_ref=ref,
            title=builder.title(
                (at(incident, "documentation", "subject"), "incident.documentation.subject"),
                (
                    f"{policy}: {condition}" if policy and condition else policy,
                    "incident.policy_name",
                ),
                (condition, "incident.condition_name"),
                (summary, "incident.summary"),
                fallback=f"Cloud Monitoring incident {ref}",
            ),
            start=started,
            detected_at=started,
            severity=builder.severity(
                incident.get("severity"), POLICY_SEVERITY, "incident.severity"
            ),
            description=description,
            description_path="incident.summary",
            service=builder.name(
                first_text(
                    resource_labels.get("service_name"),
                    resource_labels.get("container_name"),
                    incident.get("resource_display_name"),
                    incident.get("resource_name"),
                ),
                "incident.resource",
            ),
            region=builder.name(
                first_text(
                    resource_labels.get("location"),
                    resource_labels.get("region"),
                    resource_labels.get("zone"),
                ),
                "incident.resource.labels",
            ),
            environment=builder.name(
                first_text(labels.get("env"), labels.get("environment")),
                "incident.policy_user_labels",
            ),
            team=builder.name(labels.get("team"), "incident.policy_user_labels.team"),
            tags=builder.labels(labels, "incident.policy_user_labels"),
            custom_fields={
                key: value
                for key, value in (
                    ("url", text(incident.get("url"))),
                    ("scopingProjectId", text(incident.get("scoping_project_id"))),
                    ("policyName", policy),
                    ("conditionName", condition),
                    ("resourceType", text(at(incident, "resource", "type"))),
                    ("resourceLabels", resource_labels or None),
                    ("resourceName", text(incident.get("resource_name"))),
                    ("metricType", text(at(incident, "metric", "type"))),
                    ("metricLabels", mapping(at(incident, "metric", "labels"))),
                    ("thresholdValue", text(incident.get("threshold_value"))),
                    ("observedValue", text(incident.get("observed_value"))),
                    ("state", state or None),
                )
                if value is not None
            },
            source_payload=dict(body),
        )
        return Normalization.of(
            "alerting-1.2",
            builder.event(
                "trigger",
                ref,
                f"Cloud Monitoring incident {state or 'notification'}",
                request=request,
            ),
        )
