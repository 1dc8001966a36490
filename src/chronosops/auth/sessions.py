"""Console sessions: signed, expiring values a browser keeps in cookies, and CSRF tokens.

A value is ``base64url(JSON) "." base64url(HMAC-SHA256(key, purpose "." body))``. The purpose
is inside the MAC, so a value signed for one use (an OIDC login in progress) can never be
replayed as another (a session). Nothing here knows about HTTP; `web` sets the cookies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from chronosops.auth.principals import Principal, Role
from chronosops.core.clock import Clock
from chronosops.core.errors import AuthenticationError

SESSION_PURPOSE = "session"
_KEY_DERIVATION_LABEL = b"chronosops console session key v1"
# Subjects and names come from identity providers; bound them so a cookie stays under 4 kB.
_FIELD_MAX = 256

Randomness = Callable[[int], str]


def derive_session_key(jwt_secret: str) -> bytes:
    """A session key derived from the JWT secret, so `make run` needs no second secret.

    A different key from the JWT secret itself: a session cookie can never verify as a token.
    """
    return hmac.new(jwt_secret.encode(), _KEY_DERIVATION_LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class ConsoleSession:
    principal: Principal
    session_id: str
    expires_at: datetime


class SessionCodec:
    """Signs and checks session cookies, short-lived signed values and CSRF tokens."""

    def __init__(
        self,
        key: bytes,
        *,
        clock: Clock,
        ttl: timedelta,
        randomness: Randomness = secrets.token_urlsafe,
    ) -> None:
        if len(key) < 32:
            raise ValueError("a session key needs at least 32 bytes")
        self._key = key
        self._clock = clock
        self.ttl = ttl
        self._random = randomness

    def new_nonce(self) -> str:
        """A fresh unguessable value (session ids, OIDC state and nonce, PKCE verifiers)."""
        return self._random(32)

    def _mac(self, purpose: str, body: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}.{body}".encode(), hashlib.sha256).digest())

    def sign(self, purpose: str, payload: dict[str, Any], *, ttl: timedelta) -> str:
        expires = self._clock.now() + ttl
        body = _b64(
            json.dumps({**payload, "exp": int(expires.timestamp())}, separators=(",", ":")).encode()
        )
        return f"{body}.{self._mac(purpose, body)}"

    def unsign(self, purpose: str, value: str) -> dict[str, Any]:
        """The payload, if the value was signed here for this purpose and has not expired."""
        body, _, mac = value.partition(".")
        if not body or not mac or not hmac.compare_digest(mac, self._mac(purpose, body)):
            raise AuthenticationError("the signed value does not verify")
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            raise AuthenticationError("the signed value is malformed") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
            raise AuthenticationError("the signed value is malformed")
        if payload["exp"] <= self._clock.now().timestamp():
            raise AuthenticationError("the session has expired; sign in again")
        return payload

    def issue(self, principal: Principal) -> tuple[str, ConsoleSession]:
        """A cookie value for a new session of ``principal``, and the session it stands for."""
        session_id = self.new_nonce()
        payload: dict[str, Any] = {
            "sid": session_id,
            "sub": principal.subject[:_FIELD_MAX],
            "roles": sorted(principal.roles),
            "iss": principal.issuer,
        }
        if principal.name:
            payload["name"] = principal.name[:_FIELD_MAX]
        if principal.email:
            payload["email"] = principal.email[:_FIELD_MAX]
        value = self.sign(SESSION_PURPOSE, payload, ttl=self.ttl)
        return value, self.read(value)

    def read(self, value: str) -> ConsoleSession:
        payload = self.unsign(SESSION_PURPOSE, value)
        subject = payload.get("sub")
        session_id = payload.get("sid")
        roles = payload.get("roles")
        issuer: Literal["local", "oidc"] = "oidc" if payload.get("iss") == "oidc" else "local"
        if not isinstance(subject, str) or not isinstance(session_id, str):
            raise AuthenticationError("the session is malformed")
        known = {role.value for role in Role}
        principal = Principal(
            subject=subject,
            roles=frozenset(
                role for role in (roles if isinstance(roles, list) else []) if role in known
            ),
            issuer=issuer,
            name=payload.get("name") if isinstance(payload.get("name"), str) else None,
            email=payload.get("email") if isinstance(payload.get("email"), str) else None,
        )
        expires_at = datetime.fromtimestamp(payload["exp"], tz=self._clock.now().tzinfo)
        return ConsoleSession(principal=principal, session_id=session_id, expires_at=expires_at)

    def csrf_token(self, binding: str) -> str:
        """The token forms must echo: bound to the session (or, before sign-in, a browser id)."""
        return self._mac("csrf", binding)

    def check_csrf(self, binding: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(binding))
