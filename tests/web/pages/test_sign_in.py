"""Signing in to the console: one-time links, OIDC with a real provider, cookies, sign-out."""

from __future__ import annotations

from collections.abc import Iterator
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import httpx
import pytest

from chronosops.audit import AuditEventRead, AuditFilter
from chronosops.auth import Role
from chronosops.bootstrap import Services
from tests.auth.oidc_provider import (
    API_AUDIENCE,
    CLIENT_ID,
    CLIENT_SECRET,
    OpenIdProvider,
    openid_provider,
)
from tests.fixtures.app import ClientFactory
from tests.fixtures.console import SignIn, csrf_of

BASE = "http://chronosops.test"


def cookie_attributes(response: httpx.Response, name: str) -> dict[str, str | bool]:
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        if name in jar:
            morsel = jar[name]
            return {key: morsel[key] for key in morsel if morsel[key]} | {"value": morsel.value}
    raise AssertionError(f"no {name} cookie set")


async def issue_link(services: Services, *roles: Role) -> str:
    async with services.database.unit_of_work() as session:
        link = await services.sign_in_links.issue(session, subject="local-admin", roles=roles)
    return link.token


@pytest.mark.parametrize("path", ["/", "/incidents", "/incidents/abc", "/new", "/account"])
async def test_a_signed_out_browser_is_sent_to_sign_in_and_told_where_it_was_going(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(f"{path}?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == f"/sign-in?next={path.replace('/', '%2F')}%3Fx%3D1"


async def test_an_htmx_request_without_a_session_is_redirected_by_header(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/incidents",
        headers={"HX-Request": "true", "HX-Current-URL": f"{BASE}/incidents?severity=high"},
    )
    assert response.status_code == 200
    assert response.headers["hx-redirect"] == "/sign-in?next=%2Fincidents%3Fseverity%3Dhigh"


async def test_a_one_time_link_sets_a_session_cookie_scripts_cannot_read(
    client: httpx.AsyncClient, services: Services
) -> None:
    token = await issue_link(services, Role.ADMIN)
    response = await client.get(f"/sign-in/link?token={token}")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = cookie_attributes(response, "chronosops_session")
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "lax"
    assert "secure" not in cookie  # plain http on loopback
    assert cookie["path"] == "/"
    assert int(str(cookie["max-age"])) == 480 * 60
    assert (await client.get("/")).status_code == 200


async def test_the_session_cookie_is_secure_when_the_console_is_served_over_tls(
    client_with: ClientFactory,
) -> None:
    tls_client, services = await client_with(public_url="https://ops.example.test")
    token = await issue_link(services, Role.VIEWER)
    response = await tls_client.get(f"/sign-in/link?token={token}")
    assert cookie_attributes(response, "chronosops_session")["secure"] is True


async def test_a_used_link_shows_why_it_no_longer_works(
    client: httpx.AsyncClient, services: Services
) -> None:
    token = await issue_link(services, Role.ADMIN)
    await client.get(f"/sign-in/link?token={token}")
    client.cookies.clear()
    again = await client.get(f"/sign-in/link?token={token}")
    assert again.status_code == 401
    assert "already used" in again.text
    assert "chronosops sign-in-link" in again.text
    assert "set-cookie" not in again.headers


async def test_a_forged_session_cookie_counts_as_signed_out(client: httpx.AsyncClient) -> None:
    client.cookies.set(
        "chronosops_session", "eyJzdWIiOiJhZG1pbiJ9.forged", domain="chronosops.test"
    )
    response = await client.get("/incidents")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")


async def test_signing_out_needs_the_form_token_and_then_ends_the_session(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    csrf = await sign_in(Role.VIEWER)
    refused = await client.post("/sign-out", data={"csrf_token": "guess"})
    assert refused.status_code == 403
    assert (await client.get("/")).status_code == 200
    response = await client.post("/sign-out", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?signed_out=1"
    assert cookie_attributes(response, "chronosops_session")["max-age"] == "0"
    assert (await client.get("/")).status_code == 303


async def test_the_sign_in_page_explains_how_to_get_a_link_when_oidc_is_off(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/sign-in")
    assert page.status_code == 200
    assert "chronosops sign-in-link" in page.text
    assert "/sign-in/oidc" not in page.text
    assert (await client.get("/sign-in/oidc")).status_code == 404


@pytest.fixture
def provider() -> Iterator[OpenIdProvider]:
    with openid_provider() as running:
        running.redirect_uri = f"{BASE}/sign-in/callback"
        yield running


async def oidc_console(
    client_with: ClientFactory, provider: OpenIdProvider
) -> tuple[httpx.AsyncClient, Services]:
    made: tuple[httpx.AsyncClient, Services] = await client_with(
        public_url=BASE,
        oidc_issuer=provider.issuer,
        oidc_audience=API_AUDIENCE,
        oidc_jwks_url=f"{provider.url}/jwks.json",
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
    )
    return made


async def oidc_client(client_with: ClientFactory, provider: OpenIdProvider) -> httpx.AsyncClient:
    client, _services = await oidc_console(client_with, provider)
    return client


async def at_provider(url: str) -> str:
    """What the provider answers the browser: the callback path with code and state."""
    async with httpx.AsyncClient() as browser:
        response = await browser.get(url)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    return f"{location.path}?{location.query}"


async def test_oidc_sign_in_round_trips_through_the_provider_to_where_you_were_going(
    client_with: ClientFactory, provider: OpenIdProvider
) -> None:
    client = await oidc_client(client_with, provider)
    assert "Sign in with your identity provider" in (await client.get("/sign-in")).text

    start = await client.get("/sign-in/oidc?next=%2Fincidents%3Fseverity%3Dhigh")
    assert start.status_code == 303
    assert start.headers["location"].startswith(f"{provider.url}/authorize?")
    attempt = cookie_attributes(start, "chronosops_oidc")
    assert attempt["httponly"] is True
    assert attempt["path"] == "/sign-in"

    callback = await client.get(await at_provider(start.headers["location"]))
    assert callback.status_code == 303, callback.text
    assert callback.headers["location"] == "/incidents?severity=high"
    assert cookie_attributes(callback, "chronosops_oidc")["max-age"] == "0"

    account = await client.get("/account")
    assert account.status_code == 200
    assert "Alice Oncall" in account.text
    assert "CHRONOSOPS_ANALYST" in account.text
    assert "your identity provider" in account.text


async def test_an_oidc_answer_meant_for_another_browser_is_refused(
    client_with: ClientFactory, provider: OpenIdProvider
) -> None:
    victim = await oidc_client(client_with, provider)
    attacker = await oidc_client(client_with, provider)
    await victim.get("/sign-in/oidc")
    attacker_start = await attacker.get("/sign-in/oidc")
    # The attacker's code and state, delivered to the victim's browser (login CSRF).
    callback = await victim.get(await at_provider(attacker_start.headers["location"]))
    assert callback.status_code == 401
    assert "does not belong" in callback.text
    assert (await victim.get("/account")).status_code == 303


async def test_a_callback_without_a_sign_in_in_progress_is_refused(
    client_with: ClientFactory, provider: OpenIdProvider
) -> None:
    client = await oidc_client(client_with, provider)
    response = await client.get("/sign-in/callback?code=abc&state=def")
    assert response.status_code == 401
    assert "no sign-in in progress" in response.text
    assert provider.token_requests == []


async def test_the_provider_saying_no_is_shown(
    client_with: ClientFactory, provider: OpenIdProvider
) -> None:
    client = await oidc_client(client_with, provider)
    await client.get("/sign-in/oidc")
    response = await client.get("/sign-in/callback?error=access_denied&error_description=denied")
    assert response.status_code == 401
    assert "access_denied: denied" in response.text


async def test_a_person_without_a_chronosops_role_is_not_signed_in(
    client_with: ClientFactory, provider: OpenIdProvider
) -> None:
    provider.user = {"sub": "bob", "email": "bob@example.test"}
    provider.access_roles = []
    client = await oidc_client(client_with, provider)
    start = await client.get("/sign-in/oidc")
    response = await client.get(await at_provider(start.headers["location"]))
    assert response.status_code == 403
    assert "no ChronosOps role" in response.text
    assert "chronosops_session" not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    "target", ["//evil.example.test/x", "https://evil.example.test", "/\\evil.example.test", "x"]
)
async def test_after_signing_in_the_browser_stays_on_this_site(
    client_with: ClientFactory, provider: OpenIdProvider, target: str
) -> None:
    client = await oidc_client(client_with, provider)
    start = await client.get("/sign-in/oidc", params={"next": target})
    callback = await client.get(await at_provider(start.headers["location"]))
    assert callback.headers["location"] == "/"


async def test_an_unreachable_provider_is_explained_not_a_crash(
    client_with: ClientFactory,
) -> None:
    with openid_provider() as gone:
        url = gone.url
    client, _ = await client_with(
        oidc_issuer=url,
        oidc_audience=API_AUDIENCE,
        oidc_jwks_url=f"{url}/jwks.json",
        oidc_client_id=CLIENT_ID,
    )
    response = await client.get("/sign-in/oidc")
    assert response.status_code == 502
    assert "cannot be reached" in response.text


async def test_the_sign_in_page_is_a_page_with_a_strict_content_security_policy(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/sign-in")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"


async def audit_events(services: Services, event_type: str) -> list[AuditEventRead]:
    async with services.database.unit_of_work(write=False) as session:
        page = await services.audit.page(
            session, AuditFilter(event_type=event_type), cursor=None, limit=50
        )
    return page.items


async def test_a_sign_in_through_a_link_is_on_the_audit_record(
    client: httpx.AsyncClient, services: Services, sign_in: SignIn
) -> None:
    await sign_in(Role.VIEWER, sub="dana")
    [event] = await audit_events(services, "SIGNED_IN")
    assert (event.actor, event.entity_type) == ("dana", "CONSOLE_SESSION")
    assert event.payload["via"] == "link"
    assert event.payload["roles"] == ["CHRONOSOPS_VIEWER"]


async def test_a_copy_of_the_cookie_stops_working_once_its_owner_signs_out(
    client: httpx.AsyncClient, services: Services, sign_in: SignIn
) -> None:
    csrf = await sign_in(Role.ADMIN, sub="dana")
    stolen = client.cookies.get("chronosops_session")
    assert stolen
    await client.post("/sign-out", data={"csrf_token": csrf})
    client.cookies.set("chronosops_session", stolen, domain="chronosops.test")
    replayed = await client.get("/incidents")
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/sign-in")
    assert (await client.get("/sign-in")).status_code == 200  # the form, not a loop back to /
    [event] = await audit_events(services, "SIGNED_OUT")
    assert event.actor == "dana"
    [signed_in] = await audit_events(services, "SIGNED_IN")
    assert event.entity_id == signed_in.entity_id  # the same session, in and out


async def test_an_oidc_sign_in_is_on_the_audit_record(
    client_with: ClientFactory, provider: OpenIdProvider
) -> None:
    client, services = await oidc_console(client_with, provider)
    start = await client.get("/sign-in/oidc")
    await client.get(await at_provider(start.headers["location"]))
    [event] = await audit_events(services, "SIGNED_IN")
    assert event.payload["via"] == "oidc"
    assert "CHRONOSOPS_ANALYST" in event.payload["roles"]


async def test_a_link_opened_in_a_signed_in_browser_asks_before_switching_identity(
    client: httpx.AsyncClient, services: Services, sign_in: SignIn
) -> None:
    await sign_in(Role.VIEWER, sub="victim")
    async with services.database.unit_of_work() as session:
        link = await services.sign_in_links.issue(session, subject="attacker", roles=[Role.ADMIN])

    page = await client.get(f"/sign-in/link?token={link.token}")

    assert page.status_code == 200
    assert "set-cookie" not in page.headers
    assert "You are already signed in" in page.text
    assert "victim" in page.text
    assert 'method="post" action="/sign-in/link"' in page.text
    # Nothing changed: the browser is still the victim, and the link is still unspent.
    assert "victim" in (await client.get("/account")).text
    async with services.database.unit_of_work() as session:
        assert await services.sign_in_links.redeem(session, link.token)


async def test_confirming_the_switch_signs_in_as_the_link_says(
    client: httpx.AsyncClient, services: Services, sign_in: SignIn
) -> None:
    await sign_in(Role.VIEWER, sub="first")
    async with services.database.unit_of_work() as session:
        link = await services.sign_in_links.issue(session, subject="second", roles=[Role.ADMIN])
    page = await client.get(f"/sign-in/link?token={link.token}")

    confirmed = await client.post(
        "/sign-in/link", data={"csrf_token": csrf_of(page.text), "token": link.token}
    )

    assert confirmed.status_code == 303
    assert "second" in (await client.get("/account")).text


async def test_a_cross_site_post_of_a_link_is_refused(
    client: httpx.AsyncClient, services: Services, sign_in: SignIn
) -> None:
    await sign_in(Role.VIEWER, sub="victim")
    async with services.database.unit_of_work() as session:
        link = await services.sign_in_links.issue(session, subject="attacker", roles=[Role.ADMIN])

    forged = await client.post("/sign-in/link", data={"csrf_token": "guess", "token": link.token})

    assert forged.status_code == 403
    assert "victim" in (await client.get("/account")).text
