"""Typed evidence artifacts: what a bundle holds and what analysis reads.

Collectors, the evidenceLite converter and the scenario library all produce these; the
`analysis` engine consumes them. An artifact is a summary that keeps its raw points or
examples, so the console can draw it and the reasoner can cite it by ``artifactId``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer
from pydantic.alias_generators import to_camel

from chronosops.core.timestamps import Instant


class ArtifactModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
        frozen=True,
        extra="forbid",
    )


class ArtifactBase(ArtifactModel):
    artifact_id: str
    title: str
    summary: str
    source: str = Field(
        description="where it came from: evidenceLite, a collector name, a scenario"
    )
    synthetic: bool = Field(
        default=False, description="generated (demo scenario), not observed in a real system"
    )


class SeriesPoint(ArtifactModel):
    ts: Instant
    value: float


class SeriesStats(ArtifactModel):
    count: int
    min: float
    max: float
    mean: float
    median: float
    first: float
    last: float


class MetricSeries(ArtifactBase):
    kind: Literal["metric_series"] = "metric_series"
    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    service: str | None = None
    unit: str | None = None
    points: list[SeriesPoint]
    stats: SeriesStats


class LogExample(ArtifactModel):
    ts: Instant
    level: str
    message: str
    service: str | None = None


class LogTemplate(ArtifactBase):
    kind: Literal["log_template"] = "log_template"
    template: str
    count: int
    levels: dict[str, int]
    services: list[str]
    first_seen: Instant
    last_seen: Instant
    examples: list[LogExample]
    histogram: list[SeriesPoint] = Field(
        default_factory=list, description="lines per minute (ts = start of the minute)"
    )

    @property
    def error_count(self) -> int:
        return sum(n for level, n in self.levels.items() if level in ERROR_LEVELS)


class SpanStats(ArtifactModel):
    """Spans of one group within a stretch of time: how many, how many failed, how slow."""

    count: int
    error_count: int
    p50_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None


class SpanBucket(ArtifactModel):
    """Spans of one group in one minute (ts = start of the minute)."""

    ts: Instant
    count: int
    error_count: int
    p95_ms: float | None = None
    p50_ms: float | None = Field(
        default=None, description="the minute's median: what a typical call took, tail aside"
    )
    own_p50_ms: float | None = Field(
        default=None,
        description="the minute's median own time (duration less the span's children), where "
        "parents are known",
    )
    traces: int | None = Field(
        default=None,
        description="traces whose root span is of this group and started in the minute",
    )
    cut_short: int | None = Field(
        default=None,
        description="requests cut short whose last call ended in a span of this group in the "
        "minute: far fewer spans than the requests of the same entry operation that went on "
        "past this service (`core.call_graph.cut_short_ends`)",
    )

    @model_serializer(mode="wrap")
    def _omit_absent_medians(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Added after bundles were first sealed: left out while absent (same id on re-seal).
        return _without_absent(
            handler(self),
            (
                "p50Ms",
                "p50_ms",
                "ownP50Ms",
                "own_p50_ms",
                "traces",
                "cut_short",
                "cutShort",
            ),
        )


def _without_absent(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """``data`` without those of ``keys`` that are None or empty (by alias or by name)."""
    for key in keys:
        if key in data and (data[key] is None or data[key] in ([], {})):
            del data[key]
    return data


# Fields added after bundles were first sealed: left out of the dump while absent, so that a
# bundle sealed before they existed re-seals to the same id.
_OPTIONAL_SPAN_FIELDS = ("baseline", "incident", "histogram", "peer_service")


class SpanGroup(ArtifactBase):
    kind: Literal["span_group"] = "span_group"
    service: str
    operation: str
    peer_service: str | None = Field(
        default=None,
        description="for client spans: the service called (OpenTelemetry's peer.service)",
    )
    count: int
    error_count: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None
    first_seen: Instant
    last_seen: Instant
    trace_ids: list[str] = Field(default_factory=list)
    baseline: SpanStats | None = Field(
        default=None, description="spans before the incident's onset"
    )
    incident: SpanStats | None = Field(default=None, description="spans from the onset on")
    histogram: list[SpanBucket] = Field(
        default_factory=list, description="per minute: spans, failures and p95"
    )

    @model_serializer(mode="wrap")
    def _omit_absent_optional_fields(
        self, handler: SerializerFunctionWrapHandler
    ) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in _OPTIONAL_SPAN_FIELDS:
            if key in data and data[key] in (None, []):
                del data[key]
        return data


class LogStatement(ArtifactBase):
    """One log statement of a service, placed in the span operation that logs it.

    Lines that carry their trace context (``TraceID: … SpanID: …``, ``trace_id=… span_id=…``)
    say which span logged them; a statement's lines mostly sit in one operation (a handler, a
    method). Counted per span (a loop logging it ten times in one call counts once), per minute,
    so that what an operation does can be compared before and after a fault however often the
    operation itself is called (`analysis.code_paths`).
    """

    kind: Literal["log_statement"] = "log_statement"
    service: str
    operation: str = Field(
        description="the span operation its lines are logged in; empty when not one operation"
    )
    statement: str = Field(description="the line's first words, values masked")
    levels: dict[str, int] = Field(description="lines per level")
    spans: int = Field(description="distinct spans that logged it")
    histogram: list[SeriesPoint] = Field(
        default_factory=list, description="spans that logged it, per minute (ts = its start)"
    )
    # When each span logged it, and which other statements the same spans logged: what follows
    # what inside a request, read where the minute histogram is too coarse (a code path that
    # stops part-way through the window, `analysis.code_paths.stopped_paths`). Added after
    # bundles were first sealed: left out while empty (same id on re-seal).
    first_seen: Instant | None = Field(default=None, description="when its first span logged it")
    span_offsets_ms: list[int] = Field(
        default_factory=list,
        description="each span's first line of it, in ms after first_seen, in order",
    )
    co_spans: dict[str, int] = Field(
        default_factory=dict,
        description="other statements of the service logged in the same spans: how many of "
        "its spans logged each (those in at least half of its spans, and two or more)",
    )
    # Its spans that the spans sent do not hold, per minute (traces sampled apart from logs: the
    # line names a call the traces never showed). Calls of its operation all the same, known from
    # the logs alone (`analysis.code_paths.vanished_paths` counts them among the operation's
    # calls). Added after bundles were first sealed: left out while empty.
    unsent: list[SeriesPoint] = Field(
        default_factory=list,
        description="spans that logged it that are not among the spans sent, per minute "
        "(empty: all are)",
    )

    @model_serializer(mode="wrap")
    def _omit_absent_timing(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _without_absent(
            handler(self),
            (
                "firstSeen",
                "first_seen",
                "spanOffsetsMs",
                "span_offsets_ms",
                "coSpans",
                "co_spans",
                "unsent",
            ),
        )


ChangeType = Literal["deploy", "rollback", "config", "feature_flag", "infrastructure"]
CHANGE_TYPES: tuple[str, ...] = get_args(ChangeType)
# How an evidenceLite event's ``type`` (case and surrounding spaces ignored) names a change;
# any other type is a plain event.
CHANGE_EVENT_TYPES: dict[str, ChangeType] = {
    "deploy": "deploy",
    "deployment": "deploy",
    "release": "deploy",
    "rollout": "deploy",
    "rollback": "rollback",
    "config": "config",
    "config_change": "config",
    "configuration": "config",
    "config-change": "config",
    "feature_flag": "feature_flag",
    "feature-flag": "feature_flag",
    "flag": "feature_flag",
    "flag_change": "feature_flag",
    "infrastructure": "infrastructure",
    "infra": "infrastructure",
    "scaling": "infrastructure",
}


def change_type_of(event_type: str) -> ChangeType | None:
    """The change an event ``type`` names (``Deployment`` → deploy), None for a plain event."""
    return CHANGE_EVENT_TYPES.get(event_type.strip().lower())


class ChangeEvent(ArtifactBase):
    kind: Literal["change_event"] = "change_event"
    change_type: ChangeType
    timestamp: Instant
    description: str
    service: str | None = None
    environment: str | None = None
    version_from: str | None = None
    version_to: str | None = None
    author: str | None = None
    link: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class OtherEvent(ArtifactBase):
    kind: Literal["event"] = "event"
    event_type: str
    timestamp: Instant
    description: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class ProviderUpdate(ArtifactModel):
    ts: Instant
    status: str | None = None
    text: str


class ProviderStatus(ArtifactBase):
    """An incident a cloud provider published on its status page (e.g. Google Cloud's feed)."""

    kind: Literal["provider_status"] = "provider_status"
    provider: str
    incident_ref: str = Field(description="the provider's own incident id")
    status: str = Field(description="the provider's impact, e.g. SERVICE_DISRUPTION")
    severity: str | None = None
    began_at: Instant
    ended_at: Instant | None = None
    updated_at: Instant | None = None
    products: list[str] = Field(default_factory=list)
    locations: list[str] = Field(default_factory=list)
    description: str
    link: str | None = None
    updates: list[ProviderUpdate] = Field(default_factory=list)


Artifact = Annotated[
    MetricSeries
    | LogTemplate
    | SpanGroup
    | ChangeEvent
    | OtherEvent
    | ProviderStatus
    | LogStatement,
    Field(discriminator="kind"),
]
ARTIFACT_KINDS: tuple[str, ...] = (
    "metric_series",
    "log_template",
    "span_group",
    "change_event",
    "event",
    "provider_status",
    "log_statement",
)

ERROR_LEVELS = frozenset({"ERROR", "CRITICAL", "FATAL", "ALERT", "EMERGENCY"})
WARN_LEVELS = frozenset({"WARN", "WARNING"})


def normalise_level(level: str | None) -> str:
    """One vocabulary for log levels: ERROR, WARN, INFO, DEBUG, CRITICAL or UNKNOWN."""
    if not level:
        return "UNKNOWN"
    upper = level.strip().upper()
    if upper in {"ERR", "ERROR", "SEVERE"}:
        return "ERROR"
    if upper in {"FATAL", "CRITICAL", "CRIT", "ALERT", "EMERGENCY", "EMERG", "PANIC"}:
        return "CRITICAL"
    if upper in WARN_LEVELS:
        return "WARN"
    if upper in {"INFO", "INFORMATION", "NOTICE"}:
        return "INFO"
    if upper in {"DEBUG", "TRACE"}:
        return "DEBUG"
    return "UNKNOWN"
