"""The investigation timeline on the incident page: start, watch (refreshing while one runs),
cancel; each iteration with what was asked, what the gate decided and how confidence moved."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from chronosops.core.errors import FieldError, InvalidInputError, field_errors_from_pydantic
from chronosops.investigation import InvestigateRequest
from chronosops.web.deps import ServicesDep, remember_incident
from chronosops.web.pages.rendering import render
from chronosops.web.pages.session import AnalystAction, CheckedForm, PageRoute, ViewerPage

router = APIRouter(route_class=PageRoute)
REFRESH_SECONDS = 3


@router.get("/incidents/{incident_id}/investigations", summary="Investigation timeline")
async def investigations_panel(
    incident_id: str, request: Request, services: ServicesDep, user: ViewerPage
) -> Response:
    remember_incident(request, incident_id)
    async with services.database.unit_of_work(write=False) as session:
        incident = await services.incidents.get(session, incident_id)
        sessions = await services.investigations.for_incident(session, incident_id)
    return render(
        request,
        "incident/_investigations.html",
        {"incident": incident, "investigations": sessions, "refresh_seconds": REFRESH_SECONDS},
        user=user,
    )


def _number(form: dict[str, str], key: str, default: str) -> float:
    try:
        return float(form.get(key) or default)
    except ValueError:
        raise InvalidInputError("Invalid form", [FieldError(key, "not a number")]) from None


@router.post("/incidents/{incident_id}/investigate", summary="Start an investigation")
async def start_investigation(
    incident_id: str,
    request: Request,
    services: ServicesDep,
    user: AnalystAction,
    form: CheckedForm,
) -> Response:
    remember_incident(request, incident_id)
    try:
        body = InvestigateRequest.model_validate(
            {
                "maxIterations": int(_number(form, "maxIterations", "5")),
                "confidenceTarget": _number(form, "confidenceTarget", "0.8"),
            }
        )
    except ValidationError as exc:
        raise InvalidInputError("Invalid form", field_errors_from_pydantic(exc.errors())) from None
    await services.investigations.start(incident_id, body, principal=user.principal)
    return RedirectResponse(f"/incidents/{incident_id}#investigations", status_code=303)


@router.post(
    "/incidents/{incident_id}/investigations/{session_id}/cancel",
    summary="Cancel an investigation",
)
async def cancel_investigation(
    incident_id: str,
    session_id: str,
    request: Request,
    services: ServicesDep,
    user: AnalystAction,
    _form: CheckedForm,
) -> Response:
    remember_incident(request, incident_id)
    await services.investigations.cancel(session_id, principal=user.principal)
    return RedirectResponse(f"/incidents/{incident_id}#investigations", status_code=303)
