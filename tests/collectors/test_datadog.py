"""The Datadog collector, replaying recorded Datadog answers through the real client code."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from chronosops.analysis import IncidentContext
from chronosops.analysis.observations import Observations, metric_family
from chronosops.analysis.scoring import error_strength
from chronosops.analysis.signals import DEFAULT_TABLE
from chronosops.analysis.units import SHARE_UNITS, normalise, share_scale
from chronosops.collectors import (
    CollectorConfigError,
    CollectorNotApplicableError,
    CollectorQuery,
    CollectorRateLimitedError,
    CollectorSpec,
    registry,
)
from chronosops.collectors.datadog import DEFAULT_METRICS, DatadogCollector
from chronosops.core.artifacts import ChangeEvent, LogTemplate, MetricSeries, OtherEvent
from chronosops.core.clock import FrozenClock
from chronosops.core.topology import ServiceGraph
from chronosops.core.windows import TimeWindow
from chronosops.evidence import CollectionPolicy, CollectorRunner
from tests.collectors import engine_reading
from tests.collectors.engine_reading import assert_surge_at_the_usual_share_is_no_error_rise
from tests.collectors.replay import Replay, by_cursor, recording, respond

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
        metrics={"latency_p95_ms": {"query": "p95:trace.http.request{$scope}*1000", "unit": "ms"}},
    ).collect(QUERY)
    assert collected.problems == []
    series = [a for a in collected.artifacts if isinstance(a, MetricSeries)]
    assert [s.name for s in series] == ["latency_p95_ms"]
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
        "p95:trace.http.request{service:payment-service,env:production} by {service}*1000"
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
    # The events came back empty (no deploy) and count as read; the refused logs do not.
    assert result.notes[0].read == ("metrics", "deploys")


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


# -- the logs search, page after page --------------------------------------------------------

PAGES = [recording("datadog", f"logs_page_{n}") for n in (1, 2, 3)]
AFTER = [page["body"]["meta"]["page"].get("after") for page in PAGES[:2]]
LINES_ON_PAGE = [len(page["body"]["data"]) for page in PAGES]  # 3, 3, 2


def logs_cursor(request: httpx.Request) -> str | None:
    cursor: str | None = Replay.body(request)["page"].get("cursor")
    return cursor


def paged(pages: dict[str | None, Any]) -> Replay:
    return Replay(
        {
            METRICS: recording("datadog", "query_empty"),
            LOGS: by_cursor(logs_cursor, pages),
            EVENTS: recording("datadog", "events_empty"),
        }
    )


def three_pages() -> Replay:
    return paged({None: PAGES[0], AFTER[0]: PAGES[1], AFTER[1]: PAGES[2]})


def line_count(artifacts: list[Any]) -> int:
    return sum(a.count for a in artifacts if isinstance(a, LogTemplate))


async def test_the_logs_search_follows_the_cursor_until_datadog_sends_none() -> None:
    replay = three_pages()
    collected = await datadog(replay, logs_page_size=3).collect(QUERY)
    first, second, third = replay.sent("POST", "/api/v2/logs/events/search")
    assert Replay.body(first)["page"] == {"limit": 3}
    assert Replay.body(second)["page"] == {"limit": 3, "cursor": AFTER[0]}
    assert Replay.body(third)["page"] == {"limit": 3, "cursor": AFTER[1]}
    assert Replay.body(third)["filter"] == Replay.body(first)["filter"]
    assert line_count(collected.artifacts) == sum(LINES_ON_PAGE) == 8
    pool = next(
        t
        for t in collected.artifacts
        if isinstance(t, LogTemplate) and t.template.startswith("could not obtain")
    )
    assert pool.count == 4  # two on page 1, two on page 2
    slow = next(
        t
        for t in collected.artifacts
        if isinstance(t, LogTemplate) and t.template.startswith("slow request")
    )
    assert slow.first_seen == datetime(2024, 1, 15, 9, 49, 2, 250000, tzinfo=UTC)  # page 3
    assert (collected.problems, collected.notes) == ([], [])


async def test_pages_are_sized_at_most_datadogs_cap_of_a_thousand() -> None:
    replay = paged({None: recording("datadog", "logs_empty")})
    await datadog(replay).collect(QUERY)
    (only,) = replay.sent("POST", "/api/v2/logs/events/search")
    assert Replay.body(only)["page"] == {"limit": 1000}
    with pytest.raises(CollectorConfigError, match=r"options\.logs_page_size"):
        datadog(replay, logs_page_size=1001)
    with pytest.raises(CollectorConfigError, match=r"options\.logs_max_lines"):
        datadog(replay, logs_max_lines=20001)


async def test_logs_limit_from_an_older_collectors_file_is_read_as_the_budget() -> None:
    replay = three_pages()
    collected = await datadog(replay, logs_limit=4, logs_page_size=3).collect(QUERY)
    assert len(replay.sent("POST", "/api/v2/logs/events/search")) == 2
    assert line_count(collected.artifacts) == 4


async def test_the_logs_max_lines_budget_stops_the_paging_and_the_note_says_so() -> None:
    replay = three_pages()
    collector = datadog(replay, logs_max_lines=5, logs_page_size=3)
    collected = await collector.collect(QUERY)
    assert len(replay.sent("POST", "/api/v2/logs/events/search")) == 2
    assert line_count(collected.artifacts) == 5  # the sixth line of page 2 is over the budget
    assert collected.notes == ["logs: stopped after 2 pages (5 lines, the logs_max_lines budget)"]
    assert collected.problems == []
    result = await CollectorRunner(
        [datadog(three_pages(), logs_max_lines=5, logs_page_size=3)], CollectionPolicy()
    ).run(QUERY)
    (note,) = result.notes
    assert note.status == "ok"
    assert note.detail.endswith(
        "; logs: stopped after 2 pages (5 lines, the logs_max_lines budget)"
    )


async def test_a_cursor_datadog_sends_again_stops_the_paging_with_a_note() -> None:
    again = {**PAGES[1], "body": {**PAGES[1]["body"], "meta": PAGES[0]["body"]["meta"]}}
    replay = paged({None: PAGES[0], AFTER[0]: again})
    collected = await datadog(replay, logs_page_size=3).collect(QUERY)
    assert len(replay.sent("POST", "/api/v2/logs/events/search")) == 2
    assert line_count(collected.artifacts) == 6
    assert collected.notes == [
        "logs: stopped after 2 pages (6 lines): the next cursor repeats one already followed"
    ]


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (recording("datadog", "rate_limited"), "datadog is rate limiting us (HTTP 429"),
        (recording("datadog", "server_error"), "datadog failed (HTTP 503)"),
        (httpx.ReadTimeout("timed out"), "datadog did not answer in time"),
        (
            {"status": 200, "body": {"data": {"oops": True}}},
            "datadog answered in an unexpected shape: logs search has no data list",
        ),
    ],
    ids=["rate-limited", "server-error", "timeout", "malformed"],
)
async def test_a_later_page_that_fails_keeps_the_lines_of_the_pages_before_it(
    failure: Any, reason: str
) -> None:
    replay = paged({None: PAGES[0], AFTER[0]: PAGES[1], AFTER[1]: failure})
    collected = await datadog(replay, logs_page_size=3).collect(QUERY)
    assert len(replay.sent("POST", "/api/v2/logs/events/search")) == 3
    assert line_count(collected.artifacts) == 6
    (problem,) = collected.problems
    assert problem.startswith(f"logs: page 3 failed, kept the first 2 pages (6 lines): {reason}")
    result = await CollectorRunner(
        [datadog(paged({None: PAGES[0], AFTER[0]: PAGES[1], AFTER[1]: failure}), logs_page_size=3)],
        CollectionPolicy(),
    ).run(QUERY)
    (note,) = result.notes
    assert note.status == "ok"
    assert "some queries failed: logs: page 3 failed, kept the first 2 pages" in note.detail
    # Lines were kept, but the logs were not read to the end: their silence says nothing.
    assert "logs" not in note.read


async def test_a_first_page_that_fails_is_a_failed_question_as_before() -> None:
    replay = Replay(
        {
            METRICS: recording("datadog", "query"),
            LOGS: by_cursor(logs_cursor, {None: recording("datadog", "server_error")}),
            EVENTS: recording("datadog", "events_empty"),
        }
    )
    collected = await datadog(replay).collect(QUERY)
    assert {a.kind for a in collected.artifacts} == {"metric_series"}
    assert collected.problems == [
        "logs: datadog failed (HTTP 503): "
        '{"errors": ["Service Unavailable: the logs query backend is overloaded, please retry"]}'
    ]


async def test_a_page_that_would_outlast_the_collectors_timeout_leaves_the_earlier_pages() -> None:
    first = by_cursor(logs_cursor, {None: PAGES[0]})

    async def stalling(request: httpx.Request) -> httpx.Response:
        if logs_cursor(request) is None:
            return first(request)
        await asyncio.sleep(30)  # page 2 never comes in time
        raise AssertionError("the stalled page was not abandoned")

    replay = Replay(
        {
            METRICS: recording("datadog", "query_empty"),
            LOGS: stalling,
            EVENTS: recording("datadog", "events_empty"),
        }
    )
    spec_timeout = 1.6  # the page is abandoned DEADLINE_RESERVE_SECONDS before this
    collector = registry.build(
        CollectorSpec(
            name="datadog",
            backend="datadog",
            endpoint="https://api.datadoghq.eu",
            options={"logs_page_size": 3},
            credentials={"api_key": SecretStr("dd-api-0123"), "app_key": SecretStr("dd-app-4567")},
            timeout_seconds=spec_timeout,
        ),
        http=replay.client(),
        clock=FrozenClock(ONSET),
    )
    result = await CollectorRunner([collector], CollectionPolicy()).run(QUERY)
    (note,) = result.notes
    assert note.status == "ok"
    assert note.detail.startswith("2 log_template; some queries failed")
    assert note.detail.endswith(
        "some queries failed: logs: page 2 failed, kept the first 1 page (3 lines): "
        "it did not answer before the collector's timeout"
    )
    assert sum(a.count for a in result.artifacts if isinstance(a, LogTemplate)) == 3


# -- the neighbourhood -----------------------------------------------------------------------

CHAIN_QUERY = CollectorQuery(
    window=WINDOW, onset=ONSET, service="web-frontend", environment="production", hops=2
)
DEPENDENCIES = "GET /api/v1/service_dependencies/"


def chain(**routes: Any) -> Replay:
    return Replay(
        {
            METRICS: recording("datadog", "query_by_service"),
            LOGS: recording("datadog", "logs_empty"),
            EVENTS: recording("datadog", "events_empty"),
            **{
                f"{DEPENDENCIES}{name}": recording("datadog", f"service_dependencies_{name}")
                for name in ("web-frontend", "orders-api", "inventory-api")
            },
            **routes,
        }
    )


async def test_the_service_map_names_the_neighbours_and_one_query_groups_them_by_service() -> None:
    replay = chain()
    collected = await datadog(
        replay,
        metrics={
            "latency_p95_ms": {
                "query": "p95:trace.http.request{$scope} by {service}*1000",
                "unit": "ms",
            }
        },
    ).collect(CHAIN_QUERY)
    maps = [r for r in replay.requests if r.url.path.startswith("/api/v1/service_dependencies/")]
    # Hop 1 asks about web-frontend; hop 2 about what that found.
    assert [r.url.path.rsplit("/", 1)[1] for r in maps] == ["web-frontend", "orders-api"]
    assert maps[0].url.params["env"] == "production"
    assert maps[0].url.params["start"] == "1705311900"
    (metric,) = replay.sent("GET", "/api/v1/query")
    assert metric.url.params["query"] == (
        "p95:trace.http.request{service IN (web-frontend, orders-api, inventory-api) "
        "AND env:production} by {service}*1000"
    )
    (logs,) = replay.sent("POST", "/api/v2/logs/events/search")
    assert Replay.body(logs)["filter"]["query"] == (
        "service:(web-frontend OR orders-api OR inventory-api) "
        "status:(error OR warn OR critical OR emergency) env:production"
    )
    (events,) = replay.sent("GET", "/api/v1/events")
    assert events.url.params["tags"] == "service:web-frontend"
    series = {a.service: a for a in collected.artifacts if isinstance(a, MetricSeries)}
    # Each series under its own service, the alerting service's first.
    assert [a.service for a in collected.artifacts if isinstance(a, MetricSeries)] == [
        "web-frontend",
        "orders-api",
        "inventory-api",
    ]
    assert [p.value for p in series["orders-api"].points] == [88.1, 92.4, 905.7, 1320.2]
    assert series["orders-api"].labels == {"env": "production", "service": "orders-api"}
    # mobile-bff also calls orders-api: a sibling, not a neighbour.
    assert collected.notes[0] == (
        "neighbourhood of web-frontend: orders-api (callee), inventory-api (callee, 2 hops)"
    )


async def test_a_template_without_by_service_is_asked_for_the_alerting_service_only() -> None:
    replay = chain()
    collected = await datadog(
        replay, metrics={"latency_p95_ms": {"query": "p95:trace.http.request{$scope}"}}
    ).collect(CHAIN_QUERY)
    (metric,) = replay.sent("GET", "/api/v1/query")
    assert (
        metric.url.params["query"] == "p95:trace.http.request{service:web-frontend,env:production}"
    )
    assert "metric latency_p95_ms does not group by {service}: asked for web-frontend only" in (
        collected.notes
    )


async def test_a_neighbour_whose_name_is_not_a_tag_value_is_left_out_of_every_query() -> None:
    hostile = {
        "status": 200,
        "headers": {"Content-Type": "application/json"},
        "body": {"name": "web-frontend", "calls": ["orders-api", "x) OR service:*"]},
    }
    replay = chain(**{f"{DEPENDENCIES}web-frontend": hostile})
    collected = await datadog(replay).collect(
        CollectorQuery(
            window=WINDOW, onset=ONSET, service="web-frontend", environment="production", hops=1
        )
    )
    for sent in replay.sent("GET", "/api/v1/query"):
        assert (
            "service IN (web-frontend, orders-api) AND env:production" in sent.url.params["query"]
        )
    assert "left out neighbour(s) whose names are not Datadog tag values: x) OR service:*" in (
        collected.notes
    )


async def test_a_service_map_the_keys_may_not_read_leaves_the_known_graph() -> None:
    replay = chain(**{f"{DEPENDENCIES}web-frontend": recording("datadog", "forbidden")})
    query = CollectorQuery(
        window=WINDOW,
        onset=ONSET,
        service="web-frontend",
        environment="production",
        hops=1,
        graph=ServiceGraph.of([("web-frontend", "orders-api")]),
    )
    collected = await datadog(replay).collect(query)
    assert collected.problems[0].startswith(
        "service map web-frontend: datadog refused the credentials (HTTP 403)"
    )
    assert {a.service for a in collected.artifacts if isinstance(a, MetricSeries)} == {
        "web-frontend",
        "orders-api",
    }
    no_map = chain()
    await datadog(no_map, service_dependencies=False).collect(query)
    assert not [r for r in no_map.requests if "service_dependencies" in r.url.path]


HOSTILE_NAMES = (
    'checkout OR service:* OR "x',
    "checkout} OR avg:system.cpu.user{*",
    "checkout status:error",
    "checkout:*",
    "checkout/../admin",
    "*",
    "check\nout",
    "",
)


@pytest.mark.parametrize("service", [name for name in HOSTILE_NAMES if name])
async def test_a_hostile_service_name_is_never_pasted_into_a_query(service: str) -> None:
    replay = full()
    hostile = CollectorQuery(window=WINDOW, onset=ONSET, service=service)
    with pytest.raises(CollectorNotApplicableError, match="not a Datadog tag value"):
        await datadog(replay).collect(hostile)
    assert replay.requests == []


@pytest.mark.parametrize("environment", [name for name in HOSTILE_NAMES if name])
async def test_a_hostile_environment_is_never_pasted_into_a_query(environment: str) -> None:
    replay = full()
    hostile = CollectorQuery(
        window=WINDOW, onset=ONSET, service="payment-service", environment=environment
    )
    with pytest.raises(CollectorNotApplicableError, match="environment"):
        await datadog(replay).collect(hostile)
    assert replay.requests == []


async def test_dotted_and_underscored_service_names_are_queried_as_they_are() -> None:
    replay = full()
    named = CollectorQuery(window=WINDOW, onset=ONSET, service="payments.api_v2-eu")
    await datadog(replay).collect(named)
    (logs,) = replay.sent("POST", "/api/v2/logs/events/search")
    assert Replay.body(logs)["filter"]["query"].startswith("service:payments.api_v2-eu ")
    (events,) = replay.sent("GET", "/api/v1/events")
    assert events.url.params["tags"] == "service:payments.api_v2-eu"


async def test_logs_keep_the_trace_context_the_tracer_injected_in_hex() -> None:
    replay = Replay({LOGS: recording("datadog", "logs_trace_context")})
    collected = await datadog(replay, metrics={}, events=False).collect(QUERY)
    # dd.span_id 7520375221958401123 (nested under dd, or flat) is the span 685dbd6b727adc63;
    # dd.trace_id holds the trace id's lower 64 bits. OpenTelemetry logs keep their hex ids.
    assert [(line.trace_id, line.span_id) for line in collected.lines] == [
        ("a3ce929d0e0e4736", "685dbd6b727adc63"),
        ("a3ce929d0e0e4736", "685dbd6b727adc63"),
        ("5bf92f3577b34da6a3ce929d0e0e4737", "00f067aa0ba902b7"),
        (None, None),
    ]


# -- the latency the default records, as the engine reads it ---------------------------------

SURGE_CONTEXT = IncidentContext(
    source_type="DATADOG",
    title="payment-service alert",
    service="payment-service",
    environment="production",
    onset=ONSET,
    window_start=WINDOW.start,
    window_end=WINDOW.end,
)


def by_metric(**answers: str) -> Replay:
    """Datadog answering each metric query by what it asks for: the first of ``answers``
    (a recording's name under the text the query holds) found in it, else no series."""

    def answer(request: httpx.Request) -> httpx.Response:
        asked = request.url.params["query"]
        name = next((n for text, n in answers.items() if text in asked), "query_empty")
        return respond(recording("datadog", name))

    return Replay(
        {
            METRICS: answer,
            LOGS: recording("datadog", "logs_empty"),
            EVENTS: recording("datadog", "events_empty"),
        }
    )


def read_by_engine(artifacts: list[Any]) -> Observations:
    return engine_reading.read_by_engine(artifacts, SURGE_CONTEXT)


# The text each recording answers: the distribution's p95, the legacy total-time gauge, hits.
P95, TOTAL, HITS = "p95:trace.http.request{", "trace.http.request.duration{", ".hits{"


async def test_a_traffic_surge_at_the_usual_speed_is_not_read_as_a_slowdown() -> None:
    # Requests triple at the onset, each as fast as before. The legacy gauge
    # trace.http.request.duration (the spans' total time) triples with them: recorded as a
    # latency, as the former default did, it read as a threefold slowdown.
    replay = by_metric(
        **{P95: "query_p95_steady", TOTAL: "query_duration_total", HITS: "query_hits_tripled"}
    )
    collected = await datadog(replay).collect(QUERY)
    assert collected.problems == []
    seen = read_by_engine(collected.artifacts)
    latency = seen.shift("payment-service", "latency")
    assert latency is not None
    assert 0.9 < latency.factor < 1.1  # the total time read 3.0
    assert latency.name == "latency_p95_ms"
    traffic = seen.shift("payment-service", "traffic")
    assert traffic is not None
    assert traffic.factor > 2.5


async def test_a_slowdown_is_read_as_a_latency_rise_in_milliseconds() -> None:
    replay = by_metric(**{P95: "query_p95_slowdown", HITS: "query_hits_steady"})
    collected = await datadog(replay).collect(QUERY)
    read = normalise(collected.artifacts, DEFAULT_TABLE)
    (latency,) = [a for a in read if isinstance(a, MetricSeries) and a.name == "latency_p95_ms"]
    assert latency.unit == "ms"
    shift = read_by_engine(collected.artifacts).shift("payment-service", "latency")
    assert shift is not None
    assert 170 < shift.before < 195
    assert shift.factor > 4


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("latency_p95_ms", "latency"),
        ("request_rate", "traffic"),
        ("error_ratio", "errors"),
        ("cpu_usage", "cpu"),
        ("memory_usage", "memory"),
    ],
)
def test_each_default_query_is_recorded_under_a_name_the_engine_reads_as_its_kind(
    name: str, family: str
) -> None:
    assert name in DEFAULT_METRICS
    assert metric_family(name) == family


