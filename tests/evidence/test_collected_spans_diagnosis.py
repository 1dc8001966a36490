"""An incident without evidence whose spans Cloud Trace or New Relic collects is diagnosed as the
same spans sent with it are: same leading hypothesis, same culprit, about the same confidence.

The spans: web-frontend → orders-api → inventory-api, a trace every 30 s from 09:46. From 10:00
(the incident's start) either inventory-api's own handler takes 600 ms instead of 20 ms, or
its handler keeps its 20 ms and the calls into it wait 300 ms more each way (the network
between orders-api and inventory-api); everything else keeps its times. The alert names
web-frontend, the top of the chain, so the culprit must come from the spans below it.

The same answer is replayed through the real Google Cloud collector (Trace v1 ``traces.list``:
decimal span ids, RPC_SERVER/RPC_CLIENT, the client's target in ``/http/url``) into an ingest
without evidence, and sent as ``evidenceLite.traces`` with another. The same spans are also
answered as New Relic ``Span`` rows (NRQL over NerdGraph: hex ids, ``parent.id``, lower-case
``span.kind``, epoch-millisecond timestamps) to the real New Relic collector, whose NRQL asks for
the whole traces through the alerting service (a ``uniques(trace.id)`` subquery), with no
topology configured. The collector splits its groups at the onset and evidenceLite does not: the
diagnosis must not depend on that.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

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
NEW_RELIC_ACCOUNT = 1234567
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


def _collect_with(services: Services, replay: Replay, spec: CollectorSpec) -> Replay:
    collector = registry.build(
        spec, http=replay.client(), clock=FrozenClock(ONSET + timedelta(hours=1))
    )
    services.evidence.runner = CollectorRunner([collector], CollectionPolicy())
    return replay


def _use_cloud_trace(services: Services, answer: dict[str, Any]) -> Replay:
    return _collect_with(
        services,
        Replay({f"GET /v1/projects/{PROJECT}/traces": answer}),
        CollectorSpec(
            name="gcp",
            backend="google-cloud",
            endpoint=None,
            options={"project_id": PROJECT, "metrics": {}, "logs_filter": None},
            credentials={"access_token": SecretStr("ya29.static-token")},
        ),
    )


def _asked_cloud_trace(replay: Replay) -> None:
    # Once, about the alerting service: Cloud Trace answers its traces whole.
    [asked] = replay.sent("GET", f"/v1/projects/{PROJECT}/traces")
    assert asked.url.params["filter"] == "service.name:web-frontend"


def newrelic_rows(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sent spans as New Relic ``Span`` rows with the attributes the default NRQL selects."""
    return [
        {
            "timestamp": round(parse_time(span["timestamp"]).timestamp() * 1000),
            "name": span["operation"],
            "duration.ms": span["duration"],
            "service.name": span["service"],
            "error": span["error"],
            "otel.status_code": "ERROR" if span["error"] else "UNSET",
            "trace.id": span["traceId"],
            "id": span["spanId"],
            "parent.id": span.get("parentSpanId"),
            "span.kind": span["kind"],
            "peer.service": None,
        }
        for span in sent
    ]


def _nerdgraph(rows: list[dict[str, Any]]) -> Callable[[httpx.Request], httpx.Response]:
    """NerdGraph as it answers the collector's NRQL: the ``Span`` rows of the services and window
    asked about, or, asked by ``trace.id IN (SELECT uniques(trace.id) …)``, every row of the
    traces those services are in; no rows for the other event types."""

    def answer(request: httpx.Request) -> httpx.Response:
        nrql = Replay.body(request)["variables"]["nrql"]
        results: list[dict[str, Any]] = []
        if "FROM Span" in nrql:
            named = re.search(r"service\.name IN \(([^)]*)\)", nrql)
            since = re.search(r"SINCE (\d+) UNTIL (\d+)", nrql)
            assert named is not None, nrql
            assert since is not None, nrql
            asked = set(re.findall(r"'([^']*)'", named.group(1)))
            start, end = int(since.group(1)), int(since.group(2))
            # The subquery runs over the outer query's window.
            results = [
                row
                for row in rows
                if row["service.name"] in asked and start <= row["timestamp"] < end
            ]
            if "trace.id IN (SELECT uniques(trace.id) FROM Span WHERE service.name IN (" in nrql:
                traces = {row["trace.id"] for row in results}
                results = [
                    row
                    for row in rows
                    if row["trace.id"] in traces and start <= row["timestamp"] < end
                ]
            limit = re.search(r"LIMIT (\d+)$", nrql)
            if limit is not None:
                results = results[: int(limit.group(1))]
        body = {"data": {"actor": {"account": {"nrql": {"results": results}}}}}
        return httpx.Response(200, json=body)

    return answer


