from __future__ import annotations

from chronosops.analysis import completeness
from chronosops.analysis.models import Completeness, EvidenceNeed
from tests.analysis.builders import analysis_input, logs, series


def test_an_empty_bundle_scores_zero_and_asks_for_metrics_first() -> None:
    result = completeness([], source_type="CUSTOM", primary_signal="UNKNOWN")
    assert result.score == 0
    assert result.missing[0].need == "METRICS"
    assert result.missing[0].priority == "P0"


def test_metrics_and_logs_score_their_weights_and_errors_want_traces_next() -> None:
    request = analysis_input(metrics=series("error_rate", 0.01, 0.2), logs=logs("boom", 3))
    result = completeness(request.artifacts, source_type="CUSTOM", primary_signal="ERRORS")
    assert result.score == 45
    assert result.present == ["METRICS", "LOGS"]
    assert [(m.need, m.priority) for m in result.missing] == [
        ("TRACES", "P1"),
        ("DEPLOYS", "P1"),
        ("CONFIG", "P1"),
    ]


def test_google_cloud_incidents_also_want_the_provider_status() -> None:
    result = completeness([], source_type="GOOGLE_CLOUD", primary_signal="LATENCY")
    assert ("GOOGLE_STATUS", "P0") in [(m.need, m.priority) for m in result.missing]
    assert [(m.need, m.priority) for m in result.missing][:2] == [
        ("METRICS", "P0"),
        ("TRACES", "P0"),
    ]


def test_reach_counts_the_kinds_that_tell_a_cause_apart_and_not_traces() -> None:
    from chronosops.analysis.completeness import reach

    def reach_of(*present: EvidenceNeed) -> float:
        return reach(Completeness(score=0, present=list(present), missing=[]))

    assert reach_of("METRICS") == 1 / 3
    assert reach_of("METRICS", "TRACES") == 1 / 3
    assert reach_of("METRICS", "LOGS") == 2 / 3
    assert reach_of("METRICS", "DEPLOYS") == reach_of("METRICS", "CONFIG") == 2 / 3
    assert reach_of("METRICS", "LOGS", "DEPLOYS", "CONFIG", "TRACES") == 1.0


def test_kinds_read_and_found_empty_are_neither_present_nor_missing_and_keep_the_score() -> None:
    request = analysis_input(metrics=series("error_rate", 0.01, 0.2), readEmpty=["deploys"])
    result = completeness(
        request.artifacts,
        source_type="CUSTOM",
        primary_signal="ERRORS",
        coverage=[*request.coverage, "metrics"],
    )
    assert result.present == ["METRICS"]
    assert result.read_empty == ["DEPLOYS"]
    assert result.score == 25
    assert "DEPLOYS" not in [m.need for m in result.missing]
    assert "CONFIG" in [m.need for m in result.missing]


def test_reach_counts_a_change_feed_read_and_found_empty_as_seen() -> None:
    from chronosops.analysis.completeness import reach

    metrics_alone = Completeness(score=25, present=["METRICS"], missing=[])
    nothing_deployed = Completeness(
        score=25, present=["METRICS"], missing=[], read_empty=["DEPLOYS"]
    )
    assert reach(metrics_alone) == 1 / 3
    assert reach(nothing_deployed) == 2 / 3
