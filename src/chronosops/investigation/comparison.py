"""What changed between two analyses of one incident (reference spec §9.2, with its gaps closed:
ranks come from the order, and the reasoner and engine versions are part of the answer)."""

from __future__ import annotations

from typing import Any

from chronosops.core.timestamps import format_instant
from chronosops.reasoning import AnalysisRead

CONFIDENCE_EPSILON = 0.005


def _side(analysis: AnalysisRead) -> dict[str, Any]:
    return {
        "analysisId": analysis.analysis_id,
        "createdAt": format_instant(analysis.created_at),
        "bundleId": analysis.bundle_id,
        "reasoner": analysis.reasoner,
        "engineVersion": analysis.engine_version,
        "overallConfidence": analysis.overall_confidence,
        "topHypothesisId": analysis.top_hypothesis_id,
        "inconclusive": analysis.inconclusive,
        "completenessScore": analysis.completeness_score,
        "primarySignal": analysis.primary_signal,
    }


def _hypotheses(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        h["id"]: {"id": h["id"], "title": h["title"], "rank": i, "confidence": h["confidence"]}
        for i, h in enumerate(result.get("hypotheses", []), start=1)
    }


def _actions(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a.get("id") or a["title"]: a for a in result.get("recommendedActions", [])}


def _artifact(artifact: dict[str, Any]) -> dict[str, Any]:
    return {
        "artifactId": artifact["artifactId"],
        "kind": artifact["kind"],
        "title": artifact["title"],
        "summary": str(artifact.get("summary", ""))[:200],
    }


