# mypy: disable-error-code="comparison-overlap"
"""The Prometheus collector's defaults read a polyglot fleet, against a real Prometheus.

The chain of `test_prometheus_neighbourhood` (web-frontend → orders-api → inventory-api,
orders-api failing from 10:00), but each service instrumented its own way: web-frontend with
OpenTelemetry's stable HTTP conventions, orders-api with the experimental ones (milliseconds,
``http_status_code``), inventory-api with a Prometheus client library.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.collectors.chain import (
    assert_chain_figures,
    assert_frontend_alert_names_orders_api,
    before_after,
    chain_collector,
    chain_query,
    collectors_file,
    series_by_service,
)
from tests.collectors.prometheus_server import (
    PrometheusServer,
    available,
    chain_openmetrics,
    running_prometheus,
)

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


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    with running_prometheus(
        tmp_path_factory.mktemp("prometheus-fleet"), data_set=chain_openmetrics(FLEET)
    ) as server:
        yield server


async def test_each_service_is_read_through_the_instrumentation_it_exports(
    prometheus: PrometheusServer,
) -> None:
    collected = await chain_collector(prometheus.url).collect(chain_query())
    series = series_by_service(collected.artifacts)
    assert collected.problems == []
    # The same figures the client-library chain gives, whatever the names and the unit.
    assert_chain_figures(series)
    for service in ("web-frontend", "orders-api", "inventory-api"):
        assert before_after(series[(service, "request_rate")]) == (
            pytest.approx(10.0),
            pytest.approx(10.0),
        )
    # One series per service and query: no instrumentation's answer is added to another's.
    assert len(series) == len(collected.artifacts)


async def test_an_alert_on_the_frontend_names_the_service_behind_it(
    prometheus: PrometheusServer, client_with: Any, analyst: dict[str, str], tmp_path: Path
) -> None:
    client, built = await client_with(collectors_file=collectors_file(tmp_path, prometheus.url))
    # Named from its failures and slowness as well as its CPU: none of which the client-library
    # names alone would have brought.
    await assert_frontend_alert_names_orders_api(client, built, analyst, "fleet-alert")
