"""The analysis benchmark: what it scores, and that the engine keeps its accuracy."""

from __future__ import annotations

import pytest

from chronosops.analysis import AnalysisResult, analyze
from chronosops.investigation.benchmark import (
    brier,
    large_bundle,
    request_of,
    run_benchmark,
    run_load,
)
from chronosops.scenarios import (
    SCENARIOS,
    GenerationOptions,
    benchmark_suite,
    generate,
    is_held_out,
)


@pytest.fixture(scope="module")
def two_rounds() -> list:  # type: ignore[type-arg]
    return benchmark_suite(2 * len(SCENARIOS), seed=0)


def test_every_scenario_is_scored_with_every_measure(two_rounds: list) -> None:  # type: ignore[type-arg]
    report = run_benchmark(len(two_rounds), incidents=two_rounds)
    assert report.size == len(two_rounds)
    assert set(report.per_scenario) == {s.id for s in SCENARIOS}
    for row in [report.overall, *report.per_scenario.values()]:
        for key in (
            "hypothesis_top1",
            "hypothesis_top3",
            "culprit_top1",
            "culprit_top3",
            "inconclusive",
        ):
            assert 0.0 <= row[key] <= 1.0  # type: ignore[operator]
        assert row["hypothesis_top3"] >= row["hypothesis_top1"]  # type: ignore[operator]
        assert row["p99_ms"] >= row["p50_ms"] > 0  # type: ignore[operator]


def test_the_engine_keeps_its_accuracy_on_the_first_rounds_of_the_suite(two_rounds: list) -> None:  # type: ignore[type-arg]
    """A regression guard: the published numbers (docs/benchmarks.md) are ~94 % on 216."""
    overall = run_benchmark(len(two_rounds), incidents=two_rounds).overall
    assert overall["hypothesis_top1"] >= 0.85  # type: ignore[operator]
    assert overall["culprit_top1"] >= 0.85  # type: ignore[operator]
    assert overall["brier"] <= 0.3  # type: ignore[operator]


def result_with(confidences: dict[str, float]) -> AnalysisResult:
    incident = generate("latency-spike", GenerationOptions(seed=1))
    result = analyze(request_of(incident))
    hypotheses = [
        h.model_copy(update={"id": hid, "confidence": c})
        for h, (hid, c) in zip(result.hypotheses, confidences.items(), strict=False)
    ]
    return result.model_copy(update={"hypotheses": hypotheses})


def test_brier_is_zero_when_sure_and_right_and_two_when_sure_and_wrong() -> None:
    assert brier(result_with({"DEPLOY_BUG": 1.0, "UNKNOWN": 0.0}), "DEPLOY_BUG") == 0.0
    assert brier(result_with({"DEPLOY_BUG": 1.0, "UNKNOWN": 0.0}), "CACHE_MISS_STORM") == 2.0
    assert brier(result_with({"DEPLOY_BUG": 0.5, "UNKNOWN": 0.5}), "DEPLOY_BUG") == pytest.approx(
        0.5
    )


def test_a_large_bundle_has_the_volume_asked_for_and_the_same_answer() -> None:
    incident = generate("db-pool-exhaustion", GenerationOptions(seed=4))
    artifacts = large_bundle(incident, log_lines=10_000, series=200)
    assert sum(1 for a in artifacts if a.kind == "metric_series") == 200
    assert sum(a.count for a in artifacts if a.kind == "log_template") == 10_000
    request = request_of(incident).model_copy(update={"artifacts": artifacts})
    assert analyze(request).hypotheses[0].id == incident.truth.hypothesis_id


def test_the_load_run_times_every_scenario_and_measures_the_memory_an_analysis_takes() -> None:
    report = run_load(log_lines=500, series=20, runs=1)
    assert (report.bundles, report.series, report.log_lines) == (len(SCENARIOS), 20, 500)
    assert report.p50_ms <= report.p99_ms <= report.max_ms
    assert report.correct >= len(SCENARIOS) - 2
    # Analysing a bundle builds observations for every series: more than a few kilobytes.
    assert 0.05 < report.peak_mib < 200


def test_the_field_suite_is_scored_in_a_tuned_and_a_held_out_part() -> None:
    incidents = benchmark_suite(20, seed=0, suite="field")
    held = sum(is_held_out(i.scenario_id, i.options) for i in incidents)
    report = run_benchmark(len(incidents), incidents=incidents, suite_name="field")
    assert report.suite == "field"
    assert report.conventions == "mixed"
    assert report.per_part["held-out"]["incidents"] == held
    assert report.per_part["tuned"]["incidents"] == len(incidents) - held


