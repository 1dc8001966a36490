"""Bearer tokens: locally minted HS256 tokens and OIDC tokens verified against a JWKS.

The token header's ``alg`` chooses the path, and each path accepts only its own algorithms and
keys, so a token can neither skip verification (``alg: none``) nor confuse a public key for an
HMAC secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import OrderedDict
from datetime import timedelta
from typing import Any

import httpx
import jwt

from chronosops.auth.principals import Principal, Role, roles_from_claims
from chronosops.config import AuthSettings
from chronosops.core.clock import Clock
from chronosops.core.errors import AuthenticationError
from chronosops.core.ids import IdFactory

LOCAL_ALGORITHM = "HS256"
OIDC_ALGORITHMS = ("RS256", "ES256")
# A kid we have never seen triggers a refetch, but not more often than this, so that a flood of
# forged tokens cannot turn into a flood of requests to the identity provider.
JWKS_MIN_REFETCH_SECONDS = 6.0
# Verified tokens remembered (by their SHA-256), so that a client sending the same token on
# every request pays the signature check and claim parsing once: each for at most this long
# (a key removed from the JWKS, or a changed setting, is noticed within it), never past the
# token's own expiry, and this many at most (the least recently used go first).
VERIFIED_TTL_SECONDS = 60.0
VERIFIED_MAX_TOKENS = 4096


class LocalTokenIssuer:
    def __init__(self, settings: AuthSettings, *, clock: Clock, ids: IdFactory) -> None:
        if not settings.jwt_secret:
            raise ValueError("minting tokens needs CHRONOSOPS_JWT_SECRET")
        self._secret = settings.jwt_secret
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._clock = clock
        self._ids = ids

    def mint(
        self,
        *,
        subject: str,
        roles: list[Role],
        ttl: timedelta,
        email: str | None = None,
        name: str | None = None,
    ) -> str:
        now = self._clock.now()
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": subject,
            "roles": [role.value for role in roles],
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
            "jti": self._ids.new(),
        }
        if email:
            claims["email"] = email
        if name:
            claims["name"] = name
        return jwt.encode(claims, self._secret, algorithm=LOCAL_ALGORITHM)


class JwksCache:
    """The identity provider's signing keys, fetched lazily and kept for a while."""

    def __init__(self, url: str, *, http: httpx.AsyncClient, ttl_seconds: int) -> None:
        self._url = url
        self._http = http
        self._ttl = ttl_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self.fetch_count = 0

    @property
    def url(self) -> str:
        return self._url

    async def key(self, kid: str | None) -> jwt.PyJWK:
        stale = time.monotonic() - self._fetched_at > self._ttl
        if stale or (kid not in self._keys and self._may_refetch()):
            await self._refresh()
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        if kid is None or kid not in self._keys:
            raise AuthenticationError(
                "token signed with a key the identity provider does not publish"
            )
        return self._keys[kid]

    def _may_refetch(self) -> bool:
        return time.monotonic() - self._fetched_at >= JWKS_MIN_REFETCH_SECONDS

    async def _refresh(self) -> None:
        async with self._lock:
            try:
                response = await self._http.get(self._url, timeout=5.0)
                response.raise_for_status()
                key_set = jwt.PyJWKSet.from_dict(response.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
                if self._keys:  # keep serving from the old keys while the provider hiccups
                    return
                raise AuthenticationError(f"cannot fetch signing keys: {exc}") from None
            self.fetch_count += 1
            self._keys = {key.key_id or "": key for key in key_set.keys}
            self._fetched_at = time.monotonic()


class TokenVerifier:
    def __init__(
        self,
        settings: AuthSettings,
        *,
        http: httpx.AsyncClient | None = None,
        remember_seconds: float = VERIFIED_TTL_SECONDS,
        remember_max: int = VERIFIED_MAX_TOKENS,
    ) -> None:
        self._settings = settings
        self._jwks: JwksCache | None = None
        self._remember_seconds = remember_seconds
        self._remember_max = remember_max
        # sha256(token) -> (the token, its principal, until when (time.time()) it stands).
        self._verified: OrderedDict[bytes, tuple[str, Principal, float]] = OrderedDict()
        if settings.oidc_jwks_url and settings.oidc_issuer:
            if http is None:
                raise ValueError("OIDC verification needs an HTTP client for the JWKS")
            self._jwks = JwksCache(
                settings.oidc_jwks_url, http=http, ttl_seconds=settings.oidc_jwks_cache_seconds
            )

    @property
    def jwks(self) -> JwksCache | None:
        return self._jwks

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; `AuthenticationError` saying why otherwise.

        Bearer tokens are never revoked before their expiry (signing out ends a console
        session, a cookie, not a token), so a token verified moments ago is still valid until
        its ``exp``: it is answered from memory, looked up by its hash and compared in constant
        time, so the lookup says nothing about the bytes of a token it holds."""
        digest = hashlib.sha256(token.encode()).digest()
        remembered = self._verified.get(digest)
        if remembered is not None:
            known, principal, until = remembered
            if time.time() < until and hmac.compare_digest(known, token):
                self._verified.move_to_end(digest)
                return principal
            del self._verified[digest]
        principal = await self._verify(token)
        self._remember(digest, token, principal)
        return principal

    def _remember(self, digest: bytes, token: str, principal: Principal) -> None:
        expires = principal.claims.get("exp")
        if self._remember_max <= 0 or not isinstance(expires, int | float):
            return
        until = min(float(expires), time.time() + self._remember_seconds)
        self._verified[digest] = (token, principal, until)
        self._verified.move_to_end(digest)
        while len(self._verified) > self._remember_max:
            self._verified.popitem(last=False)

    async def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationError("malformed bearer token") from None
        algorithm = header.get("alg")
        if algorithm == LOCAL_ALGORITHM:
            return self._verify_local(token)
        if algorithm in OIDC_ALGORITHMS:
            return await self._verify_oidc(token, header.get("kid"))
        raise AuthenticationError(f"unsupported token algorithm {algorithm!r}")

    def _verify_local(self, token: str) -> Principal:
        secret = self._settings.jwt_secret
        if not secret:
            raise AuthenticationError("locally signed tokens are not accepted by this server")
        claims = self._decode(
            token,
            secret,
            algorithms=[LOCAL_ALGORITHM],
            issuer=self._settings.jwt_issuer,
            audience=self._settings.jwt_audience,
        )
        return _principal(claims, "local", self._settings.jwt_audience)

    async def _verify_oidc(self, token: str, kid: str | None) -> Principal:
        if self._jwks is None or not self._settings.oidc_issuer:
            raise AuthenticationError("OIDC tokens are not accepted: OIDC is not configured")
        key = await self._jwks.key(kid)
        claims = self._decode(
            token,
            key,
            algorithms=list(OIDC_ALGORITHMS),
            issuer=self._settings.oidc_issuer,
            audience=self._settings.oidc_audience,
        )
        return _principal(claims, "oidc", self._settings.oidc_audience)

    def _decode(
        self,
        token: str,
        key: Any,
        *,
        algorithms: list[str],
        issuer: str,
        audience: str | None,
    ) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=algorithms,
                issuer=issuer,
                audience=audience,
                leeway=self._settings.leeway_seconds,
                options={"require": ["exp", "iss", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthenticationError("token not yet valid") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationError("token audience does not match") from None
        except jwt.InvalidIssuerError:
            raise AuthenticationError("token issuer does not match") from None
        except jwt.InvalidSignatureError:
            raise AuthenticationError("token signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthenticationError(f"token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid token: {exc}") from None


def _principal(claims: dict[str, Any], issuer: Any, audience: str | None) -> Principal:
    name = claims.get("name") or claims.get("preferred_username")
    email = claims.get("email")
    return Principal(
        subject=str(claims.get("sub", "")),
        roles=roles_from_claims(claims, audience),
        issuer=issuer,
        email=email if isinstance(email, str) else None,
        name=name if isinstance(name, str) else None,
        claims=claims,
    )
