"""Who may do what: the role matrix, token failures as 401, rate limits, the body limit."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import jwt
import pytest

from chronosops.auth import Role
from tests.auth.jwks_server import AUDIENCE, ISSUER, identity_provider
from tests.fixtures.app import TEST_SECRET, ClientFactory, TokenFactory, bearer
from tests.fixtures.guide import request

INGEST = "/v1/incidents/ingest"
HOUR = timedelta(hours=1)


async def test_reading_without_a_token_is_401_with_a_bearer_challenge(
    client: httpx.AsyncClient,
) -> None:
    for method, path in (
        ("GET", "/v1/incidents"),
        ("POST", INGEST),
        ("GET", "/v1/analyses/anl-x"),
        ("GET", "/v1/evidence-bundles/bundle-x"),
        ("GET", "/v1/auth/whoami"),
    ):
        response = await client.request(method, path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["message"].startswith("Missing bearer token")


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-jwt", "Token abc"],
)
async def test_malformed_authorization_headers_are_401(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.get("/v1/incidents", headers={"Authorization": header})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": -30}, "token expired"),
        ({"nbf": 600}, "token not yet valid"),
        ({"aud": "elsewhere"}, "audience does not match"),
        ({"iss": "elsewhere"}, "issuer does not match"),
    ],
)
async def test_invalid_local_tokens_are_401(
    client: httpx.AsyncClient, claims: dict[str, object], message: str
) -> None:
    now = int(time.time())
    payload: dict[str, object] = {
        "iss": "chronosops",
        "aud": "chronosops",
        "sub": "x",
        "roles": ["CHRONOSOPS_ADMIN"],
        "exp": now + 60,
        "nbf": now,
    }
    for key, value in claims.items():
        payload[key] = now + value if isinstance(value, int) else value
    token = jwt.encode(payload, TEST_SECRET, algorithm="HS256")
    response = await client.get("/v1/incidents", headers=bearer(token))
    assert response.status_code == 401
    assert message in response.json()["message"]


async def test_a_token_signed_with_another_secret_is_401(client: httpx.AsyncClient) -> None:
    token = jwt.encode(
        {"iss": "chronosops", "aud": "chronosops", "sub": "x", "exp": int(time.time()) + 60},
        "a-different-secret-0123456789abcdef0123",
        algorithm="HS256",
    )
    assert (await client.get("/v1/incidents", headers=bearer(token))).status_code == 401


async def test_alg_none_is_401(client: httpx.AsyncClient) -> None:
    token = jwt.encode({"sub": "x", "roles": ["CHRONOSOPS_ADMIN"]}, key="", algorithm="none")
    assert (await client.get("/v1/incidents", headers=bearer(token))).status_code == 401


@pytest.mark.parametrize(
    ("roles", "read", "ingest"),
    [
        ((), 403, 403),
        ((Role.VIEWER,), 200, 403),
        ((Role.ANALYST,), 200, 201),
        ((Role.ADMIN,), 200, 201),
    ],
)
async def test_the_role_matrix(
    client: httpx.AsyncClient, mint: TokenFactory, roles: tuple[Role, ...], read: int, ingest: int
) -> None:
    headers = bearer(mint(*roles))
    assert (await client.get("/v1/incidents", headers=headers)).status_code == read
    response = await client.post(INGEST, json=request(), headers=headers)
    assert response.status_code == ingest
    if ingest == 403:
        assert response.json() == {
            "message": "Forbidden: missing required role",
            "code": "forbidden",
            "requiredRoles": ["CHRONOSOPS_ANALYST", "CHRONOSOPS_ADMIN"],
        }


async def test_whoami_needs_only_a_valid_token(
    client: httpx.AsyncClient, mint: TokenFactory
) -> None:
    response = await client.get("/v1/auth/whoami", headers=bearer(mint(sub="nobody")))
    assert response.status_code == 200
    assert response.json()["user"]["sub"] == "nobody"
    assert response.json()["user"]["roles"] == []


async def test_only_admins_see_the_raw_source_payload(
    client: httpx.AsyncClient,
    analyst: dict[str, str],
    viewer: dict[str, str],
    admin: dict[str, str],
) -> None:
    body = request(sourcePayload={"raw": "vendor data", "apiKey": "k-123"})
    incident_id = (await client.post(INGEST, json=body, headers=analyst)).json()["incidentId"]
    for headers in (viewer, analyst):
        detail = (await client.get(f"/v1/incidents/{incident_id}", headers=headers)).json()
        assert "sourcePayload" not in detail
    detail = (await client.get(f"/v1/incidents/{incident_id}", headers=admin)).json()
    assert detail["sourcePayload"] == {"raw": "vendor data", "apiKey": "k-123"}


async def test_oidc_tokens_work_end_to_end(client_with: ClientFactory) -> None:
    with identity_provider() as idp:
        client, _ = await client_with(
            oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_url=idp.jwks_url
        )
        analyst = idp.token(extra={"realm_access": {"roles": ["CHRONOSOPS_ANALYST"]}})
        response = await client.post(INGEST, json=request(), headers=bearer(analyst))
        assert response.status_code == 201
        viewer = idp.token(
            alg="ES256", extra={"resource_access": {AUDIENCE: {"roles": ["CHRONOSOPS_VIEWER"]}}}
        )
        assert (
            await client.post(INGEST, json=request(), headers=bearer(viewer))
        ).status_code == 403
        assert (await client.get("/v1/incidents", headers=bearer(viewer))).status_code == 200
        wrong_audience = idp.token(audience="other", extra={"roles": ["CHRONOSOPS_ADMIN"]})
        assert (
            await client.get("/v1/incidents", headers=bearer(wrong_audience))
        ).status_code == 401


async def test_rate_limits_answer_429_with_retry_after_and_the_limit(
    client_with: ClientFactory,
) -> None:
    client, services = await client_with(rate_limit_ingest="3/minute", rate_limit_read="100/minute")
    assert services.issuer is not None
    alice = bearer(services.issuer.mint(subject="alice", roles=[Role.ANALYST], ttl=HOUR))
    bob = bearer(services.issuer.mint(subject="bob", roles=[Role.ANALYST], ttl=HOUR))
    statuses = [
        (await client.post(INGEST, json=request(sourceRef=f"r-{i}"), headers=alice)).status_code
        for i in range(4)
    ]
    assert statuses == [201, 201, 201, 429]
    limited = await client.post(INGEST, json=request(sourceRef="r-9"), headers=alice)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["limit"] == "ingest: 3 per 1 minute"
    assert "ingest" in limited.json()["message"]
    # Limits are per principal, and reading has its own bucket.
    assert (
        await client.post(INGEST, json=request(sourceRef="b-1"), headers=bob)
    ).status_code == 201
    assert (await client.get("/v1/incidents", headers=alice)).status_code == 200


async def test_bodies_over_the_limit_are_413_and_store_nothing(client_with: ClientFactory) -> None:
    client, services = await client_with(max_body_bytes=1024, max_ingest_body_bytes=2048)
    assert services.issuer is not None
    headers = bearer(services.issuer.mint(subject="a", roles=[Role.ANALYST], ttl=HOUR))
    big = request(description="d" * 4000)
    response = await client.post(INGEST, json=big, headers=headers)
    assert response.status_code == 413
    assert "2048-byte limit" in response.json()["message"]

    async def chunks():  # no Content-Length: the limit must hold while streaming too
        for _ in range(10):
            yield b" " * 512

    streamed = await client.post(
        INGEST, content=chunks(), headers={**headers, "Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    listing = await client.get(
        "/v1/incidents",
        headers=bearer(services.issuer.mint(subject="v", roles=[Role.VIEWER], ttl=HOUR)),
    )
    assert listing.json()["items"] == []


async def test_the_ingest_route_takes_larger_bodies_than_the_others(
    client_with: ClientFactory,
) -> None:
    client, services = await client_with(max_body_bytes=2048, max_ingest_body_bytes=16384)
    assert services.issuer is not None
    headers = bearer(services.issuer.mint(subject="a", roles=[Role.ANALYST], ttl=HOUR))
    line = {"message": "payment declined by provider", "timestamp": "2024-01-15T10:00:00Z"}
    evidence_sized = request(evidenceLite={"logs": [line] * 100})
    assert len(json.dumps(evidence_sized)) > 4000
    assert (await client.post(INGEST, json=evidence_sized, headers=headers)).status_code == 201
    elsewhere = await client.post(
        "/v1/incidents/inc-x/reanalyze", json={"note": "d" * 6000}, headers=headers
    )
    assert elsewhere.status_code == 413
    assert "CHRONOSOPS_MAX_BODY_BYTES" in elsewhere.json()["message"]
