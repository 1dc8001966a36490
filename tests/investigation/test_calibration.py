"""Stated confidence of named answers against how often they are right (`bench ... --read-empty`)."""

from __future__ import annotations

import pytest

from chronosops.analysis import analyze
from chronosops.core.evidence_kinds import ReadKind
from chronosops.investigation.benchmark import read_coverage, request_of, run_benchmark
from chronosops.investigation.calibration import Stated, calibration, stated
from chronosops.scenarios import GenerationOptions, generate
from tests.analysis.builders import analysis_input, series


def test_only_named_answers_are_scored_and_brier_is_the_mean_squared_gap() -> None:
    answers = [
        Stated(named=True, right=True, confidence=0.9),
        Stated(named=True, right=False, confidence=0.7),
        Stated(named=False, right=False, confidence=0.99),  # UNKNOWN first: not a forecast
    ]
    row = calibration(answers)
    assert row["named"] == 2
    assert row["right"] == 0.5
    assert row["stated"] == pytest.approx(0.8)
    assert row["brier"] == pytest.approx((0.1**2 + 0.7**2) / 2)
    # Two bins (0.9 and 0.7), one answer each: gaps 0.1 and 0.7.
    assert row["ece"] == pytest.approx((0.1 + 0.7) / 2)


def test_answers_in_one_bin_pool_their_gap_before_it_is_weighed() -> None:
    answers = [
        Stated(named=True, right=True, confidence=0.81),
        Stated(named=True, right=False, confidence=0.83),
    ]
    assert calibration(answers)["ece"] == pytest.approx(abs(0.82 - 0.5))


def test_no_named_answer_gives_no_figures_rather_than_zeros() -> None:
    row = calibration([Stated(named=False, right=False, confidence=0.6)])
    assert row == {"named": 0, "right": None, "stated": None, "brier": None, "ece": None}


def test_a_change_feed_is_said_read_only_where_its_events_are_kept_and_were_not_dropped() -> None:
    kept = generate("network-partition", GenerationOptions(variant=0))
    dropped = generate(
        "network-partition", GenerationOptions(variant=0, drop=frozenset({"changes"}))
    )
    everything = frozenset({"metrics", "logs", "traces", "events"})
    asked: list[ReadKind] = ["deploys", "config"]
    assert read_coverage(kept, everything, asked) == ["deploys", "config"]
    assert read_coverage(kept, frozenset({"metrics"}), asked) == []
    assert read_coverage(dropped, everything, asked) == []
    assert read_coverage(kept, frozenset({"metrics"}), ["metrics", "logs"]) == ["metrics"]
    assert request_of(kept, coverage=["deploys"]).coverage == ["deploys"]


def test_a_benchmark_told_the_feed_was_read_reports_the_named_answers_calibration() -> None:
    incidents = [
        generate("network-partition", GenerationOptions(variant=0)),
        generate("cache-miss-storm", GenerationOptions(variant=0)),
    ]
    plain = run_benchmark(len(incidents), incidents=incidents)
    said = run_benchmark(len(incidents), incidents=incidents, read_empty=["deploys", "config"])
    assert plain.read_empty == ""
    assert said.read_empty == "deploys,config"
    assert set(said.calibration) <= {"tuned", "held-out"}
    named = sum(int(row["named"] or 0) for row in said.calibration.values())
    assert named == sum(int(row["named"] or 0) for row in plain.calibration.values()) > 0
    # Only stated confidences may move: every ranking measure is the same.
    for key in ("hypothesis_top1", "culprit_top1", "inconclusive"):
        assert said.overall[key] == plain.overall[key]


def test_a_named_answer_is_scored_at_the_answers_confidence_not_its_familys() -> None:
    metrics = [
        p
        for service, cpu in {"pricing": 0.95, "quotes": 0.9}.items()
        for p in series("cpu_usage", 0.2, cpu, service=service)
    ]
    result = analyze(analysis_input(service="web", metrics=metrics))
    answer = stated(result, right=True)
    assert answer.named
    assert answer.confidence == result.overall_confidence < result.hypotheses[0].confidence
