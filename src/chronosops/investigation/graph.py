"""Why the engine concluded what it did, as a graph: evidence → signals → hypotheses →
actions → conclusion (reference spec §9.1, with its gaps closed: ranks come from the order, so
the conclusion always names the top hypothesis; ids are unique; every node links to what it
stands for)."""

from __future__ import annotations

from typing import Any

from chronosops.reasoning import AnalysisRead

NODE_TYPES = ("EVIDENCE", "SIGNAL", "HYPOTHESIS", "ACTION", "CONCLUSION")
PRIORITY_WEIGHT = {"P0": 1.0, "P1": 0.7, "P2": 0.4}


def explainability_graph(analysis: AnalysisRead, artifacts: list[dict[str, Any]]) -> dict[str, Any]:
    result = analysis.result
    analysis_href = f"/v1/analyses/{analysis.analysis_id}"
    bundle_href = f"/v1/evidence-bundles/{analysis.bundle_id}" if analysis.bundle_id else None
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    seen: set[str] = set()
    evidence_ids = {str(a["artifactId"]) for a in artifacts}

    def node(node_id: str, kind: str, title: str, **fields: Any) -> None:
        if node_id in seen:
            return
        seen.add(node_id)
        nodes.append({"id": node_id, "type": kind, "title": title[:200], **fields})

    def edge(source: str, target: str, label: str, weight: float) -> None:
        if source in seen and target in seen:
            edges.append({"from": source, "to": target, "label": label, "weight": round(weight, 4)})

    for artifact in artifacts:
        artifact_id = str(artifact["artifactId"])
        node(
            f"evidence:{artifact_id}",
            "EVIDENCE",
            artifact["title"],
            subtitle=artifact["kind"],
            href=f"{bundle_href}#{artifact_id}" if bundle_href else None,
            refersTo={
                "kind": "artifact",
                "bundleId": analysis.bundle_id,
                "artifactId": artifact_id,
            },
            meta={
                "kind": artifact["kind"],
                "summary": artifact.get("summary"),
                "synthetic": bool(artifact.get("synthetic")),
            },
        )
    for i, signal in enumerate(result.get("signals", []), start=1):
        signal_id = f"signal:{i}"
        node(
            signal_id,
            "SIGNAL",
            signal["description"],
            subtitle=f"{signal['kind']} · strength {signal['strength']:.2f}",
            href=f"{analysis_href}#signals",
            refersTo={"kind": "signal", "analysisId": analysis.analysis_id, "index": i - 1},
            meta={k: signal.get(k) for k in ("kind", "strength", "service", "at", "factor")},
        )
        for ref in signal.get("evidenceRefs", []):
            if ref in evidence_ids:
                edge(f"evidence:{ref}", signal_id, "shows", signal["strength"])
    signal_refs = {
        f"signal:{i}": set(s.get("evidenceRefs", []))
        for i, s in enumerate(result.get("signals", []), start=1)
    }
    hypotheses = result.get("hypotheses", [])
    for rank, hypothesis in enumerate(hypotheses, start=1):
        hypothesis_id = f"hypothesis:{hypothesis['id']}"
        node(
            hypothesis_id,
            "HYPOTHESIS",
            hypothesis["title"],
            subtitle=f"#{rank} · {round(hypothesis['confidence'] * 100)}%",
            href=f"{analysis_href}#hypothesis-{hypothesis['id']}",
            refersTo={
                "kind": "hypothesis",
                "analysisId": analysis.analysis_id,
                "hypothesisId": hypothesis["id"],
            },
            meta={
                "rank": rank,
                "confidence": hypothesis["confidence"],
                "culpritService": hypothesis.get("culpritService"),
                "rationale": hypothesis.get("rationale"),
            },
        )
        refs = set(hypothesis.get("evidenceRefs", []))
        weight = hypothesis["confidence"] or 0.5
        # A hypothesis rests on the signals drawn from its evidence; evidence no signal
        # carries links to it directly.
        carried: set[str] = set()
        for signal_id, signal_evidence in signal_refs.items():
            if refs & signal_evidence:
                edge(signal_id, hypothesis_id, "supports", weight)
                carried |= signal_evidence
        for ref in sorted(refs - carried):
            if ref in evidence_ids:
                edge(f"evidence:{ref}", hypothesis_id, "supports", weight)
    for action in result.get("recommendedActions", []):
        action_id = f"action:{action['id']}"
        node(
            action_id,
            "ACTION",
            action["title"],
            subtitle=f"Priority {action['priority']}",
            href=f"{analysis_href}#action-{action['id']}",
            refersTo={
                "kind": "action",
                "analysisId": analysis.analysis_id,
                "actionId": action["id"],
            },
            meta={"priority": action["priority"], "steps": action.get("steps", [])},
        )
        edge(
            f"hypothesis:{action['hypothesisId']}",
            action_id,
            "calls for",
            PRIORITY_WEIGHT.get(action["priority"], 0.5),
        )
    top = hypotheses[0] if hypotheses else None
    node(
        "conclusion",
        "CONCLUSION",
        f"Most likely root cause: {top['title'] if top else 'unknown'}",
        subtitle=(
            f"Overall confidence {round(analysis.overall_confidence * 100)}%"
            + (" · inconclusive" if analysis.inconclusive else "")
        ),
        href=analysis_href,
        refersTo={"kind": "analysis", "analysisId": analysis.analysis_id},
        meta={
            "topHypothesisId": analysis.top_hypothesis_id,
            "overallConfidence": analysis.overall_confidence,
            "culpritService": analysis.culprit_service,
            "inconclusive": analysis.inconclusive,
        },
    )
    if top is not None:
        edge(f"hypothesis:{top['id']}", "conclusion", "leads to", analysis.overall_confidence)
    return {
        "kind": "CHRONOSOPS_EXPLAINABILITY_GRAPH",
        "incidentId": analysis.incident_id,
        "analysisId": analysis.analysis_id,
        "bundleId": analysis.bundle_id,
        "nodes": nodes,
        "edges": edges,
    }
