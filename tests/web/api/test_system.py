"""Probes, version, metrics and the OpenAPI document."""

from __future__ import annotations

import asyncio
import time

import httpx

from chronosops import migrations
from chronosops.core.ingest_request import IngestIncidentRequest
from tests.fixtures.app import ClientFactory
from tests.fixtures.shared_state import SharedRedis
from tests.fixtures.silent_server import hung_database_url, silent_server


async def test_health_and_readiness_are_public(client: httpx.AsyncClient) -> None:
    health = await client.get("/v1/health")
    assert health.status_code == 200
    assert health.json()["database"] == "connected"
    ready = await client.get("/v1/ready")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True
    assert ready.json()["migrations"] == "applied"


async def test_readiness_is_503_until_the_database_is_migrated(
    client_with: ClientFactory, tmp_path: object
) -> None:
    client, _ = await client_with(database_url=f"sqlite:///{tmp_path}/empty.db")
    ready = await client.get("/v1/ready")
    assert ready.status_code == 503
    assert ready.json()["migrations"] == "pending"
    assert "chronosops db upgrade" in ready.json()["hint"]


async def test_version_names_the_build(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/version")).json()
    assert body["service"] == "chronosops-api"
    assert body["schemaRevision"] == migrations.head_revision()
    assert body["version"]


async def test_every_response_carries_a_request_id_and_security_headers(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/health", headers={"X-Request-Id": "trace-123"})
    assert response.headers["x-request-id"] == "trace-123"
    assert response.headers["x-content-type-options"] == "nosniff"
    generated = await client.get("/v1/health", headers={"X-Request-Id": "bad id\nwith newline"})
    assert generated.headers["x-request-id"] != "bad id\nwith newline"


async def test_metrics_count_requests_by_route(
    client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    await client.get("/v1/incidents", headers=viewer)
    metrics = (await client.get("/metrics")).text
    assert (
        'chronosops_http_requests_total{method="GET",route="/v1/incidents",status="200"} 1.0'
        in metrics
    )


async def test_unknown_routes_are_json_404s(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "not-found"


async def test_openapi_documents_the_ingest_contract(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    ingest = document["paths"]["/v1/incidents/ingest"]["post"]
    assert ingest["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/IngestIncidentRequest"
    }
    assert {"200", "201", "400", "401", "403", "413", "415", "422", "429"} <= set(
        ingest["responses"]
    )
    schema = document["components"]["schemas"]["IngestIncidentRequest"]
    assert set(schema["properties"]) == {
        field.alias for field in IngestIncidentRequest.model_fields.values()
    }
    assert set(schema["required"]) == {"sourceType", "sourceRef", "title", "timeline"}
    assert schema["additionalProperties"] is False
    assert schema["properties"]["title"]["maxLength"] == 500
    assert document["paths"]["/v1/incidents"]["get"]["parameters"]
    assert "/v1/evidence-bundles/{bundle_id}" in document["paths"]


async def test_readiness_answers_503_within_a_second_when_the_database_never_answers(
    client_with: ClientFactory,
) -> None:
    with silent_server() as port:
        client, _ = await client_with(database_url=hung_database_url(port))
        started = time.monotonic()
        async with asyncio.timeout(10):
            ready = await client.get("/v1/ready")
        assert time.monotonic() - started < 1.5
    assert ready.status_code == 503
    assert ready.headers["retry-after"].isdigit()
    body = ready.json()
    assert body["ready"] is False
    assert body["database"] == "disconnected"
    assert "CHRONOSOPS_DATABASE_PROBE_TIMEOUT_SECONDS" in body["databaseError"]


async def test_health_reports_a_database_that_never_answers_and_stays_live(
    client_with: ClientFactory,
) -> None:
    with silent_server() as port:
        client, _ = await client_with(database_url=hung_database_url(port))
        started = time.monotonic()
        async with asyncio.timeout(10):
            health = await client.get("/v1/health")
        assert time.monotonic() - started < 1.5
    assert health.status_code == 200
    assert health.json()["ok"] is True
    assert health.json()["database"] == "disconnected"
    assert "no answer within 1 s" in health.json()["databaseError"]


async def test_an_api_read_on_a_database_that_never_answers_is_a_503_with_retry_after(
    client_with: ClientFactory, viewer: dict[str, str]
) -> None:
    with silent_server() as port:
        client, _ = await client_with(
            database_url=hung_database_url(port), database_connect_timeout_seconds=1
        )
        async with asyncio.timeout(20):
            response = await client.get("/v1/incidents", headers=viewer)
    assert response.status_code == 503
    assert response.json()["code"] == "database-unavailable"
    assert int(response.headers["retry-after"]) >= 1


async def test_health_reports_the_shared_redis_when_one_is_configured(
    client: httpx.AsyncClient, client_with: ClientFactory, shared_redis: SharedRedis
) -> None:
    assert "redis" not in (await client.get("/v1/health")).json()
    shared, _ = await client_with(redis_url=shared_redis.url, redis_key_prefix=shared_redis.prefix)
    assert (await shared.get("/v1/health")).json()["redis"] == "connected"
    # Nothing listens on port 1: reported, and the process stays live and ready.
    gone, _ = await client_with(redis_url="redis://127.0.0.1:1/0")
    health = await gone.get("/v1/health")
    assert (health.status_code, health.json()["redis"]) == (200, "disconnected")
    assert (await gone.get("/v1/ready")).status_code == 200