def _use_newrelic(services: Services, answer: dict[str, Any]) -> Replay:
    # No topology: the spans below the alerting service come with the traces it is in.
    assert not services.pipeline.gatherer.topology
    return _collect_with(
        services,
        Replay({"POST /graphql": _nerdgraph(newrelic_rows(sent_spans(answer)))}),
        CollectorSpec(
            name="newrelic",
            backend="newrelic",
            endpoint=None,
            options={"account_id": NEW_RELIC_ACCOUNT},
            credentials={"api_key": SecretStr("NRAK-TESTKEY0123456789ABCDEFGHIJ")},
        ),
    )


def _asked_newrelic(replay: Replay) -> None:
    spans = [
        nrql
        for sent in replay.sent("POST", "/graphql")
        if "FROM Span" in (nrql := Replay.body(sent)["variables"]["nrql"])
    ]
    assert len(spans) == 1
    assert (
        "WHERE trace.id IN (SELECT uniques(trace.id) FROM Span "
        "WHERE service.name IN ('web-frontend'))"
    ) in spans[0]


class Backend(NamedTuple):
    """A collector as the test configures it, and a check of what it was asked."""

    name: str
    use: Callable[[Services, dict[str, Any]], Replay]
    asked: Callable[[Replay], None]


CLOUD_TRACE = Backend("gcp", _use_cloud_trace, _asked_cloud_trace)
NEW_RELIC = Backend("newrelic", _use_newrelic, _asked_newrelic)


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
@pytest.mark.parametrize("backend", [CLOUD_TRACE, NEW_RELIC], ids=["cloud-trace", "new-relic"])
async def test_collected_spans_give_the_same_diagnosis_as_the_same_spans_sent(
    client: httpx.AsyncClient,
    services: Services,
    analyst: dict[str, str],
    backend: Backend,
    chain: Chain,
    network_to_callee_ms: float,
    hypothesis: str,
    culprit: str,
) -> None:
    answer = cloud_trace_answer(chain, network_to_callee_ms)
    replay = backend.use(services, answer)

    collected_ingest = await client.post(
        "/v1/incidents/ingest", json=_incident("chain-collected"), headers=analyst
    )
    assert collected_ingest.status_code == 202, collected_ingest.text
    await services.runner.drain()
    collected = await _diagnosis(client, analyst, collected_ingest)
    # The backend was read for more than spans (New Relic's metrics, logs and deployments came
    # back empty): the same spans are sent saying the same, as a sender that read them would.
    assert {a["kind"] for a in collected["bundle"]["artifacts"]} == {"span_group"}
    read_empty = [kind for kind in collected["bundle"]["coverage"] if kind != "traces"]

    sent_ingest = await client.post(
        "/v1/incidents/ingest",
        json=_incident(
            "chain-sent",
            evidenceLite={"traces": sent_spans(answer)}
            | ({"readEmpty": read_empty} if read_empty else {}),
        ),
        headers=analyst,
    )
    assert sent_ingest.status_code == 201, sent_ingest.text
    sent = await _diagnosis(client, analyst, sent_ingest)

    # The collector asked its backend once for spans, and nothing was asked for the sent incident.
    backend.asked(replay)
    assert collected["bundle"]["sources"] == [backend.name]
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
