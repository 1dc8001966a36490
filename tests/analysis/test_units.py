"""Units are read once, where a series becomes a signal (`analysis.units`)."""

from __future__ import annotations

import pytest

from chronosops.analysis.engine import analyze
from chronosops.analysis.observations import observe
from chronosops.analysis.scoring import error_strength
from chronosops.analysis.signals import DEFAULT_TABLE
from chronosops.analysis.units import latency_unit, normalise, normalise_series, share_scale
from chronosops.core.artifacts import MetricSeries
from tests.analysis.builders import analysis_input, series


def only_series(name: str, before: float, after: float, **kwargs: str) -> MetricSeries:
    request = analysis_input(service="api", metrics=series(name, before, after, service="api"))
    (item,) = [a for a in request.artifacts if isinstance(a, MetricSeries)]
    return item.model_copy(update=kwargs) if kwargs else item


@pytest.mark.parametrize(
    ("name", "kind", "unit", "values", "scale"),
    [
        # the series' own unit first
        ("docker.cpu.usage", "cpu", "percent", [30.0, 60.0], 0.01),
        ("http_requests_error_ratio", "error_ratio", "%", [0.5, 0.9], 0.01),
        ("k8s.pod.cpu.utilization", "cpu", "1", [0.3, 0.6], 1.0),
        ("kubernetes.cpu.usage.total", "cpu", "nanocore", [6e8, 1.2e9], 1.0),
        # then the name
        ("cpu_usage_percent", "cpu", None, [0.4, 0.9], 0.01),
        ("memory_usage_pct", "memory", None, [40.0, 80.0], 0.01),
        ("success_rate_percent", "availability", None, [99.9, 97.0], 0.01),
        # then the values: a ratio above one cannot be a share
        ("CPUUtilization", "cpu", None, [31.0, 62.0], 0.01),
        ("error_rate", "error_ratio", None, [0.2, 4.0], 0.01),
        ("cpu_utilization", "cpu", None, [0.31, 0.62], 1.0),
        # not a share of anything: cores, a footprint, a count
        ("container_cpu_usage_seconds_total", "cpu", None, [1.2, 1.9], 1.0),
        ("memory_working_set_mb", "memory", None, [300.0, 900.0], 1.0),
        ("requests_per_second", "traffic", None, [40.0, 90.0], 1.0),
    ],
)
def test_a_bounded_signal_is_read_as_a_share_from_its_unit_name_or_values(
    name: str, kind: str, unit: str | None, values: list[float], scale: float
) -> None:
    assert share_scale(name, kind, unit, values) == scale


def test_a_percent_series_that_never_reaches_one_percent_cannot_be_told_from_a_share() -> None:
    # The documented limit: its values alone say nothing, so it stays as sent.
    assert share_scale("CPUUtilization", "cpu", None, [0.4, 0.8]) == 1.0
    # A share at its limit overshoots it a little between samples: still a share.
    assert share_scale("cpu_utilization", "cpu", None, [0.97, 1.02, 1.1]) == 1.0
    assert share_scale("error_ratio", "error_ratio", None, [0.9, 1.01]) == 1.0
    # Above a hundred it is no percentage of one limit either.
    assert share_scale("error_rate", "error_ratio", None, [50.0, 400.0]) == 1.0


@pytest.mark.parametrize(
    ("name", "unit", "found"),
    [
        ("http_request_duration_seconds", None, "s"),
        ("latency_p95_ms", None, "ms"),
        ("http_request_duration_milliseconds", None, "ms"),
        ("http.server.duration", "ms", "ms"),
        ("redis_commands_latencies_p95_usec", None, "us"),
        ("http.server.request.duration", "s", "s"),
    ],
)
def test_latency_takes_its_unit_from_the_series_else_its_name(
    name: str, unit: str | None, found: str
) -> None:
    assert latency_unit(name, unit) == found


def test_normalising_scales_the_points_and_stats_and_says_the_unit() -> None:
    item = normalise_series(only_series("cpu_usage_percent", 30, 90), DEFAULT_TABLE)
    assert item.unit == "1"
    assert max(p.value for p in item.points) == pytest.approx(0.918)
    assert item.stats.max == pytest.approx(0.918)
    assert item.stats.count == 30


def test_a_series_already_in_its_unit_is_left_as_it_is() -> None:
    item = only_series("cpu_utilization", 0.3, 0.9)
    assert normalise_series(item, DEFAULT_TABLE) is item


