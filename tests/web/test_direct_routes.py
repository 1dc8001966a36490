"""The ingest route served ahead of FastAPI's router: the same checks, the same answers."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from chronosops.web.api import incidents
from chronosops.web.deps import analyst as analyst_check
from chronosops.web.direct_routes import DirectRoutes, serve_directly
from chronosops.web.parameters import storable_parameters
from tests.fixtures.guide import example, request

INGEST = "/v1/incidents/ingest"


def tiny_app() -> FastAPI:
    """A route whose FastAPI endpoint and direct handler answer differently."""
    app = FastAPI()
    router = APIRouter()

    @router.post("/thing")
    async def thing() -> dict[str, str]:
        return {"by": "router"}

    app.include_router(router)

    async def directly(_request: Request) -> JSONResponse:
        return JSONResponse({"by": "direct"})

    serve_directly(app, router, "POST", "/thing", directly)
    return app


async def test_the_exact_method_and_path_go_to_the_handler_and_the_rest_to_the_router() -> None:
    app = tiny_app()
    assert isinstance(app.router.middleware_stack, DirectRoutes)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        assert (await client.post("/thing")).json() == {"by": "direct"}
        assert (await client.get("/thing")).status_code == 405
        assert (await client.post("/other")).status_code == 404


def test_a_route_the_router_does_not_hold_cannot_be_served_directly() -> None:
    async def directly(_request: Request) -> JSONResponse:
        return JSONResponse({})

    with pytest.raises(ValueError, match="/missing"):
        serve_directly(FastAPI(), APIRouter(), "POST", "/missing", directly)


async def test_a_direct_ingest_answers_with_the_guides_status_body_and_headers(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    sync = await client.post(INGEST, json=example("example_2_with_evidence"), headers=analyst)
    queued = await client.post(
        INGEST,
        json=request(sourceRef="direct-async"),
        headers={**analyst, "Prefer": "respond-async", "X-Request-Id": "direct-1"},
    )

    assert sync.status_code == 201
    assert sync.json()["status"] == "analyzed"
    assert queued.status_code == 202
    assert queued.headers["location"] == f"/v1/incidents/{queued.json()['incidentId']}"
    assert queued.headers["preference-applied"] == "respond-async"
    assert queued.headers["x-request-id"] == "direct-1"
    assert queued.headers["x-content-type-options"] == "nosniff"
    assert queued.headers["cache-control"] == "no-store"


async def test_a_direct_ingest_keeps_the_checks_in_fastapis_order(
    client: httpx.AsyncClient, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    body = request(sourceRef="direct-checks")

    unauthenticated = await client.post(INGEST, json=body)
    viewer_only = await client.post(INGEST, json=body, headers=viewer)
    # The app-wide parameter check runs before the caller's, as FastAPI runs it.
    nul_before_auth = await client.post(f"{INGEST}?x=%00", json=body)
    not_json = await client.post(
        INGEST, content=b"{}", headers={**analyst, "Content-Type": "text/plain"}
    )

    assert unauthenticated.status_code == 401
    assert viewer_only.status_code == 403
    assert nul_before_auth.status_code == 400
    assert nul_before_auth.json()["errors"][0]["path"] == "x"
    assert not_json.status_code == 415


async def test_a_direct_ingest_is_counted_under_its_route_template(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    await client.post(
        INGEST,
        json=request(sourceRef="direct-metrics"),
        headers={**analyst, "Prefer": "respond-async"},
    )
    metrics = (await client.get("/metrics")).text
    assert (
        'chronosops_http_requests_total{method="POST",route="/v1/incidents/ingest",status="202"} 1.0'
        in metrics
    )


async def test_other_methods_and_a_trailing_slash_are_still_the_routers(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    read = await client.get(INGEST, headers=analyst)
    slash = await client.post(INGEST + "/", json={}, headers=analyst)

    # As before: a GET is the incident route's (an incident named "ingest" does not exist).
    assert read.status_code == 404
    assert read.json()["code"] == "incident-not-found"
    # The direct path would have answered the empty body with a 400.
    assert slash.status_code in (307, 404, 405)


def test_the_direct_ingest_runs_every_check_its_fastapi_route_declares(app: FastAPI) -> None:
    # A dependency added to the route or to the app must be added to `ingest_directly` too:
    # this names the ones it runs, and fails when the declared set grows.
    route = next(r for r in incidents.router.routes if isinstance(r, APIRoute) and r.path == INGEST)
    assert [d.call for d in route.dependant.dependencies] == [analyst_check]
    assert [d.dependency for d in app.router.dependencies] == [storable_parameters]
