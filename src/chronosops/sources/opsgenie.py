"""Opsgenie: the Webhook integration's alert action notifications.

Each notification is ``{"action": "Create", "alert": {…}, "source": …, "integrationName": …}``.
``Create`` opens the incident, ``Close`` resolves it (at ``updatedAt``, which Opsgenie sends in
epoch nanoseconds, while ``createdAt`` is in milliseconds), actions taken on a live alert
(acknowledge, escalate, ownership) keep it open, and the rest (notes, tags, details, deletion)
are recorded without changing it. Priorities P1–P5 (or 1–5) map to critical…info.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chronosops.core.ingest_request import Severity
from chronosops.sources.base import (
    Action,
    LifecycleMove,
    Normalization,
    Shape,
    Source,
    SourceEvent,
    WebhookAuth,
)
from chronosops.sources.builder import RequestBuilder
from chronosops.sources.fields import first_text, mapping, names, text

PRIORITY: dict[str, Severity] = {
    "p1": "critical",
    "p2": "high",
    "p3": "medium",
    "p4": "low",
    "p5": "info",
    "1": "critical",
    "2": "high",
    "3": "medium",
    "4": "low",
    "5": "info",
}
_OPENING = {"create"}
_CLOSING = {"close"}
_LIVE = {
    "acknowledge",
    "unacknowledge",
    "escalate",
    "escalatenext",
    "assignownership",
    "takeownership",
    "addresponder",
    "addteam",
    "addrecipient",
    "updatepriority",
    "updatemessage",
    "updatedescription",
}


# The actions that are someone moving the alert along its lifecycle.
_LIFECYCLE: dict[str, LifecycleMove] = {
    "acknowledge": "acknowledge",
    "unacknowledge": "unacknowledge",
}


def _key(word: str) -> str:
    return word.replace("_", "").replace("-", "").lower()


def _action(word: str) -> Action:
    key = word.replace("_", "").replace("-", "").lower()
    if key in _OPENING:
        return "trigger"
    if key in _CLOSING:
        return "resolve"
    if key in _LIVE:
        return "acknowledge"
    return "ignore"


class OpsgenieSource(Source):
    kind = "opsgenie"
    title = "Opsgenie"
    source_type = "OPSGENIE"
    shapes = (
        Shape(
            "alert-webhook",
            "A Webhook integration notification {action, alert: {alertId, alias, tinyId, "
            "message, description, priority, tags, entity, source, createdAt (epoch ms), "
            "updatedAt (epoch ns), details}}: Create opens, Close resolves, Acknowledge / "
            "Escalate / ownership / priority and message updates keep it open, notes, tags and "
            "deletions are recorded only.",
        ),
    )
    auth = WebhookAuth(token=True)
    severity_mappings = (("alert.priority", {k.upper(): v for k, v in PRIORITY.items()}),)

    def parse(
        self, body: Any, *, headers: Mapping[str, str], received_at: datetime
    ) -> Normalization:
        if (
            not isinstance(body, Mapping)
            or text(body.get("action")) is None
            or not isinstance(body.get("alert"), Mapping)
        ):
            raise self.unrecognised()
        word = text(body["action"]) or ""
        action = _action(word)
        alert = body["alert"]
        builder = RequestBuilder("OPSGENIE", received_at=received_at)
        ref = builder.ref(
            first_text(alert.get("alertId"), alert.get("alias"), alert.get("tinyId")),
            "alert.alertId",
            derive_from=alert,
        )
        summary = f"Opsgenie {word}"
        # Opsgenie names who acted in alert.username ("System" for automatic changes).
        actor = text(alert.get("username"))
        if action == "resolve":
            closed = builder.instant(alert.get("updatedAt"), "alert.updatedAt")
            if closed is None:
                builder.note(
                    "time-defaulted",
                    "no updatedAt on the closed alert; used the time ChronosOps received it",
                    "alert.updatedAt",
                )
            event = builder.event(
                "resolve", ref, summary, resolved_at=closed or received_at, actor=actor
            )
            return Normalization.of("alert-webhook", event)
        if action == "ignore":
            event = SourceEvent(
                action="ignore", source_type="OPSGENIE", source_ref=ref, summary=summary
            )
            return Normalization.of("alert-webhook", event)
        tags = builder.tags(alert.get("tags"), "alert.tags")
        teams = names(alert.get("teams"), "name")
        priority = alert.get("priority")
        request = builder.build(
            source_ref=ref,
            title=builder.title(
                (alert.get("message"), "alert.message"), fallback=f"Opsgenie alert {ref}"
            ),
            start=builder.start(
                (alert.get("createdAt"), "alert.createdAt"),
                (alert.get("insertedAt"), "alert.insertedAt"),
            ),
            severity=builder.severity(priority, PRIORITY, "alert.priority"),
            description=text(alert.get("description")),
            description_path="alert.description",
            service=builder.name(
                first_text(alert.get("entity"), (tags or {}).get("service")), "alert.entity"
            ),
            environment=builder.name((tags or {}).get("env"), "alert.tags.env"),
            team=builder.name(
                first_text(alert.get("team"), teams[0] if teams else None), "alert.team"
            ),
            tags=tags,
            custom_fields={
                key: value
                for key, value in (
                    ("alias", text(alert.get("alias"))),
                    ("tinyId", text(alert.get("tinyId"))),
                    ("priority", text(priority)),
                    ("source", text(alert.get("source"))),
                    ("entity", text(alert.get("entity"))),
                    ("details", mapping(alert.get("details"))),
                    ("username", text(alert.get("username"))),
                    ("action", word),
                    ("integrationName", text(body.get("integrationName"))),
                )
                if value is not None
            },
            source_payload=dict(body),
        )
        event = builder.event(
            action,
            ref,
            summary,
            request=request,
            lifecycle=_LIFECYCLE.get(_key(word)),
            actor=actor,
        )
        return Normalization.of("alert-webhook", event)
