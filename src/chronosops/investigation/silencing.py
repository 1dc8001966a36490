"""Creating and expiring silences, each audited (matching happens in the ingest pipeline)."""

from __future__ import annotations

from chronosops.audit import AuditLog, EntityType, EventType
from chronosops.silences import SilenceCreate, SilenceRead, SilenceService
from chronosops.storage import Database


class Silencing:
    def __init__(self, *, database: Database, silences: SilenceService, audit: AuditLog) -> None:
        self.database = database
        self.silences = silences
        self.audit = audit

    async def create(self, request: SilenceCreate, *, by: str) -> SilenceRead:
        async with self.database.unit_of_work() as session:
            silence = await self.silences.create(session, request, by=by)
            await self.audit.record(
                session,
                event_type=EventType.SILENCE_CREATED,
                entity_type=EntityType.SILENCE,
                entity_id=silence.id,
                actor=by,
                payload=silence.model_dump(mode="json"),
            )
        return silence

    async def expire(self, silence_id: str, *, by: str) -> SilenceRead:
        async with self.database.unit_of_work() as session:
            silence = await self.silences.expire(session, silence_id, by=by)
            await self.audit.record(
                session,
                event_type=EventType.SILENCE_EXPIRED,
                entity_type=EntityType.SILENCE,
                entity_id=silence.id,
                actor=by,
                payload={
                    "silenceId": silence.id,
                    "expiredAt": silence.model_dump(mode="json")["expiredAt"],
                },
            )
        return silence
