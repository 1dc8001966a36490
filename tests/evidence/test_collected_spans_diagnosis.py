"""An incident without evidence whose spans Cloud Trace collects is diagnosed as the same spans
sent with it are: same leading hypothesis, same culprit, about the same confidence.

The spans: web-frontend → orders-api → inventory-api, a trace every 30 s from 09:46. From 10:00
(the incident's start) either inventory-api's own handler takes 600 ms instead of 20 ms, or
its handler keeps its 20 ms and the calls into it wait 300 ms more each way (the network
between orders-api and inventory-api); everything else keeps its times. The alert names
web-frontend, the top of the chain, so the culprit must come from the spans below it.

The same answer is replayed through the real Google Cloud collector (Trace v1 ``traces.list``:
decimal span ids, RPC_SERVER/RPC_CLIENT, the client's target in ``/http/url``) into an ingest
without evidence, and sent as ``evidenceLite.traces`` with another. The collector splits its
groups at the onset and evidenceLite does not: the diagnosis must not depend on that.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from chronosops.bootstrap import Services
from chronosops.collectors import CollectorSpec, registry
from chronosops.collectors.base import parse_time
from chronosops.core.clock import FrozenClock
from chronosops.core.timestamps import format_instant
from chronosops.evidence import CollectionPolicy, CollectorRunner
from tests.collectors.replay import Replay
from tests.fixtures.guide import request

ONSET = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
FIRST = datetime(2024, 1, 15, 9, 46, tzinfo=UTC)
PROJECT = "acme-shop-prod"
CALLEE = "inventory-api"
# The groups are the same either way (tests/evidence/test_collected_spans.py) but for the
# collector's onset split, which the engine reads only where a group has no per-minute
# histogram (these all have one): only rounding may move confidence.
CONFIDENCE_TOLERANCE = 0.02

# (service, operation, own time in ms before the onset, after it); each calls the next.
Chain = list[tuple[str, str, float, float]]
HEALTHY: Chain = [
    ("web-frontend", "GET /checkout", 8.0, 8.0),
    ("orders-api", "GET /orders/{id}", 12.0, 12.0),
    (CALLEE, "GET /stock/{sku}", 20.0, 20.0),
]
SLOW_CALLEE: Chain = [*HEALTHY[:2], (CALLEE, "GET /stock/{sku}", 20.0, 600.0)]
NETWORK_MS = 2.0  # each way, between a client span and its callee's server span


def _ms(value: float) -> timedelta:
    return timedelta(milliseconds=value)


def _trace(n: int, start: datetime, chain: Chain, network_to_callee_ms: float) -> dict[str, Any]:
    """One trace in the shape of Trace v1: server span, client span, the callee's server span …"""
    after = start >= ONSET
    own = [later if after else before for _, _, before, later in chain]
    # Per level, the network each way on the call into it (none into the root).
    network = [NETWORK_MS] * len(chain)
    if after:
        network[-1] = network_to_callee_ms
    # A server span lasts its own time, plus each call below it with the network both ways.
    durations = [0.0] * len(chain)
    for level in reversed(range(len(chain))):
        below = durations[level + 1] + 2 * network[level + 1] if level + 1 < len(chain) else 0.0
        durations[level] = own[level] + below
    spans: list[dict[str, Any]] = []
    parent: str | None = None
    at = start
    for level, (service, operation, _, _) in enumerate(chain):
        span_id = str(4_611_686_018_427_387_904 + n * 16 + 2 * level)
        server = {
            "spanId": span_id,
            "kind": "RPC_SERVER",
            "name": operation,
            "startTime": format_instant(at),
            "endTime": format_instant(at + _ms(durations[level])),
            "labels": {
                "/http/method": operation.split()[0],
                "/http/status_code": "200",
                "service.name": service,
                "g.co/agent": "opentelemetry-python 1.22.0; google-cloud-trace-exporter 1.6.0",
            },
        }
        if parent is not None:
            server["parentSpanId"] = parent
        spans.append(server)
        if level + 1 == len(chain):
            break
        callee, callee_operation = chain[level + 1][0], chain[level + 1][1]
        # The caller's own code runs before its call; the call waits the callee and the network.
        called = at + _ms(own[level] / 2)
        client_id = str(int(span_id) + 1)
        spans.append(
            {
                "spanId": client_id,
                "kind": "RPC_CLIENT",
                "name": callee_operation.split()[0],
                "startTime": format_instant(called),
                "endTime": format_instant(
                    called + _ms(durations[level + 1] + 2 * network[level + 1])
                ),
                "parentSpanId": span_id,
                "labels": {
                    "/http/method": callee_operation.split()[0],
                    "/http/url": f"http://{callee}:8080{callee_operation.split()[1]}",
                    "/http/status_code": "200",
                    "service.name": service,
                },
            }
        )
        parent = client_id
        at = called + _ms(network[level + 1])
    return {"projectId": PROJECT, "traceId": f"{0x5A17 + n:032x}", "spans": spans}


def cloud_trace_answer(chain: Chain, network_to_callee_ms: float) -> dict[str, Any]:
    traces = [
        _trace(n, FIRST + timedelta(seconds=30 * n), chain, network_to_callee_ms) for n in range(56)
    ]
    return {
        "status": 200,
        "headers": {"Content-Type": "application/json; charset=UTF-8"},
        # Cloud Trace lists the newest first.
        "body": {"traces": list(reversed(traces))},
    }


