from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from chronosops.core.timestamps import Instant


class CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, serialize_by_alias=True, validate_by_name=True, frozen=True
    )


class BundleRead(CamelModel):
    bundle_id: str
    hash: str
    hash_algo: str
    hash_input_version: str
    synthetic: bool
    sources: list[str]
    artifact_count: int
    artifacts: list[dict[str, Any]]
    collection: list[dict[str, Any]]
    coverage: list[str]
    created_at: Instant
    created_by: str | None
    incident_ids: list[str]
    redacted: bool


class IncidentBundleRead(CamelModel):
    bundle_id: str
    window_start: Instant
    window_end: Instant
    attached_at: Instant
    synthetic: bool
    artifact_count: int
    sources: list[str]


class StoredBundle(CamelModel):
    bundle_id: str
    inserted: bool
    attached: bool
