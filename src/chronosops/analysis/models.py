"""What the engine reads and what it answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from chronosops.core.artifacts import Artifact
from chronosops.core.evidence_kinds import ReadKind
from chronosops.core.timestamps import Instant

PrimarySignal = Literal["LATENCY", "ERRORS", "UNKNOWN"]
Priority = Literal["P0", "P1", "P2"]
EvidenceNeed = Literal["METRICS", "LOGS", "TRACES", "DEPLOYS", "CONFIG", "GOOGLE_STATUS"]


class AnalysisModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
        frozen=True,
    )


class IncidentContext(AnalysisModel):
    source_type: str
    title: str
    service: str | None = None
    region: str | None = None
    environment: str | None = None
    onset: Instant = Field(description="timeline.start: when the incident began")
    window_start: Instant
    window_end: Instant


class SignalRuleInput(AnalysisModel):
    """An operator's row for the signal table: metric names matching ``pattern`` are ``kind``."""

    pattern: str
    kind: str


class StatementHistory(AnalysisModel):
    """How much of a service's logging one of its statements was in earlier incidents: the
    statement's lines over the lines of every statement the service logged in its spans, one
    share per earlier incident in which the service logged enough to count (0 where the
    statement was absent). Built by `analysis.code_paths.statement_history`."""

    service: str
    operation: str = Field(description="the span operation its lines are logged in")
    statement: str
    shares: list[float] = Field(description="one per earlier incident of the service")
    per_call: list[float] = Field(
        default_factory=list,
        description="its lines per call of the operations it was logged in (`operations`), one "
        "per earlier incident whose record holds their calls and in which they ran (none for "
        "records kept without calls)",
    )
    operations: list[str] = Field(
        default_factory=list, description="every operation its lines were logged in before"
    )


class OperationHistory(AnalysisModel):
    """How much of a service's own spans one of its operations was in earlier incidents: one
    share per earlier incident whose record holds the service's calls (0 where the operation did
    not run). Built by `analysis.operation_mix.operation_history_of`."""

    service: str
    operation: str
    shares: list[float] = Field(description="one per earlier incident of the service")
    spans: list[int] = Field(
        default_factory=list,
        description="the service's own spans in each of those incidents (optional: where "
        "given, the test leaves out the sampling noise the earlier shares already hold)",
    )


class AnalysisInput(AnalysisModel):
    context: IncidentContext
    artifacts: list[Artifact]
    statement_history: list[StatementHistory] = Field(
        default_factory=list,
        description="log statements' shares in earlier incidents of the same services (optional)",
    )
    operation_history: list[OperationHistory] = Field(
        default_factory=list,
        description="span operations' shares of their service's spans in earlier incidents "
        "(optional)",
    )
    history_incidents: list[str] = Field(
        default_factory=list,
        description="the earlier incidents `statement_history` was read from, for the stored "
        "analysis to say what it was compared with (the engine does not read it)",
    )
    signal_rules: list[SignalRuleInput] = Field(
        default_factory=list,
        description="extra metric-name rows tried before the built-in signal table",
    )
    collection_notes: list[str] = Field(
        default_factory=list,
        description="what gathering the evidence did: sources that failed, timed out or were synthetic",
    )
    coverage: list[ReadKind] = Field(
        default_factory=list,
        description="the kinds of evidence read over the window, found or not (the bundle's "
        "coverage): a kind read and found empty is known not to have happened",
    )


class Signal(AnalysisModel):
    """One thing the evidence shows, e.g. "error rate rose 4.1× on checkout at 10:03"."""

    kind: str
    description: str
    strength: float = Field(ge=0, le=1)
    service: str | None = None
    at: Instant | None = None
    factor: float | None = None
    evidence_refs: list[str] = Field(default_factory=list)


class MissingEvidence(AnalysisModel):
    need: EvidenceNeed
    priority: Priority
    reason: str


class Completeness(AnalysisModel):
    score: int = Field(ge=0, le=100)
    present: list[EvidenceNeed]
    missing: list[MissingEvidence]
    notes: list[str] = Field(default_factory=list)
    read_empty: list[EvidenceNeed] = Field(
        default_factory=list,
        description="kinds read over the window that held nothing (no deploy, say): neither "
        "present nor missing. They do not raise the score (which weighs UNKNOWN), and count "
        "in the reach of the stated confidence (engine 3.34)",
    )


class RankedHypothesis(AnalysisModel):
    id: str
    rank: int
    title: str
    confidence: float = Field(ge=0, le=1)
    rationale: str
    culprit_service: str | None = None
    evidence_refs: list[str] = Field(default_factory=list)


class RecommendedAction(AnalysisModel):
    id: str
    title: str
    steps: list[str]
    priority: Priority
    hypothesis_id: str
    evidence_refs: list[str] = Field(default_factory=list)


class Factor(AnalysisModel):
    name: str
    value: float
    weight: float
    evidence_refs: list[str] = Field(default_factory=list)


class Explainability(AnalysisModel):
    primary_signal: PrimarySignal
    latency_factor: float
    error_factor: float
    factors: list[Factor]
    rationale: str


class OpinionHypothesis(AnalysisModel):
    id: str
    confidence: float = Field(ge=0, le=1)
    rationale: str
    evidence_refs: list[str] = Field(default_factory=list)


class SecondOpinion(AnalysisModel):
    """What a language model said about the same evidence, checked and kept beside the ranking.

    The ranking above it is settled by code from the evidence; the model's own ranking, its
    narrative and where it disagrees are kept here so a reader can weigh them.
    """

    provider: str
    model: str
    status: Literal["used", "failed"]
    failure: str | None = None
    narrative: str | None = None
    hypotheses: list[OpinionHypothesis] = Field(default_factory=list)
    agrees_on_top: bool | None = None
    disagreements: list[str] = Field(default_factory=list)
    dropped: list[str] = Field(
        default_factory=list, description="parts of the answer refused by validation, and why"
    )
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    attempts: int = 0
    latency_ms: float = 0.0


class AnalysisResult(AnalysisModel):
    engine: str
    engine_version: str
    summary: str
    inconclusive: bool
    overall_confidence: float = Field(ge=0, le=1)
    culprit_service: str | None
    hypotheses: list[RankedHypothesis]
    recommended_actions: list[RecommendedAction]
    explainability: Explainability
    signals: list[Signal]
    completeness: Completeness
    suspects: list[str] = Field(
        default_factory=list,
        description="culprit services in rank order: the named culprit first, then the services "
        "whose own signals moved most",
    )
    second_opinion: SecondOpinion | None = None
