"""Which kinds of evidence a benchmark keeps: the ``--evidence KINDS`` grammar shared by
``bench nezha`` and ``bench analysis``, and the artifacts each kind holds.

An incident's evidence comes in four kinds, as evidenceLite sends it: ``metrics`` (metric
series), ``logs`` (log lines, mined into templates), ``traces`` (spans, grouped per operation
with the calls they hold) and ``events`` (changes, other events, call-graph ``topology``
events and provider status). A log statement is a log line placed in the span that logged
it, so it is built only from both logs and traces (`evidence.lite.statement_artifacts`):
it is kept only when both are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

from chronosops.core.artifacts import (
    CHANGE_TYPES,
    Artifact,
    ChangeEvent,
    LogStatement,
    LogTemplate,
    MetricSeries,
    OtherEvent,
    ProviderStatus,
    SpanGroup,
)

EVIDENCE_KINDS = ("metrics", "logs", "traces", "events")

# The kinds of evidence a source can say it *read* over an incident's window, found or not
# (a bundle's ``coverage``): what came back says what happened; what was read and came back
# empty says what did not. Changes are two kinds, as feeds keep them apart: deploys
# (and rollbacks) and configuration (settings, feature flags, infrastructure).
ReadKind = Literal["metrics", "logs", "traces", "deploys", "config"]
READ_KINDS: tuple[ReadKind, ...] = get_args(ReadKind)


def read_kind_of(change_type: str) -> ReadKind:
    """Which feed a change belongs to: a deploy or rollback to ``deploys``, anything else
    (config, feature flag, infrastructure) to ``config``."""
    return "deploys" if change_type in ("deploy", "rollback") else "config"


# The read kinds changes fall into, and which change types each covers.
CHANGE_READ_KINDS: tuple[ReadKind, ...] = ("deploys", "config")


def change_types_of(kind: ReadKind) -> tuple[str, ...]:
    """The change types a feed of ``kind`` reports (`read_kind_of` turned around):
    ``deploys`` → deploy, rollback; ``config`` → config, feature_flag, infrastructure."""
    return tuple(change for change in CHANGE_TYPES if read_kind_of(change) == kind)


def read_kinds(kinds: Iterable[str]) -> list[ReadKind]:
    """``kinds`` that are read kinds, each once, in `READ_KINDS` order (a bundle's coverage
    is the same list however its sources named it)."""
    wanted = set(kinds)
    return [kind for kind in READ_KINDS if kind in wanted]


ALL_EVIDENCE: frozenset[str] = frozenset(EVIDENCE_KINDS)


class EvidenceChoiceError(ValueError):
    """An ``--evidence`` value that names no kind, or a kind that does not exist."""


def parse_evidence(text: str) -> frozenset[str]:
    """``all`` or a comma-separated list of evidence kinds to keep (``metrics``,
    ``metrics,logs``, ...); anything else is refused with the kinds that exist."""
    words = [w.strip().lower() for w in text.split(",")]
    if words == ["all"]:
        return ALL_EVIDENCE
    unknown = [w for w in words if w not in EVIDENCE_KINDS]
    expected = "expected 'all' or a comma-separated list of " + ", ".join(EVIDENCE_KINDS)
    if not text.strip() or unknown or any(not w for w in words):
        named = ", ".join(repr(w) for w in unknown) if unknown else repr(text)
        raise EvidenceChoiceError(f"--evidence {named}: {expected}")
    if len(set(words)) != len(words):
        raise EvidenceChoiceError(f"--evidence {text!r}: a kind is named twice; {expected}")
    return frozenset(words)


def evidence_label(kept: frozenset[str]) -> str:
    if kept == ALL_EVIDENCE:
        return "all"
    return ",".join(k for k in EVIDENCE_KINDS if k in kept)


def evidence_kinds_of(artifact: Artifact) -> frozenset[str]:
    """The kinds of evidence an artifact is built from (all of them must be kept for it)."""
    match artifact:
        case MetricSeries():
            return frozenset({"metrics"})
        case LogTemplate():
            return frozenset({"logs"})
        case SpanGroup():
            return frozenset({"traces"})
        case LogStatement():
            return frozenset({"logs", "traces"})
        case ChangeEvent() | OtherEvent() | ProviderStatus():
            return frozenset({"events"})
    raise TypeError(f"no evidence kind for {type(artifact).__name__}")  # pragma: no cover


def keep_evidence(artifacts: Iterable[Artifact], kept: frozenset[str]) -> list[Artifact]:
    """The artifacts built only from the ``kept`` kinds of evidence, in their order."""
    if kept == ALL_EVIDENCE:
        return list(artifacts)
    return [a for a in artifacts if evidence_kinds_of(a) <= kept]
