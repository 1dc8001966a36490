"""The Prometheus collector against a real Prometheus holding a known incident's series."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from chronosops.collectors import (
    CollectorAuthError,
    CollectorQuery,
    CollectorResponseError,
    CollectorSpec,
    CollectorTimeoutError,
    registry,
)
from chronosops.collectors.prometheus import PrometheusCollector
from chronosops.core.artifacts import MetricSeries
from chronosops.core.clock import FrozenClock
from chronosops.core.timestamps import parse_instant
from chronosops.core.windows import TimeWindow
from chronosops.evidence import CollectionPolicy, CollectorRunner
from tests.collectors.chain import collectors_file
from tests.collectors.local_servers import answering_server, silent_server
from tests.collectors.prometheus_server import (
    BASIC_AUTH_PASSWORD,
    BASIC_AUTH_USER,
    MIB,
    ONSET,
    PrometheusServer,
    asked,
    available,
    memory_bytes,
    running_prometheus,
)
from tests.fixtures.guide import request
from tests.fixtures.jobs import ingest_and_run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not available(), reason="needs /usr/bin/prometheus and promtool"),
]

WINDOW = TimeWindow(ONSET - timedelta(minutes=15), ONSET + timedelta(minutes=75))
QUERY = CollectorQuery(
    window=WINDOW, onset=ONSET, service="payment-service", environment="production"
)
MEMORY_MIB = "container_memory_working_set_bytes{$selector} / 1048576"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    with running_prometheus(tmp_path_factory.mktemp("prometheus")) as server:
        yield server


def _collector(url: str, http: httpx.AsyncClient | None = None, **spec: Any) -> PrometheusCollector:
    values: dict[str, Any] = {
        "name": "prom",
        "backend": "prometheus",
        "endpoint": url,
        "options": {
            "labels": {"environment": "env"},
            "extra_queries": {"memory_mib": {"query": MEMORY_MIB, "unit": "MiB"}},
        },
        "credentials": {},
    }
    values.update(spec)
    collector = registry.build(
        CollectorSpec(**values), http=http or httpx.AsyncClient(), clock=FrozenClock(ONSET)
    )
    assert isinstance(collector, PrometheusCollector)
    return collector


def _by_name(artifacts: list[Any]) -> dict[str, MetricSeries]:
    return {a.name: a for a in artifacts if isinstance(a, MetricSeries)}


def _at(series: MetricSeries, minutes: int) -> float:
    wanted = ONSET + timedelta(minutes=minutes)
    return next(p.value for p in series.points if p.ts == wanted)


async def test_an_incident_without_evidence_gets_the_series_prometheus_holds(
    prometheus: PrometheusServer,
    client_with: Any,
    analyst: dict[str, str],
    tmp_path: Path,
) -> None:
    config = collectors_file(
        tmp_path,
        prometheus.url,
        f"[collectors.options.extra_queries.memory_mib]\nquery = '{MEMORY_MIB}'\nunit = \"MiB\"",
    )
    client, built = await client_with(collectors_file=config)
    created = await ingest_and_run(client, built, request(), analyst)
    assert created["status"] == "analyzed"
    bundle = (
        await client.get(f"/v1/evidence-bundles/{created['evidenceBundleId']}", headers=analyst)
    ).json()
    series = {a["name"]: a for a in bundle["artifacts"] if a["kind"] == "metric_series"}
    assert set(series) >= {
        "latency_p50_ms",
        "latency_p95_ms",
        "latency_p99_ms",
        "error_ratio",
        "request_rate",
        "memory_working_set_bytes",
        "memory_mib",
    }
    assert all(a["source"] == "prometheus-prod" for a in series.values())
    assert all(a["service"] == "payment-service" for a in series.values())
    # The default queries group by the service label, so every series names its service.
    assert series["request_rate"]["labels"] == {"service": "payment-service"}
    assert series["memory_mib"]["labels"] == {"env": "production", "service": "payment-service"}

    # The gauge comes back exactly as loaded, one point a minute across the window.
    memory = series["memory_mib"]["points"]
    assert len(memory) == 91
    assert memory[0]["ts"] == "2024-01-15T09:45:00.000Z"
    assert memory[-1]["ts"] == "2024-01-15T11:15:00.000Z"
    for point in memory:
        assert point["value"] == memory_bytes("payment-service", parse_instant(point["ts"])) / MIB

    def value(name: str, ts: str) -> float:
        return float(next(p["value"] for p in series[name]["points"] if p["ts"] == ts))

    # 120 requests a minute throughout; errors 1 a minute before 10:00, 30 after.
    assert value("request_rate", "2024-01-15T09:50:00.000Z") == pytest.approx(2.0)
    assert value("request_rate", "2024-01-15T10:30:00.000Z") == pytest.approx(2.0)
    assert value("error_ratio", "2024-01-15T09:50:00.000Z") == pytest.approx(1 / 120)
    assert value("error_ratio", "2024-01-15T10:30:00.000Z") == pytest.approx(0.25)
    # Fast requests sit in the (0.05, 0.1] bucket, slow ones in (0.5, 1].
    assert value("latency_p95_ms", "2024-01-15T09:50:00.000Z") == pytest.approx(97.5)
    assert value("latency_p95_ms", "2024-01-15T10:30:00.000Z") == pytest.approx(975.0)
    assert value("latency_p50_ms", "2024-01-15T10:30:00.000Z") == pytest.approx(750.0)

    note = next(n for n in bundle["collection"] if n["source"] == "prometheus-prod")
    assert note["status"] == "ok"
    assert note["items"] == len(series)
    analysis = (await client.get(f"/v1/analyses/{created['analysisId']}", headers=analyst)).json()
    kinds = {s["kind"] for s in analysis["result"]["signals"]}
    assert {"latency_up", "errors_up"} <= kinds


async def test_the_selector_targets_the_service_and_environment_only(
    prometheus: PrometheusServer,
) -> None:
    collected = await _collector(prometheus.url).collect(
        CollectorQuery(window=WINDOW, onset=ONSET, service="search-api", environment="production")
    )
    series = _by_name(collected.artifacts)
    assert _at(series["memory_mib"], 0) == memory_bytes("search-api", ONSET) / MIB
    assert _at(series["error_ratio"], 30) == pytest.approx(1 / 120)
    staging = await _collector(prometheus.url).collect(
        CollectorQuery(window=WINDOW, onset=ONSET, service="search-api", environment="staging")
    )
    assert staging.artifacts == []


async def test_an_unknown_service_is_an_empty_result(prometheus: PrometheusServer) -> None:
    collector = _collector(prometheus.url)
    collected = await collector.collect(
        CollectorQuery(window=WINDOW, onset=ONSET, service="no-such-service")
    )
    assert collected.artifacts == []
    assert collected.problems == []
    result = await CollectorRunner([collector], CollectionPolicy()).run(
        CollectorQuery(window=WINDOW, onset=ONSET, service="no-such-service")
    )
    assert [(n.source, n.status) for n in result.notes] == [("prom", "empty")]


async def test_requests_carry_the_window_step_and_expanded_template(
    prometheus: PrometheusServer,
) -> None:
    seen: list[httpx.Request] = []

    async def record(sent: httpx.Request) -> None:
        seen.append(sent)

    http = httpx.AsyncClient(event_hooks={"request": [record]})
    collector = _collector(
        prometheus.url,
        http,
        options={
            "labels": {"environment": "env"},
            "step_seconds": 120,
            "queries": {"memory_mib": {"query": MEMORY_MIB}},
        },
    )
    await collector.collect(QUERY)
    assert len(seen) == 1
    params = asked(seen[0])
    assert seen[0].method == "POST"
    assert seen[0].url.path == "/api/v1/query_range"
    assert params["query"] == (
        'container_memory_working_set_bytes{service="payment-service",env="production"} / 1048576'
    )
    assert params["start"] == f"{WINDOW.start.timestamp():.3f}"
    assert params["end"] == f"{WINDOW.end.timestamp():.3f}"
    assert params["step"] == "120s"


async def test_a_bad_template_is_a_problem_and_the_other_queries_still_answer(
    prometheus: PrometheusServer,
) -> None:
    collector = _collector(
        prometheus.url,
        options={
            "queries": {"memory_mib": {"query": MEMORY_MIB}, "broken": {"query": "sum(rate("}}
        },
    )
    collected = await collector.collect(QUERY)
    assert [getattr(a, "name", None) for a in collected.artifacts] == ["memory_mib"]
    assert len(collected.problems) == 1
    assert collected.problems[0].startswith("broken: prometheus refused the query (HTTP 400)")
    assert "parse error" in collected.problems[0]
    only_broken = _collector(
        prometheus.url, options={"queries": {"broken": {"query": "sum(rate("}}}
    )
    with pytest.raises(CollectorResponseError, match="parse error"):
        await only_broken.collect(QUERY)


async def test_a_prometheus_behind_basic_auth_takes_the_right_password_only(
    tmp_path: Path,
) -> None:
    with running_prometheus(tmp_path / "secured", basic_auth=True) as secured:
        right = _collector(
            secured.url,
            credentials={
                "username": SecretStr(BASIC_AUTH_USER),
                "password": SecretStr(BASIC_AUTH_PASSWORD),
            },
        )
        collected = await right.collect(QUERY)
        assert "memory_mib" in _by_name(collected.artifacts)
        wrong = _collector(
            secured.url,
            credentials={"username": SecretStr(BASIC_AUTH_USER), "password": SecretStr("nope")},
        )
        with pytest.raises(CollectorAuthError, match="HTTP 401"):
            await wrong.collect(QUERY)
        anonymous = _collector(secured.url)
        result = await CollectorRunner([anonymous], CollectionPolicy()).run(QUERY)
        status, detail = result.notes[0].status, result.notes[0].detail
        assert status == "error"
        assert detail.startswith(
            "collector-auth-failed: prometheus refused the credentials (HTTP 401)"
        )


async def test_a_prometheus_that_never_answers_times_out() -> None:
    with silent_server() as url:
        collector = _collector(url, timeout_seconds=0.3)
        with pytest.raises(CollectorTimeoutError, match="did not answer in time"):
            await collector.collect(QUERY)
        result = await CollectorRunner(
            [_collector(url)], CollectionPolicy(timeout_seconds=0.3)
        ).run(QUERY)
        assert (result.notes[0].status, result.notes[0].detail) == (
            "timeout",
            "timeout after 0.3 s",
        )


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"<html>Bad gateway page</html>", "text/html", "not JSON"),
        (
            b'{"status": "success", "data": {"resultType": "vector", "result": []}}',
            "application/json",
            "did not return a matrix",
        ),
        (
            b'{"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}}]}}',
            "application/json",
            "series without values",
        ),
        (b"[1, 2, 3]", "application/json", "no status"),
    ],
)
async def test_a_malformed_reply_is_a_response_error(
    body: bytes, content_type: str, message: str
) -> None:
    with answering_server(200, body, content_type) as (url, seen):
        collector = _collector(url, options={"queries": {"memory_mib": {"query": MEMORY_MIB}}})
        with pytest.raises(CollectorResponseError, match=message):
            await collector.collect(QUERY)
        assert seen[0] == "/api/v1/query_range"


async def test_per_service_overrides_replace_the_selector_and_queries(
    prometheus: PrometheusServer,
) -> None:
    collector = _collector(
        prometheus.url,
        options={
            "queries": {},
            "services": {
                "payments": {
                    "selector": 'service="payment-service"',
                    "queries": {"memory_mib": {"query": MEMORY_MIB}},
                }
            },
        },
    )
    collected = await collector.collect(
        CollectorQuery(window=WINDOW, onset=ONSET, service="payments")
    )
    series = _by_name(collected.artifacts)
    assert list(series) == ["memory_mib"]
    assert series["memory_mib"].service == "payments"
    assert (
        _at(series["memory_mib"], 10)
        == memory_bytes("payment-service", ONSET + timedelta(minutes=10)) / MIB
    )
