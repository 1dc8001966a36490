"""One-time console sign-in links: what `make run` prints next to the admin token.

A link carries a random secret; the database keeps only its SHA-256, with the principal it
signs in, an expiry and whether it was used. A link works once, and only until it expires.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.auth.principals import Principal, Role
from chronosops.auth.repository import SignInLinkRepository
from chronosops.auth.tables import SignInLink
from chronosops.core.clock import Clock
from chronosops.core.errors import AuthenticationError

# Expired links are kept a day so that a late click can be told "expired", not "unknown".
_KEEP_EXPIRED = timedelta(days=1)
_TOKEN_BYTES = 32


@dataclass(frozen=True)
class IssuedLink:
    token: str
    expires_at: datetime
    link_id: str  # the SHA-256 of the token, as stored: safe to show, useless to sign in with


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SignInLinks:
    def __init__(self, *, clock: Clock, ttl: timedelta) -> None:
        self.clock = clock
        self.ttl = ttl

    async def issue(
        self,
        session: AsyncSession,
        *,
        subject: str,
        roles: Iterable[Role],
        name: str | None = None,
        ttl: timedelta | None = None,
    ) -> IssuedLink:
        now = self.clock.now()
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        expires_at = now + (ttl or self.ttl)
        repository = SignInLinkRepository(session)
        await repository.delete_expired_before(now - _KEEP_EXPIRED)
        await repository.add(
            SignInLink(
                token_hash=_hash(token),
                subject=subject,
                roles=sorted(role.value for role in roles),
                name=name,
                created_at=now,
                expires_at=expires_at,
                consumed_at=None,
            )
        )
        return IssuedLink(token=token, expires_at=expires_at, link_id=_hash(token))

    async def redeem(self, session: AsyncSession, token: str) -> Principal:
        """The principal the link signs in; the link cannot be used again."""
        if not token or len(token) > 128:
            raise AuthenticationError("This sign-in link is not valid.")
        repository = SignInLinkRepository(session)
        token_hash = _hash(token)
        used = await repository.consume(token_hash, now=self.clock.now())
        if used is None:
            known = await repository.get(token_hash)
            if known is None:
                raise AuthenticationError("This sign-in link is not valid.")
            if known.consumed_at is not None:
                raise AuthenticationError(
                    "This sign-in link was already used; links work once. Ask for a new one "
                    "with `chronosops sign-in-link`."
                )
            raise AuthenticationError(
                "This sign-in link has expired. Ask for a new one with `chronosops sign-in-link`."
            )
        known_roles = {role.value for role in Role}
        return Principal(
            subject=used.subject,
            roles=frozenset(role for role in used.roles if role in known_roles),
            issuer="local",
            name=used.name,
        )
