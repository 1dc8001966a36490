"""The investigation timeline on the incident page: start, the gate's decisions, cancel."""

from __future__ import annotations

import httpx

from chronosops.auth import Role
from chronosops.bootstrap import Services
from tests.fixtures.console import SignIn, checkout_incident

INGEST = "/v1/incidents/ingest"


async def incident(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    created = await client.post(INGEST, json=checkout_incident(), headers=headers)
    incident_id: str = created.json()["incidentId"]
    return incident_id


async def test_an_analyst_starts_one_and_sees_it_running_with_a_cancel_button(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident_id = await incident(client, analyst)
    csrf = await sign_in(Role.ANALYST)
    started = await client.post(
        f"/incidents/{incident_id}/investigate",
        data={"csrf_token": csrf, "maxIterations": "3", "confidenceTarget": "0.9"},
    )
    assert started.status_code == 303
    page = (await client.get(f"/incidents/{incident_id}")).text
    assert "iteration 0 of 3" in page
    assert ">Cancel</button>" in page


async def test_the_gate_decisions_are_listed_with_their_reasons(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn, services: Services
) -> None:
    incident_id = await incident(client, analyst)
    await client.post(
        f"/v1/incidents/{incident_id}/investigate",
        json={"confidenceTarget": 0.99},
        headers=analyst,
    )
    await services.runner.drain()
    await sign_in(Role.VIEWER)
    panel = (await client.get(f"/incidents/{incident_id}/investigations")).text
    assert "NO_ALLOWED_COLLECTOR" in panel
    assert "ALL_REJECTED" in panel


async def test_an_out_of_range_target_is_refused_naming_the_field(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident_id = await incident(client, analyst)
    csrf = await sign_in(Role.ANALYST)
    refused = await client.post(
        f"/incidents/{incident_id}/investigate",
        data={"csrf_token": csrf, "confidenceTarget": "2"},
    )
    assert refused.status_code == 400
    assert "confidenceTarget" in refused.text


async def test_viewers_get_no_start_form(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident_id = await incident(client, analyst)
    await sign_in(Role.VIEWER)
    page = (await client.get(f"/incidents/{incident_id}")).text
    assert f'action="/incidents/{incident_id}/investigate"' not in page
