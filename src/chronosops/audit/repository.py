from __future__ import annotations

import hashlib

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.audit.tables import AuditEvent


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_chain(self, chain_id: str) -> None:
        """Serialise appends to one chain until the transaction ends.

        PostgreSQL takes a transaction-scoped advisory lock; SQLite needs nothing more, because
        writing units of work already hold the database's write lock from ``BEGIN IMMEDIATE``.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            key = int.from_bytes(hashlib.sha256(chain_id.encode()).digest()[:8], "big", signed=True)
            await self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    async def head(self, chain_id: str) -> AuditEvent | None:
        return await self.session.scalar(
            select(AuditEvent)
            .where(AuditEvent.chain_id == chain_id)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )

    async def incident_head(self, incident_id: str) -> AuditEvent | None:
        return await self.session.scalar(
            select(AuditEvent)
            .where(AuditEvent.incident_id == incident_id)
            .order_by(AuditEvent.incident_seq.desc())
            .limit(1)
        )

    async def add(self, event: AuditEvent) -> None:
        self.session.add(event)
        await self.session.flush()

    async def for_incident(self, incident_id: str) -> list[AuditEvent]:
        rows = await self.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.incident_id == incident_id)
            .order_by(AuditEvent.incident_seq)
        )
        return list(rows)

    async def hashes_at(self, chain_id: str, seqs: set[int]) -> dict[int, str]:
        if not seqs:
            return {}
        rows = await self.session.execute(
            select(AuditEvent.seq, AuditEvent.hash).where(
                AuditEvent.chain_id == chain_id, AuditEvent.seq.in_(seqs)
            )
        )
        return dict(rows.all())
