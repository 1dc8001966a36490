"""Drafting a postmortem from one analysis and the bundle it read: pure, so the same analysis
always drafts the same postmortem (DESIGN.md §5).

Every statement carries the artifact ids it rests on, and only ids that resolve in the bundle:
a reference the bundle cannot back is dropped rather than shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from chronosops.analysis import AnalysisResult
from chronosops.core.timestamps import format_instant, parse_instant
from chronosops.postmortem.schemas import GENERATOR_VERSION, POSTMORTEM_KIND, PostmortemSource

HEADLINE_MAX = 200
TIMELINE_MAX = 60
# Which artifact kinds stand for each need the completeness score names.
NEED_KINDS: dict[str, tuple[str, ...]] = {
    "METRICS": ("metric_series",),
    "LOGS": ("log_template",),
    "TRACES": ("span_group",),
    "DEPLOYS": ("change_event",),
    "CONFIG": ("change_event",),
    "GOOGLE_STATUS": ("provider_status",),
}
FAILED_COLLECTION = frozenset({"error", "timeout"})


def _pct(value: float) -> int:
    return round(value * 100)


def _instant(value: Any) -> datetime:
    return value if isinstance(value, datetime) else parse_instant(str(value))


class _Refs:
    """The bundle's artifact ids, and which of them the postmortem has cited so far."""

    def __init__(self, artifacts: list[dict[str, Any]]) -> None:
        self.order = [str(a["artifactId"]) for a in artifacts]
        self.known = set(self.order)
        self.cited: set[str] = set()

    def keep(self, refs: Iterable[str]) -> list[str]:
        kept: list[str] = []
        for ref in refs:
            if ref in self.known and ref not in kept:
                kept.append(ref)
        self.cited.update(kept)
        return kept


def _statement(text: str, refs: list[str]) -> dict[str, Any]:
    return {"statement": text, "evidenceRefs": refs}


