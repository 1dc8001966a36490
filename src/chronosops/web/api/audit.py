"""The audit chain as a whole: every event, newest first, a full verification, and signed
checkpoints of its head (admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from chronosops.audit import (
    AuditFilter,
    ChainVerification,
    CheckpointRead,
    EntityType,
    EventType,
)
from chronosops.web.deps import Admin, ReadSession, ServicesDep

router = APIRouter(tags=["audit"])


@router.get("/v1/audit-events", summary="The audit chain's events, newest first (admins)")
async def list_audit_events(
    _principal: Admin,
    services: ServicesDep,
    session: ReadSession,
    event_type: Annotated[EventType | None, Query(alias="eventType")] = None,
    entity_type: Annotated[EntityType | None, Query(alias="entityType")] = None,
    actor: Annotated[str | None, Query(max_length=256)] = None,
    incident_id: Annotated[str | None, Query(alias="incidentId", max_length=64)] = None,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    filters = AuditFilter(
        event_type=event_type,
        entity_type=entity_type,
        actor=actor,
        incident_id=incident_id,
    )
    page = await services.audit.page(session, filters, cursor=cursor, limit=limit)
    return {
        "items": [item.model_dump(mode="json") for item in page.items],
        "nextCursor": page.next_cursor,
    }


@router.get(
    "/v1/audit/verify",
    summary="Re-hash the whole audit chain and check every link (admins)",
    response_model=ChainVerification,
)
async def verify_chain(
    _principal: Admin, services: ServicesDep, session: ReadSession
) -> ChainVerification:
    return await services.audit.verify_chain(session)


@router.post(
    "/v1/audit/checkpoints",
    summary="Sign the audit chain's current head with the checkpoint key (admins)",
    response_model=CheckpointRead,
    status_code=201,
    responses={
        404: {"description": "no checkpoint key is configured"},
        409: {"description": "the chain is empty"},
    },
)
async def create_checkpoint(_principal: Admin, services: ServicesDep) -> CheckpointRead:
    async with services.database.unit_of_work() as session:
        return await services.audit.checkpoint(session)
