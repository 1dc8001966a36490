"""Series that mean something only in pairs are read as the signal the pair carries
(`analysis.pairs`)."""

from __future__ import annotations

from typing import Any

import pytest

from chronosops.analysis.engine import analyze
from chronosops.analysis.observations import observe
from chronosops.analysis.signals import DEFAULT_TABLE
from chronosops.analysis.units import normalise
from chronosops.core.artifacts import MetricSeries
from tests.analysis.builders import analysis_input, at, latency_after_and_before, series


def counter(
    name: str, before: float, after: float, *, start: float = 1000.0, **labels: str
) -> list[dict[str, Any]]:
    """A counter as scraped once a minute: ``before`` counted a minute until the onset,
    ``after`` a minute since."""
    points, value = [], start
    for minute in range(-15, 15):
        value += before if minute < 0 else after
        points.append(
            {
                "name": name,
                "value": round(value, 6),
                "timestamp": at(minute),
                "labels": {"service": "api", **labels},
            }
        )
    return points


def labelled(points: list[dict[str, Any]], **labels: str) -> list[dict[str, Any]]:
    return [{**p, "labels": {**p["labels"], **labels}} for p in points]


def read(points: list[dict[str, Any]]) -> list[MetricSeries]:
    artifacts = analysis_input(service="api", metrics=points).artifacts
    return [a for a in normalise(artifacts, DEFAULT_TABLE) if isinstance(a, MetricSeries)]


def kinds(found: list[MetricSeries]) -> dict[str, MetricSeries]:
    return {str(DEFAULT_TABLE.kind_of(s.name, s.labels)): s for s in found}


# -- a latency histogram's sum over its count ------------------------------------------------


@pytest.mark.parametrize(
    ("base", "sep"),
    [
        ("http_request_duration_seconds", "_"),  # Prometheus client
        ("http_server_requests_seconds", "_"),  # Micrometer
        ("http.server.request.duration", "."),  # OpenTelemetry
    ],
)
def test_a_histograms_sum_over_its_count_is_the_mean_latency(base: str, sep: str) -> None:
    # 10 requests a second at 0.1 s, then a surge to 30 a second at the same 0.1 s.
    found = kinds(
        read(counter(f"{base}{sep}count", 600, 1800) + counter(f"{base}{sep}sum", 60, 180))
    )
    latency = found["latency"]
    assert latency.name == f"{base}:mean_latency"
    assert latency.unit == "s"
    assert latency.stats.min == pytest.approx(0.1)
    assert latency.stats.max == pytest.approx(0.1)
    # The count stays the requests.
    assert found["traffic"].stats.max == pytest.approx(30.0)


def test_a_surge_at_the_usual_speed_is_no_latency_rise_where_the_sum_alone_was_one() -> None:
    surge = counter("http_request_duration_seconds_count", 600, 1800) + counter(
        "http_request_duration_seconds_sum", 60, 180
    )
    assert latency_after_and_before(surge) == pytest.approx((0.1, 0.1))
    slower = counter("http_request_duration_seconds_count", 600, 600) + counter(
        "http_request_duration_seconds_sum", 60, 300
    )
    assert latency_after_and_before(slower) == pytest.approx((0.5, 0.1))


def test_a_histogram_already_read_through_rate_gives_the_same_mean() -> None:
    points = [
        {**p, "unit": "1/s"}
        for p in series("http_server_requests_seconds_count", 10, 10, service="api")
    ] + [
        {**p, "unit": "s/s"}
        for p in series("http_server_requests_seconds_sum", 1, 4, service="api")
    ]
    latency = kinds(read(points))["latency"]
    assert latency.stats.min == pytest.approx(0.1, rel=0.05)
    assert latency.stats.max == pytest.approx(0.4, rel=0.05)


def test_a_garbage_collectors_pause_sum_stays_a_garbage_collection_signal() -> None:
    found = read(
        counter("jvm_gc_pause_seconds_count", 6, 6) + counter("jvm_gc_pause_seconds_sum", 1, 1)
    )
    assert {DEFAULT_TABLE.kind_of(s.name) for s in found} == {"gc"}
    assert all(":" not in s.name for s in found)


def test_a_sum_without_its_count_is_read_alone_as_before() -> None:
    (alone,) = read(series("http_request_duration_seconds_sum", 5, 9, service="api"))
    assert alone.name == "http_request_duration_seconds_sum"


