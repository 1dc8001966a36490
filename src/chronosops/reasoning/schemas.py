from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from chronosops.core.timestamps import Instant


class CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, serialize_by_alias=True, validate_by_name=True, frozen=True
    )


class AnalysisSummary(CamelModel):
    analysis_id: str
    incident_id: str
    bundle_id: str | None
    reasoner: str
    engine_version: str
    overall_confidence: float
    inconclusive: bool
    top_hypothesis_id: str
    culprit_service: str | None
    primary_signal: str
    completeness_score: int
    created_at: Instant
    created_by: str | None


class AnalysisRead(AnalysisSummary):
    request: dict[str, Any]
    result: dict[str, Any]
