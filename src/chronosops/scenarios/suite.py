"""Benchmark suites: many varied incidents across a library, with their answers.

Every scenario appears in every variant, at several noise levels and timing jitters, some with
whole kinds of evidence missing. A suite is a pure function of its name, ``count`` and
``seed``, so a benchmark result can name the suite it was measured on.

Three suites: ``default`` (the demo library, in the house conventions unless asked for mixed
ones), ``field`` (the field library, always in mixed conventions) and ``paths`` (both
libraries' systems with a code fault that skips a usual step, `code_faults`; the field systems
in mixed conventions, the others as asked). A third of every
scenario's rounds are *held out* (`is_held_out`): reported separately, and not to be looked at
while tuning the engine.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Literal, get_args

from chronosops.scenarios.code_faults import PATH_SCENARIOS, PREFIX
from chronosops.scenarios.field import FIELD_SCENARIOS
from chronosops.scenarios.generation import generate
from chronosops.scenarios.library import SCENARIOS
from chronosops.scenarios.model import (
    MAX_VARIANT,
    Conventions,
    EvidenceKind,
    GeneratedIncident,
    GenerationOptions,
    Scenario,
)

SuiteName = Literal["default", "field", "paths"]
SUITES: tuple[SuiteName, ...] = get_args(SuiteName)

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
FIELD_SUITE_SIZE = 156  # twelve rounds of the thirteen field scenarios
# Three rounds of the code faults that skip a step (`code_faults`): one of them held out each.
PATHS_SUITE_SIZE = 3 * len(PATH_SCENARIOS)
HELD_OUT_SHARE = 3  # one round in this many is held out


def _library(suite: SuiteName) -> tuple[Scenario, ...]:
    return {"default": SCENARIOS, "field": FIELD_SCENARIOS, "paths": PATH_SCENARIOS}[suite]


def suite_size(suite: SuiteName) -> int:
    return {"default": DEFAULT_SUITE_SIZE, "field": FIELD_SUITE_SIZE}.get(suite, PATHS_SUITE_SIZE)


SEED_STRIDE = 100_000  # a suite case's generation seed: suite seed × this + its index


def case_id(scenario_id: str, options: GenerationOptions) -> str:
    """A suite case's name: its scenario and its generation seed (unique within a suite)."""
    return f"{scenario_id}#{options.seed}"


def is_held_out(scenario_id: str, options: GenerationOptions) -> bool:
    """Whether a case belongs to the held-out part.

    A third of every scenario's rounds, so both parts hold every scenario in the same
    proportion (a split case by case left the hard scenarios mostly on one side); which third
    is chosen by a hash of the scenario id (sha256, stable across runs, machines and Python
    versions, unlike ``hash()``) and the suite seed. A function of the case alone: its scenario
    and its generation seed, nothing the engine or the run decides.
    """
    library = (
        PATH_SCENARIOS
        if scenario_id.startswith(PREFIX)
        else FIELD_SCENARIOS
        if scenario_id.startswith("field-")
        else SCENARIOS
    )
    suite_seed, index = divmod(options.seed, SEED_STRIDE)
    round_ = index // len(library)
    offset = hashlib.sha256(scenario_id.encode()).digest()[0]
    return (round_ + offset + suite_seed) % HELD_OUT_SHARE == 0


def suite_options(
    index: int,
    *,
    seed: int = 0,
    suite: SuiteName = "default",
    conventions: Conventions = "native",
) -> tuple[str, GenerationOptions]:
    """The scenario and options of incident ``index`` of the suite."""
    library = _library(suite)
    scenario = library[index % len(library)]
    round_ = index // len(library)
    options = GenerationOptions(
        seed=seed * SEED_STRIDE + index,
        variant=round_ % (MAX_VARIANT + 1),
        noise=NOISE_LEVELS[(index + round_) % len(NOISE_LEVELS)],
        jitter_minutes=JITTERS[(index // 3 + round_) % len(JITTERS)],
        drop=DROPS[(index * 7 + round_) % len(DROPS)],
        start=scenario.onset + timedelta(days=7 * round_, minutes=13 * (seed % 7)),
        minutes_before=(15, 30, 20, 45)[round_ % 4],
        minutes_after=(15, 20, 30)[round_ % 3],
        conventions="mixed" if suite == "field" else conventions,
    )
    return scenario.id, options


def benchmark_suite(
    count: int | None = None,
    *,
    seed: int = 0,
    suite: SuiteName = "default",
    conventions: Conventions = "native",
) -> list[GeneratedIncident]:
    """``count`` incidents (default: the suite's size), each with its `GroundTruth`."""
    count = suite_size(suite) if count is None else count
    if count < 1:
        raise ValueError("count must be at least 1")
    return [
        generate(*suite_options(index, seed=seed, suite=suite, conventions=conventions))
        for index in range(count)
    ]
