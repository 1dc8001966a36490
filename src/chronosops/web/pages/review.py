"""After the diagnosis: the postmortem, two analyses compared, the graph of one, the export."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from markupsafe import Markup

from chronosops.core.errors import NotFoundError
from chronosops.investigation import export_zip
from chronosops.postmortem import PostmortemNotFoundError
from chronosops.reasoning import AnalysisNotFoundError
from chronosops.web.deps import ServicesDep, remember_incident
from chronosops.web.graph_svg import render_svg
from chronosops.web.pages.rendering import anchor, render
from chronosops.web.pages.session import PageRoute, ViewerPage

router = APIRouter(route_class=PageRoute)


@router.get(
    "/incidents/{incident_id}/postmortems/{postmortem_id}.md", summary="Postmortem as Markdown"
)
async def postmortem_markdown(
    incident_id: str,
    postmortem_id: str,
    request: Request,
    services: ServicesDep,
    user: ViewerPage,
) -> Response:
    async with services.database.unit_of_work(write=False) as session:
        postmortem = await services.postmortems.get(session, postmortem_id)
    if postmortem.incident_id != incident_id:
        raise PostmortemNotFoundError(postmortem_id)
    name = f"postmortem-{incident_id}-v{postmortem.version}.md"
    return Response(
        postmortem.markdown,
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/incidents/{incident_id}/postmortems/{postmortem_id}", summary="Postmortem")
async def postmortem_page(
    incident_id: str,
    postmortem_id: str,
    request: Request,
    services: ServicesDep,
    user: ViewerPage,
) -> Response:
    remember_incident(request, incident_id)
    async with services.database.unit_of_work(write=False) as session:
        incident = await services.incidents.get(session, incident_id)
        postmortem = await services.postmortems.get(session, postmortem_id)
        versions = await services.postmortems.for_incident(session, incident_id)
    if postmortem.incident_id != incident_id:
        raise PostmortemNotFoundError(postmortem_id)
    evidence = {a["artifactId"]: a for a in postmortem.content["evidence"]["artifacts"]}
    context = {
        "incident": incident,
        "postmortem": postmortem,
        "content": postmortem.content,
        "versions": versions,
        "titles": {ref: a["title"] for ref, a in evidence.items()},
        "anchors": {ref: anchor(ref) for ref in evidence},
    }
    return render(request, "review/postmortem.html", context, user=user)


@router.get("/incidents/{incident_id}/compare", summary="Two analyses compared")
async def compare_page(
    incident_id: str,
    request: Request,
    services: ServicesDep,
    user: ViewerPage,
    a: Annotated[str, Query(max_length=64)],
    b: Annotated[str, Query(max_length=64)],
) -> Response:
    remember_incident(request, incident_id)
    async with services.database.unit_of_work(write=False) as session:
        incident = await services.incidents.get(session, incident_id)
        comparison = await services.explanations.compare(session, a, b)
    if comparison["incidentId"] != incident_id:
        raise AnalysisNotFoundError(a)
    return render(
        request,
        "review/compare.html",
        {"incident": incident, "c": comparison},
        user=user,
    )


@router.get("/incidents/{incident_id}/graph", summary="Why the analysis concluded what it did")
async def graph_page(
    incident_id: str,
    request: Request,
    services: ServicesDep,
    user: ViewerPage,
    analysis_id: Annotated[str | None, Query(alias="analysis", max_length=64)] = None,
) -> Response:
    remember_incident(request, incident_id)
    async with services.database.unit_of_work(write=False) as session:
        incident = await services.incidents.get(session, incident_id)
        chosen = analysis_id or incident.latest_analysis_id
        if chosen is None:
            raise NotFoundError(f"Incident {incident_id} has no analysis yet")
        graph = await services.explanations.graph(session, chosen)
    if graph["incidentId"] != incident_id:
        raise AnalysisNotFoundError(chosen)
    page = f"/incidents/{incident_id}?analysis={chosen}"

    def link(node: dict[str, Any]) -> str:
        refers = node["refersTo"]
        if refers["kind"] == "artifact":
            return f"{page}#{anchor(refers['artifactId'])}"
        if refers["kind"] in ("hypothesis", "action", "analysis"):
            return f"{page}#diagnosis"
        return f"{page}#signals"

    svg = Markup(render_svg(graph, link=link))
    return render(
        request,
        "review/graph.html",
        {"incident": incident, "graph": graph, "svg": svg, "analysis_id": chosen},
        user=user,
    )


@router.get("/incidents/{incident_id}/export.{suffix}", summary="The incident's record")
async def export_download(
    incident_id: str,
    suffix: str,
    request: Request,
    services: ServicesDep,
    user: ViewerPage,
) -> Response:
    if suffix not in ("json", "zip"):
        raise NotFoundError(f"No export as .{suffix}: use .json or .zip")
    remember_incident(request, incident_id)
    async with services.database.unit_of_work(write=False) as session:
        document = await services.exports.export(
            session,
            incident_id,
            admin=user.is_admin,
            by=user.principal.subject,
            at=services.clock.now(),
        )
    name = f"chronosops-incident-{incident_id}.{suffix}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if suffix == "zip":
        return Response(export_zip(document), media_type="application/zip", headers=disposition)
    return Response(
        json.dumps(document, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers=disposition,
    )
