from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.analysis import AnalysisInput, AnalysisResult
from chronosops.core.clock import Clock
from chronosops.core.ids import IdFactory, analysis_id
from chronosops.reasoning.errors import AnalysisNotFoundError
from chronosops.reasoning.reasoners import Reasoner
from chronosops.reasoning.repository import AnalysisRepository
from chronosops.reasoning.schemas import AnalysisRead, AnalysisSummary
from chronosops.reasoning.tables import Analysis


def _summary_fields(row: Analysis) -> dict[str, Any]:
    return {
        "analysis_id": row.id,
        "incident_id": row.incident_id,
        "bundle_id": row.bundle_id,
        "reasoner": row.reasoner,
        "engine_version": row.engine_version,
        "overall_confidence": row.overall_confidence,
        "inconclusive": row.inconclusive,
        "top_hypothesis_id": row.top_hypothesis_id,
        "culprit_service": row.culprit_service,
        "primary_signal": row.primary_signal,
        "completeness_score": row.completeness_score,
        "created_at": row.created_at,
        "created_by": row.created_by,
    }


class ReasoningService:
    def __init__(self, *, reasoner: Reasoner, clock: Clock, ids: IdFactory) -> None:
        self.reasoner = reasoner
        self.clock = clock
        self.ids = ids

    async def reason(self, request: AnalysisInput) -> AnalysisResult:
        return await self.reasoner.reason(request)

    async def store(
        self,
        session: AsyncSession,
        *,
        incident_id: str,
        bundle_id: str | None,
        request: AnalysisInput,
        result: AnalysisResult,
        by: str | None,
    ) -> AnalysisRead:
        top = result.hypotheses[0]
        row = Analysis(
            id=analysis_id(self.ids.new()),
            incident_id=incident_id,
            bundle_id=bundle_id,
            reasoner=result.engine,
            engine_version=result.engine_version,
            # The bundle id stands in for the artifacts: they are stored once, in the bundle.
            request={
                "reasoner": self.reasoner.name,
                "bundleId": bundle_id,
                "context": request.context.model_dump(mode="json"),
            },
            result=result.model_dump(mode="json"),
            overall_confidence=result.overall_confidence,
            inconclusive=result.inconclusive,
            top_hypothesis_id=top.id,
            culprit_service=result.culprit_service,
            primary_signal=result.explainability.primary_signal,
            completeness_score=result.completeness.score,
            created_at=self.clock.now(),
            created_by=by,
        )
        await AnalysisRepository(session).add(row)
        return AnalysisRead.model_validate(
            {**_summary_fields(row), "request": row.request, "result": row.result}
        )

    async def get(self, session: AsyncSession, analysis_id_: str) -> AnalysisRead:
        row = await AnalysisRepository(session).get(analysis_id_)
        if row is None:
            raise AnalysisNotFoundError(analysis_id_)
        return AnalysisRead.model_validate(
            {**_summary_fields(row), "request": row.request, "result": row.result}
        )

    async def for_incident(
        self, session: AsyncSession, incident_id: str, *, limit: int = 20
    ) -> list[AnalysisSummary]:
        rows = await AnalysisRepository(session).for_incident(incident_id, limit=limit)
        return [AnalysisSummary.model_validate(_summary_fields(row)) for row in rows]
