"""What the jobs service hands out."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

JobState = Literal["queued", "running", "succeeded", "failed"]
JOB_STATES: tuple[str, ...] = get_args(JobState)
JobKind = Literal["analyze", "reanalyze"]


class JobRead(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    id: str
    kind: str
    incident_id: str | None
    payload: Any
    state: JobState
    attempts: int
    max_attempts: int
    run_after: datetime
    owner: str | None
    heartbeat_at: datetime | None
    last_error: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
