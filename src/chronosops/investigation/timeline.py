"""One incident's story in time order: alerts, lifecycle, notes, changes, evidence, analyses.

Everything here is read from what is already stored — the incident's own times, its audit
events (reports, lifecycle moves, edits, evidence, failures), its notes, the change events in
its evidence bundles and its analyses — so the timeline needs no table of its own and cannot
disagree with the audit log. Investigations join it when they are stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.audit import AuditEventRead, AuditLog, EntityType, EventType
from chronosops.core.artifacts import ChangeEvent
from chronosops.core.timestamps import Instant
from chronosops.evidence import EvidenceService
from chronosops.incidents import IncidentRead, IncidentService, NoteRead
from chronosops.reasoning import AnalysisSummary, ReasoningService
from chronosops.storage import Database

_CHANGE = TypeAdapter(ChangeEvent)
EntryKind = Literal[
    "alert", "lifecycle", "note", "change", "evidence", "analysis", "investigation", "update"
]

# Ties at the same instant read in cause-and-effect order: the alert, then what people and the
# pipeline did about it.
_ORDER: dict[str, int] = {
    "alert": 0,
    "change": 1,
    "evidence": 2,
    "analysis": 3,
    "investigation": 4,
    "lifecycle": 5,
    "update": 6,
    "note": 7,
}
_LIFECYCLE_TITLES = {
    EventType.INCIDENT_ACKNOWLEDGED: "Acknowledged",
    EventType.INCIDENT_UNACKNOWLEDGED: "Unacknowledged",
    EventType.INCIDENT_RESOLVED: "Resolved",
    EventType.INCIDENT_REOPENED: "Reopened",
}
# Audit events the timeline shows through richer rows of their own (analyses, notes).
_SHOWN_ELSEWHERE = {
    EventType.ANALYSIS_CREATED,
    EventType.PROMPT_TRACE_CREATED,
    EventType.INCIDENT_NOTE_ADDED,
}


class TimelineEntry(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, serialize_by_alias=True, validate_by_name=True, frozen=True
    )

    at: Instant
    kind: EntryKind
    title: str
    actor: str | None = None
    ref: str | None = None
    detail: dict[str, Any] = {}


@dataclass(frozen=True)
class Timeline:
    incident: IncidentRead
    entries: list[TimelineEntry] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "incidentId": self.incident.id,
            "entries": [entry.model_dump(mode="json") for entry in self.entries],
        }


def _incident_times(incident: IncidentRead) -> list[TimelineEntry]:
    where = f"{incident.source_type}:{incident.source_ref}"
    entries = [
        TimelineEntry(
            at=incident.timeline.start,
            kind="alert",
            title=f"Started: {incident.title}",
            ref=where,
            detail={"severity": incident.severity, "service": incident.metadata.service},
        )
    ]
    if incident.timeline.detected_at is not None:
        entries.append(
            TimelineEntry(
                at=incident.timeline.detected_at, kind="alert", title="Detected", ref=where
            )
        )
    if incident.timeline.end is not None:
        entries.append(
            TimelineEntry(at=incident.timeline.end, kind="alert", title="Impact ended", ref=where)
        )
    return entries


def _from_audit(event: AuditEventRead) -> TimelineEntry | None:
    kind = event.event_type
    payload = event.payload
    common: dict[str, Any] = {"at": event.occurred_at, "actor": event.actor, "ref": event.id}
    if kind in _SHOWN_ELSEWHERE:
        return None
    if kind in _LIFECYCLE_TITLES:
        via = payload.get("via")
        return TimelineEntry(
            kind="lifecycle",
            title=_LIFECYCLE_TITLES[EventType(kind)] + (f" (via {via})" if via else ""),
            detail={"changes": payload.get("changes", {})},
            **common,
        )
    if kind == EventType.INCIDENT_CREATED:
        return TimelineEntry(
            kind="alert",
            title=f"Received from {payload.get('sourceType', 'a source')}",
            detail={"sourceRef": payload.get("sourceRef"), "occurrence": payload.get("occurrence")},
            **common,
        )
    if event.entity_type == EntityType.INVESTIGATION_SESSION:
        return _investigation_entry(EventType(kind), payload, event.entity_id, common)
    if kind == EventType.INCIDENT_ALERT_JOINED:
        return TimelineEntry(
            kind="alert",
            title=f"Alert joined: {payload.get('title', payload.get('sourceRef'))}"
            + (" (silenced)" if payload.get("silenceId") else ""),
            detail={
                "sourceType": payload.get("sourceType"),
                "sourceRef": payload.get("sourceRef"),
                "joinedBy": payload.get("joinedBy"),
                "silenceId": payload.get("silenceId"),
            },
            **common,
        )
    if kind == EventType.INCIDENT_UPDATED:
        changes = payload.get("changes", {})
        edited = "via" in payload
        return TimelineEntry(
            kind="update" if edited else "alert",
            title=("Changed " if edited else "Repeat report changed ") + ", ".join(sorted(changes)),
            detail={"changes": changes},
            **common,
        )
    if event.entity_type == EntityType.EVIDENCE_BUNDLE:
        return TimelineEntry(
            kind="evidence",
            title=f"Evidence frozen: {payload.get('artifactCount', 0)} artifacts",
            detail={"bundleId": payload.get("bundleId"), "sources": payload.get("sources", [])},
            **common,
        )
    if kind == EventType.INCIDENT_FAILED:
        return TimelineEntry(
            kind="analysis",
            title="Analysis failed",
            detail={"reason": payload.get("reason")},
            **common,
        )
    return TimelineEntry(kind="update", title=kind.replace("_", " ").capitalize(), **common)


def _investigation_entry(
    kind: EventType, payload: dict[str, Any], session_id: str, common: dict[str, Any]
) -> TimelineEntry:
    """An investigation's start, iterations, cancel request and end, the session id in detail."""
    if kind == EventType.INVESTIGATION_FINISHED:
        title = f"Investigation {payload.get('status', 'finished')}: {payload.get('stopCode')}"
        best = payload.get("bestConfidence")
        if isinstance(best, int | float):
            title += f" (best confidence {best:.0%})"
    elif kind == EventType.INVESTIGATION_ITERATION_RECORDED:
        title = f"Investigation iteration {payload.get('iteration', '')}".rstrip()
    elif kind == EventType.INVESTIGATION_CANCEL_REQUESTED:
        title = "Investigation cancel requested"
    else:
        title = "Investigation started"
    return TimelineEntry(
        kind="investigation",
        title=title,
        detail={"sessionId": session_id, **payload},
        **{**common, "ref": session_id},
    )