def draft_postmortem(source: PostmortemSource) -> dict[str, Any]:
    """The postmortem's JSON content."""
    result = (
        source.parsed if source.parsed is not None else AnalysisResult.model_validate(source.result)
    )
    artifacts = source.artifacts
    by_id = {str(a["artifactId"]): a for a in artifacts}
    refs = _Refs(artifacts)
    top = result.hypotheses[0]
    synthetic = any(bool(a.get("synthetic")) for a in artifacts)
    duration = (
        round((source.ended_at - source.started_at).total_seconds() / 60)
        if source.ended_at
        else None
    )

    root_cause = {
        "hypothesisId": top.id,
        "title": top.title,
        "confidence": top.confidence,
        "overallConfidence": result.overall_confidence,
        "inconclusive": result.inconclusive,
        "culpritService": result.culprit_service,
        "rationale": top.rationale,
        "evidenceRefs": refs.keep(top.evidence_refs),
    }

    services = sorted(
        {s for s in [source.service, result.culprit_service] if s}
        | {s.service for s in result.signals if s.service}
    )
    explain = result.explainability
    impact = {
        "severity": source.severity,
        "services": services,
        "startedAt": format_instant(source.started_at),
        "endedAt": format_instant(source.ended_at) if source.ended_at else None,
        "durationMinutes": duration,
        "primarySignal": explain.primary_signal,
        "description": (
            f"Primary signal {explain.primary_signal}: latency ×{explain.latency_factor:.2f}, "
            f"errors ×{explain.error_factor:.2f} against the baseline"
            + (f", on {', '.join(services)}" if services else "")
            + "."
        ),
        "evidenceRefs": refs.keep(r for s in result.signals[:5] for r in s.evidence_refs),
    }

    summary = (
        f"{source.title}. A {source.severity or 'unrated'} incident reported by "
        f"{source.source_type} ({source.source_ref}) began {format_instant(source.started_at)}"
        + (f" and lasted {duration} min" if duration is not None else "")
        + ". "
        + (
            f"The analysis was inconclusive; the best candidate is {top.title} "
            f"at {_pct(top.confidence)}% confidence. "
            if result.inconclusive
            else f"Most likely root cause: {top.title} ({_pct(top.confidence)}% confidence"
            + (
                f", on {result.culprit_service}"
                if result.culprit_service
                else ", on a service the evidence did not single out"
            )
            + "). "
        )
        + f"Based on {len(artifacts)} evidence artifact(s), completeness "
        f"{result.completeness.score}/100"
        + (" — the evidence is synthetic (demo scenario), not observed." if synthetic else ".")
    )

    timeline = _timeline(source, result, artifacts, refs)

    contributing: list[dict[str, Any]] = []
    for hypothesis in result.hypotheses[1:4]:
        if hypothesis.confidence < 0.05:
            continue
        contributing.append(
            {
                "title": f"Also possible: {hypothesis.title} ({_pct(hypothesis.confidence)}%)",
                "detail": hypothesis.rationale,
                "evidenceRefs": refs.keep(hypothesis.evidence_refs),
            }
        )
    for factor in explain.factors:
        kept = refs.keep(factor.evidence_refs)
        if not kept:
            continue
        contributing.append(
            {
                "title": f"{factor.name} = {factor.value:.4g}",
                "detail": f"weighed {factor.weight:.2f} in the ranking",
                "evidenceRefs": kept,
            }
        )

    went_well = _went_well(source, result, artifacts, refs, top.evidence_refs, duration)
    went_badly = _went_badly(source, result, refs)

    actions = [
        {
            "id": action.id,
            "title": action.title,
            "priority": action.priority,
            "steps": list(action.steps),
            "hypothesisId": action.hypothesis_id,
            "owner": None,
            "dueDate": None,
            "status": "open",
            "evidenceRefs": refs.keep(action.evidence_refs),
        }
        for action in result.recommended_actions
    ]

    content: dict[str, Any] = {
        "kind": POSTMORTEM_KIND,
        "generatorVersion": GENERATOR_VERSION,
        "incidentId": source.incident_id,
        "analysisId": source.analysis_id,
        "bundleId": source.bundle_id,
        "headline": source.title[:HEADLINE_MAX],
        "synthetic": synthetic,
        "generatedFrom": {
            "analysisId": source.analysis_id,
            "analysedAt": format_instant(source.analysed_at),
            "reasoner": source.reasoner,
            "engineVersion": source.engine_version,
            "bundleId": source.bundle_id,
        },
        "executiveSummary": summary,
        "impact": impact,
        "timeline": timeline,
        "rootCause": root_cause,
        "contributingFactors": contributing,
        "whatWentWell": went_well,
        "whatWentBadly": went_badly,
        "actionItems": actions,
        "evidence": {
            "bundleId": source.bundle_id,
            "artifactCount": len(artifacts),
            "completenessScore": result.completeness.score,
            "missing": [m.model_dump(mode="json") for m in result.completeness.missing],
            "artifacts": [
                {
                    "artifactId": artifact_id,
                    "kind": by_id[artifact_id]["kind"],
                    "title": by_id[artifact_id]["title"],
                    "summary": by_id[artifact_id]["summary"],
                    "source": by_id[artifact_id]["source"],
                    "synthetic": bool(by_id[artifact_id].get("synthetic")),
                }
                for artifact_id in refs.order
                if artifact_id in refs.cited
            ],
        },
    }
    opinion = result.second_opinion
    if opinion is not None and opinion.status == "used" and opinion.narrative:
        # Prose from a language model, kept apart and labelled: the statements above come from
        # the evidence, this only from the model's reading of it.
        content["modelNarrative"] = {
            "provider": opinion.provider,
            "model": opinion.model,
            "agreesOnTop": opinion.agrees_on_top,
            "narrative": opinion.narrative,
        }
    return content