def test_asking_for_the_held_out_part_scores_only_held_out_cases() -> None:
    report = run_benchmark(20, seed=0, suite_name="field", part="held-out")
    expected = sum(
        is_held_out(i.scenario_id, i.options) for i in benchmark_suite(20, seed=0, suite="field")
    )
    assert report.size == expected > 0
    assert set(report.per_part) == {"held-out"}


def test_history_reads_each_traced_incident_against_its_systems_fault_free_days() -> None:
    from chronosops.investigation.benchmark import earlier_incidents

    traced = generate("network-partition", GenerationOptions(variant=0))
    untraced = generate("cache-miss-storm", GenerationOptions(variant=0))
    history = earlier_incidents(traced, 5)
    assert history
    assert all(len(past.shares) == 5 for past in history)
    assert earlier_incidents(untraced, 5) == []
    assert earlier_incidents(traced, 0) == []
    assert request_of(traced, history).statement_history == history


def test_a_benchmark_with_history_counts_where_the_code_path_readings_fired() -> None:
    incidents = [
        generate("network-partition", GenerationOptions(variant=0)),
        generate("cache-miss-storm", GenerationOptions(variant=0)),
    ]
    report = run_benchmark(len(incidents), incidents=incidents, history=5)
    assert report.history == 5
    assert report.overall["with_statements"] == 1
    for key in ("vanished_right", "vanished_wrong", "missing_right", "missing_wrong"):
        assert report.overall[key] in (0, 1)
    plain = run_benchmark(len(incidents), incidents=incidents)
    assert plain.history == 0
    assert plain.overall["missing_right"] == plain.overall["missing_wrong"] == 0


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        ("all", {"metric_series", "log_template", "span_group", "log_statement", "change_event"}),
        ("metrics", {"metric_series"}),
        ("metrics,logs", {"metric_series", "log_template"}),
        ("metrics,traces", {"metric_series", "span_group"}),
        ("logs,traces", {"log_template", "span_group", "log_statement"}),
        ("events", {"change_event"}),
    ],
)
def test_the_evidence_filter_keeps_exactly_the_kinds_asked(kinds: str, expected: set[str]) -> None:
    from chronosops.core.evidence_kinds import parse_evidence
    from chronosops.investigation.benchmark import with_evidence

    incident = generate("network-partition", GenerationOptions(variant=0))
    every = incident.counts()
    assert {"metric_series", "log_template", "span_group", "log_statement"} <= set(every)
    kept = with_evidence(incident, parse_evidence(kinds)).counts()
    assert set(kept) == expected & set(every)
    # Every artifact of a kept kind stays; the incident itself is not changed.
    assert all(kept[kind] == every[kind] for kind in kept)
    assert incident.counts() == every


def test_every_kind_of_artifact_belongs_to_a_kind_of_evidence() -> None:
    from typing import get_args

    from chronosops.core.artifacts import Artifact
    from chronosops.core.evidence_kinds import EVIDENCE_KINDS, evidence_kinds_of

    classes = get_args(get_args(Artifact)[0])
    assert len(classes) == 7
    for cls in classes:
        sample = cls.model_construct()
        assert evidence_kinds_of(sample) <= set(EVIDENCE_KINDS)


def test_a_benchmark_on_metrics_alone_analyses_no_other_evidence() -> None:
    from chronosops.core.evidence_kinds import parse_evidence
    from chronosops.investigation.benchmark import earlier_incidents, with_evidence

    incidents = [
        generate("network-partition", GenerationOptions(variant=0)),
        generate("cache-miss-storm", GenerationOptions(variant=0)),
    ]
    metrics = parse_evidence("metrics")
    report = run_benchmark(len(incidents), incidents=incidents, history=5, evidence=metrics)
    assert report.evidence == "metrics"
    assert report.overall["with_statements"] == 0
    assert report.overall["missing_right"] == report.overall["missing_wrong"] == 0
    assert earlier_incidents(with_evidence(incidents[0], metrics), 5, metrics) == []
    # The fault-free days are filtered too: without traces they hold no statements.
    assert earlier_incidents(incidents[0], 5, parse_evidence("metrics,logs")) == []
    everything = run_benchmark(len(incidents), incidents=incidents, history=5)
    assert everything.evidence == "all"
    assert everything.overall["with_statements"] == 1
