"""The ingest route's own headers (`Idempotency-Key`, `Prefer`): read and bounded as documented."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from chronosops.web.api import incidents
from tests.fixtures.guide import request

INGEST = "/v1/incidents/ingest"


@pytest.mark.parametrize("name", ["Idempotency-Key", "Prefer"])
async def test_a_header_longer_than_its_limit_is_a_400_naming_it_and_nothing_is_stored(
    client: httpx.AsyncClient, analyst: dict[str, str], name: str
) -> None:
    response = await client.post(INGEST, json=request(), headers={**analyst, name: "x" * 257})
    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid request",
        "code": "invalid-input",
        "errors": [{"path": name, "message": "String should have at most 256 characters"}],
    }
    listing = (await client.get("/v1/incidents", headers=analyst)).json()["items"]
    assert listing == []


async def test_both_headers_over_their_limits_are_named_in_one_answer(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    response = await client.post(
        INGEST,
        json=request(),
        headers={**analyst, "Idempotency-Key": "k" * 300, "Prefer": "p" * 300},
    )
    assert response.status_code == 400
    assert [e["path"] for e in response.json()["errors"]] == [
        "Idempotency-Key",
        "Prefer",
    ]


async def test_a_header_at_its_limit_is_taken(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    response = await client.post(
        INGEST,
        json=request(),
        headers={**analyst, "Idempotency-Key": "k" * 256, "Prefer": "respond-async"},
    )
    assert response.status_code == 202
    assert response.headers["Preference-Applied"] == "respond-async"


async def test_a_bad_token_is_answered_before_a_header_over_its_limit(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        INGEST,
        json=request(),
        headers={"Authorization": "Bearer nope", "Idempotency-Key": "k" * 300},
    )
    assert response.status_code == 401


def test_the_openapi_document_describes_both_headers_with_their_limits(app: FastAPI) -> None:
    parameters = app.openapi()["paths"][INGEST]["post"]["parameters"]
    assert [(p["name"], p["in"], p["schema"]["anyOf"][0]["maxLength"]) for p in parameters] == [
        ("Idempotency-Key", "header", 256),
        ("Prefer", "header", 256),
    ]


def test_the_ingest_route_leaves_fastapi_nothing_to_resolve_but_the_role_check() -> None:
    # Each declared parameter and dependency is looked up and validated per request; the
    # route reads its headers and services itself.
    (route,) = [
        r
        for r in incidents.router.routes
        if isinstance(r, APIRoute) and r.path == INGEST and "POST" in (r.methods or set())
    ]
    assert route.dependant.header_params == []
    assert len(route.dependant.dependencies) == 1
