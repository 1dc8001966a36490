"""What CI/CD sends (`ChangeCreate`), what it reads back (`ChangeRead`), and list filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from chronosops.core.artifacts import ChangeType
from chronosops.core.timestamps import Instant

Name = Annotated[str, Field(strict=True, min_length=1, max_length=256)]
OptName = Annotated[str, Field(strict=True, min_length=1, max_length=256)] | None


class ChangeCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        serialize_by_alias=True,
        frozen=True,
    )

    change_id: (
        Annotated[str, Field(strict=True, min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
        | None
    ) = Field(default=None, description="your id for the change; a retry with it is stored once")
    type: ChangeType
    service: Name
    environment: OptName = None
    version_from: OptName = None
    version_to: OptName = None
    summary: Annotated[str, Field(strict=True, min_length=1, max_length=2000)]
    author: OptName = None
    link: Annotated[str, Field(strict=True, max_length=2048)] | None = None
    timestamp: Instant
    metadata: dict[str, Any] | None = None

    @field_validator("link")
    @classmethod
    def _http_link(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


class ChangeRead(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, serialize_by_alias=True, validate_by_name=True, frozen=True
    )

    id: str
    change_id: str | None
    type: str
    service: str
    environment: str | None
    version_from: str | None
    version_to: str | None
    summary: str
    author: str | None
    link: str | None
    timestamp: Instant
    metadata: dict[str, Any] | None
    created_at: Instant
    created_by: str | None


@dataclass(frozen=True)
class ChangeFilter:
    service: str | None = None
    environment: str | None = None
    change_type: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


@dataclass(frozen=True)
class ChangePage:
    items: list[ChangeRead]
    next_cursor: str | None


@dataclass(frozen=True)
class RecordedChange:
    change: ChangeRead
    created: bool
