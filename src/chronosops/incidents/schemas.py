from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from chronosops.core.timestamps import Instant

IncidentStatus = Literal["created", "analyzed", "failed"]
INCIDENT_STATUSES: tuple[str, ...] = get_args(IncidentStatus)

# Where people are with the incident; separate from the pipeline's ``IncidentStatus``.
Lifecycle = Literal["triggered", "acknowledged", "resolved"]
LIFECYCLE_STATES: tuple[str, ...] = get_args(Lifecycle)
Transition = Literal["acknowledge", "unacknowledge", "resolve", "reopen"]


class CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, serialize_by_alias=True, validate_by_name=True, frozen=True
    )


class TimelineRead(CamelModel):
    start: Instant
    end: Instant | None
    detected_at: Instant | None
    resolved_at: Instant | None


class MetadataRead(CamelModel):
    service: str | None
    region: str | None
    environment: str | None
    team: str | None
    tags: dict[str, str] | None
    custom_fields: dict[str, Any] | None


class LifecycleRead(CamelModel):
    state: Lifecycle
    changed_at: Instant | None
    acknowledged_at: Instant | None
    acknowledged_by: str | None
    resolved_at: Instant | None
    resolved_by: str | None


class CollectionRead(CamelModel):
    window_minutes_before: int
    window_minutes_after: int
    force_collect: bool


class IncidentSummary(CamelModel):
    id: str
    source_type: str
    source_ref: str
    occurrence: int
    title: str
    severity: str | None
    status: IncidentStatus
    lifecycle: Lifecycle
    assignee: str | None
    silence_id: str | None
    service: str | None
    is_resolved: bool
    start: Instant
    created_at: Instant
    latest_analysis_id: str | None
    latest_bundle_id: str | None


class IncidentRead(CamelModel):
    id: str
    source_type: str
    source_ref: str
    occurrence: int
    title: str
    description: str | None
    severity: str | None
    status: IncidentStatus
    status_reason: str | None
    lifecycle: LifecycleRead
    assignee: str | None
    silence_id: str | None
    is_resolved: bool
    timeline: TimelineRead
    metadata: MetadataRead
    collection_context: CollectionRead
    latest_bundle_id: str | None
    latest_analysis_id: str | None
    created_at: Instant
    updated_at: Instant
    created_by: str | None


class NoteRead(CamelModel):
    id: str
    incident_id: str
    body: str
    body_html: str
    author: str
    created_at: Instant


class IncidentAlertRead(CamelModel):
    """One alert an incident holds: the one that opened it or one that joined it."""

    source_type: str
    source_ref: str
    group_key: str | None
    role: str
    joined_by: str | None
    title: str
    start: Instant
    resolved_at: Instant | None
    received_at: Instant
    # The silence the alert matched when it arrived (stored, not analysed), if any.
    silence_id: str | None = None


@dataclass(frozen=True)
class IncidentFilter:
    source_type: str | None = None
    severity: str | None = None
    status: str | None = None
    service: str | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    title_contains: str | None = None
    resolved: bool | None = None
    lifecycle: str | None = None
    assignee: str | None = None
    # True: only incidents nobody is assigned to (``assignee`` is then ignored).
    unassigned: bool = False


@dataclass(frozen=True)
class IncidentPage:
    items: list[IncidentSummary]
    next_cursor: str | None


class Registration:
    """What ingesting a request did: opened an incident, or matched (and maybe updated) one.

    ``row``: the incident as stored. ``incident``, its read model, is built from it (by
    ``read``) when first asked: a new incident's `respond-async` ingest needs only the row's
    id, reference, title and severity, and building the read model with its four nested
    models was ~3% of that ingest's CPU (docs/benchmarks.md, twenty-seventh pass)."""

    __slots__ = ("_incident", "_read", "changes", "created", "row")

    def __init__(
        self,
        row: Any,
        *,
        created: bool,
        read: Callable[[Any], IncidentRead],
        changes: dict[str, dict[str, Any]] | None = None,
        incident: IncidentRead | None = None,
    ) -> None:
        self.row = row
        self.created = created
        self.changes: dict[str, dict[str, Any]] = changes if changes is not None else {}
        self._read = read
        self._incident = incident

    @property
    def incident(self) -> IncidentRead:
        if self._incident is None:
            self._incident = self._read(self.row)
        return self._incident


@dataclass(frozen=True)
class LifecycleChange:
    """What a transition or an edit did: the incident after it, and each field's from/to.

    ``changes`` is empty when the incident was already where the request wanted it.
    """

    incident: IncidentRead
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


@dataclass(frozen=True)
class IdempotencyClaim:
    """Whether to process a keyed request, or what to replay for it."""

    fresh: bool
    status_code: int | None = None
    response: dict[str, Any] | None = None


ResolutionOutcome = Literal["resolved", "already-resolved", "unmatched"]


@dataclass(frozen=True)
class Resolution:
    """What a resolve for a reference did: closed its open incident, found it closed, or found none."""

    outcome: ResolutionOutcome
    incident: IncidentRead | None = None
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    clamped: bool = False


@dataclass(frozen=True)
class DeliveryClaim:
    """Whether to process a vendor delivery, or the answer it already got."""

    fresh: bool
    delivery_id: str
    status_code: int | None = None
    response: dict[str, Any] | None = None


class DeliveryRead(CamelModel):
    id: str
    source: str
    delivery_id: str | None
    body_sha256: str
    shape: str | None
    state: str
    status_code: int | None
    response: dict[str, Any] | None
    received_at: Instant
    completed_at: Instant | None
