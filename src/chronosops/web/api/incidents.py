"""Incidents: the ingest door of the integration guide, and reading incidents back."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from chronosops.audit import AuditEventRead, Verification
from chronosops.auth import Principal
from chronosops.bootstrap import Services
from chronosops.core.canonical import content_hash, sha256_hex
from chronosops.core.errors import FieldError, InvalidInputError, field_errors_from_pydantic
from chronosops.core.ingest_request import (
    IngestIncidentRequest,
    IngestIncidentResponse,
    Severity,
    SourceType,
)
from chronosops.core.timestamps import parse_instant
from chronosops.incidents import IncidentFilter, IncidentStatus, Lifecycle
from chronosops.investigation import (
    AnalysisMode,
    Answer,
    IdempotencyKey,
    IngestOutcome,
    reanalyze_or_queue,
)
from chronosops.web.bodies import read_json
from chronosops.web.deps import (
    Analyst,
    ReadSession,
    ServicesDep,
    Viewer,
    analyst,
    remember_incident,
)
from chronosops.web.errors import INVALID_BODY
from chronosops.web.parameters import storable_parameters

router = APIRouter(tags=["incidents"])

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid or malformed body: `{message, errors: [{path, message}]}`"},
    401: {"description": "Missing or invalid bearer token"},
    403: {"description": "Authenticated, without a required role: `{message, requiredRoles}`"},
    413: {"description": "Body larger than CHRONOSOPS_MAX_BODY_BYTES"},
    415: {"description": "Body is not application/json"},
    422: {"description": "Idempotency-Key reused with a different body"},
    429: {"description": "Rate limit hit: `Retry-After` header, `{message, limit}`"},
}


async def parse_json_body(request: Request) -> Any:
    _raw, document = await read_json(request)
    return document


def validate_ingest(body: Any) -> IngestIncidentRequest:
    if not isinstance(body, dict):
        raise InvalidInputError(INVALID_BODY, [FieldError("", "the body must be a JSON object")])
    try:
        return IngestIncidentRequest.model_validate(body)
    except ValidationError as exc:
        raise InvalidInputError(INVALID_BODY, field_errors_from_pydantic(exc.errors())) from None


def _request_hash(body: Any) -> str:
    try:
        return content_hash(body)
    except Exception:  # noqa: BLE001 — numbers outside the canonical range still need a stable key
        return sha256_hex(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


def ingest_status(outcome: IngestOutcome) -> int:
    """The guide's codes: 201 stored (and analysed), 202 stored with the work left to a runner,
    200 a duplicate of an open incident."""
    if not outcome.created:
        return 200
    return 202 if outcome.queued_job is not None else 201


# The ingest route's own headers, each at most HEADER_MAX characters.
HEADER_MAX = 256
INGEST_HEADERS = {
    "Idempotency-Key": "Same key and body: the first response again. Same key, other body: 422.",
    "Prefer": "`respond-async`: answer 202 once stored, analyse in the background",
}


def header_parameter(name: str, description: str) -> dict[str, Any]:
    """The OpenAPI parameter FastAPI publishes for ``Header(alias=name, max_length=…)``."""
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": {
            "anyOf": [{"type": "string", "maxLength": HEADER_MAX}, {"type": "null"}],
            "description": description,
            "title": name,
        },
        "description": description,
    }


def ingest_headers(request: Request) -> tuple[str | None, str | None]:
    """``Idempotency-Key`` and ``Prefer``, refused as FastAPI refuses ``Header(max_length=…)``.

    Read here rather than declared as FastAPI header parameters: FastAPI looks each one up and
    validates it through pydantic on every request (~0.1 ms of an ingest's CPU for the two),
    where a lookup and a length check say the same."""
    found: list[str | None] = []
    errors: list[dict[str, Any]] = []
    for name in INGEST_HEADERS:
        value = request.headers.get(name)
        if value is not None and len(value) > HEADER_MAX:
            errors.append(
                {
                    "type": "string_too_long",
                    "loc": ("header", name),
                    "msg": f"String should have at most {HEADER_MAX} characters",
                }
            )
        found.append(value)
    if errors:
        raise InvalidInputError("Invalid request", field_errors_from_pydantic(errors))
    idempotency_key, prefer = found
    return idempotency_key, prefer


def wants_async(prefer: str | None) -> bool:
    """``Prefer: respond-async`` (RFC 7240), among other preferences or alone."""
    if not prefer:
        return False
    return any(
        part.split("=", 1)[0].strip().lower() == "respond-async"
        for token in prefer.split(",")
        for part in token.split(";")[:1]
    )


# What `JSONResponse.render` writes, with the encoder made once: `json.dumps` with its
# arguments builds one on every call (~8 µs of an ingest's answer, docs/benchmarks.md,
# nineteenth pass).
_ANSWER_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


class IngestAnswer(JSONResponse):
    def render(self, content: Any) -> bytes:
        return _ANSWER_ENCODER.encode(content).encode("utf-8")


def _response(
    status: int, body: dict[str, Any], *, replayed: bool = False, asked_async: bool = False
) -> JSONResponse:
    headers: dict[str, str] = {}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    if status == 202 and body.get("incidentId"):
        headers["Location"] = f"/v1/incidents/{body['incidentId']}"
        if asked_async:
            headers["Preference-Applied"] = "respond-async"
    return IngestAnswer(body, status_code=status, headers=headers or None)


async def ingest_with_key(
    services: Services,
    request: IngestIncidentRequest,
    *,
    principal: Principal,
    key: str | None,
    request_hash: str | None,
    mode: AnalysisMode = "auto",
) -> JSONResponse:
    """Ingest, honouring an Idempotency-Key: the first response is stored and replayed.

    ``request_hash``: the body's hash, which a key is checked against (None without a key)."""
    asked_async = mode == "background"

    async def work(_record: str | None) -> Answer:
        outcome = await services.pipeline.ingest(request, principal=principal, mode=mode)
        return Answer(ingest_status(outcome), outcome.response.model_dump(mode="json"))

    if key is None:
        answer = await work(None)
    else:
        assert request_hash is not None, "a key is checked against the body's hash"
        claim = IdempotencyKey(subject=principal.subject, key=key, request_hash=request_hash)
        answer = await services.once.run(claim, work)
    return _response(
        answer.status_code, answer.body, replayed=answer.replayed, asked_async=asked_async
    )


@router.post(
    "/v1/incidents/ingest",
    summary="Ingest one incident (the integration guide's generic API)",
    status_code=201,
    response_model=IngestIncidentResponse,
    responses={
        200: {"model": IngestIncidentResponse, "description": "Duplicate of an open incident"},
        201: {"model": IngestIncidentResponse, "description": "Incident stored (and analysed)"},
        202: {
            "model": IngestIncidentResponse,
            "description": "Incident stored; evidence collection and analysis follow in the "
            "background (`Location` names the incident). Answered when collection is needed "
            "or the client sends `Prefer: respond-async`",
        },
        **ERROR_RESPONSES,
    },
    openapi_extra={
        "parameters": [header_parameter(name, about) for name, about in INGEST_HEADERS.items()],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/IngestIncidentRequest"}
                }
            },
        },
    },
)
async def ingest(request: Request, principal: Analyst) -> JSONResponse:
    return await answer_ingest(request, principal)


