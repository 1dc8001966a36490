"""The postmortem as Markdown, rendered from its JSON content and nothing else."""

from __future__ import annotations

import re
from typing import Any

# Titles, service names, log lines and change descriptions come from people and vendors: a
# renderer that passes raw HTML through (many wikis do) must show them as typed, and a line
# break in them must not open a heading, list or table row of its own.
# A translation table, not a regex: a synchronous ingest renders ~50 such texts a postmortem,
# and two regex substitutions each cost ~0.1 ms an ingest in all (measured).
_MARKUP = str.maketrans({c: "\\" + c for c in "\\<>&[]"})
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")
_PLAIN = re.compile(r"[^\\<>&\[\]\r\n]*")  # most texts: nothing to escape, returned as they are
_BLOCK_START = re.compile(r"^([#>+*=|-])")


def _text(text: Any) -> str:
    """Text shown as text within a line: HTML, link brackets and line breaks neutralised."""
    value = text if isinstance(text, str) else str(text if text is not None else "")
    if _PLAIN.fullmatch(value):
        return value
    if "\n" in value or "\r" in value:
        value = _LINE_BREAKS.sub(" ", value)
    return value.translate(_MARKUP)


def _block(text: Any) -> str:
    """Text shown as paragraphs: each one as `_text`, none read as a heading, quote or list."""
    paragraphs = re.split(r"\n\s*\n", str(text if text is not None else "").strip())
    return "\n\n".join(_BLOCK_START.sub(r"\\\1", _text(p)) for p in paragraphs if p.strip())


def _cell(text: Any) -> str:
    """Text safe inside a Markdown table cell: as `_text`, and no pipes."""
    return _text(text).replace("|", "\\|")


def _refs(refs: list[str]) -> str:
    return ", ".join(f"`{ref}`" for ref in refs) if refs else "—"


def _statements(lines: list[str], items: list[dict[str, Any]], empty: str) -> None:
    if not items:
        lines.append(f"_{empty}_")
    for item in items:
        refs = item["evidenceRefs"]
        lines.append(
            f"- {_text(item['statement'])}" + (f" (evidence: {_refs(refs)})" if refs else "")
        )
    lines.append("")


def _prose_note(prose: dict[str, Any] | None) -> list[str]:
    """Who wrote the prose, when a language model was asked to."""
    if not prose:
        return []
    if prose["writer"] == "model":
        refs = sorted({r for refs in prose["evidenceRefs"].values() for r in refs})
        return [
            f"_Summary, impact and root-cause prose written by {_text(prose['provider'])} "
            f"{_text(prose['model'])}, checked to cite only evidence in the bundle ({_refs(refs)})._",
            "",
        ]
    return [f"_Prose from the built-in generator: {_text(prose['failure'])}._", ""]


def render_markdown(content: dict[str, Any]) -> str:
    origin = content["generatedFrom"]
    root = content["rootCause"]
    impact = content["impact"]
    evidence = content["evidence"]
    lines: list[str] = [f"# Postmortem: {_text(content['headline'])}", ""]
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
        _block(content["executiveSummary"]),
        "",
        *_prose_note(content.get("prose")),
        "## Impact",
        "",
        f"- Severity: {_text(impact['severity'] or 'unrated')}",
        f"- Services: {_text(', '.join(impact['services']) or 'unknown')}",
        f"- Started: {impact['startedAt']}",
        f"- Ended: {impact['endedAt'] or 'not yet'}"
        + (f" ({impact['durationMinutes']} min)" if impact["durationMinutes"] is not None else ""),
        f"- {_text(impact['description'])} (evidence: {_refs(impact['evidenceRefs'])})",
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
        f"**{_text(root['title'])}** — {round(root['confidence'] * 100)}% confidence"
        + (f", on {_text(root['culpritService'])}" if root["culpritService"] else "")
        + (" (inconclusive)" if root["inconclusive"] else ""),
        "",
        *(
            [_block(root["narrative"]), "", f"The engine's rationale: {_text(root['rationale'])}"]
            if root.get("narrative")
            else [_block(root["rationale"])]
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
            f"- **{_text(factor['title'])}** — {_text(factor['detail'])} (evidence: {_refs(factor['evidenceRefs'])})"
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
            f"- [ ] **{_text(item['priority'])}** {_text(item['title'])} — owner: _unassigned_ "
            f"(evidence: {_refs(item['evidenceRefs'])})"
        )
        lines += [f"    - {_text(step)}" for step in item["steps"]]
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
        f"| `{a['artifactId']}` | {_cell(a['kind'])} | {_cell(a['title'])} | {_cell(a['summary'])}"
        + (" (synthetic)" if a["synthetic"] else "")
        + " |"
        for a in evidence["artifacts"]
    ]
    if evidence["missing"]:
        lines += ["", "Missing evidence:", ""]
        lines += [
            f"- {_text(m['priority'])} {_text(m['need'])}: {_text(m['reason'])}"
            for m in evidence["missing"]
        ]
    narrative = content.get("modelNarrative")
    if narrative:
        lines += [
            "",
            "## Language model's reading (second opinion)",
            "",
            f"_Written by {_text(narrative['provider'])} {_text(narrative['model'])}; not evidence._",
            "",
            _block(narrative["narrative"]),
        ]
    lines += [
        "",
        "---",
        f"Generated by ChronosOps postmortem generator {content['generatorVersion']}.",
    ]
    return "\n".join(lines) + "\n"
