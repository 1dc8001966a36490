"""The Datadog collector, replaying recorded Datadog answers through the real client code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from chronosops.collectors import (
    CollectorQuery,
    CollectorRateLimitedError,
    CollectorSpec,
    registry,
)
from chronosops.collectors.datadog import DatadogCollector
from chronosops.core.artifacts import ChangeEvent, LogTemplate, MetricSeries, OtherEvent
from chronosops.core.clock import FrozenClock
from chronosops.core.windows import TimeWindow
from chronosops.evidence import CollectionPolicy, CollectorRunner
from tests.collectors.replay import Replay, recording

ONSET = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
WINDOW = TimeWindow(ONSET - timedelta(minutes=15), ONSET + timedelta(minutes=75))
QUERY = CollectorQuery(
    window=WINDOW, onset=ONSET, service="payment-service", environment="production"
)
METRICS, LOGS, EVENTS = "GET /api/v1/query", "POST /api/v2/logs/events/search", "GET /api/v1/events"


def datadog(replay: Replay, **options: object) -> DatadogCollector:
    collector = registry.build(
        CollectorSpec(
            name="datadog",
            backend="datadog",
            endpoint="https://api.datadoghq.eu",
            options=options,
            credentials={"api_key": SecretStr("dd-api-0123"), "app_key": SecretStr("dd-app-4567")},
        ),
        http=replay.client(),
        clock=FrozenClock(ONSET),
    )
    assert isinstance(collector, DatadogCollector)
    return collector


def full() -> Replay:
    return Replay(
        {
            METRICS: recording("datadog", "query"),
            LOGS: recording("datadog", "logs_search"),
            EVENTS: recording("datadog", "events"),
        }
    )


async def test_metrics_logs_and_events_become_artifacts() -> None:
    collected = await datadog(
        full(),
        metrics={
            "latency_avg_ms": {
                "query": "avg:trace.http.request.duration{$scope}*1000",
                "unit": "ms",
            }
        },
    ).collect(QUERY)
    assert collected.problems == []
    series = [a for a in collected.artifacts if isinstance(a, MetricSeries)]
    assert [s.name for s in series] == ["latency_avg_ms"]
    assert [p.value for p in series[0].points] == [84.2, 91.7, 860.3, 1410.9]
    assert series[0].labels == {"env": "production", "service": "payment-service"}
    assert series[0].unit == "ms"
    templates = [a for a in collected.artifacts if isinstance(a, LogTemplate)]
    assert sorted((t.count, t.levels.get("ERROR", 0)) for t in templates) == [(1, 0), (2, 2)]
    text = " ".join(t.model_dump_json() for t in templates)
    assert "jane.doe@example.com" not in text
    assert "sk_live_51Habcdefghijklmnop" not in text
    deploys = [a for a in collected.artifacts if isinstance(a, ChangeEvent)]
    assert len(deploys) == 1
    assert deploys[0].version_to == "3.1.1"
    assert deploys[0].environment == "production"
    assert deploys[0].timestamp == datetime(2024, 1, 15, 9, 55, tzinfo=UTC)
    others = [a for a in collected.artifacts if isinstance(a, OtherEvent)]
    assert [o.event_type for o in others] == ["error"]


async def test_requests_carry_keys_scope_window_and_filters() -> None:
    replay = full()
    await datadog(replay).collect(QUERY)
    metric_requests = replay.sent("GET", "/api/v1/query")
    assert len(metric_requests) == 5
    first = metric_requests[0]
    assert first.headers["DD-API-KEY"] == "dd-api-0123"
    assert first.headers["DD-APPLICATION-KEY"] == "dd-app-4567"
    assert first.url.host == "api.datadoghq.eu"
    assert first.url.params["from"] == "1705311900"
    assert first.url.params["to"] == "1705317300"
    assert first.url.params["query"] == (
        "avg:trace.http.request.duration{service:payment-service,env:production}*1000"
    )
    (logs,) = replay.sent("POST", "/api/v2/logs/events/search")
    body = Replay.body(logs)
    assert body["filter"] == {
        "query": "service:payment-service status:(error OR warn OR critical OR emergency) env:production",
        "from": "2024-01-15T09:45:00.000Z",
        "to": "2024-01-15T11:15:00.000Z",
    }
    assert body["sort"] == "-timestamp"
    (events,) = replay.sent("GET", "/api/v1/events")
    assert events.url.params["tags"] == "service:payment-service"
    assert events.url.params["start"] == "1705311900"


async def test_an_api_the_keys_may_not_use_is_a_problem_not_a_failure() -> None:
    replay = Replay(
        {
            METRICS: recording("datadog", "query"),
            LOGS: recording("datadog", "forbidden"),
            EVENTS: recording("datadog", "events_empty"),
        }
    )
    collector = datadog(replay)
    collected = await collector.collect(QUERY)
    assert collected.problems == [
        'logs: datadog refused the credentials (HTTP 403): {"errors": ["Forbidden"]}'
    ]
    assert {a.kind for a in collected.artifacts} == {"metric_series"}
    result = await CollectorRunner([collector], CollectionPolicy()).run(QUERY)
    assert result.notes[0].status == "ok"
    assert (
        "some queries failed: logs: datadog refused the credentials (HTTP 403)"
        in result.notes[0].detail
    )


async def test_rate_limiting_everywhere_is_a_rate_limited_error_with_its_reset() -> None:
    limited = recording("datadog", "rate_limited")
    replay = Replay({METRICS: limited, LOGS: limited, EVENTS: limited})
    with pytest.raises(CollectorRateLimitedError) as caught:
        await datadog(replay).collect(QUERY)
    assert caught.value.retry_after_seconds == 1342
    assert "Rate limit of 100 requests in 3600 seconds reached" in caught.value.message


async def test_a_bad_metric_query_is_noted_with_datadogs_reason() -> None:
    replay = Replay(
        {
            METRICS: recording("datadog", "bad_query"),
            LOGS: recording("datadog", "logs_search"),
            EVENTS: recording("datadog", "events_empty"),
        }
    )
    collected = await datadog(replay, metrics={"broken": {"query": "avg:x{$scope"}}).collect(QUERY)
    assert collected.problems[0].startswith("metric broken: datadog refused the query (HTTP 400)")
    assert "Error parsing query" in collected.problems[0]
