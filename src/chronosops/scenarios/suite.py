"""A benchmark suite: many varied incidents across the whole library, with their answers.

Every scenario appears in every variant, at several noise levels and timing jitters, some with
whole kinds of evidence missing. The suite is a pure function of ``count`` and ``seed``, so a
benchmark result can name the suite it was measured on.
"""

from __future__ import annotations

from datetime import timedelta

from chronosops.scenarios.generation import generate
from chronosops.scenarios.library import SCENARIOS
from chronosops.scenarios.model import (
    MAX_VARIANT,
    EvidenceKind,
    GeneratedIncident,
    GenerationOptions,
)

NOISE_LEVELS = (0.1, 0.3, 0.55, 0.8)
JITTERS = (0, 2, 5, 10)
_NONE: frozenset[EvidenceKind] = frozenset()
DROPS: tuple[frozenset[EvidenceKind], ...] = (
    _NONE,
    _NONE,
    frozenset({"traces"}),
    _NONE,
    frozenset({"changes"}),
    _NONE,
    frozenset({"logs"}),
    _NONE,
    frozenset({"metrics"}),
    _NONE,
    frozenset({"logs", "traces"}),
)
DEFAULT_SUITE_SIZE = 216  # twelve rounds of the eighteen scenarios


def suite_options(index: int, *, seed: int = 0) -> tuple[str, GenerationOptions]:
    """The scenario and options of incident ``index`` of the suite."""
    scenario = SCENARIOS[index % len(SCENARIOS)]
    round_ = index // len(SCENARIOS)
    options = GenerationOptions(
        seed=seed * 100_000 + index,
        variant=round_ % (MAX_VARIANT + 1),
        noise=NOISE_LEVELS[(index + round_) % len(NOISE_LEVELS)],
        jitter_minutes=JITTERS[(index // 3 + round_) % len(JITTERS)],
        drop=DROPS[(index * 7 + round_) % len(DROPS)],
        start=scenario.onset + timedelta(days=7 * round_, minutes=13 * (seed % 7)),
        minutes_before=(15, 30, 20, 45)[round_ % 4],
        minutes_after=(15, 20, 30)[round_ % 3],
    )
    return scenario.id, options


def benchmark_suite(count: int = DEFAULT_SUITE_SIZE, *, seed: int = 0) -> list[GeneratedIncident]:
    """``count`` incidents, each with its `GroundTruth`."""
    if count < 1:
        raise ValueError("count must be at least 1")
    return [generate(*suite_options(index, seed=seed)) for index in range(count)]
