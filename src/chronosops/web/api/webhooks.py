"""The vendors' door: ``POST /v1/webhooks/{source}``, and the deliveries it has seen.

A delivery authenticates with the source's secret or token (never a JWT), is normalised by the
source, and goes through the same pipeline as ``POST /v1/incidents/ingest``. Vendors label
their JSON in many ways, so the body is read as JSON whatever its Content-Type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from chronosops.auth import webhook_principal
from chronosops.investigation import Answer, EventResult
from chronosops.sources import registry
from chronosops.web.bodies import parse_json
from chronosops.web.deps import (
    Admin,
    ReadSession,
    ServicesDep,
    remember_incident,
    remember_principal,
)

router = APIRouter(tags=["webhooks"])

WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Matched known incidents (a repeat, a resolve), or a replayed delivery"},
    201: {"description": "At least one incident was created"},
    202: {
        "description": "Nothing changed (a resolve for an unknown reference, a note, a ping), "
        "or a large delivery stored as a job (`jobId`) that creates its incidents"
    },
    400: {"description": "Not a payload this source reads: `{message, errors: [{path, message}]}`"},
    401: {"description": "Missing or wrong signature or token"},
    404: {"description": "Unknown source, or the source is switched off (no secret or token set)"},
    413: {"description": "Body larger than CHRONOSOPS_MAX_BODY_BYTES"},
    429: {"description": "Rate limit hit for this source"},
    503: {"description": "A retry of a delivery still being processed: retry after Retry-After"},
}


@router.post(
    "/v1/webhooks/{source}",
    summary="Receive a vendor's own webhook payload (docs/sources.md)",
    responses=WEBHOOK_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"description": "the vendor's payload"}}},
        },
        "security": [],
    },
)
async def receive(source: str, request: Request, services: ServicesDep) -> JSONResponse:
    adapter = registry.get(source)
    raw = await request.body()
    parsed: list[Any] = []

    def body() -> Any:
        if not parsed:
            parsed.append(parse_json(raw))
        return parsed[0]

    method = services.webhooks.verify(
        adapter,
        headers=request.headers,
        query=request.query_params,
        raw_body=raw,
        body=body,
    )
    principal = webhook_principal(adapter.kind)
    remember_principal(request, principal)
    await services.limiter.hit("ingest", principal.subject)
    received_at = services.clock.now()
    normalization = services.intake.normalize(
        adapter, body(), headers=request.headers, received_at=received_at
    )
    # A delivery costs what it asks for: one unit per alert it carries (the first was counted
    # above, before the body was read, so that unreadable deliveries cost one too).
    await services.limiter.hit("ingest", principal.subject, cost=len(normalization.events) - 1)
    delivery = services.intake.delivery(
        adapter, normalization, headers=request.headers, raw_body=raw
    )

    async def defer(record: str | None) -> Answer:
        # Many alerts at once: the delivery is stored as a job and applied by a runner.
        job = await services.intake.defer(
            adapter,
            body(),
            headers=request.headers,
            received_at=received_at,
            principal=principal,
            delivery=record,
        )
        events = len(normalization.events)
        return Answer(
            status_code=202,
            body={
                "source": adapter.kind,
                "shape": normalization.shape,
                "deliveryId": delivery.delivery_id,
                "replayed": False,
                "jobId": job.id,
                "message": f"{events} events accepted; job {job.id} stores their incidents",
                "events": [],
                "notes": [note.to_json() for note in normalization.notes],
            },
        )

    async def apply(record: str | None) -> Answer:
        # Incidents are stored now; their evidence and analysis are left to a runner.
        results = await services.intake.apply(
            normalization, principal=principal, delivery=record, mode="background"
        )
        answer = services.intake.answer_body(
            adapter, normalization, results, delivery_id=delivery.delivery_id
        )
        return Answer(status_code=delivery_status(results), body=answer)

    large = len(normalization.events) > services.settings.webhook_job_events
    answer = await services.once.run(delivery, defer if large else apply)
    headers: dict[str, str] = {"X-ChronosOps-Authenticated-By": method}
    body_out = answer.body
    if answer.replayed:
        headers["X-ChronosOps-Replayed"] = "true"
        body_out = {**body_out, "replayed": True}
    incident_ids = [
        event["incidentId"] for event in body_out.get("events", []) if event.get("incidentId")
    ]
    if len(incident_ids) == 1:
        remember_incident(request, incident_ids[0])
    return JSONResponse(body_out, status_code=answer.status_code, headers=headers)


def delivery_status(results: Sequence[EventResult]) -> int:
    """201 when an incident was opened, 200 when one was matched, 202 when none was touched."""
    outcomes = {result.outcome for result in results}
    if "created" in outcomes:
        return 201
    if outcomes & {"joined", "updated", "unchanged", "resolved", "already-resolved"}:
        return 200
    return 202


@router.get(
    "/v1/webhooks/deliveries",
    summary="Deliveries received within the replay window, newest first, with their answers",
)
async def deliveries(
    _principal: Admin,
    services: ServicesDep,
    session: ReadSession,
    source: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    if source is not None:
        registry.get(source)
    found = await services.incidents.deliveries(session, source=source, limit=limit)
    return {"items": [delivery.model_dump(mode="json") for delivery in found]}
