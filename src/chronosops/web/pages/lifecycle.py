"""Working an incident from its page: acknowledge, resolve, reopen and assign (analysts).

Each form posts here and comes back to the incident with a notice; the change goes through
the same use case as the API, audited with ``via: console``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from chronosops.core.errors import FieldError, InvalidInputError
from chronosops.incidents import Transition
from chronosops.web.deps import ServicesDep, remember_incident
from chronosops.web.pages.session import AnalystAction, CheckedForm, PageRoute

router = APIRouter(route_class=PageRoute)

ASSIGNEE_MAX = 256
NOTE_MAX = 20_000
DONE: dict[Transition, str] = {
    "acknowledge": "acknowledged",
    "unacknowledge": "unacknowledged",
    "resolve": "resolved",
    "reopen": "reopened",
}


def _back(incident_id: str, done: str) -> Response:
    return RedirectResponse(f"/incidents/{incident_id}?done={done}", status_code=303)


async def _move(
    incident_id: str,
    transition: Transition,
    request: Request,
    services: ServicesDep,
    user: AnalystAction,
) -> Response:
    remember_incident(request, incident_id)
    await services.lifecycle.transition(
        incident_id, transition, by=user.principal.subject, via="console"
    )
    return _back(incident_id, DONE[transition])


@router.post("/incidents/{incident_id}/acknowledge", summary="Acknowledge an incident")
async def acknowledge(
    incident_id: str,
    request: Request,
    services: ServicesDep,
    user: AnalystAction,
    _form: CheckedForm,
) -> Response:
    return await _move(incident_id, "acknowledge", request, services, user)


@router.post("/incidents/{incident_id}/resolve", summary="Resolve an incident")
async def resolve(
    incident_id: str,
    request: Request,
    services: ServicesDep,
    user: AnalystAction,
    _form: CheckedForm,
) -> Response:
    return await _move(incident_id, "resolve", request, services, user)


@router.post("/incidents/{incident_id}/reopen", summary="Reopen an incident")
async def reopen(
    incident_id: str,
    request: Request,
    services: ServicesDep,
    user: AnalystAction,
    _form: CheckedForm,
) -> Response:
    return await _move(incident_id, "reopen", request, services, user)


@router.post("/incidents/{incident_id}/assign", summary="Assign an incident")
async def assign(
    incident_id: str,
    request: Request,
    services: ServicesDep,
    user: AnalystAction,
    form: CheckedForm,
) -> Response:
    """An empty assignee unassigns; "me" is the signed-in user."""
    remember_incident(request, incident_id)
    name = form.get("assignee", "").strip()
    if name == "me":
        name = user.principal.subject
    if len(name) > ASSIGNEE_MAX:
        raise InvalidInputError(
            "Invalid assignee", [FieldError("assignee", f"at most {ASSIGNEE_MAX} characters")]
        )
    await services.lifecycle.edit(
        incident_id, {"assignee": name or None}, by=user.principal.subject, via="console"
    )
    return _back(incident_id, "assigned")


@router.post("/incidents/{incident_id}/notes", summary="Add a note to an incident")
async def add_note(
    incident_id: str,
    request: Request,
    services: ServicesDep,
    user: AnalystAction,
    form: CheckedForm,
) -> Response:
    remember_incident(request, incident_id)
    text = form.get("body", "")
    if not text.strip():
        raise InvalidInputError("Invalid note", [FieldError("body", "must not be empty")])
    if len(text) > NOTE_MAX:
        raise InvalidInputError(
            "Invalid note", [FieldError("body", f"at most {NOTE_MAX} characters")]
        )
    await services.lifecycle.add_note(incident_id, text, by=user.principal.subject, via="console")
    return RedirectResponse(f"/incidents/{incident_id}?done=noted#activity", status_code=303)
