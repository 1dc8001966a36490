"""Working an incident over HTTP: acknowledge, resolve, reopen, and edit assignee/severity/title.

The lifecycle (``triggered → acknowledged → resolved``, and reopen) is separate from the
pipeline's ``status``; each change records who and when, and is audited (docs/api.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from chronosops.auth import Principal
from chronosops.bootstrap import Services
from chronosops.core.errors import FieldError, InvalidInputError, field_errors_from_pydantic
from chronosops.core.ingest_request import TITLE_MAX, Severity
from chronosops.incidents import LifecycleChange, Transition
from chronosops.web.bodies import read_json
from chronosops.web.deps import Analyst, ServicesDep, remember_incident
from chronosops.web.errors import INVALID_BODY

router = APIRouter(tags=["incidents"])

ASSIGNEE_MAX = 256

LIFECYCLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid bearer token"},
    403: {"description": "Authenticated, without the analyst or admin role"},
    404: {"description": "Unknown incident"},
    409: {"description": "The transition does not apply in the incident's lifecycle state"},
}


class IncidentPatch(BaseModel):
    """What an analyst may change on an incident; at least one field, nothing else."""

    model_config = ConfigDict(extra="forbid")

    assignee: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=1, max_length=ASSIGNEE_MAX)
        ]
        | None
    ) = Field(default=None, description="who owns the incident; null unassigns it")
    severity: Severity | None = None
    title: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX)]
        | None
    ) = None


def _answer(change: LifecycleChange) -> dict[str, Any]:
    return {
        "incident": change.incident.model_dump(mode="json"),
        "changed": change.changed,
        "changes": change.changes,
    }


async def _move(
    incident_id: str,
    transition: Transition,
    request: Request,
    principal: Principal,
    services: Services,
) -> dict[str, Any]:
    remember_incident(request, incident_id)
    change = await services.lifecycle.transition(
        incident_id, transition, by=principal.subject, via="api"
    )
    return _answer(change)


@router.post(
    "/v1/incidents/{incident_id}/acknowledge",
    summary="Acknowledge: someone is on it (triggered → acknowledged)",
    responses=LIFECYCLE_RESPONSES,
)
async def acknowledge(
    incident_id: str, request: Request, principal: Analyst, services: ServicesDep
) -> dict[str, Any]:
    return await _move(incident_id, "acknowledge", request, principal, services)


@router.post(
    "/v1/incidents/{incident_id}/resolve",
    summary="Resolve: the incident is over (triggered or acknowledged → resolved)",
    responses=LIFECYCLE_RESPONSES,
)
async def resolve(
    incident_id: str, request: Request, principal: Analyst, services: ServicesDep
) -> dict[str, Any]:
    return await _move(incident_id, "resolve", request, principal, services)


@router.post(
    "/v1/incidents/{incident_id}/reopen",
    summary="Reopen a resolved incident (resolved → triggered)",
    responses=LIFECYCLE_RESPONSES,
)
async def reopen(
    incident_id: str, request: Request, principal: Analyst, services: ServicesDep
) -> dict[str, Any]:
    return await _move(incident_id, "reopen", request, principal, services)


def validate_patch(body: Any) -> dict[str, Any]:
    """The fields to set, or a 400 naming each bad field."""
    if not isinstance(body, dict):
        raise InvalidInputError(INVALID_BODY, [FieldError("", "the body must be a JSON object")])
    try:
        patch = IncidentPatch.model_validate(body)
    except ValidationError as exc:
        raise InvalidInputError(INVALID_BODY, field_errors_from_pydantic(exc.errors())) from None
    values = patch.model_dump(exclude_unset=True)
    if not values:
        raise InvalidInputError(
            INVALID_BODY, [FieldError("", "set at least one of assignee, severity, title")]
        )
    for name in ("severity", "title"):
        if name in values and values[name] is None:
            raise InvalidInputError(INVALID_BODY, [FieldError(name, "cannot be null")])
    return values


@router.patch(
    "/v1/incidents/{incident_id}",
    summary="Change the incident's assignee, severity or title",
    responses={
        400: {"description": "A bad or unknown field: `{message, errors: [{path, message}]}`"},
        **LIFECYCLE_RESPONSES,
    },
)
async def edit(
    incident_id: str, request: Request, principal: Analyst, services: ServicesDep
) -> dict[str, Any]:
    remember_incident(request, incident_id)
    _raw, body = await read_json(request)
    values = validate_patch(body)
    change = await services.lifecycle.edit(incident_id, values, by=principal.subject, via="api")
    return _answer(change)