def test_an_error_ratio_in_percent_rising_half_a_point_is_no_error_signal() -> None:
    # 0.2% -> 0.7% failing: half a point, a ratio's wobble. Read as a share, it was 50 points.
    request = analysis_input(
        service="api", metrics=series("error_rate_pct", 0.2, 0.7, service="api")
    )
    raw = observe(request.artifacts, request.context).shift("api", "errors")
    read = observe(normalise(request.artifacts, DEFAULT_TABLE), request.context).shift(
        "api", "errors"
    )
    assert raw is not None
    assert read is not None
    assert error_strength(raw) == 1.0
    assert error_strength(read) < 0.1
    # 0.2% -> 12% failing is a real rise in either unit.
    request = analysis_input(
        service="api", metrics=series("error_rate_pct", 0.2, 12, service="api")
    )
    read = observe(normalise(request.artifacts, DEFAULT_TABLE), request.context).shift(
        "api", "errors"
    )
    assert read is not None
    assert error_strength(read) == 1.0


def test_a_cpu_sent_in_percent_is_read_in_percent_however_small_its_values() -> None:
    # 0.3% -> 0.95% busy: by its values alone a share going to 95% (the documented limit);
    # the point's own ``unit`` says otherwise, so no saturation is read into it.
    points = series("cpu_utilization", 0.3, 0.95, service="api")
    unsaid = analyze(analysis_input(service="api", metrics=points))
    said = analyze(analysis_input(service="api", metrics=[{**p, "unit": "%"} for p in points]))
    assert unsaid.hypotheses[0].id == "CAPACITY_SATURATION"
    assert said.hypotheses[0].id == "UNKNOWN"
    # Stated at the metrics-alone temperature (engine 3.31) an unread candidate keeps some
    # probability; it holds well under half of what the same values read as a share get.
    read = next(h.confidence for h in unsaid.hypotheses if h.id == "CAPACITY_SATURATION")
    assert all(h.id != "CAPACITY_SATURATION" or h.confidence < 0.5 * read for h in said.hypotheses)


def _with_labels(points: list[dict[str, object]], **labels: str) -> list[dict[str, object]]:
    return [{**p, "labels": {"service": "api", **labels}} for p in points]


@pytest.mark.parametrize(
    ("usage", "usage_unit", "limit_name", "limit_labels", "limit", "limit_unit"),
    [
        ("kubernetes.cpu.usage.total", "nanocore", "kubernetes.cpu.limits", {}, 2.0, "core"),
        (
            "container_cpu_usage_cores",
            "cores",
            "kube_pod_container_resource_limits",
            {"resource": "cpu"},
            2.0,
            "core",
        ),
        ("container_cpu_usage_cores", "cores", "k8s.container.cpu_limit", {}, 2000.0, "millicores"),
    ],
)
def test_a_cpu_in_cores_is_a_share_of_the_limit_the_bundle_states(
    usage: str,
    usage_unit: str,
    limit_name: str,
    limit_labels: dict[str, str],
    limit: float,
    limit_unit: str,
) -> None:
    scale = 1e9 if usage_unit == "nanocore" else 1.0
    metrics = [
        {**p, "unit": usage_unit} for p in series(usage, 0.6 * scale, 1.6 * scale, service="api")
    ]
    metrics += [
        {**p, "unit": limit_unit}
        for p in _with_labels(series(limit_name, limit, limit, service="api"), **limit_labels)
    ]
    read = normalise(analysis_input(service="api", metrics=metrics).artifacts, DEFAULT_TABLE)
    (cpu,) = [a for a in read if isinstance(a, MetricSeries)]  # the limit is not a signal
    assert cpu.name == usage
    assert cpu.unit == "1"
    assert cpu.stats.max == pytest.approx(0.816)
    assert cpu.points[0].value == pytest.approx(0.294)


def test_without_a_stated_limit_a_cpu_in_cores_stays_in_cores() -> None:
    metrics = [
        {**p, "unit": "cores"} for p in series("container_cpu_usage_cores", 0.6, 1.6, service="api")
    ]
    # Another service's limit is not this one's.
    metrics += series("kubernetes.cpu.limits", 2, 2, service="db")
    read = normalise(analysis_input(service="api", metrics=metrics).artifacts, DEFAULT_TABLE)
    (cpu,) = [a for a in read if isinstance(a, MetricSeries) and a.service == "api"]
    assert cpu.unit == "cores"
    assert cpu.stats.max == pytest.approx(1.632)
