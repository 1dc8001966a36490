"""Public probes (health, readiness, version), the caller's identity, and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chronosops import __version__, migrations
from chronosops.analysis import ENGINE_VERSION
from chronosops.core.timestamps import format_instant
from chronosops.web.deps import AnyToken, ServicesDep

router = APIRouter(tags=["system"])

SERVICE = "chronosops-api"


@router.get("/v1/health", summary="Liveness: the process answers (and whether the DB does)")
async def health(services: ServicesDep) -> dict[str, Any]:
    database_ok = await services.database.ping()
    return {
        "ok": True,
        "service": SERVICE,
        "database": "connected" if database_ok else "disconnected",
        "time": format_instant(services.clock.now()),
    }


@router.get(
    "/v1/ready",
    summary="Readiness: database reachable and migrated (503 otherwise)",
    responses={503: {"description": "not ready; the body says why"}},
)
async def ready(services: ServicesDep) -> JSONResponse:
    database_ok = await services.database.ping()
    migrated = database_ok and await asyncio.to_thread(
        migrations.is_up_to_date, services.settings.database_url
    )
    is_ready = database_ok and migrated
    body = {
        "ready": is_ready,
        "service": SERVICE,
        "database": "connected" if database_ok else "disconnected",
        "migrations": "applied" if migrated else "pending",
        "time": format_instant(services.clock.now()),
    }
    if database_ok and not migrated:
        body["hint"] = "run `chronosops db upgrade`"
    return JSONResponse(body, status_code=200 if is_ready else 503)


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
