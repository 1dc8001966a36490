from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.evidence.tables import EvidenceBundle, IncidentEvidence
from chronosops.storage import insert_or_ignore


class EvidenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, bundle_id: str) -> EvidenceBundle | None:
        return await self.session.get(EvidenceBundle, bundle_id)

    async def insert_if_absent(self, bundle: dict[str, Any]) -> bool:
        """Insert unless a bundle with the same id exists; True when this call inserted it.

        Two writers sealing identical evidence at once is expected (it is the point of content
        addressing): the loser carries on with the winner's row.
        """
        return await insert_or_ignore(self.session, EvidenceBundle, bundle)

    async def link(self, link: dict[str, Any]) -> bool:
        """Attach a bundle to an incident; False when it already was."""
        return await insert_or_ignore(self.session, IncidentEvidence, link)

    async def links_for_incident(self, incident_id: str) -> list[IncidentEvidence]:
        rows = await self.session.scalars(
            select(IncidentEvidence)
            .where(IncidentEvidence.incident_id == incident_id)
            .order_by(IncidentEvidence.attached_at.desc(), IncidentEvidence.bundle_id)
        )
        return list(rows)

    async def incidents_citing(self, bundle_id: str) -> list[str]:
        rows = await self.session.scalars(
            select(IncidentEvidence.incident_id)
            .where(IncidentEvidence.bundle_id == bundle_id)
            .order_by(IncidentEvidence.attached_at)
        )
        return list(rows)
