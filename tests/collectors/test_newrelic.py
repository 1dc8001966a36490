"""The New Relic collector: NRQL through NerdGraph, replaying recorded answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
from chronosops.collectors.newrelic import NewRelicCollector
from chronosops.core.artifacts import ChangeEvent, LogTemplate, MetricSeries, SpanGroup
from chronosops.core.clock import FrozenClock
from chronosops.core.topology import ServiceGraph
from chronosops.core.windows import TimeWindow
from tests.collectors.replay import Replay, recording, respond
from tests.collectors.traced_calls import assert_web_frontend_calls_payment

ONSET = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
WINDOW = TimeWindow(ONSET - timedelta(minutes=15), ONSET + timedelta(minutes=75))
QUERY = CollectorQuery(window=WINDOW, onset=ONSET, service="payment-service")


def by_event_type(request: httpx.Request) -> httpx.Response:
    nrql = Replay.body(request)["variables"]["nrql"]
    for event_type, name in (
        ("FROM Transaction", "metrics"),
        ("FROM Log", "logs"),
        ("FROM Span", "spans"),
        ("FROM Deployment", "deployments"),
    ):
        if event_type in nrql:
            return respond(recording("newrelic", name))
    return httpx.Response(400, json={"errors": [{"message": f"unexpected NRQL {nrql}"}]})


def newrelic(
    replay: Replay, *, endpoint: str | None = None, **options: object
) -> NewRelicCollector:
    collector = registry.build(
        CollectorSpec(
            name="newrelic",
            backend="newrelic",
            endpoint=endpoint,
            options={"account_id": 1234567, **options},
            credentials={"api_key": SecretStr("NRAK-TESTKEY0123456789ABCDEFGHIJ")},
        ),
        http=replay.client(),
        clock=FrozenClock(ONSET),
    )
    assert isinstance(collector, NewRelicCollector)
    return collector


async def test_nrql_answers_become_metrics_logs_spans_and_deployments() -> None:
    collected = await newrelic(Replay({"POST /graphql": by_event_type})).collect(QUERY)
    assert collected.problems == []
    series = {a.name: a for a in collected.artifacts if isinstance(a, MetricSeries)}
    assert set(series) == {"latency_p95_ms", "error_ratio", "request_rate"}
    # A percentile row may come back as {"95": value}; a null minute is no point at all.
    assert [p.value for p in series["latency_p95_ms"].points] == [104.2, 122.9, 2210.5, 3105.0]
    assert series["request_rate"].points[-1].value == 0
    assert series["latency_p95_ms"].unit == "ms"
    templates = [a for a in collected.artifacts if isinstance(a, LogTemplate)]
    assert sorted(t.count for t in templates) == [1, 2]
    assert "abcdefghijklmnopqrstuvwxyz012345" not in " ".join(
        t.model_dump_json() for t in templates
    )
    groups = {a.operation: a for a in collected.artifacts if isinstance(a, SpanGroup)}
    payments = groups["POST /payments"]
    assert payments.baseline is not None
    assert payments.incident is not None
    assert (payments.baseline.count, payments.baseline.error_count) == (2, 0)
    assert (payments.incident.count, payments.incident.error_count) == (2, 2)
    assert payments.trace_ids[0] == "6bf92f3577b34da6a3ce929d0e0e4738"
    (deploy,) = [a for a in collected.artifacts if isinstance(a, ChangeEvent)]
    assert deploy.version_to == "3.1.1"
    assert deploy.author == "ci-bot@example.com"
    assert deploy.timestamp == datetime(2024, 1, 15, 9, 55, tzinfo=UTC)


async def test_each_query_is_nrql_for_the_service_and_window_with_the_api_key() -> None:
    replay = Replay({"POST /graphql": by_event_type})
    await newrelic(replay, endpoint="https://api.newrelic.com/graphql").collect(QUERY)
    assert len(replay.requests) == 4
    for sent in replay.requests:
        assert sent.headers["API-Key"] == "NRAK-TESTKEY0123456789ABCDEFGHIJ"
        body = Replay.body(sent)
        assert body["variables"]["accountId"] == 1234567
        assert "nrql(query: $nrql" in body["query"]
        nrql = body["variables"]["nrql"]
        assert "SINCE 1705311900000 UNTIL 1705317300000" in nrql
        assert "'payment-service'" in nrql


async def test_the_eu_region_uses_the_eu_endpoint_and_quotes_are_escaped() -> None:
    replay = Replay({"POST /graphql": recording("newrelic", "empty")})
    await newrelic(
        replay, region="EU", logs_nrql=None, spans_nrql=None, deployments_nrql=None
    ).collect(CollectorQuery(window=WINDOW, onset=ONSET, service="o'brien-api"))
    (sent,) = replay.requests
    assert sent.url.host == "api.eu.newrelic.com"
    assert "appName IN ('o\\'brien-api')" in Replay.body(sent)["variables"]["nrql"]


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("bad_key", CollectorAuthError, "HTTP 401"),
        ("nrql_syntax_error", CollectorResponseError, "INVALID_INPUT"),
        ("nrql_timeout", CollectorTimeoutError, "did not complete within the timeout"),
    ],
)
async def test_nerdgraph_errors_are_translated_by_their_class(
    name: str, error: type[Exception], message: str
) -> None:
    replay = Replay({"POST /graphql": recording("newrelic", name)})
    with pytest.raises(error, match=message):
        await newrelic(replay).collect(QUERY)


async def test_a_bad_key_answered_with_http_200_is_still_an_auth_failure() -> None:
    answer = recording("newrelic", "bad_key")
    answer["status"] = 200
    replay = Replay({"POST /graphql": answer})
    with pytest.raises(CollectorAuthError, match="BAD_API_KEY"):
        await newrelic(replay).collect(QUERY)


async def test_the_neighbourhood_is_one_faceted_query_and_each_series_names_its_service() -> None:
    replay = Replay({"POST /graphql": recording("newrelic", "metrics_faceted")})
    graph = ServiceGraph.of([("web-frontend", "orders-api"), ("orders-api", "inventory-api")])
    collected = await newrelic(
        replay, logs_nrql=None, spans_nrql=None, deployments_nrql=None
    ).collect(
        CollectorQuery(window=WINDOW, onset=ONSET, service="web-frontend", graph=graph, hops=2)
    )
    (sent,) = replay.requests
    nrql = Replay.body(sent)["variables"]["nrql"]
    assert "WHERE appName IN ('web-frontend', 'orders-api', 'inventory-api') SINCE" in nrql
    assert "FACET appName LIMIT MAX TIMESERIES 1 minute" in nrql
    series = {(a.service, a.name): a for a in collected.artifacts if isinstance(a, MetricSeries)}
    assert len(series) == 9
    assert [p.value for p in series[("orders-api", "error_ratio")].points] == [0.002, 0.25]
    assert [p.value for p in series[("web-frontend", "latency_p95_ms")].points] == [210.3, 1190.4]
    assert series[("inventory-api", "request_rate")].labels == {"service": "inventory-api"}
    assert [a.service for a in collected.artifacts][:3] == ["web-frontend"] * 3  # type: ignore[union-attr]
    assert collected.notes == [
        "neighbourhood of web-frontend: orders-api (callee), inventory-api (callee, 2 hops)"
    ]


async def test_every_default_query_asks_for_the_neighbourhood_and_a_service_only_one_says_so() -> (
    None
):
    replay = Replay({"POST /graphql": by_event_type})
    graph = ServiceGraph.of([("web-frontend", "o'brien-api")])
    query = CollectorQuery(window=WINDOW, onset=ONSET, service="web-frontend", graph=graph, hops=1)
    await newrelic(replay).collect(query)
    assert len(replay.requests) == 4
    for sent in replay.requests:
        assert "IN ('web-frontend', 'o\\'brien-api')" in Replay.body(sent)["variables"]["nrql"]
    alone = Replay({"POST /graphql": recording("newrelic", "metrics")})
    collected = await newrelic(
        alone,
        metrics_nrql="SELECT average(duration) AS 'latency_p95_ms' FROM Transaction "
        "WHERE appName = '$service' $since TIMESERIES 1 minute",
        logs_nrql=None,
        spans_nrql=None,
        deployments_nrql=None,
    ).collect(query)
    assert "appName = 'web-frontend'" in Replay.body(alone.requests[0])["variables"]["nrql"]
    assert "metrics_nrql names $service only: asked for web-frontend only" in collected.notes
    assert {a.service for a in collected.artifacts} == {"web-frontend"}  # type: ignore[union-attr]


async def test_logs_in_context_and_spans_keep_their_span_ids() -> None:
    replay = Replay({"POST /graphql": by_event_type})
    collected = await newrelic(replay).collect(QUERY)
    assert [span.span_id for span in collected.spans] == [
        "685dbd6b727adc63",
        "1f2e3d4c5b6a7988",
        "00f067aa0ba902b7",
        "3a4b5c6d7e8f9012",
        "9a8b7c6d5e4f3021",
    ]
    assert [(line.trace_id, line.span_id) for line in collected.lines] == [
        (None, None),
        ("6bf92f3577b34da6a3ce929d0e0e4738", "00f067aa0ba902b7"),
        (None, None),
    ]
    sent = [Replay.body(r)["variables"]["nrql"] for r in replay.sent("POST", "/graphql")]
    assert any("FROM Log" in nrql and "trace.id, span.id" in nrql for nrql in sent)
    assert any(
        "FROM Span" in nrql and "trace.id, id, parent.id, span.kind" in nrql for nrql in sent
    )


async def test_the_default_spans_query_asks_for_whole_traces_through_the_alerting_service() -> None:
    # By trace, not by service: the spans of the services a trace calls come back with it, as
    # Cloud Trace answers, even where no topology names them.
    replay = Replay({"POST /graphql": by_event_type})
    await newrelic(replay, metrics_nrql=None, logs_nrql=None, deployments_nrql=None).collect(QUERY)
    (sent,) = replay.requests
    nrql = Replay.body(sent)["variables"]["nrql"]
    assert (
        "FROM Span WHERE trace.id IN (SELECT uniques(trace.id) FROM Span "
        "WHERE service.name IN ('payment-service')) SINCE "
    ) in nrql
    assert nrql.endswith(" LIMIT 2000")


def with_call_graph(request: httpx.Request) -> httpx.Response:
    if "FROM Span" in Replay.body(request)["variables"]["nrql"]:
        return respond(recording("newrelic", "spans_call_graph"))
    return by_event_type(request)


async def test_a_traced_call_becomes_a_caller_to_callee_group_with_its_time_outside_the_callee() -> (
    None
):
    # web-frontend's client span (parent.id) wraps payment-service's server span: the caller
    # waited 130 ms for 92.4 ms of callee before the onset, 5300 ms for 5012 ms after.
    collected = await newrelic(Replay({"POST /graphql": with_call_graph})).collect(QUERY)
    call = assert_web_frontend_calls_payment(collected.artifacts, source="newrelic")
    assert call.baseline is not None
    assert call.incident is not None
    assert (call.baseline.p95_ms, call.incident.p95_ms) == (130, 5300)


async def test_each_kind_answered_is_read_even_when_nothing_came_back() -> None:
    def no_deployments(request: httpx.Request) -> httpx.Response:
        if "FROM Deployment" in Replay.body(request)["variables"]["nrql"]:
            return respond(recording("newrelic", "empty"))
        return by_event_type(request)

    collected = await newrelic(Replay({"POST /graphql": no_deployments})).collect(QUERY)
    assert not [a for a in collected.artifacts if isinstance(a, ChangeEvent)]
    assert collected.read == {"metrics", "logs", "traces", "deploys"}


async def test_a_kind_whose_query_failed_is_not_read() -> None:
    def deployments_time_out(request: httpx.Request) -> httpx.Response:
        if "FROM Deployment" in Replay.body(request)["variables"]["nrql"]:
            return respond(recording("newrelic", "nrql_timeout"))
        return by_event_type(request)

    collected = await newrelic(Replay({"POST /graphql": deployments_time_out})).collect(QUERY)
    assert collected.problems
    assert collected.read == {"metrics", "logs", "traces"}
