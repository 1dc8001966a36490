"""The incident as a responder reads it: the incident, its evidence and its latest diagnosis."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.core.redaction import redact_keys
from chronosops.evidence import EvidenceService, IncidentBundleRead
from chronosops.incidents import IncidentRead, IncidentService
from chronosops.reasoning import AnalysisRead, AnalysisSummary, ReasoningService


class IncidentDetail(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, serialize_by_alias=True, validate_by_name=True, frozen=True
    )

    incident: IncidentRead
    latest_analysis: AnalysisRead | None
    analyses: list[AnalysisSummary]
    bundles: list[IncidentBundleRead]
    source_payload: Any = None
    source_payload_visible: bool


def without_secrets(incident: IncidentRead) -> IncidentRead:
    """The incident as a non-admin sees it: values of secret-named customFields and tags hidden."""
    metadata = incident.metadata
    if not metadata.custom_fields and not metadata.tags:
        return incident
    return incident.model_copy(
        update={
            "metadata": metadata.model_copy(
                update={
                    "custom_fields": redact_keys(metadata.custom_fields),
                    "tags": redact_keys(metadata.tags),
                }
            )
        }
    )


class IncidentDetails:
    def __init__(
        self,
        *,
        incidents: IncidentService,
        evidence: EvidenceService,
        reasoning: ReasoningService,
    ) -> None:
        self.incidents = incidents
        self.evidence = evidence
        self.reasoning = reasoning

    async def get(
        self, session: AsyncSession, incident_id: str, *, with_source_payload: bool
    ) -> IncidentDetail:
        incident = await self.incidents.get(session, incident_id)
        if not with_source_payload:
            incident = without_secrets(incident)
        latest = (
            await self.reasoning.get(session, incident.latest_analysis_id)
            if incident.latest_analysis_id
            else None
        )
        return IncidentDetail(
            incident=incident,
            latest_analysis=latest,
            analyses=await self.reasoning.for_incident(session, incident_id),
            bundles=await self.evidence.for_incident(session, incident_id),
            source_payload=(
                await self.incidents.source_payload(session, incident_id)
                if with_source_payload
                else None
            ),
            source_payload_visible=with_source_payload,
        )
