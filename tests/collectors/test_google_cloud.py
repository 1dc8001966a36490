"""The Google Cloud collector: Monitoring, Logging and Trace, with google-auth credentials."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from chronosops.collectors import CollectorAuthError, CollectorQuery, CollectorSpec, registry
from chronosops.collectors.google_cloud import GoogleCloudCollector
from chronosops.core.artifacts import LogTemplate, MetricSeries, SpanGroup
from chronosops.core.clock import FrozenClock
from chronosops.core.windows import TimeWindow
from chronosops.evidence import CollectionPolicy, CollectorRunner
from tests.collectors.local_servers import answering_server
from tests.collectors.replay import Replay, recording

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
