"""Changes from CI/CD: deploys, rollbacks, config, feature flags and infrastructure changes.

Incidents collect the changes in their window for their service and its dependencies, so a
deploy reported here is a suspect the analysis can weigh.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from chronosops.audit import EntityType, EventType
from chronosops.changes import ChangeCreate, ChangeFilter, ChangeRead
from chronosops.core.artifacts import ChangeType
from chronosops.core.canonical import beyond_canonical_range
from chronosops.core.errors import FieldError, InvalidInputError, field_errors_from_pydantic
from chronosops.web.api.incidents import ERROR_RESPONSES, parse_json_body, query_instant
from chronosops.web.deps import Analyst, ReadSession, ServicesDep, Viewer
from chronosops.web.errors import INVALID_BODY

router = APIRouter(tags=["changes"])


@router.post(
    "/v1/changes",
    summary="Record a deploy, rollback, config, feature-flag or infrastructure change",
    status_code=201,
    response_model=ChangeRead,
    responses={
        200: {"model": ChangeRead, "description": "A retry of a change already recorded"},
        201: {"model": ChangeRead, "description": "Recorded"},
        409: {"description": "changeId already recorded with different content"},
        **ERROR_RESPONSES,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": ChangeCreate.model_json_schema(by_alias=True)}
            },
        }
    },
)
async def record_change(
    request: Request, services: ServicesDep, principal: Analyst
) -> JSONResponse:
    body = await parse_json_body(request)
    if not isinstance(body, dict):
        raise InvalidInputError(INVALID_BODY, [FieldError("", "the body must be a JSON object")])
    try:
        change = ChangeCreate.model_validate(body)
    except ValidationError as exc:
        raise InvalidInputError(INVALID_BODY, field_errors_from_pydantic(exc.errors())) from None
    # A change is stored once per content hash, and canonical JSON cannot hash every number.
    problem = beyond_canonical_range(change.metadata, "metadata")
    if problem is not None:
        raise InvalidInputError(INVALID_BODY, [problem])
    async with services.database.unit_of_work() as session:
        recorded = await services.changes.record(session, change, by=principal.subject)
        if recorded.created:
            read = recorded.change
            await services.audit.record(
                session,
                event_type=EventType.CHANGE_RECORDED,
                entity_type=EntityType.CHANGE,
                entity_id=read.id,
                entity_ref=read.change_id,
                actor=principal.subject,
                payload={
                    "id": read.id,
                    "changeId": read.change_id,
                    "type": read.type,
                    "service": read.service,
                    "environment": read.environment,
                    "versionFrom": read.version_from,
                    "versionTo": read.version_to,
                },
            )
    return JSONResponse(
        recorded.change.model_dump(mode="json"),
        status_code=201 if recorded.created else 200,
        headers=None if recorded.created else {"Idempotent-Replayed": "true"},
    )


@router.get("/v1/changes", summary="Recorded changes, newest first, with filters and a cursor")
async def list_changes(
    _principal: Viewer,
    services: ServicesDep,
    session: ReadSession,
    service: Annotated[str | None, Query(max_length=256)] = None,
    environment: Annotated[str | None, Query(max_length=256)] = None,
    type: Annotated[ChangeType | None, Query()] = None,
    since: Annotated[str | None, Query(description="ISO 8601, inclusive")] = None,
    until: Annotated[str | None, Query(description="ISO 8601, exclusive")] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    page = await services.changes.page(
        session,
        ChangeFilter(
            service=service,
            environment=environment,
            change_type=type,
            since=query_instant("since", since),
            until=query_instant("until", until),
        ),
        cursor=cursor,
        limit=limit,
    )
    return {
        "items": [item.model_dump(mode="json") for item in page.items],
        "nextCursor": page.next_cursor,
    }