async def answer_ingest(request: Request, principal: Principal) -> JSONResponse:
    """The ingest route's work once its caller is known: served by the FastAPI route above and,
    for an exact ``POST /v1/incidents/ingest``, by `web.direct_routes`."""
    services: Services = request.app.state.services
    idempotency_key, prefer = ingest_headers(request)
    body = await parse_json_body(request)
    ingest_request = validate_ingest(body)
    response = await ingest_with_key(
        services,
        ingest_request,
        principal=principal,
        key=idempotency_key,
        # Hashed only for a key to check it against: canonical JSON of the whole body is not free.
        request_hash=_request_hash(body) if idempotency_key is not None else None,
        mode="background" if wants_async(prefer) else "auto",
    )
    return response


async def ingest_directly(request: Request) -> JSONResponse:
    """The ingest route with the checks FastAPI runs before it, in its order (the app-wide
    parameter check, then the analyst's): for `web.direct_routes`."""
    if request.scope.get("query_string"):
        # The route has no path parameters (`direct_routes` matches its exact path): without a
        # query string there is nothing for the check to read, and building an empty
        # `QueryParams` for it cost ~1% of a `respond-async` ingest's CPU.
        await storable_parameters(request)
    return await answer_ingest(request, await analyst(request))


def query_instant(name: str, text: str | None) -> Any:
    """A query parameter's instant, or a 400 naming the parameter."""
    if text is None:
        return None
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise InvalidInputError("Invalid query", [FieldError(name, str(exc))]) from None