def compare_analyses(
    a: AnalysisRead,
    b: AnalysisRead,
    *,
    artifacts_a: list[dict[str, Any]],
    artifacts_b: list[dict[str, Any]],
) -> dict[str, Any]:
    """``a`` is "before", ``b`` "after"; the caller has checked they share the incident."""
    hyp_a, hyp_b = _hypotheses(a.result), _hypotheses(b.result)
    added = [hyp_b[k] for k in hyp_b if k not in hyp_a]
    removed = [hyp_a[k] for k in hyp_a if k not in hyp_b]
    reranked: list[dict[str, Any]] = []
    drift: list[dict[str, Any]] = []
    for key in hyp_b:
        if key not in hyp_a:
            continue
        before, after = hyp_a[key], hyp_b[key]
        if before["rank"] != after["rank"]:
            reranked.append(
                {
                    "id": key,
                    "title": after["title"],
                    "rankBefore": before["rank"],
                    "rankAfter": after["rank"],
                }
            )
        delta = after["confidence"] - before["confidence"]
        if abs(delta) > CONFIDENCE_EPSILON:
            drift.append(
                {
                    "id": key,
                    "title": after["title"],
                    "before": before["confidence"],
                    "after": after["confidence"],
                    "delta": round(delta, 4),
                }
            )

    ids_a = {x["artifactId"]: x for x in artifacts_a}
    ids_b = {x["artifactId"]: x for x in artifacts_b}
    evidence_added = [_artifact(ids_b[k]) for k in ids_b if k not in ids_a]
    evidence_removed = [_artifact(ids_a[k]) for k in ids_a if k not in ids_b]

    act_a, act_b = _actions(a.result), _actions(b.result)
    actions_changed: list[dict[str, Any]] = []
    for key in act_b:
        if key not in act_a:
            continue
        before, after = act_a[key], act_b[key]
        if before.get("priority") != after.get("priority"):
            note = f"Priority changed {before.get('priority')} → {after.get('priority')}"
        elif before.get("steps") != after.get("steps"):
            note = "Steps changed"
        else:
            continue
        actions_changed.append(
            {
                "key": key,
                "title": after["title"],
                "note": note,
                "before": {"priority": before.get("priority"), "steps": before.get("steps")},
                "after": {"priority": after.get("priority"), "steps": after.get("steps")},
            }
        )

    def action_brief(action: dict[str, Any]) -> dict[str, Any]:
        return {
            "key": action.get("id") or action["title"],
            "title": action["title"],
            "priority": action.get("priority"),
            "stepsCount": len(action.get("steps", [])),
        }

    missing_a = {m["need"]: m for m in a.result.get("completeness", {}).get("missing", [])}
    missing_b = {m["need"]: m for m in b.result.get("completeness", {}).get("missing", [])}
    confidence_delta = round(b.overall_confidence - a.overall_confidence, 4)
    versions = {
        "before": {"reasoner": a.reasoner, "engineVersion": a.engine_version},
        "after": {"reasoner": b.reasoner, "engineVersion": b.engine_version},
        "reasonerChanged": a.reasoner != b.reasoner,
        "engineVersionChanged": a.engine_version != b.engine_version,
    }

    key_changes: list[str] = []
    if a.bundle_id != b.bundle_id:
        key_changes.append(
            f"Evidence bundle changed: {a.bundle_id or 'none'} → {b.bundle_id or 'none'}"
        )
    if evidence_added:
        key_changes.append(f"Added {len(evidence_added)} evidence artifact(s)")
    if evidence_removed:
        key_changes.append(f"Removed {len(evidence_removed)} evidence artifact(s)")
    if a.top_hypothesis_id != b.top_hypothesis_id:
        key_changes.append(
            "Top hypothesis changed: "
            f"{hyp_a.get(a.top_hypothesis_id, {}).get('title', a.top_hypothesis_id)} → "
            f"{hyp_b.get(b.top_hypothesis_id, {}).get('title', b.top_hypothesis_id)}"
        )
    if abs(confidence_delta) > CONFIDENCE_EPSILON:
        key_changes.append(
            f"Overall confidence {a.overall_confidence:.2f} → {b.overall_confidence:.2f}"
        )
    if a.completeness_score != b.completeness_score:
        key_changes.append(f"Completeness {a.completeness_score} → {b.completeness_score}")
    if a.primary_signal != b.primary_signal:
        key_changes.append(f"Primary signal {a.primary_signal} → {b.primary_signal}")
    added_actions = [action_brief(act_b[k]) for k in act_b if k not in act_a]
    removed_actions = [action_brief(act_a[k]) for k in act_a if k not in act_b]
    if added_actions:
        key_changes.append(f"Added {len(added_actions)} recommended action(s)")
    if removed_actions:
        key_changes.append(f"Removed {len(removed_actions)} recommended action(s)")
    if versions["reasonerChanged"] or versions["engineVersionChanged"]:
        key_changes.append(
            f"Reasoner {a.reasoner} {a.engine_version} → {b.reasoner} {b.engine_version}"
        )

    return {
        "kind": "CHRONOSOPS_ANALYSIS_COMPARE",
        "incidentId": b.incident_id,
        "a": _side(a),
        "b": _side(b),
        "versions": versions,
        "confidence": {
            "before": a.overall_confidence,
            "after": b.overall_confidence,
            "delta": confidence_delta,
        },
        "hypotheses": {
            "topChanged": a.top_hypothesis_id != b.top_hypothesis_id,
            "added": added,
            "removed": removed,
            "reranked": reranked,
            "confidenceDrift": drift,
        },
        "evidence": {
            "bundleChanged": a.bundle_id != b.bundle_id,
            "added": evidence_added,
            "removed": evidence_removed,
            "unchanged": len(set(ids_a) & set(ids_b)),
        },
        "actions": {
            "added": added_actions,
            "removed": removed_actions,
            "changed": actions_changed,
        },
        "completeness": {
            "before": a.completeness_score,
            "after": b.completeness_score,
            "missingAdded": [missing_b[k] for k in missing_b if k not in missing_a],
            "missingRemoved": [missing_a[k] for k in missing_a if k not in missing_b],
        },
        "primarySignal": {
            "before": a.primary_signal,
            "after": b.primary_signal,
            "changed": a.primary_signal != b.primary_signal,
        },
        "keyChanges": key_changes,
        "headline": (
            f"{len(key_changes)} key change(s)" if key_changes else "No significant changes"
        ),
    }