def sent_spans(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The same spans as a caller sends them in ``evidenceLite.traces``."""
    sent = []
    for trace in answer["body"]["traces"]:
        for span in trace["spans"]:
            started, ended = parse_time(span["startTime"]), parse_time(span["endTime"])
            lite = {
                "traceId": trace["traceId"],
                "spanId": f"{int(span['spanId']):016x}",
                "kind": {"RPC_SERVER": "server", "RPC_CLIENT": "client"}[span["kind"]],
                "service": span["labels"]["service.name"],
                "operation": span["name"],
                "duration": round((ended - started).total_seconds() * 1000, 3),
                "timestamp": span["startTime"],
                "error": int(span["labels"]["/http/status_code"]) >= 500,
            }
            if "parentSpanId" in span:
                lite["parentSpanId"] = f"{int(span['parentSpanId']):016x}"
            sent.append(lite)
    return sent


def _incident(source_ref: str, **changes: Any) -> dict[str, Any]:
    return request(
        sourceRef=source_ref,
        title="web-frontend checkout latency above 500 ms",
        timeline={
            "start": format_instant(ONSET),
            "end": format_instant(ONSET + timedelta(hours=1)),
        },
        metadata={"service": "web-frontend", "region": "us-east1", "environment": "production"},
        **changes,
    )


def _use_cloud_trace(services: Services, answer: dict[str, Any]) -> Replay:
    replay = Replay({f"GET /v1/projects/{PROJECT}/traces": answer})
    collector = registry.build(
        CollectorSpec(
            name="gcp",
            backend="google-cloud",
            endpoint=None,
            options={"project_id": PROJECT, "metrics": {}, "logs_filter": None},
            credentials={"access_token": SecretStr("ya29.static-token")},
        ),
        http=replay.client(),
        clock=FrozenClock(ONSET + timedelta(hours=1)),
    )
    services.evidence.runner = CollectorRunner([collector], CollectionPolicy())
    return replay


async def _diagnosis(
    client: httpx.AsyncClient, headers: dict[str, str], created: httpx.Response
) -> dict[str, Any]:
    incident = await client.get(f"/v1/incidents/{created.json()['incidentId']}", headers=headers)
    body = incident.json()
    assert body["status"] == "analyzed", body
    analysis = await client.get(f"/v1/analyses/{body['latestAnalysisId']}", headers=headers)
    bundle = await client.get(f"/v1/evidence-bundles/{body['latestBundleId']}", headers=headers)
    return {"analysis": analysis.json(), "bundle": bundle.json()}


@pytest.mark.parametrize(
    ("chain", "network_to_callee_ms", "hypothesis", "culprit"),
    [
        (SLOW_CALLEE, NETWORK_MS, "DOWNSTREAM_OUTAGE", CALLEE),
        # A healthy callee that its only caller waits longer on: the path is named on the
        # caller's side (docs/analysis.md, `rules/edges.py`: the callee only when two or more
        # callers lose it at once).
        (HEALTHY, 300.0, "NETWORK_DNS_ISSUE", "orders-api"),
    ],
    ids=["the-callee-is-slow", "the-network-into-the-callee-is-slow"],
)
async def test_collected_spans_give_the_same_diagnosis_as_the_same_spans_sent(
    client: httpx.AsyncClient,
    services: Services,
    analyst: dict[str, str],
    chain: Chain,
    network_to_callee_ms: float,
    hypothesis: str,
    culprit: str,
) -> None:
    answer = cloud_trace_answer(chain, network_to_callee_ms)
    replay = _use_cloud_trace(services, answer)

    collected_ingest = await client.post(
        "/v1/incidents/ingest", json=_incident("chain-collected"), headers=analyst
    )
    assert collected_ingest.status_code == 202, collected_ingest.text
    await services.runner.drain()
    collected = await _diagnosis(client, analyst, collected_ingest)

    sent_ingest = await client.post(
        "/v1/incidents/ingest",
        json=_incident("chain-sent", evidenceLite={"traces": sent_spans(answer)}),
        headers=analyst,
    )
    assert sent_ingest.status_code == 201, sent_ingest.text
    sent = await _diagnosis(client, analyst, sent_ingest)

    # The collector asked Cloud Trace once, about the alerting service, and nothing was asked
    # for the sent incident.
    [asked] = replay.sent("GET", f"/v1/projects/{PROJECT}/traces")
    assert asked.url.params["filter"] == "service.name:web-frontend"
    assert collected["bundle"]["sources"] == ["gcp"]
    assert sent["bundle"]["sources"] == ["evidenceLite"]

    leading = {
        way: (
            d["analysis"]["result"]["hypotheses"][0]["id"],
            d["analysis"]["result"]["culpritService"],
        )
        for way, d in (("collected", collected), ("sent", sent))
    }
    assert leading["sent"] == (hypothesis, culprit), sent["analysis"]["result"]["hypotheses"][:2]
    assert leading["collected"] == leading["sent"]
    assert collected["analysis"]["overallConfidence"] == pytest.approx(
        sent["analysis"]["overallConfidence"], abs=CONFIDENCE_TOLERANCE
    )
