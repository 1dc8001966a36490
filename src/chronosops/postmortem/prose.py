"""Postmortem prose a language model may write, and the check it must pass to be used.

The deterministic draft always comes first: every statement in it is computed from the analysis
and cites the evidence it rests on. A model may rewrite three passages of it — the executive
summary, the impact description and the root-cause narrative — for readers. Its answer is kept
only if every passage is there, says something, and cites at least one evidence id, and every id
it cites resolves in the bundle; otherwise the deterministic prose stays and the postmortem says
why. The structured parts (root cause, confidence, timeline, actions) are never the model's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PASSAGES = ("executiveSummary", "impact", "rootCause")
PASSAGE_MAX = 4000

PROSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        name: {
            "type": "object",
            "properties": {
                "text": {"type": "string"},
                "evidenceRefs": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["text", "evidenceRefs"],
        }
        for name in PASSAGES
    },
    "required": list(PASSAGES),
}


class InvalidProseError(Exception):
    pass


class _Passage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    text: str = Field(min_length=1, max_length=PASSAGE_MAX)
    evidence_refs: list[str] = Field(min_length=1, alias="evidenceRefs")


class _Answer(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    executive_summary: _Passage = Field(alias="executiveSummary")
    impact: _Passage
    root_cause: _Passage = Field(alias="rootCause")


@dataclass(frozen=True)
class Prose:
    """The outcome of asking a model for the prose: used (with its passages) or failed (why)."""

    status: Literal["used", "failed"]
    provider: str
    model: str
    passages: dict[str, dict[str, Any]] = field(default_factory=dict)
    failure: str | None = None
    attempts: int = 0
    # One per call to the model (`reasoning.PromptTraceDraft`, typed loosely so this package
    # stays free of the reasoning one): stored as prompt traces beside the analysis.
    traces: tuple[Any, ...] = ()


class ProseWriter(Protocol):
    """Whatever writes the prose (a language model); it returns a checked `Prose`, never raises."""

    async def write(self, content: dict[str, Any], evidence_ids: frozenset[str]) -> Prose: ...


def _strip_fences(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rsplit("```", 1)[0]
    return stripped.strip()


def check_prose(text: str, evidence_ids: frozenset[str]) -> dict[str, dict[str, Any]]:
    """The model's passages, if they pass: all three, each citing only ids of the bundle."""
    try:
        raw = json.loads(_strip_fences(text))
    except json.JSONDecodeError as exc:
        raise InvalidProseError(f"not JSON: {exc}") from None
    try:
        answer = _Answer.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise InvalidProseError(f"does not match the schema: {problems}") from None
    passages = {
        "executiveSummary": answer.executive_summary,
        "impact": answer.impact,
        "rootCause": answer.root_cause,
    }
    unresolved = [
        f"{name} cites {ref!r}"
        for name, passage in passages.items()
        for ref in passage.evidence_refs
        if ref not in evidence_ids
    ]
    if unresolved:
        # One invented id is enough to distrust the passage it props up, and so the answer.
        raise InvalidProseError(
            "cites evidence that is not in the bundle: " + "; ".join(unresolved[:5])
        )
    return {
        name: {
            "text": passage.text.strip(),
            "evidenceRefs": list(dict.fromkeys(passage.evidence_refs)),
        }
        for name, passage in passages.items()
    }


def prose_brief(content: dict[str, Any]) -> dict[str, Any]:
    """What the model is shown: the deterministic passages and what they rest on, the root
    cause, the timeline and the evidence it may cite (ids, kinds, titles, summaries)."""
    root = content["rootCause"]
    return {
        "headline": content["headline"],
        "synthetic": content["synthetic"],
        "executiveSummary": content["executiveSummary"],
        "impact": content["impact"],
        "rootCause": {
            "hypothesisId": root["hypothesisId"],
            "title": root["title"],
            "confidence": root["confidence"],
            "inconclusive": root["inconclusive"],
            "culpritService": root["culpritService"],
            "rationale": root["rationale"],
            "evidenceRefs": root["evidenceRefs"],
        },
        "timeline": content["timeline"],
        "evidence": content["evidence"]["artifacts"],
    }


def with_prose(
    content: dict[str, Any], prose: Prose | None, artifacts: list[dict[str, Any]]
) -> dict[str, Any]:
    """The content with the model's passages in place of the deterministic ones (which are kept
    beside them) and what they cite added to the evidence list, or untouched with the reason
    the model's were not used."""
    if prose is None:
        return content
    written: dict[str, Any] = {"provider": prose.provider, "model": prose.model}
    if prose.status != "used":
        return {
            **content,
            "prose": {
                **written,
                "writer": "built-in",
                "failure": f"{prose.failure}; the deterministic prose stands",
            },
        }
    deterministic = {
        "executiveSummary": content["executiveSummary"],
        "impact": content["impact"]["description"],
        "rootCause": content["rootCause"]["rationale"],
    }
    passages = prose.passages
    evidence = content["evidence"]
    listed = {a["artifactId"] for a in evidence["artifacts"]}
    cited = [r for p in passages.values() for r in p["evidenceRefs"]]
    by_id = {str(a["artifactId"]): a for a in artifacts}
    added = [
        {
            "artifactId": ref,
            "kind": by_id[ref]["kind"],
            "title": by_id[ref]["title"],
            "summary": by_id[ref]["summary"],
            "source": by_id[ref]["source"],
            "synthetic": bool(by_id[ref].get("synthetic")),
        }
        for ref in dict.fromkeys(cited)
        if ref not in listed and ref in by_id
    ]
    return {
        **content,
        "evidence": {**evidence, "artifacts": [*evidence["artifacts"], *added]},
        "executiveSummary": passages["executiveSummary"]["text"],
        "impact": {**content["impact"], "description": passages["impact"]["text"]},
        "rootCause": {**content["rootCause"], "narrative": passages["rootCause"]["text"]},
        "prose": {
            **written,
            "writer": "model",
            "evidenceRefs": {name: p["evidenceRefs"] for name, p in passages.items()},
            "deterministic": deterministic,
        },
    }