def test_the_mean_latency_cites_the_sum_it_came_from() -> None:
    points = counter("http_request_duration_seconds_count", 600, 600) + counter(
        "http_request_duration_seconds_sum", 60, 600
    )
    sent = {a.artifact_id for a in analysis_input(service="api", metrics=points).artifacts}
    latency = kinds(read(points))["latency"]
    assert latency.artifact_id in sent


# -- failures over requests ---------------------------------------------------------------------


def test_a_surge_failing_at_the_usual_share_is_no_error_rise() -> None:
    # 300 requests a minute, 1% failing; then 3,000 a minute, 1% failing.
    points = labelled(counter("http_requests_total", 297, 2970), code="200") + labelled(
        counter("http_requests_total", 3, 30), code="500"
    )
    found = kinds(read(points))
    ratio = found["error_ratio"]
    assert ratio.name == "http_requests_total:error_ratio"
    assert ratio.stats.max == pytest.approx(0.01)
    # The requests are every outcome's together, not the successes alone.
    assert found["traffic"].stats.max == pytest.approx(50.0)
    result = analyze(analysis_input(service="api", metrics=points))
    assert not [s for s in result.signals if s.kind.startswith("errors")]


def test_a_rise_of_the_failing_share_at_steady_traffic_is_an_error_rise() -> None:
    points = labelled(counter("http_requests_total", 297, 240), code="200") + labelled(
        counter("http_requests_total", 3, 60), code="500"
    )
    request = analysis_input(service="api", metrics=points)
    shift = observe(normalise(request.artifacts, DEFAULT_TABLE), request.context).shift(
        "api", "errors"
    )
    assert shift is not None
    assert shift.before == pytest.approx(0.01)
    assert shift.after == pytest.approx(0.2)
    assert not shift.counts  # a share, read by its points


@pytest.mark.parametrize(
    ("failed", "every"),
    [
        # a series that counts every outcome is the total
        ({"outcome": "SERVER_ERROR"}, {"outcome": "ALL"}),
        ({"http.response.status_code": "503"}, {}),
        # gRPC: every code but OK beside OK, summed
        ({"grpc_code": "Unavailable"}, {"grpc_code": "OK"}),
    ],
)
def test_failures_split_by_an_outcome_label_are_read_over_every_request(
    failed: dict[str, str], every: dict[str, str]
) -> None:
    name = "grpc_server_handled_total" if "grpc_code" in failed else "http_requests_total"
    points = labelled(counter(name, 100, 100), **every) + labelled(counter(name, 5, 20), **failed)
    ratio = kinds(read(points))["error_ratio"]
    total = 100 if every.get("grpc_code") != "OK" else 105
    assert ratio.stats.min == pytest.approx(5 / total, rel=0.01)


def test_datadogs_errors_are_read_over_its_hits() -> None:
    points = [
        {**p, "unit": "error/second"}
        for p in series("trace.http.request.errors", 0.1, 1, service="api")
    ] + [
        {**p, "unit": "hit/second"}
        for p in series("trace.http.request.hits", 10, 10, service="api")
    ]
    found = kinds(read(points))
    assert found["error_ratio"].name == "trace.http.request:error_ratio"
    assert found["error_ratio"].stats.max == pytest.approx(0.1, rel=0.05)
    assert found["traffic"].name == "trace.http.request.hits"


@pytest.mark.parametrize(
    ("failures", "requests"),
    [
        ("http_requests_failed_total", "http_requests_total"),
        ("http_errors_total", "http_requests_total"),
        ("api_request_errors_total", "api_requests_total"),
        ("http_failed_requests_total", "http_requests_total"),
        ("jobs_failures_total", "jobs_total"),
        # Envoy's listener and cluster stats, as scraped (no `_total` on the failures)
        ("envoy_http_downstream_rq_5xx", "envoy_http_downstream_rq_total"),
        ("envoy_cluster_upstream_rq_5xx", "envoy_cluster_upstream_rq_total"),
        # AWS load balancers (CloudWatch)
        ("HTTPCode_Target_5XX_Count", "RequestCount"),
    ],
)
def test_failures_named_apart_are_read_over_the_requests_counted_beside_them(
    failures: str, requests: str
) -> None:
    # A surge failing at the usual 1%: read as counts, the failures rose threefold.
    found = kinds(read(counter(failures, 6, 18) + counter(requests, 600, 1800)))
    assert found["error_ratio"].name.endswith(":error_ratio")
    assert found["error_ratio"].stats.min == pytest.approx(0.01)
    assert found["error_ratio"].stats.max == pytest.approx(0.01)
    assert "errors" not in found
    assert found["traffic"].name == requests