def test_the_default_latency_is_a_percentile_of_the_distribution_not_the_total_time() -> None:
    latency = DEFAULT_METRICS["latency_p95_ms"]
    assert latency.query.startswith("p95:trace.http.request{$scope}")
    assert ".duration" not in latency.query
    assert latency.unit == "ms"
    assert set(DEFAULT_METRICS) == {
        "latency_p95_ms",
        "request_rate",
        "error_ratio",
        "cpu_usage",
        "memory_usage",
    }


async def test_an_operator_keeps_the_former_name_with_a_query_of_their_own() -> None:
    # An operator whose rules or dashboards name latency_avg_ms sets it, and the queries beside
    # it, in full: the collector sends what they wrote and records it under their name.
    replay = full()
    mean = "avg:trace.http.request{$scope} by {service}*1000"
    collected = await datadog(
        replay, metrics={"latency_avg_ms": {"query": mean, "unit": "ms"}}
    ).collect(QUERY)
    (sent,) = replay.sent("GET", "/api/v1/query")
    assert sent.url.params["query"] == (
        "avg:trace.http.request{service:payment-service,env:production} by {service}*1000"
    )
    (series,) = [a for a in collected.artifacts if isinstance(a, MetricSeries)]
    assert (series.name, series.unit) == ("latency_avg_ms", "ms")
    assert metric_family(series.name) == "latency"


