"""Public probes (health, readiness, version), the caller's identity, and Prometheus metrics."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chronosops import __version__, migrations
from chronosops.analysis import ENGINE_VERSION
from chronosops.core.timestamps import format_instant
from chronosops.storage import DatabaseUnavailableError
from chronosops.web.deps import AnyToken, ServicesDep

router = APIRouter(tags=["system"])
log = structlog.get_logger("chronosops.http")

SERVICE = "chronosops-api"


@router.get("/v1/health", summary="Liveness: the process answers (and whether the DB does)")
async def health(services: ServicesDep) -> dict[str, Any]:
    """Always 200 while the process runs; ``database`` says whether the database answered
    within CHRONOSOPS_DATABASE_PROBE_TIMEOUT_SECONDS, ``databaseError`` why not (without the
    driver's text, which may name hosts: that goes to the log)."""
    body: dict[str, Any] = {"ok": True, "service": SERVICE, "database": "connected"}
    try:
        await services.database.probe()
    except DatabaseUnavailableError as error:
        body.update(database="disconnected", databaseError=error.message)
        log.warning("probe.database_unavailable", detail=error.detail or error.message)
    if services.shared is not None:
        # Reported, not required: without Redis requests are served from the database.
        body["redis"] = "connected" if await services.shared.ping() else "disconnected"
    body["time"] = format_instant(services.clock.now())
    return body


@router.get(
    "/v1/ready",
    summary="Readiness: database reachable and migrated (503 otherwise)",
    responses={503: {"description": "not ready; the body says why"}},
)
async def ready(services: ServicesDep) -> JSONResponse:
    """503 within the probe timeout when the database does not answer or is not migrated."""
    body: dict[str, Any] = {"ready": False, "service": SERVICE}
    try:
        revision = await services.database.probe(migrations.revision_of)
    except DatabaseUnavailableError as error:
        body.update(
            database="disconnected",
            migrations="unknown",
            databaseError=error.message,
        )
        log.warning("probe.database_unavailable", detail=error.detail or error.message)
    else:
        migrated = revision == migrations.head_revision()
        body.update(ready=migrated, database="connected")
        body["migrations"] = "applied" if migrated else "pending"
        if not migrated:
            body["hint"] = "run `chronosops db upgrade`"
    body["time"] = format_instant(services.clock.now())
    headers = {} if body["ready"] else {"Retry-After": "5"}
    return JSONResponse(body, status_code=200 if body["ready"] else 503, headers=headers)


@router.get("/v1/version", summary="Build and engine versions")
async def version(request: Request, services: ServicesDep) -> dict[str, Any]:
    return {
        "service": SERVICE,
        "version": __version__,
        "schemaRevision": migrations.head_revision(),
        "engineVersion": ENGINE_VERSION,
        "startedAt": request.app.state.started_at,
        "time": format_instant(services.clock.now()),
    }


@router.get("/v1/auth/whoami", summary="The caller's identity and roles (any valid token)")
async def whoami(principal: AnyToken) -> dict[str, Any]:
    return {
        "authenticated": True,
        "user": {
            "sub": principal.subject,
            "email": principal.email,
            "name": principal.name,
            "roles": sorted(principal.roles),
            "issuer": principal.issuer,
        },
    }


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, services: ServicesDep) -> Response:
    """HTTP metrics (the middleware's registry) and the operator metrics (docs/operations.md)."""
    async with services.database.unit_of_work(write=False) as session:
        services.metrics.jobs_in(await services.jobs.counts(session))
    body = generate_latest(request.app.state.metrics_registry) + generate_latest(
        services.metrics.registry
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST)
