"""Silences (maintenance windows): create, list, read and expire them.

An incident opened while an active silence matches it is stored and audited, but not analysed
or notified; it carries ``silenceId`` and a status reason naming the silence (docs/api.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError

from chronosops.core.errors import FieldError, InvalidInputError, field_errors_from_pydantic
from chronosops.silences import SilenceCreate, SilenceRead
from chronosops.web.bodies import read_json
from chronosops.web.deps import Analyst, ReadSession, ServicesDep, Viewer
from chronosops.web.errors import INVALID_BODY

router = APIRouter(tags=["silences"])

SILENCE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid bearer token"},
    403: {"description": "Authenticated, without a required role"},
    404: {"description": "Unknown silence"},
}


def validate_silence(body: Any, *, now: datetime) -> SilenceCreate:
    """A silence to store, or a 400 naming each bad field."""
    if not isinstance(body, dict):
        raise InvalidInputError(INVALID_BODY, [FieldError("", "the body must be a JSON object")])
    try:
        silence = SilenceCreate.model_validate(body)
    except ValidationError as exc:
        raise InvalidInputError(INVALID_BODY, field_errors_from_pydantic(exc.errors())) from None
    starts = silence.starts_at or now
    if silence.ends_at <= starts:
        raise InvalidInputError(INVALID_BODY, [FieldError("endsAt", "must be after startsAt")])
    if silence.ends_at <= now:
        raise InvalidInputError(INVALID_BODY, [FieldError("endsAt", "must be in the future")])
    return silence


@router.post(
    "/v1/silences",
    summary="Silence matching alerts for a window (stored and audited, not analysed or notified)",
    status_code=201,
    response_model=SilenceRead,
    responses={400: {"description": "A bad field, named in `errors`"}, **SILENCE_RESPONSES},
)
async def create_silence(
    request: Request, principal: Analyst, services: ServicesDep
) -> SilenceRead:
    _raw, body = await read_json(request)
    silence = validate_silence(body, now=services.clock.now())
    return await services.silencing.create(silence, by=principal.subject)


@router.get("/v1/silences", summary="Silences, newest first (pending and active; all with ?all)")
async def list_silences(
    _principal: Viewer,
    services: ServicesDep,
    session: ReadSession,
    include_expired: Annotated[bool, Query(alias="all")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    found = await services.silences.list(session, include_expired=include_expired, limit=limit)
    return {"items": [silence.model_dump(mode="json") for silence in found]}


@router.get(
    "/v1/silences/{silence_id}",
    summary="One silence",
    response_model=SilenceRead,
    responses=SILENCE_RESPONSES,
)
async def get_silence(
    silence_id: str, _principal: Viewer, services: ServicesDep, session: ReadSession
) -> SilenceRead:
    return await services.silences.get(session, silence_id)


@router.post(
    "/v1/silences/{silence_id}/expire",
    summary="End a silence now",
    response_model=SilenceRead,
    responses={409: {"description": "Already expired"}, **SILENCE_RESPONSES},
)
async def expire_silence(silence_id: str, principal: Analyst, services: ServicesDep) -> SilenceRead:
    return await services.silencing.expire(silence_id, by=principal.subject)


@router.delete(
    "/v1/silences/{silence_id}",
    summary="End a silence now (the same as POST …/expire; the silence is kept, expired)",
    response_model=SilenceRead,
    responses={409: {"description": "Already expired"}, **SILENCE_RESPONSES},
)
async def delete_silence(silence_id: str, principal: Analyst, services: ServicesDep) -> SilenceRead:
    return await services.silencing.expire(silence_id, by=principal.subject)
