from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.evidence.tables import EvidenceBundle, IncidentEvidence
from chronosops.storage import is_unique_violation


class EvidenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, bundle_id: str) -> EvidenceBundle | None:
        return await self.session.get(EvidenceBundle, bundle_id)

    async def insert_if_absent(self, bundle: EvidenceBundle) -> bool:
        """Insert unless a bundle with the same id exists; True when this call inserted it.

        Two writers sealing identical evidence at once is expected (it is the point of content
        addressing); the savepoint lets the loser carry on with the winner's row.
        """
        if await self.get(bundle.id) is not None:
            return False
        try:
            async with self.session.begin_nested():
                self.session.add(bundle)
                await self.session.flush()
        except IntegrityError as error:
            if not is_unique_violation(error):
                raise
            return False
        return True

    async def link(self, link: IncidentEvidence) -> bool:
        existing = await self.session.get(IncidentEvidence, (link.incident_id, link.bundle_id))
        if existing is not None:
            return False
        self.session.add(link)
        await self.session.flush()
        return True

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
