"""How well the stated confidence of named answers matches how often they are right.

A *named* answer is one that puts a cause and a culprit first (not `UNKNOWN`, not a family
without a service); it is *right* when both are. The confidence it states is scored as a
binary forecast of being right: the Brier score (mean squared error) and the expected
calibration error (ECE: in bins of 0.1 of stated confidence, the gap between the mean stated
and the share right, weighted by the bin's size). Both benchmarks report these, so a change
that moves only stated confidences (`bench ... --read-empty`) is measured by one command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chronosops.analysis import AnalysisResult

ECE_BINS = 10


@dataclass(frozen=True)
class Stated:
    """One answer as a forecast: whether it named a cause and a culprit, whether it was right,
    and the confidence it stated for its answer."""

    named: bool
    right: bool
    confidence: float


# What an outcome built without an answer to score holds (tests build outcomes by hand).
NOT_NAMED = Stated(named=False, right=False, confidence=0.0)


def stated(result: AnalysisResult, right: bool) -> Stated:
    """``right``: the first hypothesis and the culprit named are the truth. A named answer
    states the answer's confidence (its family's times its culprit's share of that family,
    engine 3.37); the first hypothesis's own is its family's."""
    top = result.hypotheses[0]
    named = not result.inconclusive and result.culprit_service is not None
    confidence = result.overall_confidence if named else top.confidence
    return Stated(named=named, right=named and right, confidence=confidence)


def calibration(answers: Sequence[Stated]) -> dict[str, float | int | None]:
    """Named answers: how many, the share right, the mean stated confidence, Brier and ECE."""
    named = [a for a in answers if a.named]
    if not named:
        return {"named": 0, "right": None, "stated": None, "brier": None, "ece": None}
    bins: dict[int, list[Stated]] = {}
    for answer in named:
        bins.setdefault(min(int(answer.confidence * ECE_BINS), ECE_BINS - 1), []).append(answer)
    ece = sum(
        len(group)
        * abs(
            sum(a.confidence for a in group) / len(group) - sum(a.right for a in group) / len(group)
        )
        for group in bins.values()
    ) / len(named)
    return {
        "named": len(named),
        "right": sum(a.right for a in named) / len(named),
        "stated": sum(a.confidence for a in named) / len(named),
        "brier": sum((a.confidence - a.right) ** 2 for a in named) / len(named),
        "ece": ece,
    }


def calibration_line(label: str, row: dict[str, float | int | None]) -> str:
    """One row in words, for the command line."""
    if not row.get("named"):
        return f"{label}: no named answers"
    return (
        f"{label}: {row['named']} named, right {row['right']:.1%}, stated {row['stated']:.1%}, "
        f"Brier {row['brier']:.3f}, ECE {row['ece']:.3f}"
    )


__all__ = ["ECE_BINS", "NOT_NAMED", "Stated", "calibration", "calibration_line", "stated"]
