"""Changes over HTTP: CI/CD records them once per changeId, responders list and filter them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from chronosops.audit.repository import AuditRepository

CHANGES = "/v1/changes"


def change(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "changeId": "gh-deploy-4711",
        "type": "deploy",
        "service": "checkout-api",
        "environment": "production",
        "versionFrom": "1.8.2",
        "versionTo": "1.8.3",
        "summary": "Order history: load recent orders with the new sort",
        "author": "maria.chen",
        "link": "https://github.com/acme/checkout/releases/tag/v1.8.3",
        "timestamp": "2024-01-15T09:55:00Z",
        "metadata": {"commit": "9f1c2ab", "pipeline": "deploy-prod"},
    }
    for key, value in fields.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return body


async def test_a_change_is_recorded_and_reads_back(
    client: httpx.AsyncClient, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    response = await client.post(CHANGES, json=change(), headers=analyst)
    assert response.status_code == 201, response.text
    recorded = response.json()
    assert recorded["changeId"] == "gh-deploy-4711"
    assert recorded["type"] == "deploy"
    assert recorded["timestamp"] == "2024-01-15T09:55:00.000Z"
    assert recorded["metadata"] == {"commit": "9f1c2ab", "pipeline": "deploy-prod"}
    assert recorded["createdBy"] == "analyst"

    listed = (await client.get(CHANGES, headers=viewer)).json()
    assert [item["id"] for item in listed["items"]] == [recorded["id"]]
    assert listed["nextCursor"] is None


async def test_a_retry_with_the_same_change_id_is_stored_once(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    first = await client.post(CHANGES, json=change(), headers=analyst)
    again = await client.post(CHANGES, json=change(), headers=analyst)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert len((await client.get(CHANGES, headers=analyst)).json()["items"]) == 1


async def test_the_same_change_id_with_other_content_is_a_conflict(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    await client.post(CHANGES, json=change(), headers=analyst)
    response = await client.post(CHANGES, json=change(versionTo="1.8.4"), headers=analyst)
    assert response.status_code == 409
    assert response.json()["code"] == "change-id-conflict"


async def test_changes_without_an_id_are_separate_records(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    for _ in range(2):
        assert (
            await client.post(CHANGES, json=change(changeId=...), headers=analyst)
        ).status_code == 201
    assert len((await client.get(CHANGES, headers=analyst)).json()["items"]) == 2


async def test_recording_a_change_is_audited(
    client: httpx.AsyncClient, services: Any, analyst: dict[str, str]
) -> None:
    recorded = (await client.post(CHANGES, json=change(), headers=analyst)).json()
    await client.post(CHANGES, json=change(), headers=analyst)  # a retry records nothing new
    async with services.database.unit_of_work(write=False) as session:
        head = await AuditRepository(session).head(services.audit.chain_id)
        assert head is not None
        seen = (head.seq, head.event_type, head.entity_id, head.entity_ref, head.actor)
    assert seen == (1, "CHANGE_RECORDED", recorded["id"], "gh-deploy-4711", "analyst")


@pytest.mark.parametrize(
    ("fields", "paths"),
    [
        ({"type": "hotfix"}, ["type"]),
        ({"service": ""}, ["service"]),
        ({"summary": ...}, ["summary"]),
        ({"timestamp": "yesterday"}, ["timestamp"]),
        ({"timestamp": "2024-01-15T09:55:00"}, ["timestamp"]),
        ({"link": "javascript:alert(1)"}, ["link"]),
        ({"changeId": "has spaces"}, ["changeId"]),
        ({"versionTo": 183}, ["versionTo"]),
        ({"colour": "red"}, ["colour"]),
    ],
)
async def test_bad_changes_are_400_naming_the_field_and_store_nothing(
    client: httpx.AsyncClient, analyst: dict[str, str], fields: dict[str, Any], paths: list[str]
) -> None:
    response = await client.post(CHANGES, json=change(**fields), headers=analyst)
    assert response.status_code == 400, response.text
    assert [e["path"] for e in response.json()["errors"]] == paths
    assert (await client.get(CHANGES, headers=analyst)).json()["items"] == []


async def test_recording_needs_an_analyst_and_listing_a_viewer(
    client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    assert (await client.post(CHANGES, json=change(), headers=viewer)).status_code == 403
    assert (await client.post(CHANGES, json=change())).status_code == 401
    assert (await client.get(CHANGES)).status_code == 401


async def test_changes_are_filtered_and_paged_newest_first(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    plan = [
        ("a", "checkout-api", "deploy", "production", "2024-01-15T09:00:00Z"),
        ("b", "checkout-api", "config", "production", "2024-01-15T09:10:00Z"),
        ("c", "payments-api", "deploy", "production", "2024-01-15T09:20:00Z"),
        ("d", "checkout-api", "deploy", "staging", "2024-01-15T09:30:00Z"),
        ("e", "checkout-api", "feature_flag", "production", "2024-01-15T09:40:00Z"),
    ]
    for change_id, service, kind, environment, at in plan:
        body = change(
            changeId=change_id, service=service, type=kind, environment=environment, timestamp=at
        )
        assert (await client.post(CHANGES, json=body, headers=analyst)).status_code == 201

    async def ids(query: str) -> list[str]:
        page = (await client.get(f"{CHANGES}?{query}", headers=analyst)).json()
        return [item["changeId"] for item in page["items"]]

    assert await ids("service=checkout-api&environment=production") == ["e", "b", "a"]
    assert await ids("type=deploy") == ["d", "c", "a"]
    assert await ids("since=2024-01-15T09:10:00Z&until=2024-01-15T09:30:00Z") == ["c", "b"]

    first = (await client.get(f"{CHANGES}?limit=2", headers=analyst)).json()
    assert [i["changeId"] for i in first["items"]] == ["e", "d"]
    second = (
        await client.get(f"{CHANGES}?limit=2&cursor={first['nextCursor']}", headers=analyst)
    ).json()
    assert [i["changeId"] for i in second["items"]] == ["c", "b"]


@pytest.mark.parametrize(
    "query", ["since=yesterday", "type=hotfix", "limit=0", "limit=201", "cursor=garbage"]
)
async def test_bad_list_queries_are_400(
    client: httpx.AsyncClient, analyst: dict[str, str], query: str
) -> None:
    response = await client.get(f"{CHANGES}?{query}", headers=analyst)
    assert response.status_code == 400