@router.get("/v1/incidents", summary="List incidents, newest first, with filters and a cursor")
async def list_incidents(
    _principal: Viewer,
    services: ServicesDep,
    session: ReadSession,
    source_type: Annotated[SourceType | None, Query(alias="sourceType")] = None,
    severity: Annotated[Severity | None, Query()] = None,
    status: Annotated[IncidentStatus | None, Query()] = None,
    service: Annotated[str | None, Query(max_length=256)] = None,
    started_after: Annotated[
        str | None, Query(alias="startedAfter", description="ISO 8601, inclusive")
    ] = None,
    started_before: Annotated[
        str | None, Query(alias="startedBefore", description="ISO 8601, exclusive")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="title contains (case-insensitive)")
    ] = None,
    resolved: Annotated[bool | None, Query()] = None,
    lifecycle: Annotated[
        Lifecycle | None, Query(description="triggered, acknowledged or resolved")
    ] = None,
    assignee: Annotated[
        str | None,
        Query(max_length=256, description="exactly this assignee; `-` for unassigned ones"),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    filters = IncidentFilter(
        source_type=source_type,
        severity=severity,
        status=status,
        service=service,
        started_after=query_instant("startedAfter", started_after),
        started_before=query_instant("startedBefore", started_before),
        title_contains=q or None,
        resolved=resolved,
        lifecycle=lifecycle,
        assignee=assignee if assignee != "-" else None,
        unassigned=assignee == "-",
    )
    page = await services.incidents.list(session, filters, cursor=cursor, limit=limit)
    return {
        "items": [item.model_dump(mode="json") for item in page.items],
        "nextCursor": page.next_cursor,
    }


@router.get(
    "/v1/incidents/{incident_id}", summary="One incident with its evidence and latest analysis"
)
async def get_incident(
    incident_id: str,
    request: Request,
    principal: Viewer,
    services: ServicesDep,
    session: ReadSession,
) -> dict[str, Any]:
    remember_incident(request, incident_id)
    detail = await services.details.get(
        session, incident_id, with_source_payload=principal.is_admin
    )
    body: dict[str, Any] = detail.incident.model_dump(mode="json")
    body["latestAnalysis"] = (
        detail.latest_analysis.model_dump(mode="json") if detail.latest_analysis else None
    )
    body["analyses"] = [a.model_dump(mode="json") for a in detail.analyses]
    body["evidenceBundles"] = [b.model_dump(mode="json") for b in detail.bundles]
    # The alerts it holds (alert grouping): the first 20 here, all of them under /alerts.
    grouping = services.pipeline.grouping
    held = await grouping.of_incident(session, incident_id, limit=20) if grouping else []
    body["alertCount"] = await grouping.count(session, incident_id) if grouping else 0
    body["alerts"] = [alert.model_dump(mode="json", by_alias=True) for alert in held]
    job = await services.jobs.latest(session, incident_id)
    # Where the work stands: the latest job on the incident (state, attempts, last error).
    body["job"] = (
        job.model_dump(
            mode="json",
            by_alias=True,
            include={
                "id",
                "kind",
                "state",
                "attempts",
                "max_attempts",
                "run_after",
                "last_error",
                "updated_at",
                "finished_at",
            },
        )
        if job is not None
        else None
    )
    if detail.source_payload_visible:
        body["sourcePayload"] = detail.source_payload
    return body


@router.get(
    "/v1/incidents/{incident_id}/verify",
    summary="Verify the incident's audit events against the hash chain",
    response_model=Verification,
)
async def verify_incident(
    incident_id: str,
    request: Request,
    _principal: Viewer,
    services: ServicesDep,
    session: ReadSession,
) -> Verification:
    remember_incident(request, incident_id)
    await services.incidents.get(session, incident_id)
    return await services.audit.verify_incident(session, incident_id)


@router.get(
    "/v1/incidents/{incident_id}/audit-events",
    summary="The incident's audit events in order",
    response_model=list[AuditEventRead],
)
async def incident_audit_events(
    incident_id: str,
    request: Request,
    _principal: Viewer,
    services: ServicesDep,
    session: ReadSession,
) -> list[AuditEventRead]:
    remember_incident(request, incident_id)
    await services.incidents.get(session, incident_id)
    return await services.audit.events_for_incident(session, incident_id)


@router.post(
    "/v1/incidents/{incident_id}/reanalyze",
    summary="Analyse the incident's stored evidence again and keep a new analysis",
    status_code=201,
    response_model=IngestIncidentResponse,
    responses={
        201: {"model": IngestIncidentResponse, "description": "Re-analysed in the request"},
        202: {
            "model": IngestIncidentResponse,
            "description": "Left to a `reanalyze` job (`Location` names the incident): the "
            "client sent `Prefer: respond-async`, the incident has no stored evidence yet, or "
            "other work of the incident is pending",
        },
        404: {"description": "Unknown incident"},
    },
)
async def reanalyze(
    incident_id: str,
    request: Request,
    principal: Analyst,
    services: ServicesDep,
    prefer: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    remember_incident(request, incident_id)
    asked_async = wants_async(prefer)
    done = await reanalyze_or_queue(
        services.pipeline, incident_id, principal=principal, asked_async=asked_async
    )
    if done.outcome is None:
        assert done.job is not None
        queued = IngestIncidentResponse(
            incident_id=incident_id,
            evidence_bundle_id=done.incident.latest_bundle_id,
            status=done.incident.status,
            message=f"Re-analysis queued as job {done.job.id}; GET /v1/incidents/{incident_id} "
            "shows where it stands",
        )
        return _response(
            202, queued.model_dump(mode="json", by_alias=True), asked_async=asked_async
        )
    analysed = IngestIncidentResponse(
        incident_id=incident_id,
        evidence_bundle_id=done.outcome.bundle_id,
        analysis_id=done.outcome.analysis.analysis_id,
        status="analyzed",
        message="Incident re-analysed from its stored evidence",
    )
    return _response(201, analysed.model_dump(mode="json", by_alias=True))
