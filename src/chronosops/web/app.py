"""The FastAPI application: routers, middleware, error handlers and the OpenAPI document."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from prometheus_client import CollectorRegistry

from chronosops import __version__
from chronosops.bootstrap import Services
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.core.timestamps import format_instant
from chronosops.web import errors, pages
from chronosops.web.api import (
    analyses,
    audit,
    changes,
    evidence,
    exports,
    incidents,
    investigations,
    jobs,
    lifecycle,
    notes,
    postmortems,
    scenarios,
    silences,
    sources,
    system,
    webhooks,
)
from chronosops.web.direct_routes import serve_directly
from chronosops.web.middleware import (
    INGEST_PATH,
    BodySizeLimitMiddleware,
    HttpMetrics,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from chronosops.web.parameters import storable_parameters
from chronosops.web.read_retries import RetryReadsOnceMiddleware

DESCRIPTION = """\
ChronosOps ingests incidents, freezes the evidence around them into content-addressed bundles
and explains the likely root cause. Every route but the probes and the vendor webhooks
(`/v1/webhooks/{source}`, which take the source's own signature or token) needs a bearer token; roles
`CHRONOSOPS_VIEWER` (read), `CHRONOSOPS_ANALYST` (also ingest), `CHRONOSOPS_ADMIN` (also raw
source payloads). Errors are `{"message", "code"}` plus `errors: [{path, message}]` for bad input.
"""


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title="ChronosOps API", version=__version__, description=DESCRIPTION, routes=app.routes
    )
    # The ingest route reads its body itself (to answer 415 and malformed JSON precisely), so
    # FastAPI cannot see the model; publish it by hand.
    request_schema = IngestIncidentRequest.model_json_schema(
        by_alias=True, ref_template="#/components/schemas/{model}"
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(request_schema.pop("$defs", {}))
    components["IngestIncidentRequest"] = request_schema
    schema["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    schema["security"] = [{"bearer": []}]
    app.openapi_schema = schema
    return schema


def create_app(services: Services, *, owns_services: bool = False) -> FastAPI:
    """The ASGI app around ``services``; closes them at shutdown when ``owns_services``."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Without a `chronosops worker` (the embedded SQLite default), this process runs the jobs.
        stop = asyncio.Event()
        # Sessions a crash left running with no job to carry them on are closed first.
        await services.investigations.recover()
        runner = (
            asyncio.create_task(services.runner.loop(stop))
            if services.settings.api_runs_jobs
            else None
        )
        try:
            yield
        finally:
            stop.set()
            if runner is not None:
                await runner
            if owns_services:
                await services.aclose()

    app = FastAPI(
        title="ChronosOps API",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        dependencies=[Depends(storable_parameters)],
    )
    registry = CollectorRegistry()
    app.state.services = services
    app.state.metrics_registry = registry
    app.state.started_at = format_instant(services.clock.now())
    for module in (
        system,
        scenarios,
        incidents,
        lifecycle,
        notes,
        evidence,
        analyses,
        changes,
        silences,
        sources,
        webhooks,
        audit,
        postmortems,
        exports,
        jobs,
        investigations,
    ):
        app.include_router(module.router)
    pages.install(app)
    errors.install(app)
    app.add_middleware(RetryReadsOnceMiddleware)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=services.settings.max_body_bytes,
        larger={INGEST_PATH: services.settings.max_ingest_body_bytes},
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestContextMiddleware, metrics=HttpMetrics(registry))
    # The hottest route skips FastAPI's router and dependency solver (same checks, same answer).
    serve_directly(app, incidents.router, "POST", INGEST_PATH, incidents.ingest_directly)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
