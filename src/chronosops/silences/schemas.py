from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

from chronosops.core.ingest_request import SourceType
from chronosops.core.timestamps import Instant

SilenceState = Literal["pending", "active", "expired"]
MATCH_TEXT_MAX = 256
COMMENT_MAX = 1000
MAX_LABELS = 20

MatchText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MATCH_TEXT_MAX)
]


class CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        serialize_by_alias=True,
        validate_by_name=True,
        frozen=True,
        extra="forbid",
    )


class Matchers(CamelModel):
    """What an incident must have to be silenced: every matcher given, exactly (case matters)."""

    service: MatchText | None = None
    environment: MatchText | None = None
    source: SourceType | None = Field(default=None, description="the incident's sourceType")
    labels: dict[MatchText, MatchText] | None = Field(
        default=None, description="each name=value must be among the incident's tags"
    )

    @model_validator(mode="after")
    def _something_to_match(self) -> Matchers:
        if not any((self.service, self.environment, self.source, self.labels)):
            raise ValueError(
                "give at least one of service, environment, source, labels: "
                "a silence that matches everything would silence every incident"
            )
        if self.labels is not None and len(self.labels) > MAX_LABELS:
            raise ValueError(f"at most {MAX_LABELS} labels")
        return self


class SilenceCreate(CamelModel):
    matchers: Matchers
    starts_at: Instant | None = Field(default=None, description="default: now")
    ends_at: Instant
    comment: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=COMMENT_MAX)
    ]


class SilenceRead(CamelModel):
    id: str
    state: SilenceState
    matchers: Matchers
    starts_at: Instant
    ends_at: Instant
    comment: str
    created_by: str
    created_at: Instant
    expired_at: Instant | None
    expired_by: str | None


class IncidentFacts(BaseModel):
    """What a silence is matched against (the incident as stored)."""

    model_config = ConfigDict(frozen=True)

    source_type: str
    service: str | None
    environment: str | None
    tags: dict[str, str] | None


def state_at(
    now: datetime, *, starts_at: datetime, ends_at: datetime, expired_at: datetime | None
) -> SilenceState:
    if expired_at is not None or now >= ends_at:
        return "expired"
    return "pending" if now < starts_at else "active"