def _timeline(
    source: PostmortemSource,
    result: AnalysisResult,
    artifacts: list[dict[str, Any]],
    refs: _Refs,
) -> list[dict[str, Any]]:
    entries: list[tuple[datetime, int, str, list[str]]] = [
        (source.started_at, 0, f"Incident began ({source.source_type} {source.source_ref})", [])
    ]
    for artifact in artifacts:
        if artifact["kind"] == "change_event":
            entries.append(
                (
                    _instant(artifact["timestamp"]),
                    1,
                    f"{artifact['changeType']} on {artifact.get('service') or 'an unknown service'}: "
                    f"{artifact['description']}",
                    refs.keep([artifact["artifactId"]]),
                )
            )
        elif artifact["kind"] == "provider_status":
            for update in artifact.get("updates", []):
                entries.append(
                    (
                        _instant(update["ts"]),
                        2,
                        f"{artifact['provider']} status: {update['text']}",
                        refs.keep([artifact["artifactId"]]),
                    )
                )
    for signal in result.signals:
        if signal.at is None or signal.kind.startswith("recent_"):
            continue  # changes are on the timeline already, from their own artifacts
        entries.append((signal.at, 3, signal.description, refs.keep(signal.evidence_refs)))
    if source.ended_at is not None:
        entries.append((source.ended_at, 4, "Incident ended", []))
    entries.append(
        (
            source.analysed_at,
            5,
            f"Analysis {source.analysis_id} by the {source.reasoner} reasoner "
            f"(engine {source.engine_version})",
            [],
        )
    )
    entries.sort(key=lambda e: (e[0], e[1], e[2]))
    return [
        {"at": format_instant(at), "event": event, "evidenceRefs": kept}
        for at, _order, event, kept in entries[:TIMELINE_MAX]
    ]


def _went_well(
    source: PostmortemSource,
    result: AnalysisResult,
    artifacts: list[dict[str, Any]],
    refs: _Refs,
    top_refs: list[str],
    duration: int | None,
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    present = result.completeness.present
    if present:
        first_of_need = [
            next((str(a["artifactId"]) for a in artifacts if a["kind"] in NEED_KINDS[need]), "")
            for need in present
        ]
        found.append(
            _statement(
                f"Evidence of {', '.join(present)} was at hand for the diagnosis "
                f"(completeness {result.completeness.score}/100).",
                refs.keep(first_of_need),
            )
        )
    cited_changes = [
        by for by in artifacts if by["kind"] == "change_event" and by["artifactId"] in top_refs
    ]
    for change in cited_changes[:3]:
        found.append(
            _statement(
                f"The change before the onset was on record ({change['description']}), "
                "so it could be tied to the incident.",
                refs.keep([change["artifactId"]]),
            )
        )
    top = result.hypotheses[0]
    if not result.inconclusive and top.confidence >= 0.6:
        found.append(
            _statement(
                f"The evidence singled out one cause, {top.title}, at "
                f"{_pct(top.confidence)}% confidence.",
                refs.keep(top.evidence_refs),
            )
        )
    for note in source.collection:
        if note.get("status") == "ok" and note.get("items", 0):
            found.append(
                _statement(
                    f"Collector {note['source']} returned {note['items']} item(s).",
                    refs.keep(
                        str(a["artifactId"]) for a in artifacts if a["source"] == note["source"]
                    ),
                )
            )
    if duration is not None:
        found.append(_statement(f"The incident was over after {duration} min.", []))
    return found


def _went_badly(
    source: PostmortemSource, result: AnalysisResult, refs: _Refs
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        _statement(signal.description[:400], refs.keep(signal.evidence_refs))
        for signal in result.signals
        if signal.strength >= 0.5 and not signal.kind.startswith("recent_")
    ][:5]
    if result.inconclusive:
        found.append(
            _statement(
                "The evidence did not single out a cause: the analysis is inconclusive.",
                [],
            )
        )
    if not result.inconclusive and result.culprit_service is None:
        found.append(
            _statement(
                "The evidence named the kind of fault but not the service at fault: "
                + result.hypotheses[0].rationale[:300],
                refs.keep(result.hypotheses[0].evidence_refs),
            )
        )
    for missing in result.completeness.missing:
        found.append(
            _statement(f"No {missing.need} evidence ({missing.priority}): {missing.reason}", [])
        )
    for note in source.collection:
        if note.get("status") in FAILED_COLLECTION:
            found.append(
                _statement(
                    f"Collector {note['source']} failed ({note['status']}): {note['detail']}", []
                )
            )
    return found
