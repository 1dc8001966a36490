"""Drafting the postmortem where an analysis is stored: one per analysis, a new version each time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.analysis import AnalysisResult
from chronosops.audit import AuditLog, EntityType, EventType
from chronosops.evidence import BundleDraft
from chronosops.incidents import IncidentRead
from chronosops.postmortem import Drafted, PostmortemSource
from chronosops.reasoning import AnalysisRead


def postmortem_source(
    incident: IncidentRead,
    analysis: AnalysisRead,
    draft: BundleDraft,
    *,
    parsed: AnalysisResult | None = None,
) -> PostmortemSource:
    """``parsed``: the engine's answer ``analysis.result`` was dumped from, when at hand."""
    return PostmortemSource(
        incident_id=incident.id,
        title=incident.title,
        severity=incident.severity,
        source_type=incident.source_type,
        source_ref=incident.source_ref,
        service=incident.metadata.service,
        started_at=incident.timeline.start,
        ended_at=incident.timeline.end or incident.timeline.resolved_at,
        analysis_id=analysis.analysis_id,
        analysed_at=analysis.created_at,
        reasoner=analysis.reasoner,
        engine_version=analysis.engine_version,
        bundle_id=draft.bundle_id,
        result=analysis.result,
        artifacts=list(draft.content.get("artifacts", [])),
        collection=list(draft.content.get("collection", [])),
        parsed=parsed,
    )


def provisional_source(
    incident: IncidentRead, result: AnalysisResult, draft: BundleDraft, *, analysed_at: datetime
) -> PostmortemSource:
    """The source of the postmortem an analysis not yet stored will have: what a language
    model is shown to write its prose, before the transaction that stores the analysis."""
    return PostmortemSource(
        incident_id=incident.id,
        title=incident.title,
        severity=incident.severity,
        source_type=incident.source_type,
        source_ref=incident.source_ref,
        service=incident.metadata.service,
        started_at=incident.timeline.start,
        ended_at=incident.timeline.end or incident.timeline.resolved_at,
        analysis_id="pending",
        analysed_at=analysed_at,
        reasoner="pending",
        engine_version=result.engine_version,
        bundle_id=draft.bundle_id,
        result=result.model_dump(mode="json"),
        artifacts=list(draft.content.get("artifacts", [])),
        collection=list(draft.content.get("collection", [])),
        parsed=result,
    )


async def audit_postmortem(
    session: AsyncSession, audit: AuditLog, drafted: Drafted, *, actor: str | None
) -> None:
    if not drafted.created:
        return
    postmortem = drafted.postmortem
    await audit.record(
        session,
        event_type=EventType.POSTMORTEM_CREATED,
        entity_type=EntityType.POSTMORTEM,
        entity_id=postmortem.postmortem_id,
        entity_ref=postmortem.content_hash,
        incident_id=postmortem.incident_id,
        actor=actor,
        payload={
            "postmortemId": postmortem.postmortem_id,
            "incidentId": postmortem.incident_id,
            "analysisId": postmortem.analysis_id,
            "bundleId": postmortem.bundle_id,
            "version": postmortem.version,
            "generatorVersion": postmortem.generator_version,
            "contentHash": postmortem.content_hash,
        },
    )
