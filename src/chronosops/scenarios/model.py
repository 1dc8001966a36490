"""What a scenario is made of, how to ask for one, and what comes out.

A scenario is a small service topology, a fault (effects on some services from an onset on),
the log lines those effects produce, and the changes (deploys, config, flags) around it, some of
them innocent. `GenerationOptions` varies everything a benchmark needs to vary; a
`GeneratedIncident` carries the artifacts and the ground truth that scores an analysis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, get_args

from chronosops.core.artifacts import Artifact, ChangeType
from chronosops.core.ingest_request import (
    IngestIncidentRequest,
    Severity,
)
from chronosops.core.timestamps import format_instant
from chronosops.core.windows import TimeWindow

ServiceKind = Literal["edge", "api", "worker", "database", "cache", "external", "dns"]
EvidenceKind = Literal["metrics", "logs", "traces", "changes"]
EVIDENCE_KINDS: tuple[EvidenceKind, ...] = get_args(EvidenceKind)
# "native": the generator's house names and phrasing; "mixed": each service a language and an
# exporter drawn from the seed (see `conventions` and `phrasebook`).
Conventions = Literal["native", "mixed"]
CONVENTIONS: tuple[Conventions, ...] = get_args(Conventions)
# "default": the demo library; "field": incidents written in other conventions (`field`).
Family = Literal["default", "field"]

# How a failing request fails, as its caller sees it; drives the caller's log lines.
FailureMode = Literal[
    "error",
    "unavailable",
    "refused",
    "timeout",
    "unreachable",
    "tls",
    "dns",
    "throttled",
    "pool",
    "unauthorized",  # 401: a credential or token the callee (an identity provider) rejects
]

# What an effect changes on its target service.
EffectField = Literal[
    "latency_ms",  # added to the service's own work per request (optionally one operation)
    "error_ratio",  # share of requests the service itself fails (with a failure mode)
    "traffic",  # added to the entry traffic multiplier (1.0 doubles it)
    "cpu_cost",  # added to the CPU cost per request (1.0 doubles it)
    "memory_leak_mb",  # MB leaked per minute; the process is OOM-killed at its limit
    "pool_hold_ms",  # extra time each request holds a database connection
    "cache_hit",  # added to the cache hit ratio (negative: more misses)
    "unreachable",  # share of calls to the service that cannot connect (network partition)
    "tls_failure",  # share of TLS handshakes to the service that fail (expired certificate)
]

MAX_VARIANT = 5
MAX_JITTER_MINUTES = 30
MAX_WINDOW_MINUTES = 120


@dataclass(frozen=True)
class Call:
    """A dependency call made by an operation, ``per_request`` times per request."""

    target: str
    operation: str
    per_request: float = 1.0
    timeout_ms: float = 2000.0
    # Cache-aside reads: the call happens only on a miss of the caller's cache.
    on_cache_miss: bool = False
    # How much of the callee's failure the caller passes on (fallbacks and retries absorb some).
    propagation: float = 0.9
    # Made while the caller holds one of its database connections (so a slow callee drains the pool).
    holds_connection: bool = False


@dataclass(frozen=True)
class Operation:
    name: str
    share: float = 1.0
    work_ms: float = 20.0
    calls: tuple[Call, ...] = ()


@dataclass(frozen=True)
class ServiceNode:
    """One service of a topology; ``key`` is the role effects and log rules refer to."""

    key: str
    name: str
    kind: ServiceKind
    operations: tuple[Operation, ...]
    rps: float = 0.0  # entry traffic (requests/s) for services users call directly
    error_ratio: float = 0.001
    cpu: float = 0.3  # utilisation at baseline traffic
    memory_mb: float = 600.0
    memory_limit_mb: float = 1024.0
    pool_size: int = 0  # database connection pool; 0 = none
    cache_hit: float | None = None  # hit ratio of the service's cache-aside reads
    rate_limit_rps: float | None = None  # requests/s above which it answers 429
    cert_days: float | None = None  # days until its serving certificate expires, if exported
    port: int = 8080
    address: str = "10.0.0.10"


@dataclass(frozen=True)
class Topology:
    services: tuple[ServiceNode, ...]

    def node(self, key: str) -> ServiceNode:
        for node in self.services:
            if node.key == key:
                return node
        raise KeyError(key)

    def name(self, key: str) -> str:
        return self.node(key).name

    def dependencies(self, key: str) -> list[str]:
        """Keys of the services ``key`` calls, in call order, without repeats."""
        found: list[str] = []
        for operation in self.node(key).operations:
            for call in operation.calls:
                if call.target not in found:
                    found.append(call.target)
        return found

    def edges_json(self) -> list[dict[str, object]]:
        return [
            {
                "service": node.name,
                "kind": node.kind,
                "dependsOn": [self.name(k) for k in self.dependencies(node.key)],
                "operations": [op.name for op in node.operations],
            }
            for node in self.services
        ]


@dataclass(frozen=True)
class Shape:
    """How an effect unfolds, in minutes relative to the real onset.

    0 before ``start``, then rises linearly to full over ``ramp`` minutes, and (with ``end``)
    falls back to 0 over ``recover`` minutes after it.
    """

    start: float = 0.0
    ramp: float = 0.0
    end: float | None = None
    recover: float = 0.0

    def level(self, minutes: float) -> float:
        if minutes < self.start:
            return 0.0
        rising = 1.0 if self.ramp <= 0 else min(1.0, (minutes - self.start) / self.ramp)
        if self.end is None or minutes < self.end:
            return rising
        if self.recover <= 0:
            return 0.0
        return rising * max(0.0, 1.0 - (minutes - self.end) / self.recover)


@dataclass(frozen=True)
class Effect:
    target: str
    field: EffectField
    value: float
    shape: Shape = Shape()
    operation: str | None = None
    mode: FailureMode = "error"


LogDriver = Literal[
    "own_errors",  # requests the service failed itself (not a dependency's failure)
    "requests",  # every request
    "cache_misses",
    "restarts",  # lines per OOM kill / restart
    "throttled",  # requests answered 429
    "pool_timeouts",  # requests that gave up waiting for a connection
    "slow",  # requests slower than a second
    "after_onset",  # a steady trickle from the onset on (e.g. config reload warnings)
]


@dataclass(frozen=True)
class LogRule:
    """Log lines a service writes, at a rate driven by what the simulation says happens.

    ``pattern`` placeholders: ``{n}`` a number, ``{ms}`` a duration, ``{id}`` a numeric id,
    ``{uuid}``, ``{hex}``, ``{ip}``, and ``{svc:KEY}`` for another service's name.
    """

    service: str
    level: str
    pattern: str
    driver: LogDriver
    per_event: float = 1.0
    operation: str | None = None
    threshold_ms: float = 1000.0  # what "slow" means for the ``slow`` driver
    shape: Shape | None = None  # scales the rate (e.g. warnings that grow with a leak)


@dataclass(frozen=True)
class ChangeSpec:
    service: str
    change_type: ChangeType
    minutes: float  # relative to the real onset (negative: before)
    summary: str
    version_from: str | None = None
    version_to: str | None = None
    author: str = "ci-bot"
    innocent: bool = False  # happened, but did not cause the incident


Category = Literal["latency", "errors", "saturation", "availability"]


@dataclass(frozen=True)
class SkippedStep:
    """A usual step of one operation that a code fault skips on every call from the onset on:
    the line it logs stops while the operation keeps being called (`code_faults`)."""

    service: str  # key
    operation: str
    since: float = 0.0  # minutes relative to the real onset (negative: in force before it)


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    description: str
    category: Category
    severity: Severity
    hypothesis_id: str
    culprit: str  # service key
    reported: str  # service key the alert names
    topology: Topology
    effects: tuple[Effect, ...]
    onset: datetime  # nominal real onset (the reference spec's deploy time where it has one)
    duration_minutes: int = 20
    logs: tuple[LogRule, ...] = ()
    changes: tuple[ChangeSpec, ...] = ()
    tags: tuple[str, ...] = ()
    region: str = "us-east1"
    environment: str = "production"
    explanation: str = ""
    hard_case: bool = False
    family: Family = "default"  # field scenarios are always written in mixed conventions
    # Its services log a line at a usual step of each operation (with their trace context), and
    # the fault skips the step ``skipped`` names (`code_faults`); both off in the libraries.
    steps: bool = False
    skipped: SkippedStep | None = None


@dataclass(frozen=True)
class GenerationOptions:
    """Everything a benchmark varies; the defaults give the canonical demo incident.

    ``seed`` drives every random choice; ``variant`` renames services and adds bystanders
    (0 = canonical names); ``noise`` (0–1) scales jitter, benign spikes and unrelated errors;
    the real onset lies up to ``jitter_minutes`` before (or a little after) the reported start;
    ``drop`` removes whole kinds of evidence; ``conventions="mixed"`` names metrics and
    phrases logs as a seeded mix of stacks would (field scenarios always do).
    """

    seed: int = 0
    variant: int = 0
    noise: float = 0.2
    jitter_minutes: int = 0
    drop: frozenset[EvidenceKind] = frozenset()
    start: datetime | None = None  # the reported start; default: the scenario's onset
    end: datetime | None = None  # the reported end; default: start + the scenario's duration
    minutes_before: int = 15
    minutes_after: int = 15
    conventions: Conventions = "native"

    def __post_init__(self) -> None:
        problems = []
        if self.conventions not in CONVENTIONS:
            problems.append(f"conventions must be one of {', '.join(CONVENTIONS)}")
        if self.seed < 0:
            problems.append("seed must be 0 or more")
        if not 0 <= self.variant <= MAX_VARIANT:
            problems.append(f"variant must be 0–{MAX_VARIANT}")
        if not 0.0 <= self.noise <= 1.0:
            problems.append("noise must be 0–1")
        if not 0 <= self.jitter_minutes <= MAX_JITTER_MINUTES:
            problems.append(f"jitter_minutes must be 0–{MAX_JITTER_MINUTES}")
        for name in ("minutes_before", "minutes_after"):
            if not 1 <= getattr(self, name) <= MAX_WINDOW_MINUTES:
                problems.append(f"{name} must be 1–{MAX_WINDOW_MINUTES}")
        unknown = set(self.drop) - set(EVIDENCE_KINDS)
        if unknown:
            problems.append(f"drop may only name {', '.join(EVIDENCE_KINDS)}")
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                problems.append(f"{name} must be timezone-aware")
        if self.start and self.end and self.end < self.start:
            problems.append("end must not be before start")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class GroundTruth:
    """The answer an analysis of the incident should reach."""

    scenario_id: str
    hypothesis_id: str
    culprit_service: str
    reported_service: str
    onset: datetime  # the real onset (the reported start may differ by the jitter)
    explanation: str
    red_herrings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "scenarioId": self.scenario_id,
            "hypothesisId": self.hypothesis_id,
            "culpritService": self.culprit_service,
            "reportedService": self.reported_service,
            "onset": format_instant(self.onset),
            "explanation": self.explanation,
            "redHerrings": list(self.red_herrings),
        }


SYNTHETIC_TAG = "synthetic"


@dataclass(frozen=True)
class GeneratedIncident:
    scenario_id: str
    title: str
    description: str
    severity: Severity
    service: str  # the reported service
    region: str
    environment: str
    start: datetime  # reported
    end: datetime
    window: TimeWindow
    options: GenerationOptions
    truth: GroundTruth
    topology: Topology
    artifacts: tuple[Artifact, ...] = field(default=())

    @property
    def source(self) -> str:
        return f"scenario:{self.scenario_id}"

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for artifact in self.artifacts:
            found[artifact.kind] = found.get(artifact.kind, 0) + 1
        return dict(sorted(found.items()))

    def to_ingest_request(self, *, source_ref: str | None = None) -> IngestIncidentRequest:
        """The incident as a SCENARIO ingest request, without evidence (the pipeline adds it)."""
        return IngestIncidentRequest.model_validate(
            {
                "sourceType": "SCENARIO",
                "sourceRef": source_ref or self.scenario_id,
                "title": self.title,
                "description": self.description,
                "severity": self.severity,
                "timeline": {
                    "start": format_instant(self.start),
                    "end": format_instant(self.end),
                    "detectedAt": format_instant(self.start + timedelta(minutes=1)),
                },
                "metadata": {
                    "service": self.service,
                    "region": self.region,
                    "environment": self.environment,
                    "tags": {"scenario": self.scenario_id, SYNTHETIC_TAG: "true"},
                    "customFields": {"scenario": scenario_fields(self.options)},
                },
                "collectionContext": {
                    "windowMinutesBefore": self.options.minutes_before,
                    "windowMinutesAfter": self.options.minutes_after,
                },
            }
        )


def scenario_fields(options: GenerationOptions) -> dict[str, object]:
    """The generation options a stored incident keeps, so its evidence can be regenerated."""
    fields: dict[str, object] = {
        "seed": options.seed,
        "variant": options.variant,
        "noise": options.noise,
        "jitterMinutes": options.jitter_minutes,
    }
    if options.drop:
        fields["drop"] = sorted(options.drop)
    if options.conventions != "native":
        fields["conventions"] = options.conventions
    return fields
