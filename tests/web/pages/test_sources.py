"""Sources page (webhook URL, auth, setup) and importing a pasted Google Cloud status feed."""

from __future__ import annotations

import json

import httpx

from chronosops.auth import Role
from chronosops.sources import registry
from tests.fixtures.app import ClientFactory
from tests.fixtures.console import SignIn, sign_in_with_link
from tests.sources.payloads import raw


async def test_every_source_shows_its_webhook_url_and_how_to_switch_it_on(
    client_with: ClientFactory,
) -> None:
    client, services = await client_with(
        public_url="http://ops.example.test", webhook_datadog_token="d" * 40
    )
    await sign_in_with_link(client, services, Role.VIEWER)
    page = (await client.get("/sources")).text
    for kind in registry.kinds():
        assert f"http://ops.example.test/v1/webhooks/{kind}" in page
        assert f'id="source-{kind}"' in page
    datadog = page.split('id="source-datadog"')[1].split("</section>")[0]
    assert "switched on" in datadog
    assert "CHRONOSOPS_WEBHOOK_DATADOG_TOKEN" in datadog
    assert "d" * 40 not in page  # the value itself is never shown
    pagerduty = page.split('id="source-pagerduty"')[1].split("</section>")[0]
    assert "switched off" in pagerduty
    assert "CHRONOSOPS_WEBHOOK_PAGERDUTY_SECRET" in pagerduty


async def test_a_pasted_feed_is_imported_once(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    csrf = await sign_in(Role.ANALYST)
    feed = raw("google-cloud-status", "feed").decode()
    entries = len(json.loads(feed))
    first = await client.post(
        "/import/google-cloud-status", data={"csrf_token": csrf, "payload": feed}
    )
    assert first.status_code == 200
    assert f"Imported {entries} entries" in first.text
    assert f"{entries} created" in first.text
    listed = (await client.get("/v1/incidents?sourceType=GOOGLE_CLOUD", headers=analyst)).json()
    assert len(listed["items"]) == entries

    again = await client.post(
        "/import/google-cloud-status", data={"csrf_token": csrf, "payload": feed}
    )
    assert "created" not in again.text.split("Imported")[1].split("</p>")[0]
    listed = (await client.get("/v1/incidents?sourceType=GOOGLE_CLOUD", headers=analyst)).json()
    assert len(listed["items"]) == entries


async def test_a_feed_that_is_not_one_is_refused_in_place(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    csrf = await sign_in(Role.ANALYST)
    for payload in ('{"not": "a feed"}', "[1, 2", ""):
        response = await client.post(
            "/import/google-cloud-status", data={"csrf_token": csrf, "payload": payload}
        )
        assert response.status_code == 400
        assert "Nothing was imported." in response.text
    assert (await client.get("/v1/incidents", headers=analyst)).json()["items"] == []


async def test_viewers_may_read_sources_but_not_import(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    csrf = await sign_in(Role.VIEWER)
    assert (await client.get("/sources")).status_code == 200
    assert (await client.get("/import/google-cloud-status")).status_code == 403
    posted = await client.post(
        "/import/google-cloud-status", data={"csrf_token": csrf, "payload": "[]"}
    )
    assert posted.status_code == 403
