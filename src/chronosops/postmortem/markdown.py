"""The postmortem as Markdown, rendered from its JSON content and nothing else."""

from __future__ import annotations

from typing import Any


def _cell(text: Any) -> str:
    """Text safe inside a Markdown table cell: no pipes, no line breaks."""
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def _refs(refs: list[str]) -> str:
    return ", ".join(f"`{ref}`" for ref in refs) if refs else "—"


def _statements(lines: list[str], items: list[dict[str, Any]], empty: str) -> None:
    if not items:
        lines.append(f"_{empty}_")
    for item in items:
        refs = item["evidenceRefs"]
        lines.append(f"- {item['statement']}" + (f" (evidence: {_refs(refs)})" if refs else ""))
    lines.append("")


def _prose_note(prose: dict[str, Any] | None) -> list[str]:
    """Who wrote the prose, when a language model was asked to."""
    if not prose:
        return []
    if prose["writer"] == "model":
        refs = sorted({r for refs in prose["evidenceRefs"].values() for r in refs})
        return [
            f"_Summary, impact and root-cause prose written by {prose['provider']} "
            f"{prose['model']}, checked to cite only evidence in the bundle ({_refs(refs)})._",
            "",
        ]
    return [f"_Prose from the built-in generator: {prose['failure']}._", ""]


def render_markdown(content: dict[str, Any]) -> str:
    origin = content["generatedFrom"]
    root = content["rootCause"]
    impact = content["impact"]
    evidence = content["evidence"]
    lines: list[str] = [f"# Postmortem: {content['headline']}", ""]
    if content["synthetic"]:
        lines += [
            "> **Synthetic evidence.** This incident comes from a demo scenario: the evidence "
            "was generated, not observed in a real system.",
            "",
        ]
    lines += [
        f"- Incident: `{content['incidentId']}`",
        f"- Analysis: `{origin['analysisId']}` ({origin['reasoner']} reasoner, engine "
        f"{origin['engineVersion']}, {origin['analysedAt']})",
        f"- Evidence bundle: `{content['bundleId']}`",
        f"- Generator version: {content['generatorVersion']}",
        "",
        "## Executive summary",
        "",
        content["executiveSummary"],
        "",
        *_prose_note(content.get("prose")),
        "## Impact",
        "",
        f"- Severity: {impact['severity'] or 'unrated'}",
        f"- Services: {', '.join(impact['services']) or 'unknown'}",
        f"- Started: {impact['startedAt']}",
        f"- Ended: {impact['endedAt'] or 'not yet'}"
        + (f" ({impact['durationMinutes']} min)" if impact["durationMinutes"] is not None else ""),
        f"- {impact['description']} (evidence: {_refs(impact['evidenceRefs'])})",
        "",
        "## Timeline",
        "",
        "| Time (UTC) | Event | Evidence |",
        "|---|---|---|",
    ]
    lines += [
        f"| {entry['at']} | {_cell(entry['event'])} | {_refs(entry['evidenceRefs'])} |"
        for entry in content["timeline"]
    ]
    lines += [
        "",
        "## Root cause",
        "",
        f"**{root['title']}** — {round(root['confidence'] * 100)}% confidence"
        + (f", on {root['culpritService']}" if root["culpritService"] else "")
        + (" (inconclusive)" if root["inconclusive"] else ""),
        "",
        *(
            [root["narrative"], "", f"The engine's rationale: {root['rationale']}"]
            if root.get("narrative")
            else [root["rationale"]]
        ),
        "",
        f"Evidence: {_refs(root['evidenceRefs'])}",
        "",
        "## Contributing factors",
        "",
    ]
    if not content["contributingFactors"]:
        lines.append("_None beyond the root cause._")
    for factor in content["contributingFactors"]:
        lines.append(
            f"- **{factor['title']}** — {factor['detail']} (evidence: {_refs(factor['evidenceRefs'])})"
        )
    lines += ["", "## What went well", ""]
    _statements(lines, content["whatWentWell"], "Nothing the evidence shows.")
    lines += ["## What went badly", ""]
    _statements(lines, content["whatWentBadly"], "Nothing the evidence shows.")
    lines += ["## Action items", ""]
    if not content["actionItems"]:
        lines.append("_No actions recommended._")
    for item in content["actionItems"]:
        lines.append(
            f"- [ ] **{item['priority']}** {item['title']} — owner: _unassigned_ "
            f"(evidence: {_refs(item['evidenceRefs'])})"
        )
        lines += [f"    - {step}" for step in item["steps"]]
    lines += [
        "",
        "## Evidence",
        "",
        f"Bundle `{evidence['bundleId']}`: {evidence['artifactCount']} artifact(s), "
        f"completeness {evidence['completenessScore']}/100. The statements above cite:",
        "",
        "| Artifact | Kind | Title | Summary |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{a['artifactId']}` | {a['kind']} | {_cell(a['title'])} | {_cell(a['summary'])}"
        + (" (synthetic)" if a["synthetic"] else "")
        + " |"
        for a in evidence["artifacts"]
    ]
    if evidence["missing"]:
        lines += ["", "Missing evidence:", ""]
        lines += [f"- {m['priority']} {m['need']}: {m['reason']}" for m in evidence["missing"]]
    narrative = content.get("modelNarrative")
    if narrative:
        lines += [
            "",
            "## Language model's reading (second opinion)",
            "",
            f"_Written by {narrative['provider']} {narrative['model']}; not evidence._",
            "",
            narrative["narrative"],
        ]
    lines += [
        "",
        "---",
        f"Generated by ChronosOps postmortem generator {content['generatorVersion']}.",
    ]
    return "\n".join(lines) + "\n"
