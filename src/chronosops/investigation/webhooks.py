"""What a vendor's delivery does: normalised events applied to incidents, each delivery once.

``POST /v1/webhooks/{source}`` is, in order:

1. the source normalises the payload (`SourceIntake.normalize`; a `SourcePayloadError` is a
   400, nothing stored);
2. the delivery (`SourceIntake.delivery`: its delivery id or body hash) is done once through
   `Once`: one seen within the replay window gets the answer it got the first time;
3. each event is applied (`SourceIntake.apply`): a trigger or a full acknowledge goes through
   `IngestPipeline.ingest` like ``POST /v1/incidents/ingest`` (validation, dedup), with the
   evidence and analysis left to a runner, so the vendor is answered as soon as the incidents
   are stored; a resolve ends the open incident with that reference, audited; a resolve for an
   unknown reference is audited as unmatched and changes nothing; an event
   carrying a lifecycle move (someone acknowledged, unacknowledged or reopened it in the
   vendor's tool) applies the same transition as ``POST /v1/incidents/{id}/acknowledge``,
   audited with the vendor's actor (``webhook:<source>/<actor>``).

`SourceIntake.apply` also serves ``chronosops import google-cloud-status`` and the console,
which analyse in the call (``mode="inline"``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

import structlog

from chronosops.audit import AuditLog, EntityType, EventType
from chronosops.auth import Principal
from chronosops.core.clock import Clock
from chronosops.core.timestamps import format_instant, parse_instant
from chronosops.incidents import IncidentService
from chronosops.investigation.ingest import AnalysisMode, IngestPipeline, JobLostError
from chronosops.investigation.lifecycle import IncidentLifecycle
from chronosops.investigation.once import Delivery
from chronosops.jobs import JobRead, JobService
from chronosops.sources import Normalization, Source, SourceEvent, registry
from chronosops.storage import Database

log = structlog.get_logger(__name__)

Outcome = Literal[
    "created",
    "joined",
    "updated",
    "unchanged",
    "resolved",
    "already-resolved",
    "unmatched",
    "recorded",
]
# Generic delivery-id headers honoured for every source, after the source's own.
GENERIC_DELIVERY_HEADERS = ("X-Webhook-Id", "Idempotency-Key")
DELIVERY_ID_MAX = 256
DELIVERY_JOB = "delivery"
# Never stored with a deferred delivery.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "cookie", "x-pagerduty-signature", "proxy-authorization"}
)


@dataclass(frozen=True)
class EventResult:
    event: SourceEvent
    outcome: Outcome
    message: str
    incident_id: str | None = None
    status: str | None = None
    evidence_bundle_id: str | None = None
    analysis_id: str | None = None
    incident_lifecycle: str | None = None
    # Whether the alert opened its incident or joined one already open (alert grouping).
    alert: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.event.to_json(),
            "outcome": self.outcome,
            "alert": self.alert,
            "incidentId": self.incident_id,
            "status": self.status,
            "incidentLifecycle": self.incident_lifecycle,
            "evidenceBundleId": self.evidence_bundle_id,
            "analysisId": self.analysis_id,
            "message": self.message,
        }


def summarise(results: Sequence[EventResult]) -> str:
    if not results:
        return "Nothing to do: the payload describes no incident"
    counts = Counter(result.outcome for result in results)
    words = {
        "created": "incident(s) created",
        "joined": "joined an open incident",
        "updated": "incident(s) updated",
        "unchanged": "already known, unchanged",
        "resolved": "resolved",
        "already-resolved": "already resolved",
        "unmatched": "for an unknown reference (recorded, nothing created)",
        "recorded": "recorded without changing the incident",
    }
    return "; ".join(f"{count} {words[outcome]}" for outcome, count in counts.items())


def delivery_id_headers(source: Source) -> list[str]:
    """The headers read for a delivery id, in order: the vendor's own, then the generic ones."""
    return list(dict.fromkeys((*source.delivery_id_headers, *GENERIC_DELIVERY_HEADERS)))


def delivery_id_of(source: Source, headers: Mapping[str, str]) -> str | None:
    """The delivery id a vendor repeats on every retry, bounded (a long one is hashed)."""
    for name in delivery_id_headers(source):
        value = headers.get(name)
        if value and value.strip():
            value = value.strip()
            if len(value) > DELIVERY_ID_MAX:
                return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
            return value
    return None


def actor_of(event: SourceEvent, principal: Principal) -> str:
    """Who moved the incident: the vendor's user under the source's identity, never bare.

    A PagerDuty user named ``alice`` is ``webhook:pagerduty/alice``, so it cannot be mistaken
    for a ChronosOps principal with the same name.
    """
    return f"{principal.subject}/{event.actor}" if event.actor else principal.subject


