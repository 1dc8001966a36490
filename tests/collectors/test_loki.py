"""The Loki collector, replaying recorded Loki answers through the real client code."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from chronosops.collectors import CollectorQuery, CollectorResponseError, CollectorSpec, registry
from chronosops.collectors.loki import LokiCollector
from chronosops.core.artifacts import LogTemplate
from chronosops.core.clock import FrozenClock
from chronosops.core.windows import TimeWindow
from tests.collectors.replay import Replay, recording

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
    assert params["query"].startswith('{service_name="payment-service"} |~ "(?i)(error|')
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
