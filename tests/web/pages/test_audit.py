"""The audit page: admins read the whole chain, filter it and verify it on request."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from chronosops.auth import Role
from chronosops.bootstrap import Services
from tests.fixtures.console import SignIn
from tests.fixtures.guide import request

INGEST = "/v1/incidents/ingest"


async def test_admins_see_the_chain_newest_first_with_links_to_incidents(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident_id = (await client.post(INGEST, json=request(), headers=analyst)).json()["incidentId"]
    await sign_in(Role.ADMIN, sub="ada")
    page = await client.get("/audit")
    assert page.status_code == 200
    assert '<a href="/audit"' in page.text  # in the menu
    body = page.text.split("<tbody>")[1]
    assert body.index("SIGNED_IN") < body.index("ANALYSIS_CREATED") < body.index("INCIDENT_CREATED")
    assert f'href="/incidents/{incident_id}"' in body


async def test_the_page_filters_by_event_type(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    await client.post(INGEST, json=request(), headers=analyst)
    await sign_in(Role.ADMIN)
    body = (await client.get("/audit?type=ANALYSIS_CREATED")).text.split("<tbody>")[1]
    assert "ANALYSIS_CREATED" in body
    assert "INCIDENT_CREATED" not in body
    assert "SIGNED_IN" not in body


async def test_analysts_neither_see_it_in_the_menu_nor_open_it(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(Role.ANALYST)
    assert '<a href="/audit"' not in (await client.get("/incidents")).text
    refused = await client.get("/audit")
    assert refused.status_code == 403
    assert "CHRONOSOPS_ADMIN" in refused.text


async def test_verifying_shows_the_head_or_the_first_broken_event(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn, services: Services
) -> None:
    await client.post(INGEST, json=request(), headers=analyst)
    csrf = await sign_in(Role.ADMIN)
    assert (await client.post("/audit/verify", data={"csrf_token": "guess"})).status_code == 403
    verified = await client.post("/audit/verify", data={"csrf_token": csrf})
    assert verified.status_code == 200
    assert "✔ Verified: all 5 events" in verified.text  # four for the incident, one sign-in
    async with services.database.unit_of_work() as session:
        await session.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE seq = 2"))
    failed = await client.post("/audit/verify", data={"csrf_token": csrf})
    assert "✘ Verification failed at seq 2" in failed.text
    assert "1 of 5 events verified" in failed.text


async def test_an_actor_name_with_markup_is_shown_as_text(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(Role.ADMIN, sub='<script>alert(1)</script>"><img src=x onerror=alert(2)>')
    page = (await client.get("/audit")).text
    assert "<script>alert(1)</script>" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