# -- the errors the default records, as the engine reads it ----------------------------------

# What each recording answers, tried in this order: Datadog's ratio of the two counts (the
# formula divides by the hits), the errors alone per second (the former default), the hits.
RATIO, ERRORS_PER_SECOND = " / sum:trace.http.request.hits{", "sum:trace.http.request.errors{"


async def test_a_traffic_surge_failing_at_the_usual_share_is_not_read_as_an_error_rise() -> None:
    # Requests triple at the onset and 1% of them fail, before and after. The errors per
    # second triple with them: recorded under a name the engine reads as an error ratio, as
    # the former default did, 0.42 -> 1.27 errors a second read as a share going from 42% to
    # 127% of requests.
    replay = by_metric(
        **{
            RATIO: "query_error_ratio_surge",
            ERRORS_PER_SECOND: "query_errors_per_second_tripled",
            HITS: "query_hits_tripled",
        }
    )
    collected = await datadog(replay).collect(QUERY)
    assert collected.problems == []
    assert_surge_at_the_usual_share_is_no_error_rise(
        collected.artifacts, SURGE_CONTEXT, "payment-service"
    )


async def test_a_rising_share_of_failures_is_read_as_an_error_ratio_from_zero_to_one() -> None:
    replay = by_metric(
        **{
            RATIO: "query_error_ratio_rising",
            ERRORS_PER_SECOND: "query_errors_per_second_tripled",
            HITS: "query_hits_steady",
        }
    )
    collected = await datadog(replay).collect(QUERY)
    read = normalise(collected.artifacts, DEFAULT_TABLE)
    (ratio,) = [
        a
        for a in read
        if isinstance(a, MetricSeries) and DEFAULT_TABLE.kind_of(a.name) == "error_ratio"
    ]
    assert ratio.unit == "1"
    assert max(p.value for p in ratio.points) == pytest.approx(0.1242)  # as Datadog sent it
    errors = read_by_engine(collected.artifacts).shift("payment-service", "errors")
    assert errors is not None
    assert 0.009 < errors.before < 0.011
    assert 0.11 < errors.after < 0.13
    assert error_strength(errors) == 1.0