def test_dotted_failures_are_read_over_the_requests_counted_beside_them() -> None:
    points = series("checkout.requests.errors", 0.1, 1.0, service="api") + series(
        "checkout.requests.count", 10, 10, service="api"
    )
    found = kinds(read(points))
    assert found["error_ratio"].stats.max == pytest.approx(0.1, rel=0.05)


def test_a_surge_failing_at_the_usual_share_named_apart_is_no_error_rise() -> None:
    points = counter("http_request_errors_total", 6, 60) + counter("http_requests_total", 600, 6000)
    result = analyze(analysis_input(service="api", metrics=points))
    assert not [s for s in result.signals if s.kind.startswith("errors")]


def test_failures_of_another_service_are_not_read_over_these_requests() -> None:
    points = counter("http_requests_total", 100, 100) + [
        {**p, "labels": {"service": "db", "code": "500"}}
        for p in counter("http_requests_total", 5, 20)
    ]
    found = read(points)
    assert not [s for s in found if s.name.endswith(":error_ratio")]


def test_a_running_count_over_a_rate_is_no_ratio() -> None:
    points = labelled(counter("http_requests_total", 5, 20), code="500") + [
        {**p, "unit": "1/s", "labels": {"service": "api", "code": "all"}}
        for p in series("http_requests_total", 10, 10, service="api")
    ]
    assert not [s for s in read(points) if s.name.endswith(":error_ratio")]


def test_a_failure_counter_that_never_moved_reads_as_no_failures() -> None:
    points = labelled(counter("http_requests_total", 100, 100), code="200") + labelled(
        counter("http_requests_total", 0, 0, start=7.0), code="500"
    )
    ratio = kinds(read(points))["error_ratio"]
    assert ratio.stats.max == 0.0


# -- a cgroup's CPU quota over its period ------------------------------------------------------


def cgroup(quota: float, period: float = 100_000.0) -> list[dict[str, Any]]:
    return series("container_spec_cpu_quota", quota, quota, service="api") + series(
        "container_spec_cpu_period", period, period, service="api"
    )


def test_a_cpu_in_cores_is_a_share_of_its_cgroup_quota_over_its_period() -> None:
    # 0.5 -> 1.4 cores under a quota of 1.5 cores
    usage = [{**p, "unit": "s"} for p in counter("container_cpu_usage_seconds_total", 30, 84)]
    (cpu,) = read(usage + cgroup(150_000.0))  # the quota and period are no signals
    assert cpu.name == "container_cpu_usage_seconds_total"
    assert cpu.unit == "1"
    assert cpu.stats.min == pytest.approx(0.5 / 1.5)
    assert cpu.stats.max == pytest.approx(1.4 / 1.5)


def test_a_quota_of_minus_one_is_no_limit_and_the_cpu_stays_in_cores() -> None:
    usage = [{**p, "unit": "s"} for p in counter("container_cpu_usage_seconds_total", 30, 84)]
    (cpu,) = read(usage + cgroup(-1.0))
    assert cpu.unit == "s/s"
    assert cpu.stats.max == pytest.approx(1.4)


def test_a_stated_limit_goes_before_the_quota() -> None:
    usage = [{**p, "unit": "s"} for p in counter("container_cpu_usage_seconds_total", 30, 84)]
    limit = labelled(
        series("kube_pod_container_resource_limits", 2, 2, service="api"), resource="cpu"
    )
    (cpu,) = read(usage + limit + cgroup(150_000.0))
    assert cpu.stats.max == pytest.approx(0.7)


def test_an_analysis_of_a_surge_at_the_usual_speed_names_no_latency_rise() -> None:
    points = counter("http_request_duration_seconds_count", 600, 1800) + counter(
        "http_request_duration_seconds_sum", 60, 180
    )
    result = analyze(analysis_input(service="api", metrics=points))
    assert not [s for s in result.signals if s.kind.startswith("latency")]
    assert [s for s in result.signals if s.kind.startswith("traffic")]


