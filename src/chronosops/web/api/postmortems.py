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


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value.strip()), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def wants_markdown(request: Request) -> bool:
    """Markdown when the caller prefers it to JSON (``Accept: text/markdown``): by quality value
    (``q``), then, at equal quality, by which the header names first."""
    ranked: dict[str, tuple[float, int]] = {}
    for position, item in enumerate(request.headers.get("accept", "").split(",")):
        media, *parameters = item.split(";")
        media = media.strip().lower()
        if media in (MARKDOWN, "application/json") and media not in ranked:
            ranked[media] = (_quality(parameters), -position)
    markdown = ranked.get(MARKDOWN, (0.0, 0))
    return markdown[0] > 0 and markdown > ranked.get("application/json", (0.0, 0))


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
