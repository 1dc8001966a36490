"""The whole audit chain: listed newest first for admins, and verified end to end."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text, update

from chronosops.audit.schemas import hash_input
from chronosops.bootstrap import Services, metadata
from chronosops.core.canonical import content_hash
from chronosops.core.timestamps import parse_instant
from tests.fixtures.guide import request
from tests.web.api.test_changes import CHANGES, change

INGEST = "/v1/incidents/ingest"
EVENTS = "/v1/audit-events"
VERIFY = "/v1/audit/verify"


async def some_history(client: httpx.AsyncClient, analyst: dict[str, str]) -> list[str]:
    """Two incidents and a recorded deploy, interleaved in the chain; the incident ids."""
    first = await client.post(INGEST, json=request(sourceRef="a-1"), headers=analyst)
    recorded = await client.post(CHANGES, json=change(), headers=analyst)
    second = await client.post(INGEST, json=request(sourceRef="a-2"), headers=analyst)
    assert (first.status_code, recorded.status_code, second.status_code) == (201, 201, 201)
    return [first.json()["incidentId"], second.json()["incidentId"]]


async def chain(client: httpx.AsyncClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get(EVENTS, params={"limit": 200}, headers=admin)
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def verify(client: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, Any]:
    response = await client.get(VERIFY, headers=admin)
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


async def test_admins_read_every_event_of_the_chain_newest_first(
    client: httpx.AsyncClient, analyst: dict[str, str], admin: dict[str, str]
) -> None:
    await some_history(client, analyst)
    events = await chain(client, admin)
    assert [e["seq"] for e in events] == list(range(len(events), 0, -1))
    assert "CHANGE_RECORDED" in {e["eventType"] for e in events}
    assert None in {e["incidentId"] for e in events}  # the deploy concerns no incident


async def test_the_list_filters_by_type_actor_and_incident(
    client: httpx.AsyncClient, analyst: dict[str, str], admin: dict[str, str]
) -> None:
    incidents = await some_history(client, analyst)
    by_type = await client.get(EVENTS, params={"eventType": "CHANGE_RECORDED"}, headers=admin)
    assert [e["eventType"] for e in by_type.json()["items"]] == ["CHANGE_RECORDED"]
    by_incident = await client.get(EVENTS, params={"incidentId": incidents[0]}, headers=admin)
    assert {e["incidentId"] for e in by_incident.json()["items"]} == {incidents[0]}
    by_actor = await client.get(EVENTS, params={"actor": "nobody"}, headers=admin)
    assert by_actor.json()["items"] == []


async def test_the_cursor_walks_the_chain_without_gaps_or_repeats(
    client: httpx.AsyncClient, analyst: dict[str, str], admin: dict[str, str]
) -> None:
    await some_history(client, analyst)
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(EVENTS, params=params, headers=admin)).json()
        seen += [e["seq"] for e in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [e["seq"] for e in await chain(client, admin)]


@pytest.mark.parametrize("cursor", ["abc", "-1", "9" * 40])
async def test_a_cursor_this_api_did_not_give_is_a_400_naming_it(
    client: httpx.AsyncClient, admin: dict[str, str], cursor: str
) -> None:
    response = await client.get(EVENTS, params={"cursor": cursor}, headers=admin)
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "cursor"


@pytest.mark.parametrize("path", [EVENTS, VERIFY])
async def test_only_admins_read_the_whole_chain(
    client: httpx.AsyncClient, analyst: dict[str, str], path: str
) -> None:
    response = await client.get(path, headers=analyst)
    assert response.status_code == 403
    assert response.json()["requiredRoles"] == ["CHRONOSOPS_ADMIN"]
    assert (await client.get(path)).status_code == 401


async def test_an_untouched_chain_verifies_to_its_head(
    client: httpx.AsyncClient, analyst: dict[str, str], admin: dict[str, str]
) -> None:
    await some_history(client, analyst)
    events = await chain(client, admin)
    result = await verify(client, admin)
    assert (result["ok"], result["status"]) == (True, "VERIFIED")
    assert result["verifiedCount"] == result["totalEvents"] == len(events)
    assert (result["headSeq"], result["headHash"]) == (events[0]["seq"], events[0]["hash"])


async def test_an_edited_event_outside_any_incident_is_caught_by_the_chain(
    client: httpx.AsyncClient, analyst: dict[str, str], admin: dict[str, str], services: Services
) -> None:
    await some_history(client, analyst)
    target = next(e for e in await chain(client, admin) if e["eventType"] == "CHANGE_RECORDED")
    table = metadata.tables["audit_event"]
    async with services.database.unit_of_work() as session:
        await session.execute(
            update(table)
            .where(table.c.id == target["id"])
            .values(payload={**target["payload"], "versionTo": "9.9.9"})
        )
    result = await verify(client, admin)
    assert result["ok"] is False
    assert result["verifiedCount"] == target["seq"] - 1
    assert result["firstFailure"]["eventId"] == target["id"]
    assert "hash mismatch" in result["firstFailure"]["reason"]


async def test_an_edit_whose_hash_was_recomputed_breaks_the_next_link(
    client: httpx.AsyncClient, analyst: dict[str, str], admin: dict[str, str], services: Services
) -> None:
    await some_history(client, analyst)
    events = list(reversed(await chain(client, admin)))
    target = events[1]
    forged = {**target, "actor": "someone-else"}
    new_hash = content_hash(
        hash_input(
            chain_id=forged["chainId"],
            seq=forged["seq"],
            prev_hash=forged["prevHash"],
            incident_id=forged["incidentId"],
            incident_seq=forged["incidentSeq"],
            incident_prev_hash=forged["incidentPrevHash"],
            event_type=forged["eventType"],
            entity_type=forged["entityType"],
            entity_id=forged["entityId"],
            entity_ref=forged["entityRef"],
            actor=forged["actor"],
            occurred_at=parse_instant(forged["occurredAt"]),
            payload=forged["payload"],
        )
    )
    table = metadata.tables["audit_event"]
    async with services.database.unit_of_work() as session:
        await session.execute(
            update(table)
            .where(table.c.id == target["id"])
            .values(actor="someone-else", hash=new_hash)
        )
    result = await verify(client, admin)
    assert result["ok"] is False
    assert result["firstFailure"]["seq"] == events[2]["seq"]
    assert "link broken" in result["firstFailure"]["reason"]


async def test_a_deleted_event_shows_as_a_gap_in_the_sequence(
    client: httpx.AsyncClient, analyst: dict[str, str], admin: dict[str, str], services: Services
) -> None:
    await some_history(client, analyst)
    events = list(reversed(await chain(client, admin)))
    async with services.database.unit_of_work() as session:
        await session.execute(
            text("DELETE FROM audit_event WHERE id = :id").bindparams(id=events[3]["id"])
        )
    result = await verify(client, admin)
    assert result["ok"] is False
    assert result["verifiedCount"] == 3
    assert result["firstFailure"]["seq"] == events[4]["seq"]
    assert "missing" in result["firstFailure"]["reason"]
