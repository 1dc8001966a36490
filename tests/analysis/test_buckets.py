"""A latency histogram sent only as its buckets is read into a quantile and its requests
(`analysis.buckets`)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from chronosops.analysis.buckets import histogram_quantile, read_buckets
from chronosops.analysis.engine import analyze
from chronosops.analysis.signals import DEFAULT_TABLE
from chronosops.analysis.units import normalise
from chronosops.core.artifacts import MetricSeries
from tests.analysis.builders import analysis_input, at, latency_after_and_before

# The Prometheus client libraries' default bounds, in seconds.
BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf)


def shares_below(median: float, sigma: float = 0.5) -> list[float]:
    """The share of a log-normal latency with ``median`` (s) at or under each bound."""
    found = []
    for bound in BOUNDS:
        if math.isinf(bound):
            found.append(1.0)
            continue
        z = (math.log(bound) - math.log(median)) / sigma
        found.append(0.5 * math.erfc(-z / math.sqrt(2)))
    return found


def histogram(
    before: list[float],
    after: list[float],
    rps: tuple[float, float] = (10.0, 10.0),
    *,
    base: str = "http_request_duration_seconds",
    cumulative: bool = True,
    **labels: str,
) -> list[dict[str, Any]]:
    """Bucket series of ``base``: ``rps`` requests a second whose shares at or under each bound
    are ``before`` until the onset and ``after`` since; as scraped once a minute
    (``cumulative``) or as counts per second."""
    points: list[dict[str, Any]] = []
    for index, bound in enumerate(BOUNDS):
        running = 5000.0 * (index + 1) / len(BOUNDS)
        for minute in range(-15, 15):
            rate, shares = (rps[0], before) if minute < 0 else (rps[1], after)
            per_second = rate * shares[index]
            running += per_second * 60.0
            points.append(
                {
                    "name": f"{base}_bucket",
                    "value": round(running if cumulative else per_second, 6),
                    "timestamp": at(minute),
                    "labels": {
                        "service": "api",
                        "le": "+Inf" if math.isinf(bound) else str(bound),
                        **labels,
                    },
                }
            )
    return points


def read(points: list[dict[str, Any]]) -> list[MetricSeries]:
    artifacts = analysis_input(service="api", metrics=points).artifacts
    return [a for a in normalise(artifacts, DEFAULT_TABLE) if isinstance(a, MetricSeries)]


# -- histogram_quantile ------------------------------------------------------------------------


def test_the_quantile_is_interpolated_inside_its_bucket_as_prometheus_does() -> None:
    # 100 requests: 50 under 0.1 s, 90 under 0.5 s, all under 1 s. The 95th is the 5th of the
    # 10 between 0.5 and 1: 0.75.
    assert histogram_quantile(0.95, (0.1, 0.5, 1.0, math.inf), (50, 90, 100, 100)) == (
        pytest.approx(0.75)
    )
    # In the first bucket, from zero.
    assert histogram_quantile(0.5, (0.2, 1.0, math.inf), (100, 100, 100)) == pytest.approx(0.1)


def test_a_quantile_in_the_infinite_bucket_is_the_highest_finite_bound() -> None:
    assert histogram_quantile(0.95, (0.1, 0.5, math.inf), (10, 20, 100)) == 0.5


def test_no_requests_have_no_quantile() -> None:
    assert histogram_quantile(0.95, (0.1, math.inf), (0, 0)) is None


def test_counts_that_dip_across_bounds_are_read_as_never_falling() -> None:
    assert histogram_quantile(0.5, (0.1, 0.5, math.inf), (60, 59.9, 100)) == pytest.approx(
        0.1 * 50 / 60
    )


# -- buckets read as the latency they carry ----------------------------------------------------


@pytest.mark.parametrize("cumulative", [True, False])
def test_a_step_in_the_tail_alone_is_a_latency_rise(cumulative: bool) -> None:
    # The same requests a second; 6% of them now take 3-5 s, the rest as fast as before: only
    # the buckets from 5 s up keep every request.
    before = shares_below(0.05)
    after = [
        share * 0.94 if bound < 3.0 else share for share, bound in zip(before, BOUNDS, strict=True)
    ]
    rise_after, rise_before = latency_after_and_before(
        histogram(before, after, cumulative=cumulative)
    )
    assert rise_before < 0.25
    assert rise_after > 2.0  # the p95 moved into the seconds
    result = analyze(
        analysis_input(service="api", metrics=histogram(before, after, cumulative=cumulative))
    )
    assert [s for s in result.signals if s.kind.startswith("latency")]


@pytest.mark.parametrize("cumulative", [True, False])
def test_a_surge_at_the_same_speed_is_no_latency_rise(cumulative: bool) -> None:
    shares = shares_below(0.08)
    after, before = latency_after_and_before(
        histogram(shares, shares, rps=(10.0, 60.0), cumulative=cumulative)
    )
    assert after == pytest.approx(before, rel=0.01)
    result = analyze(
        analysis_input(
            service="api",
            metrics=histogram(shares, shares, rps=(10.0, 60.0), cumulative=cumulative),
        )
    )
    assert not [s for s in result.signals if s.kind.startswith("latency")]


def test_the_buckets_become_one_quantile_series_and_the_requests() -> None:
    shares = shares_below(0.08)
    found = read(histogram(shares, shares, rps=(10.0, 30.0)))
    assert sorted(s.name for s in found) == [
        "http_request_duration_seconds:p95_latency",
        "http_request_duration_seconds_count",
    ]
    by_name = {s.name: s for s in found}
    quantile = by_name["http_request_duration_seconds:p95_latency"]
    assert DEFAULT_TABLE.kind_of(quantile.name) == "latency"
    assert quantile.unit == "s"
    assert "le" not in quantile.labels
    # The +Inf bucket, scraped, is the requests per second.
    requests = by_name["http_request_duration_seconds_count"]
    assert DEFAULT_TABLE.kind_of(requests.name, requests.labels) == "traffic"
    assert requests.stats.max == pytest.approx(30.0)


def test_the_derived_series_cite_buckets_that_are_in_the_bundle() -> None:
    shares = shares_below(0.08)
    points = histogram(shares, shares)
    sent = {a.artifact_id for a in analysis_input(service="api", metrics=points).artifacts}
    assert {s.artifact_id for s in read(points)} <= sent


def test_a_count_that_was_sent_stays_the_requests_and_the_sum_gives_way_to_the_quantile() -> None:
    shares = shares_below(0.08)
    points = histogram(shares, shares)
    for name, per_minute in (("count", 600.0), ("sum", 60.0)):
        running = 0.0
        for minute in range(-15, 15):
            running += per_minute
            points.append(
                {
                    "name": f"http_request_duration_seconds_{name}",
                    "value": running,
                    "timestamp": at(minute),
                    "labels": {"service": "api"},
                }
            )
    names = sorted(s.name for s in read(points))
    assert names == [
        "http_request_duration_seconds:p95_latency",
        "http_request_duration_seconds_count",
    ]


def test_an_opentelemetry_count_beside_its_buckets_exported_to_prometheus_is_the_one_requests() -> (
    None
):
    # An OpenTelemetry service sends its dotted count and sum beside the buckets its
    # Prometheus exporter renamed (dots as underscores, the unit appended).
    shares = shares_below(0.08)
    points = histogram(
        shares, shares, base="http_server_request_duration_seconds", cumulative=False
    )
    for name, per_second in (("count", 10.0), ("sum", 0.6)):
        points += [
            {
                "name": f"http.server.request.duration.{name}",
                "value": per_second,
                "timestamp": at(minute),
                "labels": {"service": "api"},
            }
            for minute in range(-15, 15)
        ]
    found = read(points)
    requests = [s for s in found if DEFAULT_TABLE.kind_of(s.name, s.labels) == "traffic"]
    assert [s.name for s in requests] == ["http.server.request.duration.count"]
    latencies = [s.name for s in found if DEFAULT_TABLE.kind_of(s.name, s.labels) == "latency"]
    assert latencies == ["http_server_request_duration_seconds:p95_latency"]


def test_buckets_split_by_outcome_give_the_requests_failures_are_read_over() -> None:
    # Micrometer: buckets of every request (outcome ALL) and the failures' count beside them.
    shares = shares_below(0.08)
    points = histogram(shares, shares, base="http_server_requests_seconds", outcome="ALL")
    running = 0.0
    for minute in range(-15, 15):
        running += 6.0 if minute < 0 else 120.0
        points.append(
            {
                "name": "http_server_requests_seconds_count",
                "value": running,
                "timestamp": at(minute),
                "labels": {"service": "api", "outcome": "SERVER_ERROR"},
            }
        )
    ratio = next(s for s in read(points) if s.name.endswith(":error_ratio"))
    assert ratio.stats.min == pytest.approx(0.01, rel=0.01)
    assert ratio.stats.max == pytest.approx(0.2, rel=0.01)


def test_a_garbage_collectors_pause_buckets_are_no_latency_of_requests() -> None:
    shares = shares_below(0.02)
    found = read(histogram(shares, shares, base="jvm_gc_pause_seconds"))
    assert all(":" not in s.name for s in found)
    assert {DEFAULT_TABLE.kind_of(s.name) for s in found} == {"gc"}


def test_buckets_without_an_infinite_one_are_read_as_sent() -> None:
    shares = shares_below(0.08)
    points = [p for p in histogram(shares, shares) if p["labels"]["le"] != "+Inf"]
    artifacts = analysis_input(service="api", metrics=points).artifacts
    assert read_buckets(artifacts, DEFAULT_TABLE) == artifacts


def test_each_label_set_is_its_own_histogram() -> None:
    shares = shares_below(0.08)
    points = histogram(shares, shares, route="/a") + histogram(
        shares_below(0.4), shares_below(0.4), route="/b"
    )
    quantiles = {
        s.labels["route"]: s.stats.median for s in read(points) if s.name.endswith(":p95_latency")
    }
    assert quantiles["/b"] > 2 * quantiles["/a"]