def test_every_default_the_engine_reads_as_a_share_is_recorded_in_a_share() -> None:
    # A count a second under a name read as an error ratio is taken for the share itself
    # (5 errors a second: 500% of requests); without a unit, for a percentage (5%).
    ratios = {n: m for n, m in DEFAULT_METRICS.items() if DEFAULT_TABLE.kind_of(n) == "error_ratio"}
    assert list(ratios) == ["error_ratio"]
    for name, metric in ratios.items():
        assert metric.unit in SHARE_UNITS
        assert share_scale(name, "error_ratio", metric.unit, [0.004, 0.12]) == 1.0


def test_the_default_error_ratio_is_datadogs_ratio_of_errors_to_hits_per_service() -> None:
    ratio = DEFAULT_METRICS["error_ratio"]
    errors, _, hits = ratio.query.partition(" / ")
    # Each side grouped by service, so Datadog divides a service's errors by its own hits
    # (an ungrouped side would divide by every service's hits together); counts per interval,
    # so the ratio is of the requests of that interval.
    assert errors == "sum:trace.http.request.errors{$scope} by {service}.as_count()"
    assert hits == "sum:trace.http.request.hits{$scope} by {service}.as_count()"
    assert ratio.unit == "1"


async def test_the_ratios_two_queries_are_both_scoped_to_the_neighbourhood() -> None:
    replay = chain(**{METRICS: by_metric(**{RATIO: "query_error_ratio_surge"}).routes[METRICS]})
    await datadog(replay, metrics={"error_ratio": DEFAULT_METRICS["error_ratio"]}).collect(
        CHAIN_QUERY
    )
    (sent,) = replay.sent("GET", "/api/v1/query")
    scope = "{service IN (web-frontend, orders-api, inventory-api) AND env:production}"
    assert sent.url.params["query"] == (
        f"sum:trace.http.request.errors{scope} by {{service}}.as_count() / "
        f"sum:trace.http.request.hits{scope} by {{service}}.as_count()"
    )


