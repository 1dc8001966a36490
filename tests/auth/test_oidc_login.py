"""OIDC sign-in against a real provider on loopback: discovery, PKCE, state, nonce, ID token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from chronosops.auth import OidcLogin, PendingLogin, Role, TokenVerifier, code_challenge
from chronosops.config import AuthSettings, OidcLoginSettings
from chronosops.core.errors import AuthenticationError, UpstreamError
from tests.auth.oidc_provider import (
    API_AUDIENCE,
    CLIENT_ID,
    CLIENT_SECRET,
    OpenIdProvider,
    openid_provider,
)

REDIRECT = "http://console.test/sign-in/callback"


@pytest.fixture
def provider() -> Iterator[OpenIdProvider]:
    with openid_provider() as running:
        running.redirect_uri = REDIRECT
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def login_for(provider: OpenIdProvider, http: httpx.AsyncClient, **changes: object) -> OidcLogin:
    settings = OidcLoginSettings(
        issuer=provider.issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_url=REDIRECT,
        scopes="openid profile email",
        leeway_seconds=30,
    )
    verifier = TokenVerifier(
        AuthSettings(
            jwt_secret=None,
            jwt_issuer="chronosops",
            jwt_audience="chronosops",
            oidc_issuer=provider.issuer,
            oidc_audience=API_AUDIENCE,
            oidc_jwks_url=f"{provider.url}/jwks.json",
            oidc_jwks_cache_seconds=300,
            leeway_seconds=30,
        ),
        http=http,
    )
    return OidcLogin(replace(settings, **changes), http=http, verifier=verifier)  # type: ignore[arg-type]


async def authorize(http: httpx.AsyncClient, url: str) -> dict[str, str]:
    """Follow the authorization URL as a browser would; the callback's query."""
    response = await http.get(url)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def test_signing_in_yields_the_person_with_roles_from_both_tokens(
    provider: OpenIdProvider, http: httpx.AsyncClient
) -> None:
    login = login_for(provider, http)
    start = await login.start()
    sent = {k: v[0] for k, v in parse_qs(urlsplit(start.authorization_url).query).items()}
    assert start.authorization_url.startswith(f"{provider.url}/authorize?")
    assert sent["code_challenge"] == code_challenge(start.pending.code_verifier)
    assert sent["code_challenge_method"] == "S256"
    assert sent["state"] == start.pending.state
    assert sent["nonce"] == start.pending.nonce
    assert start.pending.code_verifier not in start.authorization_url

    answer = await authorize(http, start.authorization_url)
    principal = await login.finish(start.pending, state=answer["state"], code=answer["code"])

    assert principal.subject == "oidc-alice"
    assert principal.email == "alice@example.test"
    assert principal.issuer == "oidc"
    # ANALYST from the ID token's realm roles, VIEWER from the verified access token.
    assert principal.roles == {Role.ANALYST.value, Role.VIEWER.value}
    token_request = provider.token_requests[-1]
    assert token_request["code_verifier"] == start.pending.code_verifier
    assert token_request["authorization"].startswith("Basic ")
    assert "client_secret" not in token_request


async def test_an_answer_for_another_attempt_is_refused_before_the_code_is_spent(
    provider: OpenIdProvider, http: httpx.AsyncClient
) -> None:
    login = login_for(provider, http)
    start = await login.start()
    answer = await authorize(http, start.authorization_url)
    with pytest.raises(AuthenticationError, match="does not belong"):
        await login.finish(start.pending, state="forged-state", code=answer["code"])
    assert provider.token_requests == []


async def test_a_code_exchanged_without_the_right_pkce_verifier_is_refused(
    provider: OpenIdProvider, http: httpx.AsyncClient
) -> None:
    login = login_for(provider, http)
    start = await login.start()
    answer = await authorize(http, start.authorization_url)
    stolen = PendingLogin(
        state=start.pending.state, nonce=start.pending.nonce, code_verifier="x" * 64
    )
    with pytest.raises(AuthenticationError, match="invalid_grant"):
        await login.finish(stolen, state=answer["state"], code=answer["code"])


async def test_an_id_token_minted_for_another_sign_in_is_refused(
    provider: OpenIdProvider, http: httpx.AsyncClient
) -> None:
    provider.wrong_nonce = True
    login = login_for(provider, http)
    start = await login.start()
    answer = await authorize(http, start.authorization_url)
    with pytest.raises(AuthenticationError, match="not issued for this sign-in"):
        await login.finish(start.pending, state=answer["state"], code=answer["code"])


async def test_a_wrong_client_secret_is_refused_by_the_provider(
    provider: OpenIdProvider, http: httpx.AsyncClient
) -> None:
    login = login_for(provider, http, client_secret="not-the-secret")
    start = await login.start()
    answer = await authorize(http, start.authorization_url)
    with pytest.raises(AuthenticationError, match="invalid_client"):
        await login.finish(start.pending, state=answer["state"], code=answer["code"])


async def test_a_discovery_document_for_another_issuer_is_not_trusted(
    provider: OpenIdProvider, http: httpx.AsyncClient
) -> None:
    provider.issuer_in_discovery = "https://evil.example.test"
    with pytest.raises(UpstreamError, match="names issuer"):
        await login_for(provider, http).start()


async def test_an_unreachable_provider_is_an_upstream_error(http: httpx.AsyncClient) -> None:
    with openid_provider() as gone:
        url = gone.url
    login = login_for(OpenIdProvider(url=url, key=gone.key), http)
    with pytest.raises(UpstreamError, match="discovery document"):
        await login.start()
