"""Signing out of the console for good: a signed-out session is refused wherever it is shown.

A session cookie proves itself by its signature, so without this a copied cookie would keep
working until it expired. Rows live only as long as the session could have, then go.

Asking the database on every page view doubled the time of a console page on SQLite, so a
process remembers for a few seconds that a session was still live. The process that signs a
session out forgets it at once; another process (a second worker or replica) refuses the
copied cookie within ``recheck_after`` — or at once when the processes share a Redis
(``CHRONOSOPS_REDIS_URL``): the sign-out is announced there, after it is committed, until the
session would have expired, and a process that remembers the session as live asks Redis (one
GET, no database) before trusting that memory.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.auth.repository import SignedOutSessionRepository
from chronosops.auth.sessions import ConsoleSession
from chronosops.core.clock import Clock
from chronosops.storage import SharedState

RECHECK_AFTER = timedelta(seconds=5)
# Enough for every session a busy console has open; the oldest verdicts go first.
MAX_REMEMBERED = 10_000


class SignOuts:
    def __init__(
        self,
        *,
        clock: Clock,
        recheck_after: timedelta = RECHECK_AFTER,
        max_remembered: int = MAX_REMEMBERED,
        shared: SharedState | None = None,
    ) -> None:
        self.clock = clock
        self.shared = shared
        self.recheck_after = recheck_after
        self.max_remembered = max_remembered
        self._live_at: OrderedDict[str, datetime] = OrderedDict()

    async def sign_out(self, session: AsyncSession, console: ConsoleSession) -> None:
        self._live_at.pop(console.session_id, None)
        now = self.clock.now()
        repository = SignedOutSessionRepository(session)
        await repository.delete_expired_before(now)
        await repository.add(console.session_id, signed_out_at=now, expires_at=console.expires_at)

    def _key(self, session_id: str) -> str:
        assert self.shared is not None
        return self.shared.key("signed-out", hashlib.sha256(session_id.encode()).hexdigest()[:32])

    async def announce(self, console: ConsoleSession) -> None:
        """Tell every process sharing the Redis (call once the sign-out is committed)."""
        if self.shared is None:
            return
        ttl = (console.expires_at - self.clock.now()).total_seconds()
        await self.shared.set_json(self._key(console.session_id), True, ttl_seconds=ttl)

    async def announced(self, session_id: str) -> bool:
        """Whether another process announced this session signed out (False without Redis)."""
        if self.shared is None:
            return False
        if await self.shared.get_json(self._key(session_id)) is None:
            return False
        self._live_at.pop(session_id, None)
        return True

    def recently_live(self, session_id: str) -> bool:
        """True when the database said, moments ago, that this session was not signed out."""
        checked_at = self._live_at.get(session_id)
        return checked_at is not None and self.clock.now() - checked_at < self.recheck_after

    async def is_signed_out(self, session: AsyncSession, session_id: str) -> bool:
        signed_out = await SignedOutSessionRepository(session).exists(session_id)
        if signed_out:
            self._live_at.pop(session_id, None)
        else:
            self._live_at[session_id] = self.clock.now()
            self._live_at.move_to_end(session_id)
            while len(self._live_at) > self.max_remembered:
                self._live_at.popitem(last=False)
        return signed_out
