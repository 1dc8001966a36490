"""What the sources accept, and a dry run that stores nothing."""

from __future__ import annotations

import httpx

from chronosops.sources import registry
from tests.fixtures.webhooks import Hooks
from tests.sources.payloads import load


async def test_every_source_is_listed_with_shapes_authentication_and_its_url(
    hooks: Hooks, viewer: dict[str, str]
) -> None:
    response = await hooks.http.get("/v1/sources", headers=viewer)
    assert response.status_code == 200
    body = response.json()
    assert body["replayWindowHours"] == 24
    listed = {source["kind"]: source for source in body["sources"]}
    assert list(listed) == registry.kinds()
    pagerduty = listed["pagerduty"]
    assert pagerduty["sourceType"] == "PAGERDUTY"
    assert pagerduty["webhookUrl"] == "http://chronosops.test/v1/webhooks/pagerduty"
    assert pagerduty["enabled"] is True
    assert [shape["name"] for shape in pagerduty["shapes"]] == ["v3-webhook", "events-v2", "guide"]
    assert pagerduty["authentication"][0]["header"] == "X-PagerDuty-Signature"
    assert pagerduty["deliveryIdHeaders"] == ["X-Webhook-Id", "Idempotency-Key"]
    assert {"field": "urgency (v3-webhook, guide)", "mapping": {"critical": "critical", "high": "high", "low": "low", "urgent": "critical", "normal": "medium"}} in pagerduty["severityMappings"]  # fmt: skip
    gcm = listed["google-cloud-monitoring"]["authentication"][0]
    assert "?token=<token>" in gcm["accepted"]
    assert "?token=<token>" not in listed["grafana"]["authentication"][0]["accepted"]
    assert "token-0123456789abcdef" not in response.text


async def test_sources_show_as_switched_off_until_configured(
    client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    body = (await client.get("/v1/sources", headers=viewer)).json()
    assert {source["enabled"] for source in body["sources"]} == {False}


async def test_sources_need_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/sources")).status_code == 401


async def test_a_dry_run_returns_ingestable_requests_and_stores_nothing(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    payload = load("alertmanager", "firing")
    response = await client.post("/v1/normalize/alertmanager", json=payload, headers=analyst)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["shape"] == "webhook-v4"
    assert len(body["requests"]) == 2
    assert body["requests"][0]["sourceType"] == "ALERTMANAGER"
    assert body["requests"][0]["timeline"] == {
        "start": "2024-03-12T08:00:27.300Z",
        "end": None,
        "resolvedAt": None,
    }
    assert [event["action"] for event in body["events"]] == ["trigger", "trigger"]
    listed = (await client.get("/v1/incidents", headers=analyst)).json()["items"]
    assert listed == []
    # What the dry run shows is accepted as it is by the generic ingest API.
    ingested = await client.post("/v1/incidents/ingest", json=body["requests"][1], headers=analyst)
    assert ingested.status_code == 201, ingested.text


async def test_a_dry_run_of_a_resolve_shows_the_event_without_a_request(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/normalize/opsgenie", json=load("opsgenie", "close"), headers=analyst
    )
    body = response.json()
    assert body["requests"] == []
    assert body["events"][0]["action"] == "resolve"
    assert body["events"][0]["resolvedAt"] == "2024-03-12T09:22:54.669Z"


async def test_the_dry_run_reports_what_it_cannot_read_and_needs_an_analyst(
    client: httpx.AsyncClient, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    bad = await client.post("/v1/normalize/grafana", json={"nope": 1}, headers=analyst)
    assert bad.status_code == 400
    assert bad.json()["code"] == "source-payload-invalid"
    unknown = await client.post("/v1/normalize/splunk", json={}, headers=analyst)
    assert unknown.status_code == 404
    forbidden = await client.post("/v1/normalize/grafana", json={}, headers=viewer)
    assert forbidden.status_code == 403


async def test_the_openapi_document_lists_the_source_routes_and_webhooks_take_no_bearer(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (
        "/v1/webhooks/{source}",
        "/v1/webhooks/deliveries",
        "/v1/sources",
        "/v1/normalize/{source}",
    ):
        assert path in paths
    assert paths["/v1/webhooks/{source}"]["post"]["security"] == []
