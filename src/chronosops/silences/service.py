from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.core.clock import Clock
from chronosops.core.ids import IdFactory
from chronosops.silences.errors import SilenceAlreadyExpiredError, SilenceNotFoundError
from chronosops.silences.repository import SilenceRepository
from chronosops.silences.schemas import (
    IncidentFacts,
    Matchers,
    SilenceCreate,
    SilenceRead,
    state_at,
)
from chronosops.silences.tables import Silence


def matches(matchers: Matchers, facts: IncidentFacts) -> bool:
    """Every matcher given equals the incident's value; labels are a subset of its tags."""
    if matchers.service is not None and matchers.service != facts.service:
        return False
    if matchers.environment is not None and matchers.environment != facts.environment:
        return False
    if matchers.source is not None and matchers.source != facts.source_type:
        return False
    tags = facts.tags or {}
    return all(tags.get(name) == value for name, value in (matchers.labels or {}).items())


class SilenceService:
    def __init__(self, *, clock: Clock, ids: IdFactory) -> None:
        self.clock = clock
        self.ids = ids

    def _read(self, silence: Silence) -> SilenceRead:
        return SilenceRead(
            id=silence.id,
            state=state_at(
                self.clock.now(),
                starts_at=silence.starts_at,
                ends_at=silence.ends_at,
                expired_at=silence.expired_at,
            ),
            matchers=Matchers.model_validate(silence.matchers),
            starts_at=silence.starts_at,
            ends_at=silence.ends_at,
            comment=silence.comment,
            created_by=silence.created_by,
            created_at=silence.created_at,
            expired_at=silence.expired_at,
            expired_by=silence.expired_by,
        )

    async def create(
        self, session: AsyncSession, request: SilenceCreate, *, by: str
    ) -> SilenceRead:
        """Store a validated silence (the edge has checked that it ends after it starts)."""
        now = self.clock.now()
        silence = Silence(
            id=self.ids.new(),
            matchers=request.matchers.model_dump(mode="json", exclude_none=True, by_alias=True),
            starts_at=request.starts_at or now,
            ends_at=request.ends_at,
            comment=request.comment,
            created_by=by[:256],
            created_at=now,
        )
        await SilenceRepository(session).add(silence)
        return self._read(silence)

    async def get(self, session: AsyncSession, silence_id: str) -> SilenceRead:
        silence = await SilenceRepository(session).get(silence_id)
        if silence is None:
            raise SilenceNotFoundError(silence_id)
        return self._read(silence)

    async def list(
        self, session: AsyncSession, *, include_expired: bool, limit: int
    ) -> Sequence[SilenceRead]:
        rows = await SilenceRepository(session).recent(
            include_expired=include_expired, now=self.clock.now(), limit=limit
        )
        return [self._read(row) for row in rows]

    async def expire(self, session: AsyncSession, silence_id: str, *, by: str) -> SilenceRead:
        """End the silence now; alerts from here on are analysed again."""
        silence = await SilenceRepository(session).get(silence_id)
        if silence is None:
            raise SilenceNotFoundError(silence_id)
        now = self.clock.now()
        if silence.expired_at is not None or silence.ends_at <= now:
            raise SilenceAlreadyExpiredError(silence_id)
        silence.expired_at = now
        silence.expired_by = by[:256]
        await session.flush()
        return self._read(silence)

    async def ask_ahead(self, session: AsyncSession) -> None:
        """Ask now whether any silence is active, for a `matching` later in this transaction
        (on PostgreSQL with its next statement that needs an answer; see
        `SilenceRepository.ask_ahead`)."""
        await SilenceRepository(session).ask_ahead(self.clock.now())

    async def matching(self, session: AsyncSession, facts: IncidentFacts) -> SilenceRead | None:
        """The oldest silence active now that matches the incident, if any."""
        for silence in await SilenceRepository(session).active_at(self.clock.now()):
            read = self._read(silence)
            if matches(read.matchers, facts):
                return read
        return None
