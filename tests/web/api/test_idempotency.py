"""Exactly once: repeats of an open incident's ref, concurrent duplicates, Idempotency-Key."""

from __future__ import annotations

import asyncio

import httpx

from tests.fixtures.guide import request

INGEST = "/v1/incidents/ingest"
OPEN = {"start": "2024-01-15T10:00:00Z"}


async def test_a_repeat_while_open_returns_200_and_the_same_incident(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    first = await client.post(INGEST, json=request(timeline=OPEN), headers=analyst)
    again = await client.post(INGEST, json=request(timeline=OPEN), headers=analyst)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["incidentId"] == first.json()["incidentId"]
    assert again.json()["analysisId"] == first.json()["analysisId"]
    assert again.json()["evidenceBundleId"] == first.json()["evidenceBundleId"]
    assert "Duplicate" in again.json()["message"]
    listing = (await client.get("/v1/incidents", headers=analyst)).json()["items"]
    assert len(listing) == 1


async def test_a_repeat_that_resolves_the_incident_is_applied_and_audited(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    incident_id = (await client.post(INGEST, json=request(timeline=OPEN), headers=analyst)).json()[
        "incidentId"
    ]
    resolved = {
        "start": "2024-01-15T10:00:00Z",
        "end": "2024-01-15T10:40:00Z",
        "resolvedAt": "2024-01-15T10:41:00Z",
    }
    response = await client.post(INGEST, json=request(timeline=resolved), headers=analyst)
    assert response.status_code == 200
    assert "updated end, resolvedAt" in response.json()["message"]
    incident = (await client.get(f"/v1/incidents/{incident_id}", headers=analyst)).json()
    assert incident["timeline"]["end"] == "2024-01-15T10:40:00.000Z"
    assert incident["isResolved"] is True
    events = (await client.get(f"/v1/incidents/{incident_id}/audit-events", headers=analyst)).json()
    updated = [e for e in events if e["eventType"] == "INCIDENT_UPDATED"]
    assert updated[0]["payload"]["changes"] == {
        "end": {"from": None, "to": "2024-01-15T10:40:00.000Z"},
        "resolvedAt": {"from": None, "to": "2024-01-15T10:41:00.000Z"},
    }
    # An older end arriving late is stale news, not a change.
    stale = {"start": "2024-01-15T10:00:00Z", "end": "2024-01-15T10:20:00Z"}
    again = await client.post(INGEST, json=request(timeline=stale), headers=analyst)
    assert "nothing changed" in again.json()["message"]


async def test_after_resolution_a_later_report_opens_a_new_incident(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    first = (await client.post(INGEST, json=request(), headers=analyst)).json()  # ends 11:00
    retry = await client.post(INGEST, json=request(), headers=analyst)
    assert retry.status_code == 200
    later = await client.post(
        INGEST, json=request(timeline={"start": "2024-01-16T09:00:00Z"}), headers=analyst
    )
    assert later.status_code == 201
    assert later.json()["incidentId"] != first["incidentId"]
    second = (
        await client.get(f"/v1/incidents/{later.json()['incidentId']}", headers=analyst)
    ).json()
    assert (second["sourceRef"], second["occurrence"]) == ("incident-12345", 2)


async def test_the_same_ref_from_another_source_type_is_another_incident(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    custom = await client.post(INGEST, json=request(), headers=analyst)
    pagerduty = await client.post(INGEST, json=request(sourceType="PAGERDUTY"), headers=analyst)
    assert (custom.status_code, pagerduty.status_code) == (201, 201)


async def test_concurrent_duplicates_create_exactly_one_incident(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    body = request(sourceRef="storm-1", timeline=OPEN)
    responses = await asyncio.gather(
        *(client.post(INGEST, json=body, headers=analyst) for _ in range(12))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 11 + [201]
    assert len({r.json()["incidentId"] for r in responses}) == 1
    listing = (await client.get("/v1/incidents", headers=analyst)).json()["items"]
    assert [i["sourceRef"] for i in listing] == ["storm-1"]


async def test_an_idempotency_key_replays_the_first_response(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    headers = {**analyst, "Idempotency-Key": "k-1"}
    first = await client.post(INGEST, json=request(), headers=headers)
    replay = await client.post(INGEST, json=request(), headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


async def test_an_idempotency_key_reused_with_another_body_is_422(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    headers = {**analyst, "Idempotency-Key": "k-2"}
    assert (await client.post(INGEST, json=request(), headers=headers)).status_code == 201
    other = await client.post(INGEST, json=request(title="something else"), headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency-key-reused"


async def test_idempotency_keys_belong_to_their_principal(
    client: httpx.AsyncClient, analyst: dict[str, str], admin: dict[str, str]
) -> None:
    first = await client.post(
        INGEST, json=request(), headers={**analyst, "Idempotency-Key": "shared"}
    )
    other = await client.post(
        INGEST, json=request(sourceRef="other"), headers={**admin, "Idempotency-Key": "shared"}
    )
    assert (first.status_code, other.status_code) == (201, 201)


async def test_concurrent_requests_with_one_key_are_processed_once(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    headers = {**analyst, "Idempotency-Key": "k-race"}
    responses = await asyncio.gather(
        *(client.post(INGEST, json=request(sourceRef="keyed"), headers=headers) for _ in range(6))
    )
    processed = [
        r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers
    ]
    assert len(processed) == 1
    for response in responses:
        assert response.status_code in (201, 409)
        if response.status_code == 201:
            assert response.json() == processed[0].json()
