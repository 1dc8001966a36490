"""`IngestIncidentRequest`: the ingest contract of the integration guide, field by field.

Every door into ChronosOps (the generic API, vendor webhooks, demo scenarios, the CLI) ends in
this one model, so its rules are the rules. Field names on the wire are the guide's camelCase;
unknown fields are rejected so that a typo (``windowMinutesBefor``) is an error, not a default.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

from chronosops.core.artifacts import change_type_of
from chronosops.core.evidence_kinds import ReadKind, read_kind_of
from chronosops.core.timestamps import Instant

# The guide's six values, plus the alert routers ChronosOps reads natively (docs/sources.md), so
# that their incidents can be told apart instead of all being CUSTOM.
SourceType = Literal[
    "SCENARIO",
    "GOOGLE_CLOUD",
    "PAGERDUTY",
    "DATADOG",
    "NEW_RELIC",
    "CUSTOM",
    "ALERTMANAGER",
    "GRAFANA",
    "OPSGENIE",
]
SOURCE_TYPES: tuple[str, ...] = get_args(SourceType)

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[str, ...] = get_args(Severity)

DEFAULT_WINDOW_MINUTES = 15
MIN_WINDOW_MINUTES = 1
MAX_WINDOW_MINUTES = 120

SOURCE_REF_MAX = 512
TITLE_MAX = 500
DESCRIPTION_MAX = 5000

# Strict scalars: the contract says "number" and "boolean", so "15" or 1 for true are mistakes
# worth reporting rather than coercing.
Text = Annotated[str, Field(strict=True)]
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("must not be null; leave the field out instead")
    return value


# Optional but not nullable: the guide marks only description, end and resolvedAt as nullable.
NotNull = BeforeValidator(_not_null)
OptText = Annotated[Text | None, NotNull]
# Not in the guide: ChronosOps indexes these, so it bounds them (documented in docs/api.md).
METADATA_TEXT_MAX = 256
METRIC_UNIT_MAX = 32
OptName = Annotated[
    Annotated[str, Field(strict=True, max_length=METADATA_TEXT_MAX)] | None, NotNull
]
OptInstant = Annotated[Instant | None, NotNull]

WindowMinutes = Annotated[int, Field(strict=True, ge=MIN_WINDOW_MINUTES, le=MAX_WINDOW_MINUTES)]


class ContractModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        serialize_by_alias=True,
        frozen=True,
    )


class Timeline(ContractModel):
    start: Instant
    end: Instant | None = None
    detected_at: OptInstant = None
    resolved_at: Instant | None = None

    @field_validator("end", "resolved_at")
    @classmethod
    def _not_before_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("start")
        if value is not None and start is not None and value < start:
            raise ValueError("must not be before timeline.start")
        return value

    @property
    def resolved_instant(self) -> datetime | None:
        """When the incident was over, if it is: ``resolvedAt``, else ``end``."""
        return self.resolved_at or self.end


class Metadata(ContractModel):
    service: OptName = None
    region: OptName = None
    environment: OptName = None
    team: OptName = None
    tags: Annotated[dict[str, Text] | None, NotNull] = None
    custom_fields: Annotated[dict[str, Any] | None, NotNull] = None


class MetricPoint(ContractModel):
    name: Text
    value: Number
    timestamp: Instant
    labels: Annotated[dict[str, Text] | None, NotNull] = None
    # A documented extension of the guide (docs/api.md): the value's unit, as OpenTelemetry
    # and OpenMetrics carry it. A CPU in percent that never reaches 1% cannot be told from a
    # share by its values, so only the sender can say which it is.
    unit: Annotated[
        Annotated[str, Field(strict=True, max_length=METRIC_UNIT_MAX)] | None, NotNull
    ] = None


class LogLine(ContractModel):
    message: Text
    level: Text | None = None
    timestamp: Instant
    service: OptText = None
    # A documented extension of the guide (docs/api.md): the trace context of the record, as
    # an OpenTelemetry log record carries it, so the line can be placed in the span (one of
    # ``traces``) that logged it. A span id written in the message text does the same.
    trace_id: OptText = None
    span_id: OptText = None


SpanKind = Literal["server", "client", "internal", "producer", "consumer"]
SpanStatus = Literal["ok", "error", "unset"]


class TraceSpan(ContractModel):
    trace_id: Text
    span_id: Text
    service: Text
    operation: Text
    duration: Annotated[Number | None, NotNull] = None
    timestamp: Instant
    # A documented extension of the guide (docs/api.md): enough to build the call graph.
    parent_span_id: OptText = None
    kind: Annotated[SpanKind | None, NotNull] = None
    status: Annotated[SpanStatus | None, NotNull] = None
    error: Annotated[Annotated[bool, Field(strict=True)] | None, NotNull] = None
    peer_service: OptText = None

    @property
    def failed(self) -> bool:
        return bool(self.error) or self.status == "error"


class ChangeOrEvent(ContractModel):
    type: Text
    description: Text
    timestamp: Instant
    metadata: Annotated[dict[str, Any] | None, NotNull] = None


class EvidenceLite(ContractModel):
    metrics: Annotated[list[MetricPoint] | None, NotNull] = None
    logs: Annotated[list[LogLine] | None, NotNull] = None
    traces: Annotated[list[TraceSpan] | None, NotNull] = None
    events: Annotated[list[ChangeOrEvent] | None, NotNull] = None
    # A documented extension of the guide (docs/api.md): the kinds of evidence the sender read
    # over the incident's window and found nothing in ("deploys": the deploy log was read, and
    # nothing was deployed). What was not sent may have been read or not; this says which.
    read_empty: Annotated[list[ReadKind] | None, NotNull] = None

    @field_validator("read_empty")
    @classmethod
    def _empty_as_declared(
        cls, value: list[ReadKind] | None, info: ValidationInfo
    ) -> list[ReadKind] | None:
        if value is None:
            return value
        if len(set(value)) != len(value):
            raise ValueError("names a kind twice; list each kind read and found empty once")
        sent: dict[str, int] = {
            "metrics": len(info.data.get("metrics") or []),
            "logs": len(info.data.get("logs") or []),
            "traces": len(info.data.get("traces") or []),
        }
        for event in info.data.get("events") or []:
            change = change_type_of(event.type)
            if change is not None:
                kind = read_kind_of(change)
                sent[kind] = sent.get(kind, 0) + 1
        found = [f"{kind!r} ({sent[kind]} sent)" for kind in value if sent.get(kind)]
        if found:
            raise ValueError(
                "lists kinds read and found empty, but evidence of "
                + ", ".join(found)
                + " is sent too; leave a kind with evidence out"
            )
        return value

    @property
    def is_empty(self) -> bool:
        """Nothing observed: kinds declared read and found empty say what did not happen,
        not what did, so a request with only those is still collected for."""
        return not (self.metrics or self.logs or self.traces or self.events)


class CollectionContext(ContractModel):
    window_minutes_before: WindowMinutes = DEFAULT_WINDOW_MINUTES
    window_minutes_after: WindowMinutes = DEFAULT_WINDOW_MINUTES
    force_collect: Annotated[bool, Field(strict=True)] = False


# The collection context of a request that names none; frozen, so one instance serves every
# such request (an ingest asks for it up to three times, ~0.6 µs each to build).
_DEFAULT_COLLECTION = CollectionContext()


class IngestIncidentRequest(ContractModel):
    source_type: SourceType
    source_ref: Annotated[str, Field(strict=True, min_length=1, max_length=SOURCE_REF_MAX)]
    title: Annotated[str, Field(strict=True, min_length=1, max_length=TITLE_MAX)]
    timeline: Timeline
    description: Annotated[str, Field(strict=True, max_length=DESCRIPTION_MAX)] | None = None
    severity: Annotated[Severity | None, NotNull] = None
    metadata: Annotated[Metadata | None, NotNull] = None
    evidence_lite: Annotated[EvidenceLite | None, NotNull] = None
    source_payload: Any = None
    collection_context: Annotated[CollectionContext | None, NotNull] = None

    @property
    def collection(self) -> CollectionContext:
        return self.collection_context or _DEFAULT_COLLECTION

    @property
    def has_evidence(self) -> bool:
        return self.evidence_lite is not None and not self.evidence_lite.is_empty


IngestStatus = Literal["created", "analyzed", "failed"]


class IngestIncidentResponse(ContractModel):
    model_config = ConfigDict(**{**ContractModel.model_config, "validate_by_name": True})

    incident_id: str
    evidence_bundle_id: str | None = None
    analysis_id: str | None = None
    status: IngestStatus
    message: str | None = None
    # Whether this alert opened the incident or joined one already open (alert grouping).
    alert: Literal["opened", "joined"] | None = None
