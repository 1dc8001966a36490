from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.postmortem.tables import Postmortem
from chronosops.storage import insert_row


class PostmortemRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, values: dict[str, Any]) -> None:
        await insert_row(self.session, Postmortem, values)

    async def get(self, postmortem_id: str) -> Postmortem | None:
        return await self.session.get(Postmortem, postmortem_id)

    async def for_analysis(self, analysis_id: str) -> Postmortem | None:
        found: Postmortem | None = await self.session.scalar(
            select(Postmortem).where(Postmortem.analysis_id == analysis_id)
        )
        return found

    async def latest_version(self, incident_id: str) -> int:
        latest = await self.session.scalar(
            select(func.max(Postmortem.version)).where(Postmortem.incident_id == incident_id)
        )
        return int(latest or 0)

    async def for_incident(self, incident_id: str) -> list[Postmortem]:
        rows = await self.session.scalars(
            select(Postmortem)
            .where(Postmortem.incident_id == incident_id)
            .order_by(Postmortem.version.desc())
        )
        return list(rows)
