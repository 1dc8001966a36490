"""The Loki collector, replaying recorded Loki answers through the real client code."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from chronosops.collectors import (
    CollectorConfigError,
    CollectorQuery,
    CollectorResponseError,
    CollectorSpec,
    registry,
)
from chronosops.collectors.loki import LokiCollector
from chronosops.core.artifacts import LogTemplate
from chronosops.core.clock import FrozenClock
from chronosops.core.topology import ServiceGraph
from chronosops.core.windows import TimeWindow
from chronosops.evidence import CollectionPolicy, CollectorRunner
from tests.collectors.replay import Replay, recording, respond

ONSET = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
WINDOW = TimeWindow(ONSET - timedelta(minutes=15), ONSET + timedelta(minutes=75))
QUERY = CollectorQuery(
    window=WINDOW, onset=ONSET, service="payment-service", environment="production"
)
PATH = "/loki/api/v1/query_range"


def loki(replay: Replay, **options: object) -> LokiCollector:
    collector = registry.build(
        CollectorSpec(
            name="loki-prod",
            backend="loki",
            endpoint="https://logs-prod-us-central1.grafana.net",
            options={"tenant": "acme", **options},
            credentials={"username": SecretStr("123456"), "password": SecretStr("glc_token_value")},
        ),
        http=replay.client(),
        clock=FrozenClock(ONSET),
    )
    assert isinstance(collector, LokiCollector)
    return collector


async def test_lines_become_redacted_templates_errors_first() -> None:
    replay = Replay({f"GET {PATH}": recording("loki", "query_range")})
    collected = await loki(replay).collect(QUERY)
    templates = [a for a in collected.artifacts if isinstance(a, LogTemplate)]
    assert [t.count for t in templates] == [3, 1, 1, 1]
    pool = templates[0]
    assert pool.template.startswith('level=error msg="could not obtain a database connection')
    assert pool.levels == {"ERROR": 3}
    assert pool.services == ["payment-service"]
    assert pool.first_seen == datetime(2024, 1, 15, 10, 1, 0, 500000, tzinfo=UTC)
    assert pool.last_seen == datetime(2024, 1, 15, 10, 2, 5, 123456, tzinfo=UTC)
    assert pool.source == "loki-prod"
    assert pool.artifact_id.startswith("log:loki-prod:")
    upstream = templates[1]
    assert "[EMAIL]" in upstream.examples[0].message
    assert "ops@example.com" not in upstream.model_dump_json()
    slow = templates[2:]
    # From the JSON lines themselves: their stream has no level label.
    assert [t.levels for t in slow] == [{"WARN": 1}, {"WARN": 1}]
    assert all("slow request: post /payments took" in t.template for t in slow)
    assert "eyJhbGciOiJIUzI1NiJ9" not in " ".join(t.model_dump_json() for t in slow)


async def test_the_request_carries_the_logql_window_limit_and_credentials() -> None:
    replay = Replay({f"GET {PATH}": recording("loki", "query_range")})
    await loki(replay, limit=500).collect(QUERY)
    (sent,) = replay.requests
    params = sent.url.params
    assert params["query"].startswith('{service_name=~"payment-service"} |~ "(?i)(error|')
    assert params["start"] == "1705311900000000000"
    assert params["end"] == "1705317300000000000"
    assert params["limit"] == "500"
    assert params["direction"] == "backward"
    assert sent.headers["X-Scope-OrgID"] == "acme"
    assert (
        sent.headers["Authorization"]
        == "Basic " + base64.b64encode(b"123456:glc_token_value").decode()
    )


async def test_the_selector_template_takes_the_environment() -> None:
    replay = Replay({f"GET {PATH}": recording("loki", "empty")})
    await loki(replay, selector='{app="$service", env="$environment"}', line_filter="").collect(
        QUERY
    )
    assert replay.requests[0].url.params["query"] == '{app="payment-service", env="production"}'


async def test_a_logql_parse_error_is_a_refused_query() -> None:
    replay = Replay({f"GET {PATH}": recording("loki", "parse_error")})
    with pytest.raises(
        CollectorResponseError, match=r"refused the query \(HTTP 400\): parse error"
    ):
        await loki(replay).collect(QUERY)


# -- paging the way logcli does -------------------------------------------------------------

WINDOW_START_NS, WINDOW_END_NS = 1705311900000000000, 1705317300000000000
RECORDED_WINDOW = recording("loki", "window")  # every matching line of the window, as one answer
STREAMS: list[dict[str, Any]] = RECORDED_WINDOW["body"]["data"]["result"]
ENTRIES = sorted(
    ((int(stamp), n, line) for n, s in enumerate(STREAMS) for stamp, line in s["values"]),
    key=lambda e: (-e[0], e[1]),
)
# Two lines share this nanosecond (pods x2kqv and 9hq2d); with limit=4 only the first of them
# fits the first page.
SHARED = 1705313208904000000


def query_range(*, honour_end: bool = True) -> Callable[[httpx.Request], httpx.Response]:
    """Loki's query_range over the recorded window: start inclusive, end exclusive, the newest
    ``limit`` lines across streams. ``honour_end=False`` is a proxy that drops ``end``."""

    def answer(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        start, limit = int(params["start"]), int(params["limit"])
        end = int(params["end"]) if honour_end else WINDOW_END_NS
        chosen = [e for e in ENTRIES if start <= e[0] < end][:limit]
        streams = [
            {
                "stream": STREAMS[n]["stream"],
                "values": [[str(stamp), line] for stamp, m, line in chosen if m == n],
            }
            for n in sorted({e[1] for e in chosen})
        ]
        body = {"status": "success", "data": {"resultType": "streams", "result": streams}}
        return respond({"status": 200, "body": body})

    return answer


def counts(artifacts: list[Any]) -> dict[str, int]:
    """Lines per template, each template named by what it is about."""
    about = ("database connection", "slow request", "payment authorization")
    return {
        next(word for word in about if word in t.template): t.count
        for t in artifacts
        if isinstance(t, LogTemplate)
    }


async def test_a_full_page_is_followed_by_one_ending_just_after_its_oldest_line() -> None:
    replay = Replay({f"GET {PATH}": query_range()})
    collected = await loki(replay, limit=4).collect(QUERY)
    sent = [(r.url.params["end"], r.url.params["limit"]) for r in replay.requests]
    assert sent == [
        (str(WINDOW_END_NS), "4"),
        # end is exclusive: one nanosecond past the oldest line read, whose line comes back
        (str(SHARED + 1), "5"),
        (str(1705312692500000000 + 1), "5"),
        (str(1705311970000000000 + 1), "5"),  # the window's oldest line: a short page, done
    ]
    assert {r.url.params["start"] for r in replay.requests} == {str(WINDOW_START_NS)}
    assert counts(collected.artifacts) == {
        "database connection": 7,
        "slow request": 4,
        # the line sharing the first page's last nanosecond, which did not fit on that page
        "payment authorization": 1,
    }
    assert sum(counts(collected.artifacts).values()) == len(ENTRIES) == 12
    assert (collected.problems, collected.notes) == ([], [])


async def test_lines_of_the_baseline_are_kept_when_the_incident_fills_the_first_page() -> None:
    collected = await loki(Replay({f"GET {PATH}": query_range()}), limit=4).collect(QUERY)
    first_seen = min(t.first_seen for t in collected.artifacts if isinstance(t, LogTemplate))
    assert first_seen == datetime(2024, 1, 15, 9, 46, 10, tzinfo=UTC)  # 14 min before onset


async def test_the_max_lines_budget_stops_the_paging_and_the_note_says_so() -> None:
    replay = Replay({f"GET {PATH}": query_range()})
    collected = await loki(replay, limit=4, max_lines=6).collect(QUERY)
    # The second page asks for the 2 lines left plus the 1 that comes back from the boundary.
    assert [r.url.params["limit"] for r in replay.requests] == ["4", "3"]
    assert sum(counts(collected.artifacts).values()) == 6
    assert collected.notes == ["logs: stopped after 2 pages (6 lines, the max_lines budget)"]
    result = await CollectorRunner(
        [loki(Replay({f"GET {PATH}": query_range()}), limit=4, max_lines=6)], CollectionPolicy()
    ).run(QUERY)
    assert result.notes[0].detail == (
        "3 log_template; logs: stopped after 2 pages (6 lines, the max_lines budget)"
    )


async def test_a_loki_that_ignores_end_is_noticed_and_no_line_is_counted_twice() -> None:
    replay = Replay({f"GET {PATH}": query_range(honour_end=False)})
    collected = await loki(replay, limit=4).collect(QUERY)
    assert len(replay.requests) == 2
    assert sum(counts(collected.artifacts).values()) == 5
    assert collected.notes == [
        "logs: stopped after 2 pages (5 lines): the next cursor repeats one already followed"
    ]


async def test_limit_and_max_lines_are_validated() -> None:
    replay = Replay({})
    with pytest.raises(CollectorConfigError, match=r"options\.limit"):
        loki(replay, limit=5001)
    with pytest.raises(CollectorConfigError, match=r"options\.max_lines"):
        loki(replay, max_lines=0)


def second_page_fails(failure: Any) -> Callable[[httpx.Request], httpx.Response]:
    window = query_range()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params["end"] == str(WINDOW_END_NS):
            return window(request)
        if isinstance(failure, BaseException):
            raise failure
        return respond(failure)

    return answer


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (
            recording("loki", "rate_limited"),
            "loki is rate limiting us (HTTP 429, retry after 30 s)",
        ),
        (
            {"status": 502, "body": "upstream connect error or disconnect/reset before headers"},
            "loki failed (HTTP 502)",
        ),
        (httpx.ReadTimeout("timed out"), "loki did not answer in time"),
        (recording("loki", "parse_error"), "loki refused the query (HTTP 400)"),
        (
            {"status": 200, "body": {"status": "success", "data": {"resultType": "matrix"}}},
            "loki answered in an unexpected shape",
        ),
    ],
    ids=["rate-limited", "bad-gateway", "timeout", "refused", "malformed"],
)
async def test_a_later_page_that_fails_keeps_the_lines_of_the_first(
    failure: Any, reason: str
) -> None:
    replay = Replay({f"GET {PATH}": second_page_fails(failure)})
    collected = await loki(replay, limit=4).collect(QUERY)
    assert len(replay.requests) == 2
    assert sum(counts(collected.artifacts).values()) == 4
    (problem,) = collected.problems
    assert problem.startswith(f"logs: page 2 failed, kept the first 1 page (4 lines): {reason}")
    result = await CollectorRunner(
        [loki(Replay({f"GET {PATH}": second_page_fails(failure)}), limit=4)], CollectionPolicy()
    ).run(QUERY)
    assert result.notes[0].status == "ok"
    assert "; some queries failed: logs: page 2 failed" in result.notes[0].detail


async def test_the_neighbourhood_is_one_stream_selector_and_each_line_keeps_its_service() -> None:
    replay = Replay({f"GET {PATH}": recording("loki", "query_range_neighbourhood")})
    graph = ServiceGraph.of([("web-frontend", "orders-api"), ("orders-api", "stock.v2")])
    collected = await loki(replay, line_filter="").collect(
        CollectorQuery(
            window=QUERY.window, onset=ONSET, service="web-frontend", graph=graph, hops=2
        )
    )
    (sent,) = replay.requests
    # Regex metacharacters in a name are escaped, then the regex is quoted for LogQL.
    assert sent.url.params["query"] == '{service_name=~"web-frontend|orders-api|stock\\\\.v2"}'
    templates = [a for a in collected.artifacts if isinstance(a, LogTemplate)]
    assert {tuple(t.services): t.count for t in templates} == {
        ("orders-api",): 2,
        ("web-frontend",): 1,
    }
    assert collected.notes[0] == (
        "neighbourhood of web-frontend: orders-api (callee), stock.v2 (callee, 2 hops)"
    )
    alone = Replay({f"GET {PATH}": recording("loki", "empty")})
    narrow = await loki(alone, selector='{app="$service"}', line_filter="").collect(
        CollectorQuery(
            window=QUERY.window, onset=ONSET, service="web-frontend", graph=graph, hops=2
        )
    )
    assert alone.requests[0].url.params["query"] == '{app="web-frontend"}'
    assert "the selector names $service only: read for web-frontend only" in narrow.notes


async def test_structured_metadata_and_trace_labels_name_the_span_of_each_line() -> None:
    replay = Replay({f"GET {PATH}": recording("loki", "query_range_trace_context")})
    collected = await loki(replay).collect(QUERY)
    context = {line.message[:22]: (line.trace_id, line.span_id) for line in collected.lines}
    assert context == {
        # categorised (``structuredMetadata``), and attached uncategorised, upper-case
        "[queryOrders][Step 2] ": ("4bf92f3577b34da6a3ce929d0e0e4736", "685dbd6b727adc63"),
        "[queryOrders][Step 1] ": ("4bf92f3577b34da6a3ce929d0e0e4736", "685dbd6b727adc63"),
        # merged into the stream's labels, as Loki answers without the categorize flag
        "[queryOrders] query fa": ("5bf92f3577b34da6a3ce929d0e0e4737", "00f067aa0ba902b7"),
        "HikariPool-1 - pool ne": (None, None),
    }
    templates = [a for a in collected.artifacts if isinstance(a, LogTemplate)]
    assert sum(t.count for t in templates) == 4
