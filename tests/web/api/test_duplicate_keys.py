"""A JSON body naming a key twice is refused (400, naming the key) at every door, never merged."""

from __future__ import annotations

import json
from collections.abc import Mapping

import httpx

from tests.fixtures.guide import request
from tests.fixtures.webhooks import Hooks

JSON = {"Content-Type": "application/json"}


def with_duplicate(document: Mapping[str, object], key: str, first: object) -> bytes:
    """``document`` encoded with ``key`` written twice: ``first``, then its real value."""
    text = json.dumps(document)
    return text.replace("{", "{" + json.dumps(key) + ": " + json.dumps(first) + ", ", 1).encode()


def names(response: httpx.Response, key: str) -> bool:
    body = response.json()
    return key in body["message"] and [e["path"] for e in body["errors"]] == [key]


async def test_ingest_refuses_a_duplicate_key(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    raw = with_duplicate(request(), "sourceRef", "someone-else")
    response = await client.post("/v1/incidents/ingest", content=raw, headers={**analyst, **JSON})
    assert response.status_code == 400
    assert names(response, "sourceRef")
    listed = (await client.get("/v1/incidents", headers=analyst)).json()
    assert listed["items"] == []


async def test_ingest_refuses_a_duplicate_key_in_a_nested_object(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    raw = json.dumps(request()).replace(
        '"start": ', '"start": "2020-01-01T00:00:00Z", "start": ', 1
    )
    response = await client.post(
        "/v1/incidents/ingest", content=raw.encode(), headers={**analyst, **JSON}
    )
    assert response.status_code == 400
    assert names(response, "start")


async def test_changes_refuse_a_duplicate_key(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    change = {
        "changeId": "gh-1",
        "type": "deploy",
        "service": "checkout-api",
        "summary": "ship",
        "timestamp": "2024-01-15T09:55:00Z",
    }
    raw = with_duplicate(change, "service", "payments")
    response = await client.post("/v1/changes", content=raw, headers={**analyst, **JSON})
    assert response.status_code == 400
    assert names(response, "service")


async def test_webhooks_refuse_a_duplicate_key(hooks: Hooks) -> None:
    alert = {
        "version": "4",
        "status": "firing",
        "receiver": "chronosops",
        "groupKey": "{}:{alertname=HighLatency}",
        "alerts": [],
    }
    raw = with_duplicate(alert, "status", "resolved")
    response = await hooks.post("alertmanager", raw)
    assert response.status_code == 400
    assert names(response, "status")


async def test_the_same_key_in_different_objects_is_fine(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    body = request(metadata={"service": "api", "customFields": {"service": "also-api"}})
    response = await client.post("/v1/incidents/ingest", json=body, headers=analyst)
    assert response.status_code == 201, response.text
