from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.silences.tables import Silence
from chronosops.storage import postgres, run_prepared

# Whether any silence is active: asked for every new incident, and mostly none is. Built once
# with a named parameter (straight on SQLite's writer connection in its units).
_ANY_ACTIVE = (
    select(Silence.id)
    .where(
        Silence.starts_at <= bindparam("now"),
        Silence.ends_at > bindparam("now"),
        Silence.expired_at.is_(None),
    )
    .limit(1)
)
_AHEAD = "silences.any_active"
_AHEAD_AT = "silences.any_active.at"


class SilenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, silence: Silence) -> None:
        self.session.add(silence)
        await self.session.flush()

    async def get(self, silence_id: str) -> Silence | None:
        return await self.session.get(Silence, silence_id)

    async def ask_ahead(self, now: datetime) -> None:
        """On PostgreSQL, ask whether any silence is active at ``now`` with the transaction's
        next statement that needs an answer, rather than in a round trip of its own when
        `active_at` asks (it then uses this answer, as of ``now``)."""
        if postgres.is_postgres(self.session) and await postgres.read_ahead(
            self.session, _AHEAD, _ANY_ACTIVE, {"now": now}
        ):
            self.session.info[_AHEAD_AT] = now

    async def active_at(self, now: datetime) -> list[Silence]:
        asked_at = self.session.info.pop(_AHEAD_AT, None)
        ahead = await postgres.answer_ahead(self.session, _AHEAD) if asked_at else None
        if ahead is not None:
            # Asked earlier in this transaction: the same question, as of when it was asked.
            now = asked_at
            if not ahead:
                return []
        elif not (await run_prepared(self.session, _ANY_ACTIVE, {"now": now})).rows:
            return []
        return list(
            await self.session.scalars(
                select(Silence)
                .where(
                    Silence.starts_at <= now,
                    Silence.ends_at > now,
                    Silence.expired_at.is_(None),
                )
                .order_by(Silence.created_at, Silence.id)
            )
        )

    async def recent(self, *, include_expired: bool, now: datetime, limit: int) -> list[Silence]:
        query = select(Silence)
        if not include_expired:
            query = query.where(Silence.ends_at > now, Silence.expired_at.is_(None))
        query = query.order_by(Silence.created_at.desc(), Silence.id.desc()).limit(limit)
        return list(await self.session.scalars(query))
