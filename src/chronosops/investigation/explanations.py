"""Reading an analysis against its evidence: the comparison of two, the graph of one."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.core.errors import FieldError, InvalidInputError
from chronosops.evidence import EvidenceService
from chronosops.investigation.comparison import compare_analyses
from chronosops.investigation.graph import explainability_graph
from chronosops.reasoning import AnalysisRead, ReasoningService


class Explanations:
    def __init__(self, *, reasoning: ReasoningService, evidence: EvidenceService) -> None:
        self.reasoning = reasoning
        self.evidence = evidence

    async def _artifacts(
        self, session: AsyncSession, analysis: AnalysisRead
    ) -> list[dict[str, Any]]:
        if analysis.bundle_id is None:
            return []
        # Titles, kinds and summaries only are shown; redacting the payloads costs nothing here.
        return (await self.evidence.get(session, analysis.bundle_id, redact=True)).artifacts

    async def compare(self, session: AsyncSession, a_id: str, b_id: str) -> dict[str, Any]:
        a = await self.reasoning.get(session, a_id)
        b = await self.reasoning.get(session, b_id)
        if a.incident_id != b.incident_id:
            raise InvalidInputError(
                "Both analyses must belong to the same incident",
                [
                    FieldError(
                        "b",
                        f"analysis {b_id} is of incident {b.incident_id}, "
                        f"analysis {a_id} of incident {a.incident_id}",
                    )
                ],
            )
        return compare_analyses(
            a,
            b,
            artifacts_a=await self._artifacts(session, a),
            artifacts_b=await self._artifacts(session, b),
        )

    async def graph(self, session: AsyncSession, analysis_id: str) -> dict[str, Any]:
        analysis = await self.reasoning.get(session, analysis_id)
        return explainability_graph(analysis, await self._artifacts(session, analysis))
