"""The Google Cloud collector: Monitoring, Logging and Trace, with google-auth credentials."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from chronosops.analysis import IncidentContext
from chronosops.analysis.observations import Observations
from chronosops.analysis.scoring import error_strength
from chronosops.analysis.signals import DEFAULT_TABLE
from chronosops.analysis.units import SHARE_UNITS, normalise, share_scale
from chronosops.collectors import (
    CollectorAuthError,
    CollectorConfigError,
    CollectorNotApplicableError,
    CollectorQuery,
    CollectorSpec,
    registry,
)
from chronosops.collectors.google_cloud import DEFAULT_METRICS, GoogleCloudCollector
from chronosops.core.artifacts import LogStatement, LogTemplate, MetricSeries, SpanGroup
from chronosops.core.clock import FrozenClock
from chronosops.core.topology import ServiceGraph
from chronosops.core.windows import TimeWindow
from chronosops.evidence import CollectionPolicy, CollectorRunner
from tests.collectors import engine_reading
from tests.collectors.engine_reading import assert_surge_at_the_usual_share_is_no_error_rise
from tests.collectors.local_servers import answering_server
from tests.collectors.replay import Replay, by_cursor, recording, respond
from tests.collectors.traced_calls import assert_web_frontend_calls_payment

ONSET = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
WINDOW = TimeWindow(ONSET - timedelta(minutes=15), ONSET + timedelta(minutes=75))
QUERY = CollectorQuery(window=WINDOW, onset=ONSET, service="payment-service", region="us-east1")
PROJECT = "acme-payments-prod"
SERIES = f"GET /v3/projects/{PROJECT}/timeSeries"
ENTRIES = "POST /v2/entries:list"
TRACES = f"GET /v1/projects/{PROJECT}/traces"
ONE_METRIC = {
    "latency_p95_ms": {
        "filter": 'metric.type="run.googleapis.com/request_latencies" AND resource.labels.service_name="$service"',
        "aligner": "ALIGN_PERCENTILE_95",
        "reducer": "REDUCE_MAX",
        "unit": "ms",
    }
}


def google(
    replay: Replay,
    *,
    credentials: dict[str, SecretStr] | None = None,
    **options: Any,
) -> GoogleCloudCollector:
    collector = registry.build(
        CollectorSpec(
            name="gcp",
            backend="google-cloud",
            endpoint=None,
            options={"project_id": PROJECT, **options},
            credentials={"access_token": SecretStr("ya29.static-token")}
            if credentials is None
            else credentials,
        ),
        http=replay.client(),
        clock=FrozenClock(ONSET),
    )
    assert isinstance(collector, GoogleCloudCollector)
    return collector


def full() -> Replay:
    return Replay(
        {
            SERIES: recording("google_cloud", "timeseries"),
            ENTRIES: recording("google_cloud", "entries"),
            TRACES: recording("google_cloud", "traces"),
        }
    )


async def test_monitoring_logging_and_trace_become_artifacts() -> None:
    collected = await google(full(), metrics=ONE_METRIC).collect(QUERY)
    assert collected.problems == []
    (latency,) = [a for a in collected.artifacts if isinstance(a, MetricSeries)]
    assert [p.value for p in latency.points] == [118.7, 131.2, 2210.9, 2876.4]  # oldest first
    assert latency.points[0].ts == datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
    assert latency.labels["location"] == "us-east1"
    assert "project_id" not in latency.labels
    templates = {t.template: t for t in collected.artifacts if isinstance(t, LogTemplate)}
    pool = next(t for name, t in templates.items() if name.startswith("could not obtain"))
    assert pool.count == 2
    assert pool.levels == {"ERROR": 2}
    slow = next(t for name, t in templates.items() if name.startswith("warn slow request"))
    assert slow.levels == {"WARN": 1}  # severity DEFAULT: the line says WARN
    assert "hunter2" not in slow.model_dump_json()
    groups = {g.operation: g for g in collected.artifacts if isinstance(g, SpanGroup)}
    payments = groups["POST /payments"]
    assert payments.baseline is not None
    assert payments.incident is not None
    assert (payments.baseline.count, payments.baseline.error_count) == (1, 0)
    assert (payments.incident.count, payments.incident.error_count) == (1, 1)
    assert payments.incident.max_ms == pytest.approx(5012.0)
    assert groups["payments-db INSERT payments"].p95_ms == pytest.approx(9.0)


async def test_requests_carry_the_token_filters_and_window() -> None:
    replay = full()
    await google(replay, metrics=ONE_METRIC).collect(QUERY)
    (series,) = replay.sent("GET", f"/v3/projects/{PROJECT}/timeSeries")
    assert series.url.host == "monitoring.googleapis.com"
    assert series.headers["Authorization"] == "Bearer ya29.static-token"
    params = series.url.params
    assert params["filter"] == (
        'metric.type="run.googleapis.com/request_latencies" AND '
        'resource.labels.service_name="payment-service"'
    )
    assert params["interval.startTime"] == "2024-01-15T09:45:00.000Z"
    assert params["interval.endTime"] == "2024-01-15T11:15:00.000Z"
    assert params["aggregation.alignmentPeriod"] == "60s"
    assert params["aggregation.perSeriesAligner"] == "ALIGN_PERCENTILE_95"
    assert params["aggregation.crossSeriesReducer"] == "REDUCE_MAX"
    (entries,) = replay.sent("POST", "/v2/entries:list")
    assert entries.url.host == "logging.googleapis.com"
    body = Replay.body(entries)
    assert body["resourceNames"] == [f"projects/{PROJECT}"]
    assert body["filter"] == (
        'timestamp>="2024-01-15T09:45:00.000Z" AND timestamp<="2024-01-15T11:15:00.000Z" AND '
        '(resource.labels.service_name="payment-service" AND severity>=WARNING)'
    )
    assert body["orderBy"] == "timestamp desc"
    (traces,) = replay.sent("GET", f"/v1/projects/{PROJECT}/traces")
    assert traces.url.host == "cloudtrace.googleapis.com"
    assert traces.url.params["filter"] == "service.name:payment-service"
    assert traces.url.params["view"] == "COMPLETE"


def service_account_key(path: Path, token_uri: str) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": "0123456789abcdef",
                "private_key": pem,
                "client_email": f"chronosops@{PROJECT}.iam.gserviceaccount.com",
                "client_id": "112233445566778899",
                "token_uri": token_uri,
            }
        )
    )
    return path


async def test_a_service_account_key_is_exchanged_for_a_token_through_google_auth(
    tmp_path: Path,
) -> None:
    token = b'{"access_token": "ya29.from-the-token-endpoint", "expires_in": 3599, "token_type": "Bearer"}'
    with answering_server(200, token) as (url, seen):
        key = service_account_key(tmp_path / "key.json", f"{url}/token")
        replay = Replay({SERIES: recording("google_cloud", "timeseries")})
        collector = google(
            replay,
            credentials={},
            credentials_file=str(key),
            metrics=ONE_METRIC,
            logs_filter=None,
            trace_filter=None,
        )
        await collector.collect(QUERY)
        await collector.collect(QUERY)
    assert seen == ["/token"]  # one exchange, then the cached token
    assert [r.headers["Authorization"] for r in replay.requests] == [
        "Bearer ya29.from-the-token-endpoint"
    ] * 2


async def test_a_refused_service_account_is_an_auth_failure(tmp_path: Path) -> None:
    refusal = b'{"error": "invalid_grant", "error_description": "Invalid JWT Signature."}'
    with answering_server(400, refusal) as (url, _):
        key = service_account_key(tmp_path / "key.json", f"{url}/token")
        collector = google(Replay({}), credentials={}, credentials_file=str(key))
        with pytest.raises(CollectorAuthError, match="Google refused the credentials"):
            await collector.collect(QUERY)


async def test_without_any_credentials_adc_is_tried_and_its_absence_noted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    replay = Replay({})
    result = await CollectorRunner([google(replay, credentials={})], CollectionPolicy()).run(QUERY)
    note = result.notes[0]
    assert note.status == "error"
    assert note.detail.startswith("collector-auth-failed: no Google credentials")
    assert replay.requests == []


async def test_a_permission_denied_on_monitoring_leaves_logs_and_traces() -> None:
    replay = Replay(
        {
            SERIES: recording("google_cloud", "permission_denied"),
            ENTRIES: recording("google_cloud", "entries"),
            TRACES: recording("google_cloud", "traces"),
        }
    )
    collected = await google(replay, metrics=ONE_METRIC).collect(QUERY)
    assert len(collected.problems) == 1
    assert collected.problems[0].startswith(
        "metric latency_p95_ms: google-cloud refused the credentials (HTTP 403)"
    )
    assert "PERMISSION_DENIED" in collected.problems[0]
    assert {a.kind for a in collected.artifacts} == {"log_template", "span_group"}


# -- following nextPageToken -----------------------------------------------------------------

ENTRY_PAGES = [recording("google_cloud", f"entries_page_{n}") for n in (1, 2)]
TRACE_PAGES = [recording("google_cloud", f"traces_page_{n}") for n in (1, 2)]
SERIES_PAGES = [recording("google_cloud", f"timeseries_page_{n}") for n in (1, 2)]
ENTRY_TOKEN = ENTRY_PAGES[0]["body"]["nextPageToken"]
TRACE_TOKEN = TRACE_PAGES[0]["body"]["nextPageToken"]
SERIES_TOKEN = SERIES_PAGES[0]["body"]["nextPageToken"]


def body_token(request: httpx.Request) -> str | None:
    token: str | None = Replay.body(request).get("pageToken")
    return token


def query_token(request: httpx.Request) -> str | None:
    token: str | None = request.url.params.get("pageToken")
    return token


def paged(
    entries: dict[str | None, Any] | None = None,
    traces: dict[str | None, Any] | None = None,
    series: dict[str | None, Any] | None = None,
) -> Replay:
    return Replay(
        {
            SERIES: by_cursor(
                query_token, series or {None: recording("google_cloud", "timeseries")}
            ),
            ENTRIES: by_cursor(
                body_token, entries or {None: ENTRY_PAGES[0], ENTRY_TOKEN: ENTRY_PAGES[1]}
            ),
            TRACES: by_cursor(
                query_token, traces or {None: TRACE_PAGES[0], TRACE_TOKEN: TRACE_PAGES[1]}
            ),
        }
    )


def log_lines(artifacts: list[Any]) -> int:
    return sum(a.count for a in artifacts if isinstance(a, LogTemplate))


async def test_log_entries_follow_next_page_token_in_the_request_body() -> None:
    replay = paged()
    collected = await google(replay, metrics=ONE_METRIC, logs_page_size=3).collect(QUERY)
    first, second = replay.sent("POST", "/v2/entries:list")
    assert "pageToken" not in Replay.body(first)
    assert Replay.body(second)["pageToken"] == ENTRY_TOKEN
    # The other parameters of a page-token call stay those of the call that gave the token.
    assert {k: v for k, v in Replay.body(second).items() if k != "pageToken"} == Replay.body(first)
    assert Replay.body(first)["pageSize"] == 3
    assert log_lines(collected.artifacts) == 3 + 2
    slow = next(
        t
        for t in collected.artifacts
        if isinstance(t, LogTemplate) and t.template.startswith("warn slow request")
    )
    assert slow.count == 2  # both on page 2
    assert (collected.problems, collected.notes) == ([], [])


async def test_traces_follow_next_page_token_as_a_query_parameter() -> None:
    replay = paged()
    collected = await google(replay, metrics=ONE_METRIC, trace_page_size=2).collect(QUERY)
    first, second = replay.sent("GET", f"/v1/projects/{PROJECT}/traces")
    assert "pageToken" not in first.url.params
    assert second.url.params["pageToken"] == TRACE_TOKEN
    assert first.url.params["pageSize"] == second.url.params["pageSize"] == "2"
    groups = {g.operation: g for g in collected.artifacts if isinstance(g, SpanGroup)}
    payments = groups["POST /payments"]
    # The baseline comes from page 2 only: without paging there would be none.
    assert payments.baseline is not None
    assert payments.incident is not None
    assert (payments.baseline.count, payments.incident.count) == (2, 2)
    assert payments.incident.error_count == 2
    assert groups["payments-db INSERT payments"].count == 2


async def test_the_budgets_stop_the_paging_and_the_notes_say_so() -> None:
    replay = paged()
    collected = await google(
        replay, metrics=ONE_METRIC, logs_page_size=3, logs_max_entries=3, max_traces=2
    ).collect(QUERY)
    assert len(replay.sent("POST", "/v2/entries:list")) == 1
    assert len(replay.sent("GET", f"/v1/projects/{PROJECT}/traces")) == 1
    assert log_lines(collected.artifacts) == 3
    assert collected.notes == [
        "logs: stopped after 1 page (3 entries, the logs_max_entries budget)",
        "traces: stopped after 1 page (2 traces, the max_traces budget)",
    ]


async def test_a_last_page_larger_than_the_budget_is_cut_to_it() -> None:
    replay = paged()
    collected = await google(
        replay, metrics=ONE_METRIC, logs_page_size=3, logs_max_entries=4
    ).collect(QUERY)
    assert len(replay.sent("POST", "/v2/entries:list")) == 2
    assert log_lines(collected.artifacts) == 4
    assert collected.notes == []  # page 2 was the last: nothing left out beyond the budget


async def test_a_page_token_that_comes_back_stops_the_paging_with_a_note() -> None:
    replay = paged(entries={None: ENTRY_PAGES[0], ENTRY_TOKEN: ENTRY_PAGES[0]})
    collected = await google(replay, metrics=ONE_METRIC).collect(QUERY)
    assert len(replay.sent("POST", "/v2/entries:list")) == 2
    assert collected.notes == [
        "logs: stopped after 2 pages (6 entries): the next cursor repeats one already followed"
    ]


async def test_a_later_page_that_fails_keeps_the_pages_before_it() -> None:
    replay = paged(
        entries={None: ENTRY_PAGES[0], ENTRY_TOKEN: recording("google_cloud", "quota_exceeded")},
        traces={None: TRACE_PAGES[0], TRACE_TOKEN: recording("google_cloud", "unavailable")},
    )
    collected = await google(replay, metrics=ONE_METRIC).collect(QUERY)
    logs, traces = collected.problems
    assert logs.startswith(
        "logs: page 2 failed, kept the first 1 page (3 entries): "
        "google-cloud is rate limiting us (HTTP 429)"
    )
    assert traces.startswith(
        "traces: page 2 failed, kept the first 1 page (2 traces): google-cloud failed (HTTP 503)"
    )
    assert "Quota exceeded" in collected.problems[0]
    assert "UNAVAILABLE" in collected.problems[1]
    assert log_lines(collected.artifacts) == 3
    groups = {g.operation: g for g in collected.artifacts if isinstance(g, SpanGroup)}
    assert groups["POST /payments"].count == 2  # the two incident traces of page 1
    result = await CollectorRunner(
        [
            google(
                paged(
                    entries={
                        None: ENTRY_PAGES[0],
                        ENTRY_TOKEN: httpx.ReadTimeout("timed out"),
                    }
                ),
                metrics=ONE_METRIC,
            )
        ],
        CollectionPolicy(),
    ).run(QUERY)
    assert result.notes[0].status == "ok"
    assert (
        "some queries failed: logs: page 2 failed, kept the first 1 page (3 entries): "
        "google-cloud did not answer in time"
    ) in result.notes[0].detail


async def test_time_series_pages_count_points_so_the_page_holds_the_whole_window() -> None:
    replay = paged()
    await google(replay, metrics=ONE_METRIC).collect(QUERY)
    (series,) = replay.sent("GET", f"/v3/projects/{PROJECT}/timeSeries")
    # 90 minutes at 60 s is 91 points a series; room for max_items (50) series.
    assert series.url.params["pageSize"] == str(91 * 50)


async def test_a_series_split_over_two_pages_is_one_series_again() -> None:
    replay = paged(series={None: SERIES_PAGES[0], SERIES_TOKEN: SERIES_PAGES[1]})
    collected = await google(replay, metrics=ONE_METRIC).collect(QUERY)
    first, second = replay.sent("GET", f"/v3/projects/{PROJECT}/timeSeries")
    assert second.url.params["pageToken"] == SERIES_TOKEN
    assert {k: v for k, v in second.url.params.items() if k != "pageToken"} == dict(
        first.url.params.items()
    )
    (latency,) = [a for a in collected.artifacts if isinstance(a, MetricSeries)]
    assert [p.value for p in latency.points] == [118.7, 131.2, 2210.9, 2876.4]


async def test_the_budgets_and_page_sizes_are_validated() -> None:
    for option, value in [
        ("logs_page_size", 1001),
        ("logs_max_entries", 20001),
        ("max_traces", 0),
        ("trace_page_size", 1001),
    ]:
        bad: dict[str, Any] = {option: value}
        with pytest.raises(CollectorConfigError, match=rf"options\.{option}"):
            google(Replay({}), **bad)


# -- the neighbourhood -----------------------------------------------------------------------

CHAIN = ServiceGraph.of([("web-frontend", "orders-api"), ("orders-api", "inventory-api")])
CHAIN_QUERY = CollectorQuery(
    window=WINDOW, onset=ONSET, service="web-frontend", graph=CHAIN, hops=2
)
NEIGHBOURHOOD_METRIC = {
    "latency_p95_ms": {
        "filter": 'metric.type="run.googleapis.com/request_latencies" AND '
        "resource.labels.service_name=$services",
        "aligner": "ALIGN_PERCENTILE_95",
        "reducer": "REDUCE_MAX",
        "unit": "ms",
    }
}


async def test_the_neighbourhood_is_one_monitoring_call_grouped_by_service() -> None:
    replay = Replay(
        {
            SERIES: recording("google_cloud", "timeseries_by_service"),
            ENTRIES: recording("google_cloud", "entries"),
        }
    )
    collected = await google(replay, metrics=NEIGHBOURHOOD_METRIC, trace_filter=None).collect(
        CHAIN_QUERY
    )
    (series_request,) = replay.sent("GET", f"/v3/projects/{PROJECT}/timeSeries")
    params = series_request.url.params
    assert params["filter"] == (
        'metric.type="run.googleapis.com/request_latencies" AND resource.labels.service_name='
        'monitoring.regex.full_match("web-frontend|orders-api|inventory-api")'
    )
    assert params["aggregation.groupByFields"] == "resource.labels.service_name"
    assert params["aggregation.crossSeriesReducer"] == "REDUCE_MAX"
    (logs,) = replay.sent("POST", "/v2/entries:list")
    assert Replay.body(logs)["filter"].endswith(
        '(resource.labels.service_name=("web-frontend" OR "orders-api" OR "inventory-api") '
        "AND severity>=WARNING)"
    )
    series = {a.service: a for a in collected.artifacts if isinstance(a, MetricSeries)}
    assert [p.value for p in series["orders-api"].points] == [88.1, 905.7, 1320.2]
    assert [p.value for p in series["inventory-api"].points] == [41.0, 42.2, 40.9]
    assert collected.artifacts[0].service == "web-frontend"  # type: ignore[union-attr]
    assert collected.notes[0] == (
        "neighbourhood of web-frontend: orders-api (callee), inventory-api (callee, 2 hops)"
    )


async def test_a_filter_naming_one_service_is_asked_for_the_alerting_service_only() -> None:
    replay = Replay({SERIES: recording("google_cloud", "timeseries")})
    collected = await google(
        replay, metrics=ONE_METRIC, logs_filter=None, trace_filter=None
    ).collect(CHAIN_QUERY)
    (sent,) = replay.sent("GET", f"/v3/projects/{PROJECT}/timeSeries")
    assert sent.url.params["filter"].endswith('resource.labels.service_name="web-frontend"')
    assert "aggregation.groupByFields" not in sent.url.params
    assert "metric latency_p95_ms names $service only: asked for web-frontend only" in (
        collected.notes
    )


async def test_neighbour_names_are_quoted_and_escaped_into_the_filters() -> None:
    replay = Replay(
        {
            SERIES: recording("google_cloud", "timeseries_empty"),
            ENTRIES: recording("google_cloud", "entries"),
        }
    )
    graph = ServiceGraph.of([("web-frontend", 'x" OR resource.type="gce_instance')])
    await google(replay, metrics=NEIGHBOURHOOD_METRIC, trace_filter=None).collect(
        CollectorQuery(window=WINDOW, onset=ONSET, service="web-frontend", graph=graph, hops=1)
    )
    (sent,) = replay.sent("GET", f"/v3/projects/{PROJECT}/timeSeries")
    assert sent.url.params["filter"].endswith(
        'monitoring.regex.full_match("web-frontend|x\\" OR resource\\\\.type=\\"gce_instance")'
    )
    (logs,) = replay.sent("POST", "/v2/entries:list")
    assert (
        '("web-frontend" OR "x\\" OR resource.type=\\"gce_instance")'
        in (Replay.body(logs)["filter"])
    )


HOSTILE_NAMES = (
    'checkout" OR resource.type="gce_instance',
    "checkout OR service.name:*",
    'checkout\\" OR "x',
    "checkout service.name:admin",
    "-checkout",
    "check\nout",
)


@pytest.mark.parametrize("service", HOSTILE_NAMES)
async def test_a_hostile_service_name_is_never_pasted_into_a_filter(service: str) -> None:
    replay = full()
    hostile = CollectorQuery(window=WINDOW, onset=ONSET, service=service)
    with pytest.raises(CollectorNotApplicableError, match="not a Google Cloud resource name"):
        await google(replay, metrics=ONE_METRIC).collect(hostile)
    assert replay.requests == []


async def test_a_plain_service_name_fills_every_filter() -> None:
    replay = full()
    named = CollectorQuery(window=WINDOW, onset=ONSET, service="payments.api_v2-eu")
    await google(replay, metrics=ONE_METRIC).collect(named)
    (series, *_) = replay.sent("GET", f"/v3/projects/{PROJECT}/timeSeries")
    assert 'resource.labels.service_name="payments.api_v2-eu"' in series.url.params["filter"]
    (traces, *_) = replay.sent("GET", f"/v1/projects/{PROJECT}/traces")
    assert traces.url.params["filter"] == "service.name:payments.api_v2-eu"


async def test_log_entries_keep_their_trace_context_and_spans_their_ids_in_hex() -> None:
    replay = Replay(
        {
            ENTRIES: recording("google_cloud", "entries_trace_context"),
            TRACES: recording("google_cloud", "traces"),
        }
    )
    collected = await google(replay, metrics={}).collect(QUERY)
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    assert [(line.trace_id, line.span_id) for line in collected.lines] == [
        (trace, "685dbd6b727adc63"),  # ``trace`` as projects/P/traces/ID, upper-case
        (trace, "685dbd6b727adc63"),  # ``trace`` as the bare id
        (None, None),
    ]
    # Trace v1 writes span ids in decimal (7520375221958401123); the entries name them in hex.
    assert [span.span_id for span in collected.spans] == [
        "685dbd6b727adc63",
        f"{7520375221958401124:016x}",
        f"{1520375221958401999:016x}",
    ]


async def test_the_runner_places_each_entry_in_the_span_that_logged_it() -> None:
    replay = Replay(
        {
            ENTRIES: recording("google_cloud", "entries_trace_context"),
            TRACES: recording("google_cloud", "traces"),
        }
    )
    result = await CollectorRunner([google(replay, metrics={})], CollectionPolicy()).run(QUERY)
    statements = [a for a in result.artifacts if isinstance(a, LogStatement)]
    assert [(s.service, s.operation, s.statement, s.spans) for s in statements] == [
        ("payment-service", "POST /payments", "[queryorders][step #] account # querying orders", 1),
        ("payment-service", "POST /payments", "[queryorders][step #] found # orders, building", 1),
    ]
    assert {s.source for s in statements} == {"gcp"}
    (note,) = result.notes
    assert "2 log_statement" in note.detail


# -- the call graph ----------------------------------------------------------------------------


async def test_a_traced_call_becomes_a_caller_to_callee_group_with_its_time_outside_the_callee() -> (
    None
):
    # web-frontend's RPC_CLIENT span wraps payment-service's RPC_SERVER span (parentSpanId):
    # the caller waited 130 ms for 92.4 ms of callee before the onset, 5300 ms for 5012 after.
    replay = Replay(
        {
            SERIES: recording("google_cloud", "timeseries_empty"),
            ENTRIES: recording("google_cloud", "entries"),
            TRACES: recording("google_cloud", "traces_call_graph"),
        }
    )
    collected = await google(replay, metrics=ONE_METRIC).collect(QUERY)
    assert_web_frontend_calls_payment(collected.artifacts, source="gcp")


# -- the errors the default records, as the engine reads it ----------------------------------

SURGE_CONTEXT = IncidentContext(
    source_type="GOOGLE_CLOUD",
    title="payment-service alert",
    service="payment-service",
    onset=ONSET,
    window_start=WINDOW.start,
    window_end=WINDOW.end,
)
# What each recording answers, tried in this order: the 5xx part of the request count, then
# the request count itself; any other filter (latency, CPU, memory) finds no series.
FIVE_XX, REQUESTS = 'metric.labels.response_code_class="5xx"', "run.googleapis.com/request_count"


def by_filter(**answers: str) -> Replay:
    """Monitoring answering each timeSeries.list by its filter: the first of ``answers`` (a
    recording's name under the text the filter holds) found in it, else no series."""

    def answer(request: httpx.Request) -> httpx.Response:
        asked = request.url.params["filter"]
        name = next((n for text, n in answers.items() if text in asked), "timeseries_empty")
        return respond(recording("google_cloud", name))

    return Replay({SERIES: answer})


def collector(replay: Replay, **options: Any) -> GoogleCloudCollector:
    return google(replay, logs_filter=None, trace_filter=None, **options)


def read_by_engine(artifacts: list[Any]) -> Observations:
    return engine_reading.read_by_engine(artifacts, SURGE_CONTEXT)


async def test_a_traffic_surge_failing_at_the_usual_share_is_not_read_as_an_error_rise() -> None:
    # Requests triple at the onset and 1% of them answer 5xx, before and after. The 5xx rate
    # triples with them: recorded under a name the engine reads as an error ratio, as the
    # former default did, 0.39 -> 1.17 errors a second read as a share going from 39% to 117%.
    replay = by_filter(
        **{FIVE_XX: "timeseries_5xx_tripled", REQUESTS: "timeseries_requests_tripled"}
    )
    collected = await collector(replay).collect(QUERY)
    assert collected.problems == []
    assert_surge_at_the_usual_share_is_no_error_rise(
        collected.artifacts, SURGE_CONTEXT, "payment-service"
    )


async def test_a_rising_share_of_5xx_is_read_as_an_error_ratio_from_zero_to_one() -> None:
    # Before the onset Monitoring aligns a 5xx point only in the two minutes that had one
    # (1 of 2,400 requests); the minutes without are no 5xx, the baseline the rise is read from.
    replay = by_filter(**{FIVE_XX: "timeseries_5xx_rising", REQUESTS: "timeseries_requests_steady"})
    collected = await collector(replay).collect(QUERY)
    read = normalise(collected.artifacts, DEFAULT_TABLE)
    (ratio,) = [
        a
        for a in read
        if isinstance(a, MetricSeries) and DEFAULT_TABLE.kind_of(a.name) == "error_ratio"
    ]
    assert ratio.unit == "1"
    assert len(ratio.points) == 30  # a point for every minute the requests were counted
    assert max(p.value for p in ratio.points) == pytest.approx(0.128)
    assert sum(1 for p in ratio.points if p.value == 0.0) == 13
    errors = read_by_engine(collected.artifacts).shift("payment-service", "errors")
    assert errors is not None
    assert errors.before < 0.001
    assert 0.11 < errors.after < 0.13
    assert error_strength(errors) == 1.0


async def test_a_window_without_any_5xx_is_an_error_ratio_of_zero() -> None:
    # Monitoring answers a filter that matched no 5xx with no series at all.
    replay = by_filter(**{FIVE_XX: "timeseries_empty", REQUESTS: "timeseries_requests_steady"})
    collected = await collector(replay).collect(QUERY)
    (ratio,) = [
        a for a in collected.artifacts if isinstance(a, MetricSeries) and a.name == "error_ratio"
    ]
    assert [p.value for p in ratio.points] == [0.0] * 30


async def test_the_ratio_asks_for_both_parts_aligned_and_summed_alike() -> None:
    replay = by_filter(**{FIVE_XX: "timeseries_5xx_rising", REQUESTS: "timeseries_requests_steady"})
    await collector(replay, metrics={"error_ratio": DEFAULT_METRICS["error_ratio"]}).collect(QUERY)
    failed, every = replay.sent("GET", f"/v3/projects/{PROJECT}/timeSeries")
    assert failed.url.params["filter"] == (
        'metric.type="run.googleapis.com/request_count" AND '
        'metric.labels.response_code_class="5xx" AND resource.type="cloud_run_revision" AND '
        'resource.labels.service_name="payment-service"'
    )
    assert every.url.params["filter"] == (
        'metric.type="run.googleapis.com/request_count" AND resource.type="cloud_run_revision" '
        'AND resource.labels.service_name="payment-service"'
    )
    for sent in (failed, every):
        assert sent.url.params["aggregation.perSeriesAligner"] == "ALIGN_RATE"
        assert sent.url.params["aggregation.crossSeriesReducer"] == "REDUCE_SUM"
        assert sent.url.params["aggregation.alignmentPeriod"] == "60s"


async def test_each_neighbour_s_5xx_are_divided_by_its_own_requests() -> None:
    replay = by_filter(
        **{FIVE_XX: "timeseries_5xx_by_service", REQUESTS: "timeseries_requests_by_service"}
    )
    collected = await collector(
        replay, metrics={"error_ratio": DEFAULT_METRICS["error_ratio"]}
    ).collect(CHAIN_QUERY)
    for sent in replay.sent("GET", f"/v3/projects/{PROJECT}/timeSeries"):
        assert sent.url.params["aggregation.groupByFields"] == "resource.labels.service_name"
    ratios = {
        a.service: [p.value for p in a.points]
        for a in collected.artifacts
        if isinstance(a, MetricSeries)
    }
    assert ratios == {
        "web-frontend": [0.01, 0.0, 0.1],
        "orders-api": [0.01, 0.1, 0.25],
        "inventory-api": [0.0, 0.0, 0.0],  # no 5xx series at all: none failed
    }


async def test_a_5xx_answer_read_in_part_is_not_taken_for_minutes_without_5xx() -> None:
    first = recording("google_cloud", "timeseries_5xx_rising")
    pages: dict[str | None, dict[str, Any] | BaseException] = {
        None: {
            **first,
            "body": {**first["body"], "nextPageToken": "more"},
        },
        "more": recording("google_cloud", "unavailable"),
    }

    def answer(request: httpx.Request) -> httpx.Response:
        if FIVE_XX in request.url.params["filter"]:
            return by_cursor(query_token, pages)(request)
        return respond(recording("google_cloud", "timeseries_requests_steady"))

    collected = await collector(
        Replay({SERIES: answer}), metrics={"error_ratio": DEFAULT_METRICS["error_ratio"]}
    ).collect(QUERY)
    assert collected.problems[0].startswith("metric error_ratio: page 2 failed")
    (ratio,) = [a for a in collected.artifacts if isinstance(a, MetricSeries)]
    assert len(ratio.points) == 17  # only the minutes the 5xx page had
    assert min(p.value for p in ratio.points) > 0.0


async def test_a_refused_denominator_fails_the_ratio_not_the_other_metrics() -> None:
    replay = by_filter(
        **{
            FIVE_XX: "timeseries_5xx_rising",
            REQUESTS: "permission_denied",
            "request_latencies": "timeseries",
        }
    )
    metrics = {**ONE_METRIC, "error_ratio": DEFAULT_METRICS["error_ratio"]}
    collected = await collector(replay, metrics=metrics).collect(QUERY)
    (problem,) = collected.problems
    assert problem.startswith("metric error_ratio: google-cloud refused the credentials (HTTP 403)")
    assert [a.name for a in collected.artifacts if isinstance(a, MetricSeries)] == [
        "latency_p95_ms"
    ]


def test_every_default_the_engine_reads_as_a_share_is_recorded_in_a_share() -> None:
    # A count a second under a name read as an error ratio is taken for the share itself
    # (5 errors a second: 500% of requests); without a unit, for a percentage (5%).
    ratios = {n: m for n, m in DEFAULT_METRICS.items() if DEFAULT_TABLE.kind_of(n) == "error_ratio"}
    assert list(ratios) == ["error_ratio"]
    for name, metric in ratios.items():
        assert metric.unit in SHARE_UNITS
        assert metric.denominator is not None
        assert share_scale(name, "error_ratio", metric.unit, [0.004, 0.12]) == 1.0


def test_a_ratio_without_a_reducer_is_refused() -> None:
    unreduced = {"filter": 'metric.type="a"', "denominator": 'metric.type="b"', "reducer": None}
    with pytest.raises(CollectorConfigError, match="needs a reducer"):
        google(Replay({}), metrics={"error_ratio": unreduced})


async def test_an_operator_keeps_the_name_error_rate_with_the_ratio_behind_it() -> None:
    replay = by_filter(**{FIVE_XX: "timeseries_5xx_rising", REQUESTS: "timeseries_requests_steady"})
    ratio = DEFAULT_METRICS["error_ratio"].model_dump()
    collected = await collector(replay, metrics={"error_rate": ratio}).collect(QUERY)
    errors = read_by_engine(collected.artifacts).shift("payment-service", "errors")
    assert errors is not None
    assert errors.name == "error_rate"
    assert 0.11 < errors.after < 0.13
