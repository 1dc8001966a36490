"""Postmortems: every version drafted for an incident, as JSON or Markdown."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from chronosops.postmortem import PostmortemRead, PostmortemSummary
from chronosops.web.deps import ReadSession, ServicesDep, Viewer, remember_incident

router = APIRouter(tags=["postmortems"])

MARKDOWN = "text/markdown"


def markdown_response(postmortem: PostmortemRead) -> Response:
    return PlainTextResponse(
        postmortem.markdown,
        media_type=f"{MARKDOWN}; charset=utf-8",
        headers={
            "Content-Disposition": (
                f'inline; filename="postmortem-{postmortem.incident_id}-v{postmortem.version}.md"'
            )
        },
    )


def wants_markdown(request: Request) -> bool:
    """Markdown when the caller prefers it to JSON (``Accept: text/markdown``)."""
    accept = request.headers.get("accept", "")
    return MARKDOWN in accept and "application/json" not in accept.split(MARKDOWN)[0]


@router.get(
    "/v1/incidents/{incident_id}/postmortems",
    summary="The incident's postmortems, newest version first",
    response_model=list[PostmortemSummary],
)
async def incident_postmortems(
    incident_id: str,
    request: Request,
    _principal: Viewer,
    services: ServicesDep,
    session: ReadSession,
) -> list[PostmortemSummary]:
    remember_incident(request, incident_id)
    await services.incidents.get(session, incident_id)
    return await services.postmortems.for_incident(session, incident_id)


@router.get(
    "/v1/postmortems/{postmortem_id}.md",
    summary="One postmortem as Markdown",
    response_class=PlainTextResponse,
)
async def postmortem_markdown(
    postmortem_id: str, _principal: Viewer, services: ServicesDep, session: ReadSession
) -> Response:
    return markdown_response(await services.postmortems.get(session, postmortem_id))


@router.get(
    "/v1/postmortems/{postmortem_id}",
    summary="One postmortem: JSON, or Markdown with `Accept: text/markdown`",
    response_model=PostmortemRead,
    responses={200: {"content": {MARKDOWN: {}}}},
)
async def get_postmortem(
    postmortem_id: str,
    request: Request,
    _principal: Viewer,
    services: ServicesDep,
    session: ReadSession,
) -> Any:
    postmortem = await services.postmortems.get(session, postmortem_id)
    if wants_markdown(request):
        return markdown_response(postmortem)
    return JSONResponse(postmortem.model_dump(mode="json"))
