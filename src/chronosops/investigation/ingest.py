"""The ingest pipeline: store the incident, freeze its evidence, analyse it.

Each stage is its own transaction, in order, so that a 2xx always means the incident is
durably stored, and a failure after that leaves it stored with status ``failed`` and the
reason, never an orphan behind a 500 (DESIGN.md §5).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.analysis import AnalysisInput, IncidentContext
from chronosops.audit import AuditLog, EntityType, EventType
from chronosops.auth import Principal
from chronosops.core.artifacts import Artifact
from chronosops.core.ingest_request import IngestIncidentRequest, IngestIncidentResponse
from chronosops.core.metrics import OperatorMetrics
from chronosops.core.timestamps import format_instant
from chronosops.core.windows import TimeWindow, incident_window
from chronosops.evidence import BundleDraft, CollectionNote, EvidenceService
from chronosops.incidents import IncidentRead, IncidentService
from chronosops.investigation.collection import EvidenceGatherer
from chronosops.reasoning import AnalysisRead, ReasoningService
from chronosops.silences import IncidentFacts, SilenceService
from chronosops.storage import Database

log = structlog.get_logger(__name__)

ANALYZED_MESSAGE = "Incident ingested and analyzed successfully"


@dataclass(frozen=True)
class IngestOutcome:
    response: IngestIncidentResponse
    created: bool
    # For a repeat of an open incident: what it changed (a later end / resolvedAt), if anything.
    changes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def http_status(self) -> int:
        return 201 if self.created else 200


@dataclass(frozen=True)
class AnalysisOutcome:
    bundle_id: str
    analysis: AnalysisRead


def window_of(incident: IncidentRead) -> TimeWindow:
    return incident_window(
        start=incident.timeline.start,
        end=incident.timeline.end,
        minutes_before=incident.collection_context.window_minutes_before,
        minutes_after=incident.collection_context.window_minutes_after,
    )


def context_of(incident: IncidentRead, window: TimeWindow) -> IncidentContext:
    return IncidentContext(
        source_type=incident.source_type,
        title=incident.title,
        service=incident.metadata.service,
        region=incident.metadata.region,
        environment=incident.metadata.environment,
        onset=incident.timeline.start,
        window_start=window.start,
        window_end=window.end,
    )


class IngestPipeline:
    def __init__(
        self,
        *,
        database: Database,
        incidents: IncidentService,
        evidence: EvidenceService,
        gatherer: EvidenceGatherer,
        reasoning: ReasoningService,
        audit: AuditLog,
        analyze_on_ingest: bool,
        silences: SilenceService | None = None,
        metrics: OperatorMetrics | None = None,
    ) -> None:
        self.database = database
        self.incidents = incidents
        self.evidence = evidence
        self.gatherer = gatherer
        self.reasoning = reasoning
        self.audit = audit
        self.analyze_on_ingest = analyze_on_ingest
        self.silences = silences
        self.metrics = metrics or OperatorMetrics()

    async def ingest(
        self, request: IngestIncidentRequest, *, principal: Principal
    ) -> IngestOutcome:
        # A request whose evidence could never be gathered is refused before anything is stored.
        self.gatherer.check(request)
        silenced: str | None = None
        async with self.database.unit_of_work() as session:
            registration = await self.incidents.register(session, request, by=principal.subject)
            incident = registration.incident
            if registration.created:
                await self.audit.record(
                    session,
                    event_type=EventType.INCIDENT_CREATED,
                    entity_type=EntityType.INCIDENT,
                    entity_id=incident.id,
                    entity_ref=f"{incident.source_type}:{incident.source_ref}",
                    incident_id=incident.id,
                    actor=principal.subject,
                    payload={
                        "incidentId": incident.id,
                        "sourceType": incident.source_type,
                        "sourceRef": incident.source_ref,
                        "occurrence": incident.occurrence,
                        "title": incident.title,
                        "severity": incident.severity,
                    },
                )
                silenced = await self._silence(session, incident, principal=principal)
            elif registration.changes:
                await self.audit.record(
                    session,
                    event_type=EventType.INCIDENT_UPDATED,
                    entity_type=EntityType.INCIDENT,
                    entity_id=incident.id,
                    incident_id=incident.id,
                    actor=principal.subject,
                    payload={"incidentId": incident.id, "changes": registration.changes},
                )
        bound = log.bind(incident_id=incident.id)
        if not registration.created:
            self.metrics.ingested(incident.source_type, "duplicate")
            bound.info("incident.duplicate", changes=sorted(registration.changes))
            changed = ", ".join(sorted(registration.changes))
            return IngestOutcome(
                response=IngestIncidentResponse(
                    incident_id=incident.id,
                    evidence_bundle_id=incident.latest_bundle_id,
                    analysis_id=incident.latest_analysis_id,
                    status=incident.status,
                    message=(
                        f"Duplicate of incident {incident.id} (same sourceType and sourceRef); "
                        + (f"updated {changed}" if changed else "nothing changed")
                    ),
                ),
                created=False,
                changes=registration.changes,
            )
        bound.info("incident.created", source_type=incident.source_type)
        if silenced is not None:
            self.metrics.ingested(incident.source_type, "silenced")
            bound.info("incident.silenced")
            return IngestOutcome(
                IngestIncidentResponse(incident_id=incident.id, status="created", message=silenced),
                created=True,
            )
        if not self.analyze_on_ingest:
            reason = (
                "Analysis on ingest is switched off (CHRONOSOPS_ANALYZE_ON_INGEST=false); "
                f"POST /v1/incidents/{incident.id}/reanalyze to analyse it"
            )
            async with self.database.unit_of_work() as session:
                await self.incidents.set_status(session, incident.id, "created", reason=reason)
            self.metrics.ingested(incident.source_type, "deferred")
            return IngestOutcome(
                IngestIncidentResponse(incident_id=incident.id, status="created", message=reason),
                created=True,
            )
        started = time.perf_counter()
        try:
            gathered = await self.gatherer.gather(incident, request, window=window_of(incident))
            for note in gathered.notes:
                self.metrics.collected(note.source, note.status)
            outcome = await self.analyze(
                incident, gathered.artifacts, principal=principal, collection=gathered.notes
            )
        except Exception as error:  # noqa: BLE001 — any failure after storing is recorded, not raised
            self.metrics.analysed("failed", time.perf_counter() - started)
            self.metrics.ingested(incident.source_type, "analysis_failed")
            reason = f"{type(error).__name__}: {error}"
            bound.exception("incident.analysis_failed")
            await self._mark_failed(incident.id, reason, principal=principal)
            return IngestOutcome(
                IngestIncidentResponse(
                    incident_id=incident.id,
                    status="failed",
                    message=f"Incident stored, but evidence or analysis failed: {reason}",
                ),
                created=True,
            )
        self.metrics.analysed(
            "inconclusive" if outcome.analysis.inconclusive else "conclusive",
            time.perf_counter() - started,
        )
        self.metrics.ingested(incident.source_type, "analyzed")
        return IngestOutcome(
            IngestIncidentResponse(
                incident_id=incident.id,
                evidence_bundle_id=outcome.bundle_id,
                analysis_id=outcome.analysis.analysis_id,
                status="analyzed",
                message=ANALYZED_MESSAGE,
            ),
            created=True,
        )

    async def _silence(
        self, session: AsyncSession, incident: IncidentRead, *, principal: Principal
    ) -> str | None:
        """Hold a new incident back from analysis when an active silence matches it.

        It is still stored and audited; the reason says which silence, so it reads as
        silenced everywhere it is shown. Returns that reason, or None.
        """
        if self.silences is None:
            return None
        facts = IncidentFacts(
            source_type=incident.source_type,
            service=incident.metadata.service,
            environment=incident.metadata.environment,
            tags=incident.metadata.tags,
        )
        silence = await self.silences.matching(session, facts)
        if silence is None:
            return None
        reason = (
            f"Silenced by silence {silence.id} ({silence.comment}) until "
            f"{format_instant(silence.ends_at)}: stored and audited, not analysed; "
            f"POST /v1/incidents/{incident.id}/reanalyze to analyse it anyway"
        )
        await self.incidents.mark_silenced(session, incident.id, silence.id, reason=reason)
        await self.audit.record(
            session,
            event_type=EventType.INCIDENT_SILENCED,
            entity_type=EntityType.INCIDENT,
            entity_id=incident.id,
            incident_id=incident.id,
            actor=principal.subject,
            payload={
                "incidentId": incident.id,
                "silenceId": silence.id,
                "comment": silence.comment,
                "endsAt": format_instant(silence.ends_at),
            },
        )
        return reason

    async def analyze(
        self,
        incident: IncidentRead,
        artifacts: list[Artifact],
        *,
        principal: Principal,
        collection: list[CollectionNote] | None = None,
    ) -> AnalysisOutcome:
        """Seal the artifacts into a bundle, reason over it, store both, mark the incident analysed."""
        window = window_of(incident)
        draft = self.evidence.seal(artifacts, collection=collection or [])
        return await self.analyze_bundle(incident, draft, window=window, principal=principal)

    async def analyze_bundle(
        self,
        incident: IncidentRead,
        draft: BundleDraft,
        *,
        window: TimeWindow,
        principal: Principal,
    ) -> AnalysisOutcome:
        request = AnalysisInput(
            context=context_of(incident, window),
            artifacts=list(draft.artifacts),
            collection_notes=[
                f"{note['source']}: {note['status']} — {note['detail']}"
                for note in draft.content.get("collection", [])
            ],
        )
        reasoning = await self.reasoning.reason(request)
        async with self.database.unit_of_work() as session:
            stored = await self.evidence.store(
                session, draft, incident_id=incident.id, window=window, by=principal.subject
            )
            analysis, traces = await self.reasoning.store(
                session,
                incident_id=incident.id,
                bundle_id=draft.bundle_id,
                request=request,
                reasoning=reasoning,
                by=principal.subject,
            )
            await self.incidents.set_status(
                session,
                incident.id,
                "analyzed",
                bundle_id=draft.bundle_id,
                analysis_id=analysis.analysis_id,
            )
            # Audit last: appending takes the chain's lock until commit, so everything else in
            # this transaction happens before it, not while other ingests wait.
            if stored.inserted or stored.attached:
                await self.audit.record(
                    session,
                    event_type=(
                        EventType.EVIDENCE_BUNDLE_CREATED
                        if stored.inserted
                        else EventType.EVIDENCE_BUNDLE_ATTACHED
                    ),
                    entity_type=EntityType.EVIDENCE_BUNDLE,
                    entity_id=draft.bundle_id,
                    entity_ref=draft.digest,
                    incident_id=incident.id,
                    actor=principal.subject,
                    payload={
                        "bundleId": draft.bundle_id,
                        "incidentId": incident.id,
                        "artifactCount": len(draft.artifacts),
                        "sources": draft.sources,
                        "synthetic": draft.synthetic,
                        "window": window.to_json(),
                    },
                )
            await self.audit.record(
                session,
                event_type=EventType.ANALYSIS_CREATED,
                entity_type=EntityType.INCIDENT_ANALYSIS,
                entity_id=analysis.analysis_id,
                incident_id=incident.id,
                actor=principal.subject,
                payload={
                    "analysisId": analysis.analysis_id,
                    "incidentId": incident.id,
                    "bundleId": draft.bundle_id,
                    "reasoner": analysis.reasoner,
                    "topHypothesisId": analysis.top_hypothesis_id,
                    "overallConfidence": analysis.overall_confidence,
                    "inconclusive": analysis.inconclusive,
                    "completenessScore": analysis.completeness_score,
                },
            )
            for trace in traces:
                await self.audit.record(
                    session,
                    event_type=EventType.PROMPT_TRACE_CREATED,
                    entity_type=EntityType.PROMPT_TRACE,
                    entity_id=trace.trace_id,
                    entity_ref=trace.prompt_hash,
                    incident_id=incident.id,
                    actor=principal.subject,
                    payload={
                        "promptTraceId": trace.trace_id,
                        "analysisId": analysis.analysis_id,
                        "incidentId": incident.id,
                        "provider": trace.provider,
                        "model": trace.model,
                        "promptVersion": trace.prompt_version,
                        "attempt": trace.attempt,
                        "status": trace.status,
                        "promptHash": trace.prompt_hash,
                        "requestHash": trace.request_hash,
                        "responseHash": trace.response_hash,
                        "inputTokens": trace.input_tokens,
                        "outputTokens": trace.output_tokens,
                        "costUsd": trace.cost_usd,
                    },
                )
        return AnalysisOutcome(bundle_id=draft.bundle_id, analysis=analysis)

    async def _mark_failed(self, incident_id: str, reason: str, *, principal: Principal) -> None:
        try:
            async with self.database.unit_of_work() as session:
                await self.incidents.set_status(session, incident_id, "failed", reason=reason)
                await self.audit.record(
                    session,
                    event_type=EventType.INCIDENT_FAILED,
                    entity_type=EntityType.INCIDENT,
                    entity_id=incident_id,
                    incident_id=incident_id,
                    actor=principal.subject,
                    payload={"incidentId": incident_id, "reason": reason[:2000]},
                )
        except Exception:
            log.exception("incident.mark_failed_failed", incident_id=incident_id)

    async def reanalyze(self, incident_id: str, *, principal: Principal) -> AnalysisOutcome:
        """Run the reasoner again on the incident's stored evidence and keep a new analysis."""
        async with self.database.unit_of_work(write=False) as session:
            incident = await self.incidents.get(session, incident_id)
            if incident.latest_bundle_id is not None:
                draft = await self.evidence.draft(session, incident.latest_bundle_id)
            else:
                # Never analysed (switched off, or failed before sealing): start from the request.
                request = await self.incidents.stored_request(session, incident_id)
        if incident.latest_bundle_id is None:
            gathered = await self.gatherer.gather(incident, request, window=window_of(incident))
            draft = self.evidence.seal(gathered.artifacts, collection=gathered.notes)
        return await self.analyze_bundle(
            incident, draft, window=window_of(incident), principal=principal
        )
