"""Signing out of the console for good: a signed-out session is refused wherever it is shown.

A session cookie proves itself by its signature, so without this a copied cookie would keep
working until it expired. Rows live only as long as the session could have, then go.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.auth.repository import SignedOutSessionRepository
from chronosops.auth.sessions import ConsoleSession
from chronosops.core.clock import Clock


class SignOuts:
    def __init__(self, *, clock: Clock) -> None:
        self.clock = clock

    async def sign_out(self, session: AsyncSession, console: ConsoleSession) -> None:
        now = self.clock.now()
        repository = SignedOutSessionRepository(session)
        await repository.delete_expired_before(now)
        await repository.add(console.session_id, signed_out_at=now, expires_at=console.expires_at)

    async def is_signed_out(self, session: AsyncSession, session_id: str) -> bool:
        return await SignedOutSessionRepository(session).exists(session_id)
