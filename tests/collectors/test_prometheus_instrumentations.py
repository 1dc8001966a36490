# mypy: disable-error-code="comparison-overlap"
"""The Prometheus collector's defaults read a polyglot fleet, against a real Prometheus.

The chain of `test_prometheus_neighbourhood` (web-frontend → orders-api → inventory-api,
orders-api failing from 10:00), but each service instrumented its own way: web-frontend with
OpenTelemetry's stable HTTP conventions, orders-api with the experimental ones (milliseconds,
``http_status_code``), inventory-api with a Prometheus client library.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from chronosops.collectors import CollectorQuery, CollectorSpec, registry
from chronosops.collectors.prometheus import PrometheusCollector
from chronosops.core.artifacts import MetricSeries
from chronosops.core.clock import FrozenClock
from chronosops.core.timestamps import format_instant
from chronosops.core.windows import TimeWindow
from tests.collectors.prometheus_server import (
    ONSET,
    PrometheusServer,
    available,
    chain_openmetrics,
    running_prometheus,
)
from tests.fixtures.guide import request
from tests.fixtures.jobs import ingest_and_run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not available(), reason="needs /usr/bin/prometheus and promtool"),
]

FLEET = {
    "web-frontend": "opentelemetry",
    "orders-api": "opentelemetry-ms",
    "inventory-api": "prometheus-client",
    "search-api": "opentelemetry",
}
WINDOW = TimeWindow(ONSET - timedelta(minutes=30), ONSET + timedelta(minutes=30))


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    with running_prometheus(
        tmp_path_factory.mktemp("prometheus-fleet"), data_set=chain_openmetrics(FLEET)
    ) as server:
        yield server


def _before_after(series: MetricSeries) -> tuple[float, float]:
    before = next(p.value for p in series.points if p.ts == ONSET - timedelta(minutes=15))
    after = next(p.value for p in series.points if p.ts == ONSET + timedelta(minutes=15))
    return before, after


async def test_each_service_is_read_through_the_instrumentation_it_exports(
    prometheus: PrometheusServer,
) -> None:
    collector = registry.build(
        CollectorSpec(
            name="prom",
            backend="prometheus",
            endpoint=prometheus.url,
            options={"labels": {"environment": "env"}},
            credentials={},
        ),
        http=httpx.AsyncClient(),
        clock=FrozenClock(ONSET),
    )
    assert isinstance(collector, PrometheusCollector)
    collected = await collector.collect(
        CollectorQuery(
            window=WINDOW, onset=ONSET, service="web-frontend", environment="production", hops=2
        )
    )
    series = {
        (a.service, a.name): a
        for a in collected.artifacts
        if isinstance(a, MetricSeries) and a.service
    }
    assert collected.problems == []
    # The same figures the client-library chain gives, whatever the names and the unit.
    assert _before_after(series[("orders-api", "latency_p95_ms")]) == (
        pytest.approx(97.5),
        pytest.approx(975.0),
    )
    assert _before_after(series[("web-frontend", "latency_p95_ms")]) == (
        pytest.approx(242.5),
        pytest.approx(2425.0),
    )
    assert _before_after(series[("inventory-api", "latency_p95_ms")]) == (
        pytest.approx(47.5),
        pytest.approx(47.5),
    )
    assert _before_after(series[("orders-api", "error_ratio")]) == (
        pytest.approx(1 / 600),
        pytest.approx(0.25),
    )
    assert _before_after(series[("web-frontend", "error_ratio")]) == (
        pytest.approx(1 / 600),
        pytest.approx(1 / 600),
    )
    for service in ("web-frontend", "orders-api", "inventory-api"):
        assert _before_after(series[(service, "request_rate")]) == (
            pytest.approx(10.0),
            pytest.approx(10.0),
        )
    # One series per service and query: no instrumentation's answer is added to another's.
    assert len(series) == len(collected.artifacts)


async def test_an_alert_on_the_frontend_names_the_service_behind_it(
    prometheus: PrometheusServer, client_with: Any, analyst: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "collectors.toml"
    config.write_text(
        f"""
[[collectors]]
name = "prometheus-prod"
backend = "prometheus"
endpoint = "{prometheus.url}"

[collectors.options]
labels = {{ environment = "env" }}
"""
    )
    client, built = await client_with(collectors_file=str(config))
    alert = request(
        sourceRef="fleet-alert",
        title="web-frontend is slow",
        timeline={
            "start": format_instant(ONSET),
            "end": format_instant(ONSET + timedelta(minutes=30)),
        },
        metadata={"service": "web-frontend", "environment": "production"},
    )
    created = await ingest_and_run(client, built, alert, analyst)
    assert created["status"] == "analyzed", created
    analysis = (await client.get(f"/v1/analyses/{created['analysisId']}", headers=analyst)).json()
    result = analysis["result"]
    assert result["culpritService"] == "orders-api"
    # Named from its failures and slowness as well as its CPU, and the frontend's slowness is
    # read too: none of which the client-library names alone would have brought.
    assert {
        "metric:prometheus-prod:error_ratio{service=orders-api}",
        "metric:prometheus-prod:latency_p95_ms{service=orders-api}",
    } <= set(result["hypotheses"][0]["evidenceRefs"])
    assert "web-frontend" in {signal["service"] for signal in result["signals"]}
