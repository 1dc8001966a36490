"""Console sign-in with OpenID Connect: the authorization-code flow with PKCE, state and nonce.

The provider is discovered from ``<issuer>/.well-known/openid-configuration``. Starting a
sign-in yields the provider URL to send the browser to, plus the state, nonce and PKCE
verifier the edge keeps (in a signed cookie) until the provider redirects back. Finishing
checks the state, exchanges the code for tokens at the token endpoint (sending the
verifier), and verifies the ID token: signature against the provider's JWKS, issuer, audience
(the client id), expiry and nonce. Roles come from the ID token and, when it verifies as one
of this API's bearer tokens, the access token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import structlog

from chronosops.auth.principals import Principal, roles_from_claims
from chronosops.auth.sessions import Randomness
from chronosops.auth.tokens import OIDC_ALGORITHMS, JwksCache, TokenVerifier
from chronosops.config import OidcLoginSettings
from chronosops.core.errors import AuthenticationError, UpstreamError

log = structlog.get_logger(__name__)

DISCOVERY_PATH = "/.well-known/openid-configuration"
# Providers rotate endpoints rarely; an hour keeps sign-ins from hitting discovery each time.
DISCOVERY_TTL_SECONDS = 3600.0
_TIMEOUT = 10.0


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True)
class PendingLogin:
    """What the browser's sign-in attempt must prove when it comes back."""

    state: str
    nonce: str
    code_verifier: str

    def to_json(self) -> dict[str, str]:
        return {"state": self.state, "nonce": self.nonce, "verifier": self.code_verifier}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingLogin:
        try:
            return cls(
                state=str(data["state"]),
                nonce=str(data["nonce"]),
                code_verifier=str(data["verifier"]),
            )
        except KeyError:
            raise AuthenticationError("the sign-in attempt is malformed; start again") from None


@dataclass(frozen=True)
class LoginStart:
    authorization_url: str
    pending: PendingLogin


