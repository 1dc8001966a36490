from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.reasoning.tables import Analysis, PromptTrace
from chronosops.storage import insert_row


class AnalysisRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, values: dict[str, Any]) -> None:
        await insert_row(self.session, Analysis, values)

    async def get(self, analysis_id: str) -> Analysis | None:
        return await self.session.get(Analysis, analysis_id)

    async def for_incident(self, incident_id: str, *, limit: int) -> list[Analysis]:
        rows = await self.session.scalars(
            select(Analysis)
            .where(Analysis.incident_id == incident_id)
            .order_by(Analysis.created_at.desc(), Analysis.id.desc())
            .limit(limit)
        )
        return list(rows)

    async def add_trace(self, trace: PromptTrace) -> None:
        self.session.add(trace)
        await self.session.flush()

    async def trace(self, trace_id: str) -> PromptTrace | None:
        return await self.session.get(PromptTrace, trace_id)

    async def traces_for_incident(self, incident_id: str) -> list[PromptTrace]:
        rows = await self.session.scalars(
            select(PromptTrace)
            .where(PromptTrace.incident_id == incident_id)
            .order_by(PromptTrace.created_at.desc(), PromptTrace.attempt.desc())
        )
        return list(rows)
