# mypy: disable-error-code="comparison-overlap"
"""The Prometheus collector's defaults read native histograms, against a real Prometheus.

The chain of `test_prometheus_neighbourhood` (web-frontend → orders-api → inventory-api,
orders-api failing from 10:00), but orders-api is instrumented with OpenTelemetry and exported
to Prometheus as a native histogram (an exponential histogram becomes one), so it has no
``_bucket`` and no ``_count`` series: only ``histogram_quantile`` and ``histogram_count`` over
the histogram's bare name read its latency and its requests. web-frontend, the alerting
service, is native too, on OpenTelemetry's experimental conventions (milliseconds,
``http_status_code``); inventory-api keeps a Prometheus client library's classic histograms. Native histograms cannot be backfilled with promtool; a
Prometheus with ``--enable-feature=native-histograms`` scrapes the history in protobuf
(`prometheus_server.scraped_prometheus`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.collectors.chain import (
    CHAIN_FIGURES,
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
    chain_exposition,
    scraped_prometheus,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not available(), reason="needs /usr/bin/prometheus and promtool"),
]

# orders-api: native only. search-api: both (a client library exposing its classic buckets
# beside native ones); nothing in the chain calls it, it is asked about on its own.
NATIVE = {
    "orders-api": "opentelemetry",
    "web-frontend": "opentelemetry-ms",
    "search-api": "opentelemetry",
}
CLASSIC = {"search-api": "prometheus-client"}

# Native buckets have powers of two for bounds, and Prometheus 2.42 interpolates linearly inside
# one: orders-api's 75 ms requests fall in (62.5, 125] ms, where the classic chain's fall in
# (50, 100]; its 750 ms ones in (500, 1000] either way. web-frontend's histogram counts
# milliseconds: its 200 ms requests fall in (128, 256], its 3 s ones in (2048, 4096] (the classic
# chain's in (100, 250] and (1000, 2500]). The rest is as in the classic chain.
NATIVE_FIGURES = {
    **CHAIN_FIGURES,
    ("orders-api", "latency_p95_ms"): (62.5 + 62.5 * 0.95, 975.0),
    ("orders-api", "latency_p50_ms"): (62.5 + 62.5 * 0.5, 750.0),
    ("web-frontend", "latency_p95_ms"): (128 + 128 * 0.95, 2048 + 2048 * 0.95),
    ("orders-api", "request_rate"): (10.0, 10.0),
    ("web-frontend", "request_rate"): (10.0, 10.0),
}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    with scraped_prometheus(
        tmp_path_factory.mktemp("prometheus-native"), chain_exposition(NATIVE, CLASSIC)
    ) as server:
        yield server


async def test_a_service_whose_latency_is_a_native_histogram_is_read_with_the_others(
    prometheus: PrometheusServer,
) -> None:
    collected = await chain_collector(prometheus.url).collect(chain_query())
    series = series_by_service(collected.artifacts)
    assert collected.problems == []
    for key, (before, after) in NATIVE_FIGURES.items():
        assert before_after(series[key]) == (pytest.approx(before), pytest.approx(after)), key
    # One series per service and query, each under its own service.
    assert len(series) == len(collected.artifacts)
    assert all(a.labels["service"] == a.service for a in series.values())


async def test_a_service_exporting_both_kinds_is_counted_once(
    prometheus: PrometheusServer,
) -> None:
    collected = await chain_collector(prometheus.url).collect(
        chain_query(service="search-api", hops=0)
    )
    series = series_by_service(collected.artifacts)
    assert collected.problems == []
    # Not 20 requests a second: the classic alternative answers and the native one is not added.
    assert before_after(series[("search-api", "request_rate")]) == (
        pytest.approx(10.0),
        pytest.approx(10.0),
    )
    # The classic bucket (0, 50 ms], not the native (31.25, 62.5 ms]: the first that answers.
    assert before_after(series[("search-api", "latency_p95_ms")]) == (
        pytest.approx(47.5),
        pytest.approx(47.5),
    )
    assert len(series) == len(collected.artifacts)


async def test_an_alert_on_the_frontend_names_the_native_service_behind_it(
    prometheus: PrometheusServer, client_with: Any, analyst: dict[str, str], tmp_path: Path
) -> None:
    client, built = await client_with(collectors_file=collectors_file(tmp_path, prometheus.url))
    # The alert's own service, native too, is read beside the culprit.
    await assert_frontend_alert_names_orders_api(client, built, analyst, "native-alert")