async def test_an_operator_keeps_the_name_error_rate_with_the_ratio_behind_it() -> None:
    replay = by_metric(**{RATIO: "query_error_ratio_rising"})
    ratio = DEFAULT_METRICS["error_ratio"]
    collected = await datadog(
        replay, metrics={"error_rate": {"query": ratio.query, "unit": "1"}}
    ).collect(QUERY)
    errors = read_by_engine(collected.artifacts).shift("payment-service", "errors")
    assert errors is not None
    assert errors.name == "error_rate"
    assert 0.11 < errors.after < 0.13


async def test_errors_per_second_kept_under_datadogs_names_are_paired_with_the_hits() -> None:
    # An operator who wants the counts themselves records them under Datadog's own names:
    # the engine reads trace.<span>.errors beside trace.<span>.hits as the share that failed.
    replay = by_metric(
        **{ERRORS_PER_SECOND: "query_errors_per_second_tripled", HITS: "query_hits_tripled"}
    )
    collected = await datadog(
        replay,
        metrics={
            "trace.http.request.errors": {
                "query": "sum:trace.http.request.errors{$scope} by {service}.as_rate()",
                "unit": "err/s",
            },
            "trace.http.request.hits": {
                "query": "sum:trace.http.request.hits{$scope} by {service}.as_rate()",
                "unit": "req/s",
            },
        },
    ).collect(QUERY)
    errors = read_by_engine(collected.artifacts).shift("payment-service", "errors")
    assert errors is not None
    assert errors.name == "trace.http.request:error_ratio"
    assert 0.005 < errors.before < 0.02
    assert 0.8 < errors.factor < 1.25
