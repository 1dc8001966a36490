from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from chronosops.analysis import AnalysisResult
from chronosops.core.timestamps import Instant

GENERATOR_VERSION = "1"
POSTMORTEM_KIND = "CHRONOSOPS_POSTMORTEM"


class CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, serialize_by_alias=True, validate_by_name=True, frozen=True
    )


@dataclass(frozen=True)
class PostmortemSource:
    """Everything a postmortem is drafted from, handed over by the use case that owns the data.

    Plain values so that this package needs none of its siblings (incidents, evidence, reasoning).
    """

    incident_id: str
    title: str
    severity: str | None
    source_type: str
    source_ref: str
    service: str | None
    started_at: datetime
    ended_at: datetime | None
    analysis_id: str
    analysed_at: datetime
    reasoner: str
    engine_version: str
    bundle_id: str
    result: dict[str, Any]
    artifacts: list[dict[str, Any]]
    collection: list[dict[str, Any]]
    # The engine's answer that ``result`` was dumped from, when the caller holds it: drafting
    # then reads it as it is instead of validating the dump back into the same model.
    parsed: AnalysisResult | None = None


class PostmortemSummary(CamelModel):
    postmortem_id: str
    incident_id: str
    analysis_id: str
    bundle_id: str
    version: int
    generator_version: str
    content_hash: str
    headline: str
    created_at: Instant
    created_by: str | None


class PostmortemRead(PostmortemSummary):
    content: dict[str, Any]
    markdown: str
