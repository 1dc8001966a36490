"""Every registered collector, held to the same contract on the same misfortunes.

For each backend: an empty answer is an empty result (a note saying so, not an error); a
backend that does not answer in time is a timeout; refused credentials are an auth failure; a
rate limit is a rate-limit error; an answer that is not what the API documents is a
malformed-reply error. Recorded vendor answers are replayed through the real client code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from chronosops.collectors import (
    Collector,
    CollectorAuthError,
    CollectorQuery,
    CollectorRateLimitedError,
    CollectorResponseError,
    CollectorSpec,
    CollectorTimeoutError,
    registry,
)
from chronosops.core.clock import FrozenClock
from chronosops.core.windows import TimeWindow
from chronosops.evidence import CollectionPolicy, CollectorRunner
from tests.collectors.replay import Answer, Replay, recording

ONSET = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
QUERY = CollectorQuery(
    window=TimeWindow(ONSET - timedelta(minutes=15), ONSET + timedelta(minutes=75)),
    onset=ONSET,
    service="payment-service",
    region="us-east1",
    environment="production",
)
HTML = {
    "status": 200,
    "headers": {"Content-Type": "text/html"},
    "body": "<html><body>Sign in</body></html>",
}


@dataclass(frozen=True)
class Case:
    kind: str
    endpoint: str | None
    options: dict[str, Any]
    credentials: dict[str, str]
    routes: tuple[str, ...]  # every route the collector calls
    empty: dict[str, dict[str, Any]]
    refused: dict[str, Any]
    limited: dict[str, Any]
    wrong_shape: dict[str, Any]
    extra: dict[str, Answer] = field(default_factory=dict)

    def collector(self, replay: Replay) -> Collector:
        return registry.build(
            CollectorSpec(
                name=f"{self.kind}-under-test",
                backend=self.kind,
                endpoint=self.endpoint,
                options=self.options,
                credentials={k: SecretStr(v) for k, v in self.credentials.items()},
            ),
            http=replay.client(),
            clock=FrozenClock(ONSET),
        )

    def everywhere(self, answer: Answer) -> Replay:
        return Replay(dict.fromkeys(self.routes, answer))


PROM_ONE_QUERY = {
    "queries": {"memory_mib": {"query": "container_memory_working_set_bytes{$selector}"}}
}

CASES = [
    Case(
        kind="prometheus",
        endpoint="http://prometheus.internal:9090",
        options=PROM_ONE_QUERY,
        credentials={"bearer_token": "prom-token"},
        routes=("POST /api/v1/query_range",),
        empty={
            "POST /api/v1/query_range": {
                "status": 200,
                "body": {"status": "success", "data": {"resultType": "matrix", "result": []}},
            }
        },
        refused={
            "status": 401,
            "headers": {"Content-Type": "text/plain"},
            "body": "Unauthorized\n",
        },
        limited={
            "status": 429,
            "headers": {"Retry-After": "5"},
            "body": "rate limited by the gateway",
        },
        wrong_shape={
            "status": 200,
            "body": {
                "status": "success",
                "data": {"resultType": "scalar", "result": [1705312800, "1"]},
            },
        },
    ),
    Case(
        kind="loki",
        endpoint="https://logs.internal",
        options={},
        credentials={"bearer_token": "loki-token"},
        routes=("GET /loki/api/v1/query_range",),
        empty={"GET /loki/api/v1/query_range": recording("loki", "empty")},
        refused=recording("loki", "unauthorized"),
        limited=recording("loki", "rate_limited"),
        wrong_shape={
            "status": 200,
            "body": {
                "status": "success",
                "data": {
                    "resultType": "streams",
                    "result": [{"stream": {}, "values": [["not-a-number", "x"]]}],
                },
            },
        },
    ),
    Case(
        kind="datadog",
        endpoint=None,
        options={"metrics": {"latency": {"query": "p95:trace.http.request{$scope}"}}},
        credentials={"api_key": "dd-api", "app_key": "dd-app"},
        routes=("GET /api/v1/query", "POST /api/v2/logs/events/search", "GET /api/v1/events"),
        empty={
            "GET /api/v1/query": recording("datadog", "query_empty"),
            "POST /api/v2/logs/events/search": recording("datadog", "logs_empty"),
            "GET /api/v1/events": recording("datadog", "events_empty"),
        },
        refused=recording("datadog", "forbidden"),
        limited=recording("datadog", "rate_limited"),
        wrong_shape={
            "status": 200,
            "body": {"status": "ok", "series": [{"metric": "x"}], "data": "oops", "events": [{}]},
        },
    ),
    Case(
        kind="newrelic",
        endpoint=None,
        options={"account_id": 1234567},
        credentials={"api_key": "NRAK-TEST"},
        routes=("POST /graphql",),
        empty={"POST /graphql": recording("newrelic", "empty")},
        refused=recording("newrelic", "bad_key"),
        limited=recording("newrelic", "rate_limited"),
        wrong_shape={
            "status": 200,
            "body": {"data": {"actor": {"account": {"nrql": {"results": "nope"}}}}},
        },
    ),
    Case(
        kind="google-cloud",
        endpoint=None,
        options={"project_id": "acme-payments-prod"},
        credentials={"access_token": "ya29.token"},
        routes=(
            "GET /v3/projects/acme-payments-prod/timeSeries",
            "POST /v2/entries:list",
            "GET /v1/projects/acme-payments-prod/traces",
        ),
        empty={
            "GET /v3/projects/acme-payments-prod/timeSeries": recording(
                "google_cloud", "timeseries_empty"
            ),
            "POST /v2/entries:list": {"status": 200, "body": {}},
            "GET /v1/projects/acme-payments-prod/traces": {"status": 200, "body": {}},
        },
        refused=recording("google_cloud", "unauthenticated"),
        limited=recording("google_cloud", "quota_exceeded"),
        wrong_shape={
            "status": 200,
            "body": {
                "timeSeries": [{"points": [{"value": {}}]}],
                "entries": [{"severity": "ERROR"}],
                "traces": [{"spans": []}],
            },
        },
    ),
    Case(
        kind="google-cloud-status",
        endpoint=None,
        options={},
        credentials={},
        routes=("GET /incidents.json",),
        empty={"GET /incidents.json": {"status": 200, "body": []}},
        refused={
            "status": 403,
            "headers": {"Content-Type": "text/html"},
            "body": "<html>403 Forbidden by proxy policy</html>",
        },
        limited={"status": 429, "headers": {"Retry-After": "60"}, "body": "Too Many Requests"},
        wrong_shape={"status": 200, "body": {"incidents": []}},
    ),
]
IDS = [case.kind for case in CASES]


def test_every_registered_backend_has_a_contract_case() -> None:
    assert sorted(IDS) == registry.kinds()


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_an_empty_answer_is_an_empty_result(case: Case) -> None:
    collector = case.collector(Replay(case.empty))
    collected = await collector.collect(QUERY)
    assert collected.artifacts == []
    assert collected.problems == []
    result = await CollectorRunner([case.collector(Replay(case.empty))], CollectionPolicy()).run(
        QUERY
    )
    assert [(n.status, n.detail) for n in result.notes] == [("empty", "no data for the window")]


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_a_backend_that_does_not_answer_in_time_is_a_timeout(case: Case) -> None:
    replay = case.everywhere(httpx.ReadTimeout("timed out"))
    with pytest.raises(CollectorTimeoutError, match="did not answer in time"):
        await case.collector(replay).collect(QUERY)
    assert replay.requests


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_refused_credentials_are_an_auth_failure(case: Case) -> None:
    with pytest.raises(CollectorAuthError):
        await case.collector(case.everywhere(case.refused)).collect(QUERY)


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_a_rate_limit_is_a_rate_limit_error(case: Case) -> None:
    with pytest.raises(CollectorRateLimitedError):
        await case.collector(case.everywhere(case.limited)).collect(QUERY)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("answer", ["html", "wrong_shape"])
async def test_a_malformed_reply_is_a_response_error(case: Case, answer: str) -> None:
    reply = HTML if answer == "html" else case.wrong_shape
    with pytest.raises(CollectorResponseError):
        await case.collector(case.everywhere(reply)).collect(QUERY)


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_credentials_never_appear_in_the_collection_notes(case: Case) -> None:
    result = await CollectorRunner(
        [case.collector(case.everywhere(case.refused))], CollectionPolicy()
    ).run(QUERY)
    text = " ".join(note.detail for note in result.notes)
    for secret in case.credentials.values():
        assert secret not in text
