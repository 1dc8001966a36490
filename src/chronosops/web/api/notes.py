"""Notes on an incident, its timeline (everything that happened to it, in time order), the
alerts it holds (grouping) and its notification delivery log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from chronosops.core.errors import FieldError, InvalidInputError
from chronosops.incidents import NoteRead
from chronosops.web.bodies import read_json
from chronosops.web.deps import Analyst, ReadSession, ServicesDep, Viewer, remember_incident
from chronosops.web.errors import INVALID_BODY

router = APIRouter(tags=["incidents"])

NOTE_MAX = 20_000


def validate_note(body: Any) -> str:
    """The note's Markdown text, or a 400 naming what is wrong."""
    if not isinstance(body, dict):
        raise InvalidInputError(INVALID_BODY, [FieldError("", "the body must be a JSON object")])
    unknown = sorted(set(body) - {"body"})
    if unknown:
        raise InvalidInputError(
            INVALID_BODY, [FieldError(name, "unknown field; only body") for name in unknown]
        )
    text = body.get("body")
    if not isinstance(text, str):
        raise InvalidInputError(INVALID_BODY, [FieldError("body", "must be a Markdown string")])
    if not text.strip():
        raise InvalidInputError(INVALID_BODY, [FieldError("body", "must not be empty")])
    if len(text) > NOTE_MAX:
        raise InvalidInputError(
            INVALID_BODY, [FieldError("body", f"at most {NOTE_MAX} characters")]
        )
    return text


@router.post(
    "/v1/incidents/{incident_id}/notes",
    summary="Add a note (Markdown; raw HTML is escaped when rendered)",
    status_code=201,
    response_model=NoteRead,
    responses={
        400: {"description": "No body, an empty one, or more than 20,000 characters"},
        404: {"description": "Unknown incident"},
    },
)
async def add_note(
    incident_id: str, request: Request, principal: Analyst, services: ServicesDep
) -> NoteRead:
    remember_incident(request, incident_id)
    _raw, body = await read_json(request)
    text = validate_note(body)
    return await services.lifecycle.add_note(incident_id, text, by=principal.subject, via="api")


@router.get(
    "/v1/incidents/{incident_id}/notes",
    summary="The incident's notes, oldest first",
    response_model=list[NoteRead],
)
async def notes(
    incident_id: str,
    request: Request,
    _principal: Viewer,
    services: ServicesDep,
    session: ReadSession,
) -> list[NoteRead]:
    remember_incident(request, incident_id)
    await services.incidents.get(session, incident_id)
    return list(await services.incidents.notes(session, incident_id))


@router.get(
    "/v1/incidents/{incident_id}/timeline",
    summary="Alerts, lifecycle changes, notes, changes, evidence and analyses in time order",
)
async def timeline(
    incident_id: str,
    request: Request,
    _principal: Viewer,
    services: ServicesDep,
    session: ReadSession,
) -> dict[str, Any]:
    remember_incident(request, incident_id)
    built = await services.timelines.build(session, incident_id)
    return built.to_json()


@router.get(
    "/v1/incidents/{incident_id}/alerts",
    summary="The alerts the incident holds: the one that opened it, then those that joined",
)
async def alerts(
    incident_id: str,
    request: Request,
    _principal: Viewer,
    services: ServicesDep,
    session: ReadSession,
) -> dict[str, Any]:
    remember_incident(request, incident_id)
    await services.incidents.get(session, incident_id)
    grouping = services.pipeline.grouping
    if grouping is None:
        return {"count": 0, "items": []}
    found = await grouping.of_incident(session, incident_id)
    return {
        "count": await grouping.count(session, incident_id),
        "items": [alert.model_dump(mode="json", by_alias=True) for alert in found],
    }


@router.get(
    "/v1/incidents/{incident_id}/notifications",
    summary="The incident's notification deliveries (the delivery log), oldest first",
)
async def notifications(
    incident_id: str,
    request: Request,
    _principal: Viewer,
    services: ServicesDep,
    session: ReadSession,
) -> dict[str, Any]:
    remember_incident(request, incident_id)
    await services.incidents.get(session, incident_id)
    found = await services.notifications.for_incident(session, incident_id)
    return {"items": [delivery.model_dump(mode="json") for delivery in found]}
