"""A latency sent as several statistics of one distribution is read as one latency and its
median (`analysis.quantiles`)."""

from __future__ import annotations

from typing import Any

import pytest

from chronosops.analysis.quantiles import is_median, statistic_of
from chronosops.analysis.signals import DEFAULT_TABLE
from chronosops.analysis.units import normalise
from chronosops.core.artifacts import MetricSeries
from tests.analysis.builders import analysis_input, latency_after_and_before, series
from tests.analysis.test_buckets import histogram, shares_below
from tests.analysis.test_pairs import counter


def stat(name: str, before: float, after: float, **labels: str) -> list[dict[str, Any]]:
    """A statistic of the latency at "api" (``before`` then ``after``), labelled ``labels``."""
    return [
        {**p, "labels": {**p["labels"], **labels}}
        for p in series(name, before, after, service="api")
    ]


def read(points: list[dict[str, Any]]) -> list[MetricSeries]:
    artifacts = analysis_input(service="api", metrics=points).artifacts
    return [a for a in normalise(artifacts, DEFAULT_TABLE) if isinstance(a, MetricSeries)]


def latencies(found: list[MetricSeries]) -> list[tuple[str, str | None]]:
    return sorted(
        (s.name, s.labels.get("quantile"))
        for s in found
        if DEFAULT_TABLE.kind_of(s.name, s.labels) == "latency"
    )


# A summary whose 99th percentile quadrupled while its 95th and its median held: one slow
# request in a hundred, no service slowing.
MICROMETER = (
    stat("http_server_requests_seconds", 0.05, 0.05, quantile="0.5")
    + stat("http_server_requests_seconds", 0.1, 0.1, quantile="0.95")
    + stat("http_server_requests_seconds", 0.2, 0.8, quantile="0.99")
)


def test_a_summary_is_read_as_its_p95_and_its_median() -> None:
    assert latencies(read(MICROMETER)) == [
        ("http_server_requests_seconds", "0.5"),
        ("http_server_requests_seconds", "0.95"),
    ]


def test_a_p99_moving_alone_is_no_latency_rise_where_the_summary_states_its_p95() -> None:
    after, before = latency_after_and_before(
        [{**p, "labels": {**p["labels"], "service": "api"}} for p in MICROMETER]
    )
    assert after == pytest.approx(before, rel=0.05)


def test_without_a_p95_the_next_quantile_above_it_is_the_latency() -> None:
    # client_golang's summary objectives: 0.5, 0.9 and 0.99. A p90 would miss a fault that
    # slows fewer than one request in ten.
    points = (
        stat("rpc_duration_seconds", 0.05, 0.05, quantile="0.5")
        + stat("rpc_duration_seconds", 0.1, 0.1, quantile="0.9")
        + stat("rpc_duration_seconds", 0.2, 0.8, quantile="0.99")
    )
    assert latencies(read(points)) == [
        ("rpc_duration_seconds", "0.5"),
        ("rpc_duration_seconds", "0.99"),
    ]


def test_the_summarys_sum_gives_way_to_its_quantile_and_its_count_stays_the_requests() -> None:
    points = (
        MICROMETER
        + counter("http_server_requests_seconds_count", 600, 1800)
        + counter("http_server_requests_seconds_sum", 60, 180)
    )
    found = read(points)
    assert not [s for s in found if s.name.endswith((":mean_latency", "_sum"))]
    requests = [s for s in found if s.name == "http_server_requests_seconds_count"]
    assert DEFAULT_TABLE.kind_of(requests[0].name) == "traffic"


def test_micrometers_max_gives_way_to_the_percentiles_it_comes_with() -> None:
    points = MICROMETER + stat("http_server_requests_seconds_max", 0.3, 3.0)
    assert "http_server_requests_seconds_max" not in {s.name for s in read(points)}


def test_micrometers_max_gives_way_to_the_histogram_it_comes_with() -> None:
    points = histogram(
        shares_below(0.05), shares_below(0.05), base="http_server_requests_seconds"
    ) + stat("http_server_requests_seconds_max", 0.3, 3.0)
    assert latencies(read(points)) == [("http_server_requests_seconds:p95_latency", None)]


def test_a_max_alone_is_read_as_sent() -> None:
    points = stat("http_server_requests_seconds_max", 0.3, 3.0)
    assert latencies(read(points)) == [("http_server_requests_seconds_max", None)]


def test_a_garbage_collectors_max_is_no_latency_of_requests() -> None:
    points = stat("jvm_gc_pause_seconds_max", 0.3, 3.0) + counter("jvm_gc_pause_seconds_sum", 6, 9)
    assert {s.name for s in read(points)} >= {"jvm_gc_pause_seconds_max"}
    assert latencies(read(points)) == []


def test_one_quantile_alone_is_read_as_sent() -> None:
    points = stat("http_request_duration_seconds", 0.1, 0.4, quantile="0.99")
    assert latencies(read(points)) == [("http_request_duration_seconds", "0.99")]


def test_datadogs_percentiles_as_queried_are_read_as_its_p95_and_its_median() -> None:
    base = "trace.http.request.duration.by.service"
    points = (
        stat(f"{base}.50p", 0.05, 0.05)
        + stat(f"{base}.95p", 0.1, 0.1)
        + stat(f"{base}.99p", 0.2, 0.8)
        + stat(f"{base}.100p", 0.3, 3.0)
    )
    assert latencies(read(points)) == [(f"{base}.50p", None), (f"{base}.95p", None)]


def test_datadogs_average_stands_for_the_distribution_where_no_percentile_is_sent() -> None:
    points = stat("trace.http.request.duration.avg", 0.05, 0.05) + stat(
        "trace.http.request.duration.max", 0.1, 1.0
    )
    assert latencies(read(points)) == [("trace.http.request.duration.avg", None)]


def test_datadogs_total_duration_over_its_hits_is_the_mean_latency() -> None:
    # `trace.<span>.duration` is the time the interval's spans took together: a surge at the
    # same speed triples it.
    points = stat("trace.http.request.duration", 10.0, 30.0) + stat(
        "trace.http.request.hits", 100.0, 300.0
    )
    assert latency_after_and_before(
        [{**p, "labels": {**p["labels"], "service": "api"}} for p in points]
    ) == pytest.approx((0.1, 0.1), rel=0.05)


@pytest.mark.parametrize(
    ("name", "labels", "statistic"),
    [
        ("http_request_duration_seconds", {"quantile": "0.99"}, 0.99),
        ("http_request_duration_seconds", {"quantile": "0.5"}, 0.5),
        ("trace.http.request.duration.by.service.95p", {}, 0.95),
        ("trace.http.request.duration.by.resource_service.99.9p", {}, 0.999),
        ("trace.http.request.duration.p95", {}, 0.95),
        ("trace.http.request.duration.median", {}, 0.5),
        ("trace.http.request.duration.by.service.100p", {}, "max"),
        ("trace.http.request.duration.avg", {}, "mean"),
        ("http_server_requests_seconds_max", {}, "max"),
        ("http_request_duration_seconds", {}, None),
        ("http_request_duration_seconds", {"quantile": "all"}, None),
    ],
)
def test_each_convention_states_its_statistic(
    name: str, labels: dict[str, str], statistic: float | str | None
) -> None:
    sent = read(stat(name, 0.1, 0.1, **labels))[0]
    assert statistic_of(sent) == (
        pytest.approx(statistic) if isinstance(statistic, float) else statistic
    )
    assert is_median(sent) == (statistic == 0.5)
