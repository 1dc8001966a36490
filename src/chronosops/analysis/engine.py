"""The built-in reasoner's engine: evidence in, ranked and explained hypotheses out.

Pure and deterministic: no I/O, no clock, no randomness. The same artifacts and context give
the same result, so a stored analysis can always be replayed and compared.
"""

from __future__ import annotations

from collections.abc import Sequence

from chronosops.analysis.actions import actions_for
from chronosops.analysis.catalog import BY_ID, UNKNOWN
from chronosops.analysis.completeness import completeness
from chronosops.analysis.models import (
    AnalysisInput,
    AnalysisResult,
    Explainability,
    Factor,
    PrimarySignal,
    RankedHypothesis,
    Signal,
)
from chronosops.analysis.scoring import DECISIVE_SCORE, WEIGHTS, Score, score_hypotheses
from chronosops.analysis.signals import detect

ENGINE = "builtin"
ENGINE_VERSION = "1"
MAX_HYPOTHESES = 6


def _primary_signal(signals: Sequence[Signal]) -> PrimarySignal:
    """Latency or errors, judged on metrics first, then spans, then logs."""

    def strongest(kind: str) -> float:
        return max((s.strength for s in signals if s.kind == kind), default=0.0)

    for latency_kind, error_kind in (("latency_up", "errors_up"), ("span_slow", "span_errors")):
        latency, errors = strongest(latency_kind), strongest(error_kind)
        if latency or errors:
            return "LATENCY" if latency > errors else "ERRORS"
    if any(s.kind.startswith("log_") or s.kind == "new_error_signature" for s in signals):
        return "ERRORS"
    return "UNKNOWN"


def _factor(signals: Sequence[Signal], kind: str) -> float:
    values = [s.factor for s in signals if s.kind == kind and s.factor is not None]
    return round(max(values), 2) if values else 1.0


def _culprit(hypothesis_id: str, support: Sequence[Signal], service: str | None) -> str | None:
    services = [s.service for s in support if s.service]
    if hypothesis_id == "DOWNSTREAM_OUTAGE":
        # The failing dependency is the culprit, not the service that reported the incident.
        others = [name for name in services if name != service]
        if others:
            return others[0]
    return services[0] if services else service


def _refs(signals: Sequence[Signal]) -> list[str]:
    refs: list[str] = []
    for signal in signals:
        for ref in signal.evidence_refs:
            if ref not in refs:
                refs.append(ref)
    return refs


def analyze(request: AnalysisInput) -> AnalysisResult:
    context = request.context
    artifacts = request.artifacts
    by_id = {artifact.artifact_id: artifact for artifact in artifacts}
    signals = detect(artifacts, context)
    primary = _primary_signal(signals)
    evidence = completeness(
        artifacts,
        source_type=context.source_type,
        primary_signal=primary,
        notes=request.collection_notes,
    )
    scores = score_hypotheses(signals)

    # UNKNOWN competes with a weight that grows as evidence shrinks: thin evidence should
    # make the engine say "not sure", not pick the least-bad guess.
    unknown_weight = 0.6 + 1.0 * (1 - evidence.score / 100)
    total = unknown_weight + sum(s.score for s in scores)
    probability = {s.hypothesis_id: s.score / total for s in scores}
    probability[UNKNOWN] = unknown_weight / total

    leader: Score | None = scores[0] if scores and scores[0].score > 0 else None
    decisive = (
        leader is not None
        and leader.score >= DECISIVE_SCORE
        and probability[leader.hypothesis_id] > probability[UNKNOWN]
    )

    ranked_scores = [s for s in scores if s.score > 0][: MAX_HYPOTHESES - 1]
    order: list[tuple[str, tuple[Signal, ...]]] = [
        (s.hypothesis_id, s.support) for s in ranked_scores
    ]
    if decisive:
        order.append((UNKNOWN, ()))
    else:
        order.insert(0, (UNKNOWN, ()))

    hypotheses: list[RankedHypothesis] = []
    for rank, (hypothesis_id, support) in enumerate(order, start=1):
        entry = BY_ID[hypothesis_id]
        if hypothesis_id == UNKNOWN:
            if leader is None:
                why = "no signal in the evidence points at any cause."
            elif decisive:
                why = "kept as the alternative to the causes above."
            else:
                why = (
                    f"the strongest candidate, {BY_ID[leader.hypothesis_id].title.lower()}, scores "
                    f"{leader.score:.2f}; naming a cause needs at least {DECISIVE_SCORE} and more "
                    "weight than the uncertainty left by missing evidence."
                )
            missing = ", ".join(m.need for m in evidence.missing)
            rationale = f"Evidence completeness is {evidence.score}/100; {why}" + (
                f" Missing: {missing}." if missing else ""
            )
            culprit = None
        else:
            rationale = f"{entry.title}: " + "; ".join(s.description for s in support[:3]) + "."
            culprit = _culprit(hypothesis_id, support, context.service)
        hypotheses.append(
            RankedHypothesis(
                id=hypothesis_id,
                rank=rank,
                title=entry.title,
                confidence=round(probability[hypothesis_id], 4),
                rationale=rationale,
                culprit_service=culprit,
                evidence_refs=_refs(support),
            )
        )

    top = hypotheses[0]
    if decisive and leader is not None:
        culprit_service = top.culprit_service
        actions = actions_for(
            top.id, culprit=culprit_service, support=leader.support, artifacts=by_id
        )
        overall = top.confidence
        summary = (
            f"Likely {top.title.lower()} on {culprit_service or 'the affected service'} "
            f"(confidence {overall:.2f}). {top.rationale}"
        )
    else:
        culprit_service = None
        actions = actions_for(UNKNOWN, culprit=context.service, support=(), artifacts=by_id)
        if leader is not None:
            actions += actions_for(
                leader.hypothesis_id,
                culprit=_culprit(leader.hypothesis_id, leader.support, context.service),
                support=leader.support,
                artifacts=by_id,
            )
        overall = round(max((probability[s.hypothesis_id] for s in ranked_scores), default=0.0), 4)
        summary = "Inconclusive: the evidence does not support any cause strongly enough" + (
            f"; the leading candidate is {BY_ID[leader.hypothesis_id].title.lower()}."
            if leader
            else "."
        )

    leading_weights = WEIGHTS.get(leader.hypothesis_id, {}) if leader else {}
    factors = [
        Factor(
            name=signal.kind,
            value=signal.strength,
            weight=leading_weights.get(signal.kind, 0.0),
            evidence_refs=signal.evidence_refs,
        )
        for signal in signals[:8]
    ]
    explainability = Explainability(
        primary_signal=primary,
        latency_factor=_factor(signals, "latency_up"),
        error_factor=_factor(signals, "errors_up"),
        factors=factors,
        rationale=(
            f"Primary signal {primary.lower()}; "
            + (
                "; ".join(s.description for s in signals[:3])
                if signals
                else "no anomaly was found in the evidence provided"
            )
            + "."
        ),
    )
    return AnalysisResult(
        engine=ENGINE,
        engine_version=ENGINE_VERSION,
        summary=summary,
        inconclusive=not decisive,
        overall_confidence=overall,
        culprit_service=culprit_service,
        hypotheses=hypotheses,
        recommended_actions=actions,
        explainability=explainability,
        signals=signals,
        completeness=evidence,
    )