def _from_note(note: NoteRead) -> TimelineEntry:
    return TimelineEntry(
        at=note.created_at,
        kind="note",
        title="Note",
        actor=note.author,
        ref=note.id,
        detail={"body": note.body, "bodyHtml": note.body_html},
    )


def _from_analysis(analysis: AnalysisSummary, recorded_at: datetime | None) -> TimelineEntry:
    verdict = "inconclusive" if analysis.inconclusive else analysis.top_hypothesis_id
    return TimelineEntry(
        # When it was audited (with its evidence), so it reads after the evidence it used.
        at=recorded_at or analysis.created_at,
        kind="analysis",
        title=f"Analysis: {verdict} ({analysis.overall_confidence:.0%})",
        actor=analysis.created_by,
        ref=analysis.analysis_id,
        detail={
            "topHypothesisId": analysis.top_hypothesis_id,
            "overallConfidence": analysis.overall_confidence,
            "culpritService": analysis.culprit_service,
            "reasoner": analysis.reasoner,
        },
    )


def _changes_in(artifacts: list[dict[str, Any]]) -> list[TimelineEntry]:
    entries = []
    for raw in artifacts:
        if raw.get("kind") != "change_event":
            continue
        try:
            change = _CHANGE.validate_python(raw)
        except ValidationError:
            continue  # an artifact this version cannot read is shown on the evidence panel
        kind = change.change_type.replace("_", " ").capitalize()
        entries.append(
            TimelineEntry(
                at=change.timestamp,
                kind="change",
                title=f"{kind}: {change.description}"[:300],
                actor=change.author,
                ref=change.artifact_id,
                detail={
                    "service": change.service,
                    "versionFrom": change.version_from,
                    "versionTo": change.version_to,
                    "link": change.link,
                },
            )
        )
    return entries


def _sort_key(entry: TimelineEntry) -> tuple[datetime, int]:
    return (entry.at, _ORDER[entry.kind])


class IncidentTimelines:
    def __init__(
        self,
        *,
        database: Database,
        incidents: IncidentService,
        evidence: EvidenceService,
        reasoning: ReasoningService,
        audit: AuditLog,
    ) -> None:
        self.database = database
        self.incidents = incidents
        self.evidence = evidence
        self.reasoning = reasoning
        self.audit = audit

    async def build(self, session: AsyncSession, incident_id: str) -> Timeline:
        incident = await self.incidents.get(session, incident_id)
        entries = _incident_times(incident)
        events = await self.audit.events_for_incident(session, incident_id)
        analysed_at = {
            str(event.payload.get("analysisId")): event.occurred_at
            for event in events
            if event.event_type == EventType.ANALYSIS_CREATED
        }
        for event in events:
            entry = _from_audit(event)
            if entry is not None:
                entries.append(entry)
        entries.extend(
            _from_note(note) for note in await self.incidents.notes(session, incident_id)
        )
        entries.extend(
            _from_analysis(analysis, analysed_at.get(analysis.analysis_id))
            for analysis in await self.reasoning.for_incident(session, incident_id)
        )
        seen: set[str] = set()
        for link in await self.evidence.for_incident(session, incident_id):
            bundle = await self.evidence.get(session, link.bundle_id, redact=True)
            for entry in _changes_in(bundle.artifacts):
                key = f"{entry.ref}|{entry.at}"
                if key not in seen:
                    seen.add(key)
                    entries.append(entry)
        entries.sort(key=_sort_key)
        return Timeline(incident=incident, entries=entries)
