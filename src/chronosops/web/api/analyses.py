"""Analyses: the stored request and result of one reasoner run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from chronosops.reasoning import AnalysisRead, PromptTraceRead, PromptTraceSummary
from chronosops.web.deps import Admin, ReadSession, ServicesDep, Viewer
from chronosops.web.graph_svg import render_svg

router = APIRouter(tags=["analyses"])

SVG = "image/svg+xml"


@router.get("/v1/analyses/{analysis_id}", summary="One analysis", response_model=AnalysisRead)
async def get_analysis(
    analysis_id: str, _principal: Viewer, services: ServicesDep, session: ReadSession
) -> AnalysisRead:
    return await services.reasoning.get(session, analysis_id)


@router.get(
    "/v1/incidents/{incident_id}/prompt-traces",
    summary="The language-model calls behind the incident's analyses: hashes and accounting only",
    response_model=list[PromptTraceSummary],
)
async def incident_prompt_traces(
    incident_id: str, _principal: Viewer, services: ServicesDep, session: ReadSession
) -> list[PromptTraceSummary]:
    await services.incidents.get(session, incident_id)
    return await services.reasoning.traces_for_incident(session, incident_id)


@router.get(
    "/v1/prompt-traces/{trace_id}",
    summary="One language-model call in full: prompts, request and response (admins)",
    response_model=PromptTraceRead,
)
async def get_prompt_trace(
    trace_id: str, _principal: Admin, services: ServicesDep, session: ReadSession
) -> PromptTraceRead:
    return await services.reasoning.trace(session, trace_id)


@router.get(
    "/v1/analyses/{a}/compare/{b}",
    summary="What changed from analysis a to analysis b (same incident, else 400)",
)
async def compare_analyses(
    a: str, b: str, _principal: Viewer, services: ServicesDep, session: ReadSession
) -> dict[str, Any]:
    return await services.explanations.compare(session, a, b)


@router.get(
    "/v1/analyses/{analysis_id}/graph",
    summary="Why the analysis concluded what it did: JSON nodes and edges, or SVG",
    responses={200: {"content": {"image/svg+xml": {}}}},
)
async def analysis_graph(
    analysis_id: str,
    request: Request,
    _principal: Viewer,
    services: ServicesDep,
    session: ReadSession,
) -> Any:
    graph = await services.explanations.graph(session, analysis_id)
    if SVG in request.headers.get("accept", ""):
        return Response(render_svg(graph, link=lambda node: node.get("href")), media_type=SVG)
    return JSONResponse(graph)
