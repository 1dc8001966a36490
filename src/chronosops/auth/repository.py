from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.auth.tables import SignedOutSession, SignInLink
from chronosops.storage import insert_or_ignore


class SignInLinkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, link: SignInLink) -> None:
        self.session.add(link)
        await self.session.flush()

    async def get(self, token_hash: str) -> SignInLink | None:
        return await self.session.get(SignInLink, token_hash)

    async def consume(self, token_hash: str, *, now: datetime) -> SignInLink | None:
        """Mark the link used if it is unused and unexpired; the row as it was, or None."""
        row = (
            await self.session.execute(
                update(SignInLink)
                .where(
                    SignInLink.token_hash == token_hash,
                    SignInLink.consumed_at.is_(None),
                    SignInLink.expires_at > now,
                )
                .values(consumed_at=now)
                .returning(SignInLink.subject, SignInLink.roles, SignInLink.name)
                .execution_options(synchronize_session=False)
            )
        ).first()
        if row is None:
            return None
        return SignInLink(
            token_hash=token_hash, subject=row.subject, roles=row.roles, name=row.name
        )

    async def delete_expired_before(self, instant: datetime) -> None:
        await self.session.execute(delete(SignInLink).where(SignInLink.expires_at < instant))


class SignedOutSessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, session_id: str, *, signed_out_at: datetime, expires_at: datetime) -> None:
        # Signing out twice (two tabs) is not an error: the first row stands.
        await insert_or_ignore(
            self.session,
            SignedOutSession,
            {"session_id": session_id, "signed_out_at": signed_out_at, "expires_at": expires_at},
        )

    async def exists(self, session_id: str) -> bool:
        return await self.session.get(SignedOutSession, session_id) is not None

    async def delete_expired_before(self, instant: datetime) -> None:
        await self.session.execute(
            delete(SignedOutSession).where(SignedOutSession.expires_at < instant)
        )
