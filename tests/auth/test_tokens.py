"""Bearer tokens, both kinds, against the failures a verifier must catch."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from chronosops.auth import Role, TokenVerifier
from chronosops.config import AuthSettings
from chronosops.core.errors import AuthenticationError
from tests.auth.jwks_server import AUDIENCE, ISSUER, IdentityProvider, identity_provider

SECRET = "local-secret-0123456789abcdef0123456789abcdef"


def auth_settings(provider: IdentityProvider | None = None) -> AuthSettings:
    return AuthSettings(
        jwt_secret=SECRET,
        jwt_issuer="chronosops",
        jwt_audience="chronosops",
        oidc_issuer=ISSUER if provider else None,
        oidc_audience=AUDIENCE if provider else None,
        oidc_jwks_url=provider.jwks_url if provider else None,
        oidc_jwks_cache_seconds=300,
        leeway_seconds=0,
    )


def local_token(**overrides: object) -> str:
    now = int(time.time())
    claims = {
        "iss": "chronosops",
        "aud": "chronosops",
        "sub": "alice",
        "roles": ["CHRONOSOPS_ANALYST"],
        "iat": now,
        "nbf": now,
        "exp": now + 60,
    }
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def provider() -> Iterator[IdentityProvider]:
    with identity_provider() as running:
        yield running


@pytest.fixture
async def verifier(provider: IdentityProvider) -> AsyncIterator[TokenVerifier]:
    async with httpx.AsyncClient() as http:
        yield TokenVerifier(auth_settings(provider), http=http)


async def test_a_local_token_carries_its_subject_and_roles(verifier: TokenVerifier) -> None:
    principal = await verifier.verify(local_token())
    assert (principal.subject, principal.roles, principal.issuer) == (
        "alice",
        frozenset({Role.ANALYST}),
        "local",
    )


# Tokens are made when each test runs, not when the suite is collected: a token built at
# collection would expire before a late-running case and fail it for the wrong reason.
@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        (lambda: local_token(exp=int(time.time()) - 5), "token expired"),
        (lambda: local_token(nbf=int(time.time()) + 600), "token not yet valid"),
        (lambda: local_token(aud="someone-else"), "token audience does not match"),
        (lambda: local_token(iss="evil"), "token issuer does not match"),
        (lambda: local_token(exp=None), "token lacks the 'exp' claim"),
        (
            lambda: jwt.encode(
                {"sub": "x", "exp": int(time.time()) + 60},
                "another-secret-0123456789abcdef0123456789",
                algorithm="HS256",
            ),
            "token signature does not verify",
        ),
        (lambda: "not.a.token", "malformed bearer token"),
        (lambda: "header.payload", "malformed bearer token"),
    ],
    ids=[
        "expired",
        "not-yet-valid",
        "audience",
        "issuer",
        "no-exp",
        "signature",
        "3-parts",
        "2-parts",
    ],
)
async def test_bad_local_tokens_are_refused_with_the_reason(
    verifier: TokenVerifier, make_token: Callable[[], str], reason: str
) -> None:
    with pytest.raises(AuthenticationError, match=reason):
        await verifier.verify(make_token())


async def test_an_unsigned_alg_none_token_is_refused(verifier: TokenVerifier) -> None:
    unsigned = jwt.encode({"sub": "x", "roles": ["CHRONOSOPS_ADMIN"]}, key="", algorithm="none")
    with pytest.raises(AuthenticationError, match="unsupported token algorithm 'none'"):
        await verifier.verify(unsigned)


def _hand_signed_hs256(claims: dict[str, object], key: bytes, kid: str) -> str:
    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = b64(json.dumps(claims).encode())
    signature = b64(hmac.new(key, header + b"." + payload, hashlib.sha256).digest())
    return (header + b"." + payload + b"." + signature).decode()


async def test_an_hs256_token_keyed_with_the_idp_public_key_is_refused(
    verifier: TokenVerifier, provider: IdentityProvider
) -> None:
    """The classic algorithm-confusion forgery: HMAC keyed with the published RSA public key."""
    public_pem = provider.rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "mallory",
        "exp": int(time.time()) + 60,
        "roles": ["CHRONOSOPS_ADMIN"],
    }
    forged = _hand_signed_hs256(claims, public_pem, kid="rsa-1")
    with pytest.raises(AuthenticationError):
        await verifier.verify(forged)


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
async def test_oidc_tokens_verify_against_the_published_keys(
    verifier: TokenVerifier, provider: IdentityProvider, alg: str
) -> None:
    token = provider.token(
        alg=alg,
        extra={
            "email": "ana@example.test",
            "preferred_username": "ana",
            "realm_access": {"roles": ["CHRONOSOPS_VIEWER", "offline_access"]},
            "resource_access": {
                AUDIENCE: {"roles": ["CHRONOSOPS_ANALYST"]},
                "other": {"roles": ["CHRONOSOPS_ADMIN"]},
            },
        },
    )
    principal = await verifier.verify(token)
    assert principal.issuer == "oidc"
    assert principal.roles == frozenset({Role.VIEWER, Role.ANALYST})  # not "other" client's admin
    assert (principal.email, principal.name) == ("ana@example.test", "ana")


async def test_the_plain_roles_claim_is_read_too(
    verifier: TokenVerifier, provider: IdentityProvider
) -> None:
    principal = await verifier.verify(provider.token(extra={"roles": ["CHRONOSOPS_ADMIN"]}))
    assert principal.roles == frozenset({Role.ADMIN})


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"audience": "another-app"}, "audience does not match"),
        ({"issuer": "https://evil.example"}, "issuer does not match"),
        ({"expires_in": -10}, "expired"),
        ({"not_before_in": 600}, "not yet valid"),
        ({"kid": "unknown-kid"}, "key the identity provider does not publish"),
    ],
)
async def test_bad_oidc_tokens_are_refused(
    verifier: TokenVerifier, provider: IdentityProvider, kwargs: dict[str, object], reason: str
) -> None:
    with pytest.raises(AuthenticationError, match=reason):
        await verifier.verify(provider.token(**kwargs))  # type: ignore[arg-type]


async def test_an_oidc_token_signed_by_a_stranger_is_refused(verifier: TokenVerifier) -> None:
    with identity_provider() as stranger:
        forged = stranger.token()  # same kid "rsa-1", different key
    with pytest.raises(AuthenticationError, match="signature does not verify"):
        await verifier.verify(forged)


async def test_signing_keys_are_fetched_once_and_cached(
    verifier: TokenVerifier, provider: IdentityProvider
) -> None:
    provider.requests.clear()
    for _ in range(5):
        await verifier.verify(provider.token())
        await verifier.verify(provider.token(alg="ES256"))
    assert provider.requests == ["/jwks.json"]
    assert verifier.jwks is not None
    assert verifier.jwks.fetch_count == 1


async def test_oidc_tokens_are_refused_when_oidc_is_not_configured(
    provider: IdentityProvider,
) -> None:
    verifier = TokenVerifier(auth_settings(None))
    with pytest.raises(AuthenticationError, match="OIDC is not configured"):
        await verifier.verify(provider.token())


async def test_local_tokens_are_refused_when_no_secret_is_configured(
    provider: IdentityProvider,
) -> None:
    settings = AuthSettings(**{**auth_settings(provider).__dict__, "jwt_secret": None})
    async with httpx.AsyncClient() as http:
        verifier = TokenVerifier(settings, http=http)
        with pytest.raises(AuthenticationError, match="locally signed tokens are not accepted"):
            await verifier.verify(local_token())


async def test_a_token_verified_once_is_answered_from_memory_until_it_expires(
    verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[str] = []
    real_decode = jwt.decode

    def counting_decode(token: str, *args: object, **kwargs: object) -> object:
        decoded.append(token)
        return real_decode(token, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counting_decode)
    token = local_token(exp=int(time.time()) + 30)
    first = await verifier.verify(token)
    assert await verifier.verify(token) is first
    assert len(decoded) == 1
    # Past the token's expiry (by the verifier's clock) the memory no longer answers: the
    # signature and claims are checked again, which refuse an expired token.
    later = time.time() + 31
    monkeypatch.setattr("chronosops.auth.tokens.time.time", lambda: later)
    await verifier.verify(token)
    assert len(decoded) == 2


async def test_a_remembered_token_with_another_signature_is_still_refused(
    verifier: TokenVerifier,
) -> None:
    token = local_token()
    await verifier.verify(token)
    head, body, _signature = token.split(".")
    forged = jwt.encode(json.loads(base64.urlsafe_b64decode(body + "==")), "x" * 32)
    with pytest.raises(AuthenticationError, match="signature"):
        await verifier.verify(f"{head}.{body}.{forged.split('.')[2]}")