class SourceIntake:
    def __init__(
        self,
        *,
        database: Database,
        incidents: IncidentService,
        audit: AuditLog,
        pipeline: IngestPipeline,
        lifecycle: IncidentLifecycle,
        jobs: JobService,
        clock: Clock,
    ) -> None:
        self.jobs = jobs
        self.database = database
        self.incidents = incidents
        self.audit = audit
        self.pipeline = pipeline
        self.lifecycle = lifecycle
        self.clock = clock

    def normalize(
        self,
        source: Source,
        body: Any,
        *,
        headers: Mapping[str, str],
        received_at: datetime | None = None,
    ) -> Normalization:
        return source.parse(body, headers=headers, received_at=received_at or self.clock.now())

    async def defer(
        self,
        source: Source,
        body: Any,
        *,
        headers: Mapping[str, str],
        received_at: datetime,
        principal: Principal,
        delivery: str | None,
    ) -> JobRead:
        """Store a large delivery as a job that applies it: answered at once, applied by a runner.

        The job keeps the parsed body, the headers the source reads (never credentials) and the
        time it arrived, so the runner normalises it exactly as it was normalised here.
        """
        kept = {
            name: value for name, value in headers.items() if name.lower() not in CREDENTIAL_HEADERS
        }
        async with self.database.unit_of_work() as session:
            return await self.jobs.enqueue(
                session,
                kind=DELIVERY_JOB,
                incident_id=None,
                payload={
                    "source": source.kind,
                    "body": body,
                    "headers": kept,
                    "receivedAt": format_instant(received_at),
                    "delivery": delivery,
                    "subject": principal.subject,
                },
                by=principal.subject,
            )

    async def run_deferred(self, job: JobRead) -> list[EventResult]:
        """Apply a stored delivery (a job's): every alert becomes an incident with its own job.

        Applying again after a crash is safe: incidents already stored are found, not repeated.
        """
        payload = job.payload
        source = registry.get(payload["source"])
        normalization = self.normalize(
            source,
            payload["body"],
            headers=payload["headers"],
            received_at=parse_instant(payload["receivedAt"]),
        )
        principal = Principal(subject=payload["subject"], roles=frozenset(), issuer="webhook")
        results = await self.apply(
            normalization, principal=principal, delivery=payload["delivery"], mode="background"
        )
        async with self.database.unit_of_work() as session:
            if not await self.jobs.succeed(session, job.id):
                raise JobLostError(job.id)
        return results

    def delivery(
        self,
        source: Source,
        normalization: Normalization,
        *,
        headers: Mapping[str, str],
        raw_body: bytes,
    ) -> Delivery:
        """What makes a delivery the same on a retry: its delivery id, else its body."""
        return Delivery(
            source=source.kind,
            delivery_id=delivery_id_of(source, headers),
            body_sha256=hashlib.sha256(raw_body).hexdigest(),
            shape=normalization.shape,
        )

    def answer_body(
        self,
        source: Source,
        normalization: Normalization,
        results: Sequence[EventResult],
        *,
        delivery_id: str | None,
    ) -> dict[str, Any]:
        for note in normalization.notes:
            log.warning("webhook.note", source=source.kind, code=note.code, note=note.message)
        return {
            "source": source.kind,
            "shape": normalization.shape,
            "deliveryId": delivery_id,
            "replayed": False,
            "message": summarise(results),
            "events": [result.to_json() for result in results],
            "notes": [note.to_json() for note in normalization.notes],
        }

    async def apply(
        self,
        normalization: Normalization,
        *,
        principal: Principal,
        delivery: str | None = None,
        mode: AnalysisMode = "inline",
    ) -> list[EventResult]:
        """Apply each event in order (a batch is as many incidents as it has alerts)."""
        results = []
        for event in normalization.events:
            results.append(
                await self._apply(event, principal=principal, delivery=delivery, mode=mode)
            )
        return results

    async def _apply(
        self, event: SourceEvent, *, principal: Principal, delivery: str | None, mode: AnalysisMode
    ) -> EventResult:
        result = await self._apply_action(event, principal=principal, delivery=delivery, mode=mode)
        if event.lifecycle is None or result.incident_id is None:
            return result
        change = await self.lifecycle.transition(
            result.incident_id,
            event.lifecycle,
            by=actor_of(event, principal),
            via=event.summary,
            strict=False,
            delivery=delivery,
        )
        if not change.changed:
            return replace(result, incident_lifecycle=change.incident.lifecycle.state)
        return replace(
            result,
            outcome="updated" if result.outcome == "unchanged" else result.outcome,
            message=f"{result.message}; {change.incident.lifecycle.state} "
            f"by {actor_of(event, principal)}",
            incident_lifecycle=change.incident.lifecycle.state,
        )

    async def _apply_action(
        self, event: SourceEvent, *, principal: Principal, delivery: str | None, mode: AnalysisMode
    ) -> EventResult:
        if event.request is not None:
            outcome = await self.pipeline.ingest(event.request, principal=principal, mode=mode)
            response = outcome.response
            kind: Outcome = (
                "created"
                if outcome.created
                else "joined"
                if outcome.joined
                else "updated"
                if outcome.changes
                else "unchanged"
            )
            return EventResult(
                event=event,
                outcome=kind,
                message=response.message or "",
                incident_id=response.incident_id,
                status=response.status,
                evidence_bundle_id=response.evidence_bundle_id,
                analysis_id=response.analysis_id,
                alert=response.alert,
            )
        if event.action == "resolve":
            return await self._resolve(event, principal=principal, delivery=delivery)
        async with self.database.unit_of_work(write=False) as session:
            known = await self.incidents.find(session, event.source_type, event.source_ref)
        if known is None:
            return EventResult(
                event=event,
                outcome="unmatched" if event.action == "acknowledge" else "recorded",
                message=f"No incident with {event.source_type} reference {event.source_ref!r}; "
                "nothing to change",
            )
        return EventResult(
            event=event,
            outcome="unchanged" if event.action == "acknowledge" else "recorded",
            message=f"{event.summary}: recorded; the incident is unchanged",
            incident_id=known.id,
            status=known.status,
            incident_lifecycle=known.lifecycle.state,
        )

    async def _resolve(
        self, event: SourceEvent, *, principal: Principal, delivery: str | None
    ) -> EventResult:
        assert event.resolved_at is not None  # guaranteed by SourceEvent for a resolve
        source_ref = event.source_ref
        grouping = self.pipeline.grouping
        if grouping is not None:
            # An alert of a grouped incident resolves itself; the incident resolves with the
            # last of its alerts still firing.
            async with self.database.unit_of_work() as session:
                held = await grouping.resolve_alert(
                    session, event.source_type, event.source_ref, at=event.resolved_at
                )
                holder = await self.incidents.get(session, held[0]) if held else None
            if held is not None and holder is not None:
                # An incident someone resolved already stays resolved: the vendor's resolve
                # of any of its alerts is then answered as that incident's, not "unmatched".
                if held[1] > 0 and holder.lifecycle.state != "resolved":
                    return EventResult(
                        event=event,
                        outcome="updated",
                        message=f"Alert resolved; {held[1]} alert(s) of incident {holder.id} "
                        "still firing, so the incident stays open",
                        incident_id=holder.id,
                        status=holder.status,
                        evidence_bundle_id=holder.latest_bundle_id,
                        analysis_id=holder.latest_analysis_id,
                        incident_lifecycle=holder.lifecycle.state,
                    )
                source_ref = holder.source_ref
        async with self.database.unit_of_work() as session:
            resolution = await self.incidents.resolve(
                session,
                source_type=event.source_type,
                source_ref=source_ref,
                at=event.resolved_at,
                by=actor_of(event, principal),
            )
            incident = resolution.incident
            if resolution.outcome == "resolved" and incident is not None:
                await self.audit.record(
                    session,
                    event_type=EventType.INCIDENT_RESOLVED,
                    entity_type=EntityType.INCIDENT,
                    entity_id=incident.id,
                    entity_ref=f"{event.source_type}:{event.source_ref}",
                    incident_id=incident.id,
                    actor=principal.subject,
                    payload={
                        "incidentId": incident.id,
                        "sourceType": event.source_type,
                        "sourceRef": event.source_ref,
                        "via": event.summary,
                        "delivery": delivery,
                        "changes": resolution.changes,
                        "clampedToStart": resolution.clamped,
                    },
                )
            elif resolution.outcome == "unmatched":
                await self.audit.record(
                    session,
                    event_type=EventType.SOURCE_RESOLVE_UNMATCHED,
                    entity_type=EntityType.SOURCE_EVENT,
                    entity_id=delivery or f"{event.source_type}:{event.source_ref}"[:128],
                    entity_ref=f"{event.source_type}:{event.source_ref}",
                    actor=principal.subject,
                    payload={
                        "sourceType": event.source_type,
                        "sourceRef": event.source_ref,
                        "resolvedAt": format_instant(event.resolved_at),
                        "via": event.summary,
                        "delivery": delivery,
                    },
                )
        if resolution.outcome == "unmatched":
            log.info("webhook.resolve_unmatched", source_ref=event.source_ref)
            return EventResult(
                event=event,
                outcome="unmatched",
                message=f"No open incident with {event.source_type} reference "
                f"{event.source_ref!r}; the resolve is recorded and nothing was created",
            )
        assert incident is not None
        if resolution.outcome == "already-resolved":
            message = "The incident was already resolved; unchanged"
        else:
            message = "Incident resolved" + (
                " (the vendor's time was before the start; ended at the start)"
                if resolution.clamped
                else ""
            )
        return EventResult(
            event=event,
            outcome=resolution.outcome,
            message=message,
            incident_id=incident.id,
            status=incident.status,
            evidence_bundle_id=incident.latest_bundle_id,
            analysis_id=incident.latest_analysis_id,
            incident_lifecycle=incident.lifecycle.state,
        )
