"""Analyses: the stored request and result of one reasoner run."""

from __future__ import annotations

from fastapi import APIRouter

from chronosops.reasoning import AnalysisRead
from chronosops.web.deps import ReadSession, ServicesDep, Viewer

router = APIRouter(tags=["analyses"])


@router.get("/v1/analyses/{analysis_id}", summary="One analysis", response_model=AnalysisRead)
async def get_analysis(
    analysis_id: str, _principal: Viewer, services: ServicesDep, session: ReadSession
) -> AnalysisRead:
    return await services.reasoning.get(session, analysis_id)
