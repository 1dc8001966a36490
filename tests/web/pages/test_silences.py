"""The silences page: create one from a form, see incidents it holds back, expire it."""

from __future__ import annotations

import httpx

from chronosops.auth import Role
from tests.fixtures.console import SignIn
from tests.fixtures.guide import request

INGEST = "/v1/incidents/ingest"


async def test_an_analyst_creates_a_silence_that_holds_back_matching_incidents_then_expires_it(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    csrf = await sign_in(Role.ANALYST, sub="dana")
    created = await client.post(
        "/silences",
        data={
            "csrf_token": csrf,
            "service": "payment-service",
            "labels": "",
            "hours": "2",
            "comment": "failover drill",
        },
    )
    assert created.status_code == 303, created.text
    page = (await client.get("/silences")).text
    assert "failover drill" in page
    assert "silence-active" in page

    report = request(sourceRef="p-1", timeline={"start": "2024-01-15T10:00:00Z"})
    incident = (await client.post(INGEST, json=report, headers=analyst)).json()["incidentId"]
    detail = (await client.get(f"/incidents/{incident}")).text
    assert 'class="badge silenced"' in detail
    listing = (await client.get("/incidents")).text
    assert 'class="badge silenced"' in listing

    silence_id = (await client.get("/v1/silences", headers=analyst)).json()["items"][0]["id"]
    expired = await client.post(f"/silences/{silence_id}/expire", data={"csrf_token": csrf})
    assert expired.status_code == 303
    assert "silence-expired" in (await client.get("/silences")).text


async def test_a_silence_form_that_breaks_a_rule_comes_back_with_the_rule_and_stores_nothing(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    csrf = await sign_in(Role.ANALYST)
    response = await client.post(
        "/silences", data={"csrf_token": csrf, "hours": "2", "comment": "no matchers"}
    )
    assert response.status_code == 400
    assert 'id="silence-errors"' in response.text
    assert "<code>matchers</code>" in response.text
    bad_label = await client.post(
        "/silences",
        data={"csrf_token": csrf, "labels": "team", "hours": "1", "comment": "x"},
    )
    assert bad_label.status_code == 400
    assert "matchers.labels" in bad_label.text
    assert (await client.get("/v1/silences", headers=analyst)).json()["items"] == []


async def test_viewers_see_silences_without_the_form_or_expire_buttons(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    await client.post(
        "/v1/silences",
        json={"matchers": {"service": "x"}, "endsAt": "2099-01-01T00:00:00Z", "comment": "c"},
        headers=analyst,
    )
    csrf = await sign_in(Role.VIEWER)
    page = (await client.get("/silences")).text
    assert "New silence" not in page
    assert ">Expire</button>" not in page
    denied = await client.post(
        "/silences", data={"csrf_token": csrf, "service": "x", "hours": "1", "comment": "c"}
    )
    assert denied.status_code == 403