def code_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class OidcLogin:
    def __init__(
        self,
        settings: OidcLoginSettings,
        *,
        http: httpx.AsyncClient,
        verifier: TokenVerifier,
        randomness: Randomness = secrets.token_urlsafe,
        jwks_cache_seconds: int = 300,
    ) -> None:
        self.settings = settings
        self._http = http
        self._verifier = verifier
        self._random = randomness
        self._jwks_cache_seconds = jwks_cache_seconds
        self._metadata: ProviderMetadata | None = None
        self._fetched_at = 0.0
        self._jwks: JwksCache | None = None
        self._lock = asyncio.Lock()

    async def metadata(self) -> ProviderMetadata:
        async with self._lock:
            fresh = time.monotonic() - self._fetched_at < DISCOVERY_TTL_SECONDS
            if self._metadata is None or not fresh:
                self._metadata = await self._discover()
                self._fetched_at = time.monotonic()
                self._jwks = self._jwks_for(self._metadata.jwks_uri)
            return self._metadata

    def _jwks_for(self, url: str) -> JwksCache:
        shared = self._verifier.jwks
        if shared is not None and shared.url == url:
            return shared
        return JwksCache(url, http=self._http, ttl_seconds=self._jwks_cache_seconds)

    async def _discover(self) -> ProviderMetadata:
        url = self.settings.issuer.rstrip("/") + DISCOVERY_PATH
        try:
            response = await self._http.get(url, timeout=_TIMEOUT)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise UpstreamError(
                f"cannot read the identity provider's discovery document: {exc}"
            ) from None
        if not isinstance(document, dict):
            raise UpstreamError("the identity provider's discovery document is not an object")
        # OpenID Connect Discovery §4.3: the document must name exactly the issuer we asked.
        if document.get("issuer") != self.settings.issuer:
            raise UpstreamError(
                f"the discovery document names issuer {document.get('issuer')!r}, not "
                f"CHRONOSOPS_OIDC_ISSUER {self.settings.issuer!r}"
            )
        missing = [
            name
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri")
            if not isinstance(document.get(name), str)
        ]
        if missing:
            raise UpstreamError(f"the discovery document lacks {', '.join(missing)}")
        return ProviderMetadata(
            issuer=document["issuer"],
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            jwks_uri=document["jwks_uri"],
        )

    async def start(self) -> LoginStart:
        metadata = await self.metadata()
        pending = PendingLogin(
            state=self._random(32), nonce=self._random(32), code_verifier=self._random(48)
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id,
                "redirect_uri": self.settings.redirect_url,
                "scope": self.settings.scopes,
                "state": pending.state,
                "nonce": pending.nonce,
                "code_challenge": code_challenge(pending.code_verifier),
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if "?" in metadata.authorization_endpoint else "?"
        return LoginStart(
            authorization_url=f"{metadata.authorization_endpoint}{separator}{query}",
            pending=pending,
        )

    async def finish(self, pending: PendingLogin, *, state: str, code: str) -> Principal:
        if not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise AuthenticationError(
                "the sign-in answer does not belong to this browser's sign-in attempt; start again"
            )
        metadata = await self.metadata()
        tokens = await self._exchange(metadata, code=code, verifier=pending.code_verifier)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise UpstreamError("the identity provider answered without an ID token")
        claims = await self._verify_id_token(id_token, nonce=pending.nonce)
        roles = set(roles_from_claims(claims, self.settings.client_id))
        access_token = tokens.get("access_token")
        if isinstance(access_token, str) and access_token.count(".") == 2:
            try:
                roles |= (await self._verifier.verify(access_token)).roles
            except AuthenticationError as exc:
                # Not every provider issues access tokens for this API's audience; the ID
                # token's roles still count.
                log.info("oidc.access_token_not_used", reason=exc.message)
        name = claims.get("name") or claims.get("preferred_username")
        email = claims.get("email")
        return Principal(
            subject=str(claims["sub"]),
            roles=frozenset(roles),
            issuer="oidc",
            name=name if isinstance(name, str) else None,
            email=email if isinstance(email, str) else None,
            claims=claims,
        )

    async def _exchange(
        self, metadata: ProviderMetadata, *, code: str, verifier: str
    ) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.settings.redirect_url,
            "code_verifier": verifier,
        }
        auth: httpx.BasicAuth | None = None
        if self.settings.client_secret:
            # client_secret_basic (RFC 6749 §2.3.1): both parts form-urlencoded first.
            auth = httpx.BasicAuth(
                _form_encode(self.settings.client_id), _form_encode(self.settings.client_secret)
            )
        else:
            form["client_id"] = self.settings.client_id
        try:
            response = await self._http.post(
                metadata.token_endpoint,
                data=form,
                auth=auth or httpx.USE_CLIENT_DEFAULT,
                headers={"Accept": "application/json"},
                timeout=_TIMEOUT,
            )
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"cannot reach the identity provider's token endpoint: {exc}"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            if response.status_code in (400, 401) and error:
                raise AuthenticationError(
                    f"the identity provider refused the sign-in ({error}); start again"
                )
            raise UpstreamError(
                f"the identity provider's token endpoint answered {response.status_code}"
            )
        return body

    async def _verify_id_token(self, token: str, *, nonce: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationError("the ID token is malformed") from None
        if header.get("alg") not in OIDC_ALGORITHMS:
            raise AuthenticationError(f"the ID token is signed with {header.get('alg')!r}")
        assert self._jwks is not None  # set by metadata(), which finish() awaited
        key = await self._jwks.key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(OIDC_ALGORITHMS),
                issuer=self.settings.issuer,
                audience=self.settings.client_id,
                leeway=self.settings.leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"the ID token does not verify: {exc}") from None
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
            raise AuthenticationError("the ID token was not issued for this sign-in attempt")
        return claims


def _form_encode(value: str) -> str:
    return urlencode({"": value})[1:]