# -- failures over failures and successes --------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "successes"),
    [
        ("jobs_failed_total", "jobs_succeeded_total"),
        # yabeda-sidekiq
        ("sidekiq_jobs_failed_total", "sidekiq_jobs_success_total"),
        # celery-exporter
        ("celery_task_failed_total", "celery_task_succeeded_total"),
        # BullMQ-style queues
        ("queue_jobs_failed_total", "queue_jobs_completed_total"),
        ("rpc_failures_total", "rpc_successes_total"),
        ("payments_failed_charges_total", "payments_successful_charges_total"),
    ],
)
def test_failures_counted_beside_the_successes_are_read_over_both(
    failures: str, successes: str
) -> None:
    # A surge failing at the usual 1%: 6 of 600 a minute, then 18 of 1,800.
    found = kinds(read(counter(failures, 6, 18) + counter(successes, 594, 1782)))
    ratio = found["error_ratio"]
    assert ratio.name.endswith(":error_ratio")
    # failed / (failed + succeeded), not failed / succeeded
    assert ratio.stats.min == pytest.approx(0.01)
    assert ratio.stats.max == pytest.approx(0.01)
    assert "errors" not in found
    # Both together are the requests: 10 a second, then 30.
    assert found["traffic"].name.endswith(":traffic")
    assert found["traffic"].stats.min == pytest.approx(10.0)
    assert found["traffic"].stats.max == pytest.approx(30.0)


def test_dotted_failures_are_read_over_the_failures_and_the_successes() -> None:
    points = series("app.jobs.failed", 1.0, 5.0, service="api") + series(
        "app.jobs.succeeded", 9.0, 5.0, service="api"
    )
    found = kinds(read(points))
    assert found["error_ratio"].stats.min == pytest.approx(0.1, rel=0.05)
    assert found["error_ratio"].stats.max == pytest.approx(0.5, rel=0.05)
    assert found["traffic"].stats.max == pytest.approx(10.0, rel=0.05)


def test_a_count_of_every_outcome_goes_before_the_successes() -> None:
    # Sidekiq's processed jobs count the failed ones too: the share is failed over processed.
    points = (
        counter("sidekiq_failed_jobs_total", 10, 10)
        + counter("sidekiq_processed_jobs_total", 100, 100)
        + counter("sidekiq_jobs_success_total", 90, 90)
    )
    assert kinds(read(points))["error_ratio"].stats.max == pytest.approx(0.1)


def test_failures_rising_as_the_successes_fall_are_an_error_rise_at_steady_traffic() -> None:
    points = counter("jobs_failed_total", 6, 300) + counter("jobs_succeeded_total", 594, 300)
    request = analysis_input(service="api", metrics=points)
    artifacts = normalise(request.artifacts, DEFAULT_TABLE)
    errors = observe(artifacts, request.context).shift("api", "errors")
    assert errors is not None
    assert errors.before == pytest.approx(0.01)
    assert errors.after == pytest.approx(0.5)
    # The requests held: the successes halving is no fall of traffic.
    traffic = observe(artifacts, request.context).shift("api", "traffic")
    assert traffic is None or traffic.after == pytest.approx(traffic.before, rel=0.05)


def test_a_surge_failing_at_the_usual_share_beside_the_successes_is_no_error_rise() -> None:
    points = counter("jobs_failed_total", 6, 60) + counter("jobs_succeeded_total", 594, 5940)
    result = analyze(analysis_input(service="api", metrics=points))
    assert not [s for s in result.signals if s.kind.startswith("errors")]
    assert [s for s in result.signals if s.kind.startswith("traffic")]


def test_successes_of_another_service_are_not_read_with_these_failures() -> None:
    points = counter("jobs_failed_total", 6, 60) + [
        {**p, "labels": {"service": "db"}} for p in counter("jobs_succeeded_total", 594, 594)
    ]
    assert not [s for s in read(points) if s.name.endswith(":error_ratio")]


@pytest.mark.parametrize(
    ("name", "failed", "other"),
    [
        ("resilience4j_circuitbreaker_calls_seconds_count", "failed", "successful"),
        ("resilience4j_retry_calls_total", "failed_with_retry", "successful_without_retry"),
    ],
)
def test_resilience4js_calls_by_kind_are_read_as_failures_over_every_call(
    name: str, failed: str, other: str
) -> None:
    points = labelled(counter(name, 5, 50), kind=failed, name="backend") + labelled(
        counter(name, 95, 50), kind=other, name="backend"
    )
    found = kinds(read(points))
    assert found["error_ratio"].stats.min == pytest.approx(0.05)
    assert found["error_ratio"].stats.max == pytest.approx(0.5)
    assert found["traffic"].stats.max == pytest.approx(100 / 60)
