"""Evidence completeness (reference spec §5.4, without its stub penalty).

A score of 0–100 from which kinds of evidence are present, and a prioritised list of what is
missing, ordered by how much it would help given the incident's primary signal.
"""

from __future__ import annotations

from collections.abc import Sequence

from chronosops.analysis.models import (
    Completeness,
    EvidenceNeed,
    MissingEvidence,
    PrimarySignal,
    Priority,
)
from chronosops.core.artifacts import Artifact, ChangeEvent, LogTemplate, MetricSeries, SpanGroup
from chronosops.core.evidence_kinds import ReadKind

WEIGHTS: dict[EvidenceNeed, int] = {
    "METRICS": 25,
    "LOGS": 20,
    "TRACES": 20,
    "DEPLOYS": 15,
    "CONFIG": 15,
    "GOOGLE_STATUS": 5,
}

REASONS: dict[EvidenceNeed, str] = {
    "METRICS": "Latency, error-rate and saturation series show when the incident began and how big it is.",
    "LOGS": "Error log templates name the failure (timeouts, refused connections, exhausted pools).",
    "TRACES": "Spans show which service and operation grew slow or started failing first.",
    "DEPLOYS": "A deploy shortly before the onset is the most common cause of a regression.",
    "CONFIG": "Config and feature-flag changes explain failures that no code change does.",
    "GOOGLE_STATUS": "A provider incident in the same region and product would explain the failure.",
}

_ORDER: tuple[EvidenceNeed, ...] = (
    "METRICS",
    "LOGS",
    "TRACES",
    "DEPLOYS",
    "CONFIG",
    "GOOGLE_STATUS",
)
_RANK: dict[Priority, int] = {"P0": 0, "P1": 1, "P2": 2}


def present_needs(artifacts: Sequence[Artifact]) -> set[EvidenceNeed]:
    present: set[EvidenceNeed] = set()
    for artifact in artifacts:
        if isinstance(artifact, MetricSeries):
            present.add("METRICS")
        elif isinstance(artifact, LogTemplate):
            present.add("LOGS")
        elif isinstance(artifact, SpanGroup):
            present.add("TRACES")
        elif isinstance(artifact, ChangeEvent):
            present.add("DEPLOYS" if artifact.change_type in ("deploy", "rollback") else "CONFIG")
        elif getattr(artifact, "kind", None) == "provider_status":
            present.add("GOOGLE_STATUS")
    return present


# The kinds of evidence that tell a cause apart behind what a service shows: the metrics (what
# moved), the logs (what failed, in words) and change events (what was changed). Spans show where
# time went and which calls failed, which is the metrics' question again: a slow span is as much
# saturation, a slow query or a slow network as a slow latency series. Measured: with traces and
# no logs, named answers were right 59 % of the time against 54 % with the metrics alone, and
# stated as surely as with everything (docs/benchmarks.md, engine 3.31).
CAUSE_KINDS: tuple[frozenset[EvidenceNeed], ...] = (
    frozenset({"METRICS"}),
    frozenset({"LOGS"}),
    frozenset({"DEPLOYS", "CONFIG"}),
)


_READ_NEED: dict[ReadKind, EvidenceNeed] = {
    "metrics": "METRICS",
    "logs": "LOGS",
    "traces": "TRACES",
    "deploys": "DEPLOYS",
    "config": "CONFIG",
}


def reach(evidence: Completeness) -> float:
    """The share of the kinds that tell a cause apart that the evidence holds or was read and
    found empty (0–1): what the evidence could have overturned of a reading. The rest could
    still overturn it. A change feed read with nothing in it has had its say (nothing
    changed) as much as one that named a change (engine 3.34)."""
    seen = set(evidence.present) | set(evidence.read_empty)
    return sum(1 for kind in CAUSE_KINDS if kind & seen) / len(CAUSE_KINDS)


def completeness(
    artifacts: Sequence[Artifact],
    *,
    source_type: str,
    primary_signal: PrimarySignal,
    notes: Sequence[str] = (),
    coverage: Sequence[ReadKind] = (),
) -> Completeness:
    """``coverage``: the kinds read over the window, found or not; those read and found empty
    are neither present (the score stays what the artifacts hold) nor missing."""
    present = present_needs(artifacts)
    empty = {_READ_NEED[kind] for kind in coverage} - present
    counted = set(_ORDER) if source_type == "GOOGLE_CLOUD" else set(_ORDER) - {"GOOGLE_STATUS"}
    score = sum(WEIGHTS[need] for need in present & counted)

    wanted: list[tuple[EvidenceNeed, Priority]] = [("METRICS", "P0")]
    if primary_signal == "LATENCY":
        wanted += [("TRACES", "P0"), ("DEPLOYS", "P1"), ("CONFIG", "P1"), ("LOGS", "P2")]
    elif primary_signal == "ERRORS":
        wanted += [("LOGS", "P0"), ("TRACES", "P1"), ("DEPLOYS", "P1"), ("CONFIG", "P1")]
    else:
        wanted += [("LOGS", "P1"), ("TRACES", "P1"), ("DEPLOYS", "P2"), ("CONFIG", "P2")]
    if source_type == "GOOGLE_CLOUD":
        wanted.append(("GOOGLE_STATUS", "P0"))

    best: dict[EvidenceNeed, Priority] = {}
    for need, priority in wanted:
        if need in present or need in empty:
            continue
        if need not in best or _RANK[priority] < _RANK[best[need]]:
            best[need] = priority
    missing = [
        MissingEvidence(need=need, priority=priority, reason=REASONS[need])
        for need, priority in best.items()
    ]
    return Completeness(
        score=max(0, min(100, score)),
        present=[need for need in _ORDER if need in present & counted],
        missing=missing,
        notes=list(notes),
        read_empty=[need for need in _ORDER if need in empty],
    )
