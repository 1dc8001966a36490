"""Silences: matching alerts are stored and audited, not analysed, and show as silenced."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from chronosops.bootstrap import Services
from chronosops.evidence.tables import EvidenceBundle, IncidentEvidence
from tests.fixtures.guide import example, request
from tests.fixtures.webhooks import Hooks
from tests.sources.payloads import load

INGEST = "/v1/incidents/ingest"
LATER = "2099-01-01T00:00:00Z"


def silence(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "matchers": {"service": "payment-service", "environment": "production"},
        "endsAt": LATER,
        "comment": "database maintenance",
    }
    body.update(changes)
    return body


def open_report(ref: str, **changes: Any) -> dict[str, Any]:
    return request(sourceRef=ref, timeline={"start": "2024-01-15T10:00:00Z"}, **changes)


async def test_a_matching_alert_is_stored_and_audited_but_not_analysed(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await client.post("/v1/silences", json=silence(), headers=analyst)
    assert created.status_code == 201, created.text
    silence_id = created.json()["id"]
    assert created.json()["state"] == "active"
    assert created.json()["createdBy"] == "analyst"

    response = await client.post(INGEST, json=open_report("s-1"), headers=analyst)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "created"
    assert body["analysisId"] is None
    assert silence_id in body["message"]

    incident = (await client.get(f"/v1/incidents/{body['incidentId']}", headers=analyst)).json()
    assert incident["silenceId"] == silence_id
    assert incident["analyses"] == []
    assert "database maintenance" in incident["statusReason"]
    listed = (await client.get("/v1/incidents", headers=analyst)).json()["items"]
    assert listed[0]["silenceId"] == silence_id
    events = (
        await client.get(f"/v1/incidents/{body['incidentId']}/audit-events", headers=analyst)
    ).json()
    assert [e["eventType"] for e in events] == ["INCIDENT_CREATED", "INCIDENT_SILENCED"]
    assert events[1]["payload"]["silenceId"] == silence_id


async def test_alerts_the_matchers_do_not_cover_are_analysed_as_usual(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    await client.post(
        "/v1/silences",
        json=silence(matchers={"service": "payment-service", "labels": {"team": "db"}}),
        headers=analyst,
    )
    other_service = open_report("s-2", metadata={"service": "search"})
    no_label = open_report("s-3")
    with_label = open_report("s-4", metadata={"service": "payment-service", "tags": {"team": "db"}})
    statuses = []
    for body in (other_service, no_label, with_label):
        response = await client.post(INGEST, json=body, headers=analyst)
        statuses.append(response.json()["status"])
    assert statuses == ["analyzed", "analyzed", "created"]


async def test_an_expired_silence_no_longer_holds_alerts_back(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    silence_id = (await client.post("/v1/silences", json=silence(), headers=analyst)).json()["id"]
    expired = await client.post(f"/v1/silences/{silence_id}/expire", headers=analyst)
    assert expired.status_code == 200, expired.text
    assert expired.json()["state"] == "expired"
    assert expired.json()["expiredBy"] == "analyst"
    again = await client.delete(f"/v1/silences/{silence_id}", headers=analyst)
    assert again.status_code == 409
    response = await client.post(INGEST, json=open_report("s-5"), headers=analyst)
    assert response.json()["status"] == "analyzed"


async def test_a_silence_that_starts_later_is_pending_and_holds_nothing_back_yet(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await client.post(
        "/v1/silences", json=silence(startsAt="2098-12-31T00:00:00Z"), headers=analyst
    )
    assert created.json()["state"] == "pending"
    response = await client.post(INGEST, json=open_report("s-6"), headers=analyst)
    assert response.json()["status"] == "analyzed"


async def test_the_list_shows_live_silences_and_with_all_the_expired_too(
    client: httpx.AsyncClient, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    first = (await client.post("/v1/silences", json=silence(), headers=analyst)).json()["id"]
    second = (await client.post("/v1/silences", json=silence(), headers=analyst)).json()["id"]
    await client.post(f"/v1/silences/{first}/expire", headers=analyst)
    live = (await client.get("/v1/silences", headers=viewer)).json()["items"]
    assert [s["id"] for s in live] == [second]
    everything = (await client.get("/v1/silences?all=true", headers=viewer)).json()["items"]
    assert [s["id"] for s in everything] == [second, first]
    one = await client.get(f"/v1/silences/{first}", headers=viewer)
    assert one.json()["state"] == "expired"
    assert (await client.get("/v1/silences/nope", headers=viewer)).status_code == 404


async def test_creating_and_expiring_silences_is_for_analysts_and_audited(
    client: httpx.AsyncClient,
    analyst: dict[str, str],
    viewer: dict[str, str],
    admin: dict[str, str],
) -> None:
    assert (await client.post("/v1/silences", json=silence(), headers=viewer)).status_code == 403
    silence_id = (await client.post("/v1/silences", json=silence(), headers=analyst)).json()["id"]
    denied = await client.post(f"/v1/silences/{silence_id}/expire", headers=viewer)
    assert denied.status_code == 403
    await client.post(f"/v1/silences/{silence_id}/expire", headers=analyst)
    events = (await client.get("/v1/audit-events?entityType=SILENCE", headers=admin)).json()[
        "items"
    ]
    assert [e["eventType"] for e in events] == ["SILENCE_EXPIRED", "SILENCE_CREATED"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (silence(matchers={}), "matchers"),
        (silence(matchers={"service": ""}), "matchers.service"),
        (silence(matchers={"source": "NAGIOS"}), "matchers.source"),
        (silence(matchers={"host": "db-1"}), "matchers.host"),
        (silence(endsAt="2020-01-01T00:00:00Z"), "endsAt"),
        (silence(startsAt="2099-06-01T00:00:00Z"), "endsAt"),
        (silence(endsAt="tomorrow"), "endsAt"),
        (silence(comment=""), "comment"),
        ({"matchers": {"service": "x"}, "endsAt": LATER}, "comment"),
        (silence(extra=1), "extra"),
    ],
)
async def test_a_bad_silence_is_a_400_naming_the_field(
    client: httpx.AsyncClient, analyst: dict[str, str], body: dict[str, Any], path: str
) -> None:
    response = await client.post("/v1/silences", json=body, headers=analyst)
    assert response.status_code == 400, response.text
    assert path in [error["path"] for error in response.json()["errors"]]


async def test_a_vendor_alert_matching_a_silence_by_source_is_silenced(
    hooks: Hooks, mint: Any
) -> None:
    from chronosops.auth import Role
    from tests.fixtures.app import bearer

    analyst = bearer(mint(Role.ANALYST, sub="analyst"))
    await hooks.http.post(
        "/v1/silences",
        json={"matchers": {"source": "OPSGENIE"}, "endsAt": LATER, "comment": "Opsgenie test"},
        headers=analyst,
    )
    response = await hooks.post("opsgenie", load("opsgenie", "create"))
    assert response.status_code == 201, response.text
    event = response.json()["events"][0]
    assert event["status"] == "created"
    assert "Silenced by silence" in event["message"]


async def test_a_silenced_alert_keeps_none_of_the_evidence_analysed_ahead_of_its_transaction(
    client: httpx.AsyncClient, analyst: dict[str, str], services: Services
) -> None:
    # Example 2 carries evidence, so it is analysed before its transaction; on PostgreSQL its
    # bundle goes out with the incident's insert, before the silence is matched.
    matchers = {"service": "database-service", "environment": "production"}
    created = await client.post("/v1/silences", json=silence(matchers=matchers), headers=analyst)
    assert created.status_code == 201, created.text

    response = await client.post(
        INGEST, json={**example("example_2_with_evidence"), "sourceRef": "s-2"}, headers=analyst
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "created"
    assert body["evidenceBundleId"] is None
    async with services.database.unit_of_work(write=False) as session:
        links = await session.scalar(select(func.count()).select_from(IncidentEvidence))
        bundles = await session.scalar(select(func.count()).select_from(EvidenceBundle))
    assert (links, bundles) == (0, 0)
    events = (
        await client.get(f"/v1/incidents/{body['incidentId']}/audit-events", headers=analyst)
    ).json()
    assert [e["eventType"] for e in events] == ["INCIDENT_CREATED", "INCIDENT_SILENCED"]
