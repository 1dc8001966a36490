"""Collected spans become the same span groups as the same spans sent with the incident.

Each backend's recorded answer (`tests/collectors/recordings`) holds two traces of a caller →
callee call; it is replayed through the real collector, and the same spans are sent as
``evidenceLite``: the groups (server side, and the caller→callee edge with its time outside
the callee) must be the same, ids and contents, but for the collector's name in the id and the
source. The collectors are asked with the onset before the first span, so that no group is
split into baseline and incident (evidenceLite splits none).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from chronosops.collectors import Collector, CollectorQuery, CollectorSpec, registry
from chronosops.collectors.base import parse_time
from chronosops.core.artifacts import Artifact, SpanGroup
from chronosops.core.clock import FrozenClock
from chronosops.core.ingest_request import EvidenceLite
from chronosops.core.timestamps import format_instant
from chronosops.core.windows import TimeWindow
from chronosops.evidence.lite import artifacts_from_lite
from tests.collectors.replay import Replay, recording

START = datetime(2024, 1, 15, 9, 45, tzinfo=UTC)
QUERY = CollectorQuery(
    window=TimeWindow(START, START + timedelta(minutes=90)), onset=START, service="web-frontend"
)
PROJECT = "acme-payments-prod"


def _collector(backend: str, routes: dict[str, Any], **options: Any) -> Collector:
    credentials = {
        "google-cloud": {"access_token": SecretStr("ya29.static-token")},
        "newrelic": {"api_key": SecretStr("NRAK-TESTKEY0123456789ABCDEFGHIJ")},
    }[backend]
    return registry.build(
        CollectorSpec(
            name="collected",
            backend=backend,
            endpoint=None,
            options=options,
            credentials=credentials,
        ),
        http=Replay(routes).client(),
        clock=FrozenClock(START),
    )


def google_cloud() -> tuple[Collector, list[dict[str, Any]]]:
    answer = recording("google_cloud", "traces_call_graph")
    collector = _collector(
        "google-cloud",
        {f"GET /v1/projects/{PROJECT}/traces": answer},
        project_id=PROJECT,
        metrics={},
        logs_filter=None,
    )
    sent = []
    for trace in answer["body"]["traces"]:
        for span in trace["spans"]:
            started, ended = parse_time(span["startTime"]), parse_time(span["endTime"])
            status = span["labels"]["/http/status_code"]
            sent.append(
                {
                    "traceId": trace["traceId"],
                    "spanId": span["spanId"],
                    "parentSpanId": span.get("parentSpanId"),
                    "kind": {"RPC_SERVER": "server", "RPC_CLIENT": "client"}[span["kind"]],
                    "service": span["labels"]["service.name"],
                    "operation": span["name"],
                    "duration": round((ended - started).total_seconds() * 1000, 3),
                    "timestamp": span["startTime"],
                    "error": int(status) >= 500,
                }
            )
    return collector, sent


def newrelic() -> tuple[Collector, list[dict[str, Any]]]:
    answer = recording("newrelic", "spans_call_graph")
    collector = _collector(
        "newrelic",
        {"POST /graphql": answer},
        account_id=1234567,
        metrics_nrql=None,
        logs_nrql=None,
        deployments_nrql=None,
    )
    rows = answer["body"]["data"]["actor"]["account"]["nrql"]["results"]
    sent = [
        {
            "traceId": row["trace.id"],
            "spanId": row["id"],
            "parentSpanId": row["parent.id"],
            "kind": row["span.kind"],
            "service": row["service.name"],
            "operation": row["name"],
            "duration": row["duration.ms"],
            "timestamp": format_instant(datetime.fromtimestamp(row["timestamp"] / 1000, UTC)),
            "status": "error" if row["otel.status_code"] == "ERROR" else "ok",
        }
        for row in rows
    ]
    return collector, sent


def groups(artifacts: Sequence[Artifact], prefix: str) -> dict[str, dict[str, Any]]:
    """Span groups by id without its prefix, without the source that names where they came from
    and the incident half of an onset split (evidenceLite makes none)."""
    return {
        g.artifact_id.removeprefix(prefix): g.model_dump(
            exclude={"artifact_id", "source", "incident"}
        )
        for g in artifacts
        if isinstance(g, SpanGroup)
    }


@pytest.mark.parametrize("backend", [google_cloud, newrelic], ids=["google-cloud", "newrelic"])
async def test_collected_spans_become_the_same_groups_as_the_same_spans_sent(backend: Any) -> None:
    collector, sent = backend()
    collected = await collector.collect(QUERY)
    # A root span leaves ``parentSpanId`` out, as the API asks.
    traces = [{k: v for k, v in span.items() if v is not None} for span in sent]
    lite = artifacts_from_lite(
        EvidenceLite.model_validate({"traces": traces}), default_service="web-frontend"
    )
    got, expected = groups(collected.artifacts, "span:collected:"), groups(lite, "span:")
    assert got == expected
    assert set(got) == {
        "web-frontend:GET /checkout",
        "payment-service:POST /payments",
        "web-frontend:→payment-service",
    }
    call = got["web-frontend:→payment-service"]
    assert [b["ownP50Ms"] for b in call["histogram"]] == pytest.approx([37.6, 288])
