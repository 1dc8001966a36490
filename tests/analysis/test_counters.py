"""Cumulative counters are read as the rates they count (`analysis.counters`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chronosops.analysis.counters import as_rate, is_counter
from chronosops.analysis.engine import analyze
from chronosops.analysis.observations import observe
from chronosops.analysis.scoring import error_strength
from chronosops.analysis.signals import DEFAULT_TABLE
from chronosops.analysis.units import normalise_series
from chronosops.core.artifacts import MetricSeries
from tests.analysis.builders import ONSET, analysis_input, at, series


def counter(
    name: str, before: float, after: float, *, service: str = "api", start: float = 1000.0
) -> list[dict[str, Any]]:
    """A counter as scraped, one sample a minute: ``before`` counted a minute until the
    onset, ``after`` a minute since."""
    points, value = [], start
    for minute in range(-15, 15):
        value += before if minute < 0 else after
        points.append(
            {"name": name, "value": value, "timestamp": at(minute), "labels": {"service": service}}
        )
    return points


def only_series(points: list[dict[str, Any]]) -> MetricSeries:
    request = analysis_input(service="api", metrics=points)
    (item,) = [a for a in request.artifacts if isinstance(a, MetricSeries)]
    return item


@pytest.mark.parametrize(
    ("name", "kind", "values", "expected"),
    [
        ("http_requests_total", "traffic", [10, 20, 30, 45], True),
        ("http.server.errors.total", "errors", [0, 0, 2, 5], True),
        ("jvm_gc_collection_seconds_count", "gc", [3, 4, 6, 9], True),
        # a reset (the process restarted) does not stop a counter being one
        ("http_requests_total", "traffic", [100, 160, 4, 70, 130], True),
        # a per-minute count that ends in _total wobbles down: left as sent
        ("errors_total", "errors", [5, 7, 6, 8, 7], False),
        # grew once: a step, not a counter's climb
        ("errors_total", "errors", [0, 0, 0, 4, 4], False),
        # _count also ends gauges: a leaking thread count is a level
        ("jvm_threads_count", "saturation", [10, 20, 30, 40], False),
        ("kube_pod_container_status_restarts_total", "restarts", [0, 1, 2, 3], False),
        ("memory_usage_percent", "memory", [40, 41, 42, 43], False),
        # nothing in the name says it counts up
        ("errors", "errors", [10, 20, 30, 40], False),
        ("http_requests_total", "traffic", [10, 20, 30], False),  # too few points
    ],
)
def test_a_counter_is_named_as_one_and_only_grows_but_by_resets(
    name: str, kind: str, values: list[float], expected: bool
) -> None:
    assert is_counter(name, kind, values) is expected


@pytest.mark.parametrize("unit", ["requests/s", "cores", "%", "1/s", "events per second"])
def test_a_series_whose_unit_is_a_rate_was_read_through_rate_already(unit: str) -> None:
    assert is_counter("http_requests_total", "traffic", [10, 20, 30, 45], unit) is False
    assert is_counter("http_requests_total", "traffic", [10, 20, 30, 45], "{request}") is True


def test_a_counter_becomes_its_rate_per_second_across_a_reset() -> None:
    item = only_series(counter("http_requests_total", 60, 120))
    rate = as_rate(item)
    assert rate.unit == "/s"
    assert len(rate.points) == len(item.points) - 1
    assert rate.points[0].ts == item.points[1].ts
    assert {round(p.value, 6) for p in rate.points if p.ts < ONSET} == {1.0}
    assert {round(p.value, 6) for p in rate.points if p.ts >= ONSET} == {2.0}
    assert rate.stats.max == pytest.approx(2.0)

    restarted = item.model_copy(
        update={
            "points": [
                item.points[0],
                item.points[1].model_copy(update={"value": 30.0}),
                item.points[2].model_copy(update={"value": 90.0}),
            ]
        }
    )
    # After a reset the value is what was counted since the restart.
    assert [p.value for p in as_rate(restarted).points] == [0.5, 1.0]


def test_a_cpu_counted_in_seconds_is_read_in_cores() -> None:
    item = normalise_series(
        only_series(counter("container_cpu_usage_seconds_total", 30, 54)), DEFAULT_TABLE
    )
    assert item.unit == "/s"
    assert item.points[0].value == pytest.approx(0.5)
    assert item.points[-1].value == pytest.approx(0.9)


def test_a_steady_counter_is_no_rise_of_errors() -> None:
    # Scraped as it is, the level climbs 1040 -> 1115 across the onset at a steady 5 a minute.
    result = analyze(
        analysis_input(
            service="api",
            metrics=counter("http_server_errors_total", 5, 5)
            + counter("http_requests_total", 300, 300),
        )
    )
    assert result.hypotheses[0].id == "UNKNOWN"
    assert not [s for s in result.signals if s.kind.startswith("errors")]


def test_a_counter_that_counts_faster_reads_as_the_same_counts_sent_per_minute() -> None:
    counted = analyze(
        analysis_input(
            service="api",
            metrics=counter("http_server_errors_total", 5, 50)
            + counter("http_requests_total", 300, 300),
        )
    )
    per_minute = analyze(
        analysis_input(
            service="api",
            metrics=series("http_server_errors", 5, 50, service="api")
            + series("http_requests", 300, 300, service="api"),
        )
    )
    assert [(h.id, h.culprit_service) for h in counted.hypotheses] == [
        (h.id, h.culprit_service) for h in per_minute.hypotheses
    ]
    (rise,) = [s for s in counted.signals if s.kind == "errors_up"]
    assert rise.strength == 1.0
    assert rise.at is not None
    assert abs(rise.at - ONSET) <= timedelta(minutes=2)


def test_a_count_of_failures_is_read_by_how_many_times_it_multiplied() -> None:
    def strength(before: float, after: float) -> float:
        request = analysis_input(
            service="api", metrics=series("http_server_errors", before, after, service="api")
        )
        return error_strength(observe(request.artifacts, request.context).shift("api", "errors"))

    # 0.36 -> 0.37 failures a second is a ratio's "point" but no change in a count.
    assert strength(0.36, 0.37) == 0.0
    assert strength(5, 50) == 1.0
    assert 0.2 < strength(5, 9) < 1.0
