"""Investigations: go back for the evidence a weak diagnosis lacks (a job), watch, cancel."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from chronosops.core.errors import FieldError, InvalidInputError, field_errors_from_pydantic
from chronosops.investigation import InvestigateRequest, InvestigationRead
from chronosops.web.bodies import read_json
from chronosops.web.deps import Analyst, ReadSession, ServicesDep, Viewer, remember_incident
from chronosops.web.errors import INVALID_BODY

router = APIRouter(tags=["investigations"])


async def _body(request: Request) -> InvestigateRequest:
    if not (await request.body()).strip():
        return InvestigateRequest()
    _raw, document = await read_json(request)
    if not isinstance(document, dict):
        raise InvalidInputError(INVALID_BODY, [FieldError("", "the body must be a JSON object")])
    try:
        return InvestigateRequest.model_validate(document)
    except ValidationError as exc:
        raise InvalidInputError(INVALID_BODY, field_errors_from_pydantic(exc.errors())) from None


@router.post(
    "/v1/incidents/{incident_id}/investigate",
    summary="Start an investigation (a job): 202 with the session; 409 names a running one",
    status_code=202,
    response_model=InvestigationRead,
    responses={409: {"description": "An investigation of this incident is already running"}},
)
async def investigate(
    incident_id: str, request: Request, principal: Analyst, services: ServicesDep
) -> JSONResponse:
    remember_incident(request, incident_id)
    body = await _body(request)
    started = await services.investigations.start(incident_id, body, principal=principal)
    return JSONResponse(
        started.model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"/v1/investigations/{started.session_id}"},
    )


@router.get(
    "/v1/investigations/{session_id}",
    summary="One investigation with its iterations and gate decisions",
    response_model=InvestigationRead,
)
async def get_investigation(
    session_id: str, _principal: Viewer, services: ServicesDep, session: ReadSession
) -> Any:
    return await services.investigations.get(session, session_id)


@router.get(
    "/v1/incidents/{incident_id}/investigations",
    summary="The incident's investigations, newest first",
    response_model=list[InvestigationRead],
)
async def incident_investigations(
    incident_id: str, _principal: Viewer, services: ServicesDep, session: ReadSession
) -> Any:
    await services.incidents.get(session, incident_id)
    return await services.investigations.for_incident(session, incident_id)


@router.post(
    "/v1/investigations/{session_id}/cancel",
    summary="Ask a running investigation to stop after its current step",
    status_code=202,
    response_model=InvestigationRead,
)
async def cancel_investigation(session_id: str, principal: Analyst, services: ServicesDep) -> Any:
    return await services.investigations.cancel(session_id, principal=principal)
