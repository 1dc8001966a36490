"""New incident: paste an ingest request and see every rule it breaks, in place.

The JSON goes through the API's own parser and validator (`web.api.incidents`) and then the
same ingest pipeline, so the console accepts and refuses exactly what the API does.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from chronosops.core.errors import FieldError, InvalidInputError
from chronosops.web.api.incidents import validate_ingest
from chronosops.web.bodies import parse_json
from chronosops.web.deps import ServicesDep
from chronosops.web.pages.rendering import render
from chronosops.web.pages.scenarios import scenario_context
from chronosops.web.pages.session import (
    AnalystAction,
    AnalystPage,
    CheckedForm,
    PageRoute,
    is_htmx,
)

log = structlog.get_logger("chronosops.console")

router = APIRouter(route_class=PageRoute)

FORM_TARGET = "ingest-form"

# The integration guide's Basic Request and Example 2, offered as starting points.
EXAMPLES: dict[str, dict[str, Any]] = {
    "basic": {
        "sourceType": "CUSTOM",
        "sourceRef": "incident-12345",
        "title": "Service outage in payment-service",
        "severity": "high",
        "timeline": {"start": "2024-01-15T10:00:00Z", "end": "2024-01-15T11:00:00Z"},
        "metadata": {
            "service": "payment-service",
            "region": "us-east-1",
            "environment": "production",
        },
    },
    "evidence": {
        "sourceType": "CUSTOM",
        "sourceRef": "incident-2024-002",
        "title": "Database connection pool exhaustion",
        "severity": "critical",
        "timeline": {"start": "2024-01-15T11:00:00Z", "end": "2024-01-15T11:15:00Z"},
        "metadata": {"service": "database-service", "environment": "production"},
        "evidenceLite": {
            "metrics": [
                {
                    "name": "connection_pool_active",
                    "value": 100,
                    "timestamp": "2024-01-15T11:00:00Z",
                    "labels": {"pool": "main"},
                }
            ],
            "logs": [
                {
                    "message": "Connection pool exhausted",
                    "level": "ERROR",
                    "timestamp": "2024-01-15T11:00:05Z",
                    "service": "database-service",
                }
            ],
        },
    },
}
EXAMPLE_LABELS = {"basic": "the guide's Basic Request", "evidence": "an example with evidence"}


def _form(
    request: Request,
    user: Any,
    *,
    payload: str,
    error: InvalidInputError | None = None,
    status_code: int = 200,
) -> Response:
    services = request.app.state.services
    context = {
        "payload": payload,
        "error": error,
        "examples": EXAMPLE_LABELS,
        **scenario_context(services),
    }
    template = (
        "new_incident/_form.html"
        if is_htmx(request) and request.headers.get("hx-target") == FORM_TARGET
        else "new_incident/page.html"
    )
    return render(request, template, context, user=user, status_code=status_code)


@router.get("/new", summary="New incident")
async def new_incident(
    request: Request,
    user: AnalystPage,
    example: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    body = EXAMPLES.get(example)
    payload = json.dumps(body, indent=2) if body else ""
    return _form(request, user, payload=payload)


@router.post("/new", summary="Ingest the pasted request")
async def submit_incident(
    request: Request, services: ServicesDep, user: AnalystAction, form: CheckedForm
) -> Response:
    payload = form.get("payload", "")
    try:
        if not payload.strip():
            raise InvalidInputError(
                "Nothing to ingest",
                [FieldError("", "paste an ingest request: one JSON object")],
            )
        ingest_request = validate_ingest(parse_json(payload.encode()))
    except InvalidInputError as error:
        # htmx swaps only 2xx answers; a plain form post gets the honest 400.
        return _form(
            request,
            user,
            payload=payload,
            error=error,
            status_code=200 if is_htmx(request) else 400,
        )
    outcome = await services.pipeline.ingest(ingest_request, principal=user.principal)
    incident_id = outcome.response.incident_id
    log.info("console.ingested", incident_id=incident_id, created=outcome.created)
    target = f"/incidents/{incident_id}?done={'created' if outcome.created else 'duplicate'}"
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
