"""A scenario's metrics as a Prometheus holds them: every series with its labels and ``env``,
counters as counters, the call graph as Tempo's service-graph counter, and one PromQL query per
metric that reads it back under its own name; a real Prometheus backfilled with the text answers
the scenario's own values."""

from __future__ import annotations

import math
import re
from pathlib import Path

import httpx
import pytest

from chronosops.core.artifacts import MetricSeries
from chronosops.scenarios import GeneratedIncident, GenerationOptions, generate
from chronosops.scenarios.openmetrics import openmetrics, prometheus_queries
from tests.collectors.prometheus_server import available, running_prometheus

SAMPLE = re.compile(r"^(?P<name>[a-z0-9_]+)\{(?P<labels>[^}]*)\} (?P<value>\S+) (?P<ts>\d+)$")


@pytest.fixture(scope="module")
def incident() -> GeneratedIncident:
    return generate("feature-flag-regression", GenerationOptions(drop=frozenset({"logs"})))


def _series(incident: GeneratedIncident) -> list[MetricSeries]:
    return [a for a in incident.artifacts if isinstance(a, MetricSeries)]


def test_every_point_of_every_series_is_a_sample_with_the_environment_label(
    incident: GeneratedIncident,
) -> None:
    text = openmetrics(incident)
    assert text.endswith("# EOF\n")
    samples = [SAMPLE.match(line) for line in text.splitlines() if not line.startswith("#")]
    assert all(samples)
    expected = sum(1 for s in _series(incident) for p in s.points if math.isfinite(p.value)) + len(
        [
            edge
            for node in incident.topology.services
            for edge in incident.topology.dependencies(node.key)
        ]
    ) * len({p.ts for s in _series(incident) for p in s.points})
    assert len(samples) == expected
    metric_lines = [m for m in samples if m and m["name"] != "traces_service_graph_request_total"]
    assert all('env="production"' in m["labels"] for m in metric_lines)


def test_counters_are_typed_as_counters_and_the_rest_as_gauges(
    incident: GeneratedIncident,
) -> None:
    types = dict(
        line.split()[2:4]
        for line in openmetrics(incident).splitlines()
        if line.startswith("# TYPE")
    )
    assert types["container_restarts"] == "counter"
    assert types["latency_p95_ms"] == "gauge"
    assert types["traces_service_graph_request"] == "counter"


def test_the_call_graph_names_each_caller_and_callee(incident: GeneratedIncident) -> None:
    text = openmetrics(incident)
    assert (
        'traces_service_graph_request_total{client="checkout-api",server="pricing-service"}' in text
    )


def test_one_query_per_metric_reads_it_back_under_its_name_and_unit(
    incident: GeneratedIncident,
) -> None:
    queries = prometheus_queries(incident)
    assert set(queries) == {s.name for s in _series(incident)}
    assert queries["latency_p95_ms"] == {
        "query": "max by ($group) (latency_p95_ms{$selector})",
        "unit": "ms",
    }


@pytest.mark.slow
@pytest.mark.skipif(not available(), reason="needs /usr/bin/prometheus and promtool")
def test_a_backfilled_prometheus_answers_the_scenarios_own_values(
    incident: GeneratedIncident, tmp_path: Path
) -> None:
    [series] = [
        s
        for s in _series(incident)
        if s.name == "error_ratio" and s.service == incident.truth.culprit_service
    ]
    with running_prometheus(tmp_path, data_set=openmetrics(incident)) as prometheus:
        body = httpx.get(
            f"{prometheus.url}/api/v1/query_range",
            params={
                "query": f'error_ratio{{service="{series.service}",env="production"}}',
                "start": series.points[0].ts.timestamp(),
                "end": series.points[-1].ts.timestamp(),
                "step": "60s",
            },
        ).json()
    [answer] = body["data"]["result"]
    assert [float(v) for _, v in answer["values"]] == pytest.approx(
        [p.value for p in series.points], rel=1e-5
    )
