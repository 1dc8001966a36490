from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

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


TraceStatus = Literal["ok", "invalid", "error"]


@dataclass(frozen=True)
class PromptTraceDraft:
    """One call to a language model: exactly what was sent and what came back."""

    provider: str
    model: str
    prompt_version: str
    attempt: int
    system_prompt: str
    user_prompt: str
    request_json: dict[str, Any]
    response_json: Any
    response_text: str | None
    status: TraceStatus
    error: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float


@dataclass(frozen=True)
class Reasoning:
    """A reasoner's answer and the model calls it made to reach it (none for the built-in one)."""

    result: Any  # analysis.AnalysisResult; typed loosely so schemas stay free of the engine
    traces: list[PromptTraceDraft] = field(default_factory=list)


class PromptTraceSummary(CamelModel):
    """What any viewer may see of a model call: hashes and accounting, not the text."""

    trace_id: str
    analysis_id: str
    incident_id: str
    provider: str
    model: str
    prompt_version: str
    attempt: int
    status: str
    error: str | None
    prompt_hash: str
    request_hash: str
    response_hash: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float
    created_at: Instant


class PromptTraceRead(PromptTraceSummary):
    """The full call, for admins: prompts, request and response."""

    system_prompt: str
    user_prompt: str
    request_json: dict[str, Any]
    response_json: Any
    response_text: str | None
