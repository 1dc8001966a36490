# mypy: disable-error-code="comparison-overlap"
"""The Prometheus collector asks about the incident's neighbourhood, against a real Prometheus.

The data (`chain_openmetrics`): web-frontend → orders-api → inventory-api, orders-api failing
from 10:00, web-frontend slow because it waits on it. The alert names web-frontend only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chronosops.bootstrap import Services
from chronosops.core.timestamps import format_instant
from chronosops.core.topology import ServiceGraph
from tests.collectors.chain import (
    CHAIN,
    assert_chain_figures,
    before_after,
    chain_collector,
    chain_query,
    collectors_file,
    frontend_alert,
    series_by_service,
)
from tests.collectors.prometheus_server import (
    ONSET,
    PrometheusServer,
    asked,
    available,
    chain_openmetrics,
    running_prometheus,
)
from tests.fixtures.jobs import ingest_and_run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not available(), reason="needs /usr/bin/prometheus and promtool"),
]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    with running_prometheus(
        tmp_path_factory.mktemp("prometheus-chain"), data_set=chain_openmetrics()
    ) as server:
        yield server


async def test_the_service_graph_brings_callees_two_hops_deep_each_under_its_own_name(
    prometheus: PrometheusServer,
) -> None:
    collected = await chain_collector(prometheus.url).collect(chain_query())
    series = series_by_service(collected.artifacts)
    assert {service for service, _ in series} == CHAIN
    # Every series is the one of the service it is recorded under, not a sum across them.
    assert_chain_figures(series)
    assert all(a.labels["service"] == a.service for a in series.values())
    assert len({a.artifact_id for a in collected.artifacts}) == len(collected.artifacts)
    # Nearest first: the alerting service's series lead.
    assert collected.artifacts[0].service == "web-frontend"  # type: ignore[union-attr]
    assert collected.notes == [
        "neighbourhood of web-frontend: orders-api (callee), inventory-api (callee, 2 hops)"
    ]
    assert collected.problems == []


async def test_one_query_per_template_asks_for_the_whole_neighbourhood(
    prometheus: PrometheusServer,
) -> None:
    seen: list[httpx.Request] = []

    async def record(sent: httpx.Request) -> None:
        seen.append(sent)

    collector = chain_collector(
        prometheus.url,
        httpx.AsyncClient(event_hooks={"request": [record]}),
        queries={
            "request_rate": {
                "query": "sum by ($group) (rate(http_requests_total{$selector}[$rate_window]))"
            }
        },
    )
    await collector.collect(chain_query())
    graph = [r.url.params["query"] for r in seen if r.url.path == "/api/v1/query"]
    ranges = [asked(r)["query"] for r in seen if r.url.path == "/api/v1/query_range"]
    # Two hops of the service graph, each asking both edge metrics.
    assert len(graph) == 4
    assert graph[0] == (
        'group by (client, server) (last_over_time(traces_service_graph_request_total{client=~"web-frontend"}[3600s]))'
        ' or group by (client, server) (last_over_time(traces_service_graph_request_total{server=~"web-frontend"}[3600s]))'
    )
    assert ranges == [
        'sum by (service) (rate(http_requests_total{service=~"web-frontend|orders-api|inventory-api",env="production"}[5m]))'
    ]


async def test_one_hop_stops_at_the_callee_and_none_asks_the_service_alone(
    prometheus: PrometheusServer,
) -> None:
    one = await chain_collector(prometheus.url).collect(chain_query(hops=1))
    assert {s for s, _ in series_by_service(one.artifacts)} == {"web-frontend", "orders-api"}
    alone = await chain_collector(prometheus.url).collect(chain_query(hops=0))
    assert {s for s, _ in series_by_service(alone.artifacts)} == {"web-frontend"}
    assert alone.notes == []


async def test_callers_are_neighbours_too(prometheus: PrometheusServer) -> None:
    collected = await chain_collector(prometheus.url).collect(chain_query(service="inventory-api"))
    assert {s for s, _ in series_by_service(collected.artifacts)} == CHAIN
    assert collected.notes == [
        "neighbourhood of inventory-api: orders-api (caller), web-frontend (caller, 2 hops)"
    ]


async def test_a_known_graph_is_enough_without_service_graph_metrics(
    prometheus: PrometheusServer,
) -> None:
    graph = ServiceGraph.from_mapping(
        {"web-frontend": ["orders-api"], "orders-api": ["search-api"]}
    )
    collected = await chain_collector(prometheus.url, service_graph=[]).collect(
        chain_query(graph=graph)
    )
    assert {s for s, _ in series_by_service(collected.artifacts)} == {
        "web-frontend",
        "orders-api",
        "search-api",
    }


async def test_the_neighbour_and_series_budgets_keep_the_nearest(
    prometheus: PrometheusServer,
) -> None:
    few = await chain_collector(prometheus.url).collect(chain_query(max_neighbours=1))
    assert {s for s, _ in series_by_service(few.artifacts)} == {"web-frontend", "orders-api"}
    assert (
        few.notes[-1]
        == "1 more neighbour(s) within 2 hop(s) left out (at most 1, the nearest first)"
    )
    capped = await chain_collector(prometheus.url).collect(chain_query(max_items=8))
    assert len(capped.artifacts) == 8
    kept = [a.service for a in capped.artifacts]  # type: ignore[union-attr]
    assert kept == sorted(kept, key=["web-frontend", "orders-api", "inventory-api"].index)  # type: ignore[arg-type]
    assert capped.notes[-1].endswith("left out (at most 8 series, the nearest services first)")
    assert "inventory-api" in capped.notes[-1]


async def test_a_template_that_sums_the_services_together_is_asked_once_per_service(
    prometheus: PrometheusServer,
) -> None:
    collector = chain_collector(
        prometheus.url,
        queries={
            "request_rate": {"query": "sum(rate(http_requests_total{$selector}[$rate_window]))"}
        },
    )
    collected = await collector.collect(chain_query())
    series = series_by_service(collected.artifacts)
    assert set(series) == {(s, "request_rate") for s in CHAIN}
    assert all(
        before_after(s) == (pytest.approx(10.0), pytest.approx(10.0)) for s in series.values()
    )
    assert len({a.artifact_id for a in collected.artifacts}) == 3
    assert any("does not keep the service label" in note for note in collected.notes)


async def test_a_neighbour_name_cannot_widen_the_selector(prometheus: PrometheusServer) -> None:
    seen: list[httpx.Request] = []

    async def record(sent: httpx.Request) -> None:
        seen.append(sent)

    graph = ServiceGraph.of([("web-frontend", '.*"}) or vector(1) #')])
    collector = chain_collector(
        prometheus.url,
        httpx.AsyncClient(event_hooks={"request": [record]}),
        service_graph=[],
        queries={
            "request_rate": {
                "query": "sum by ($group) (rate(http_requests_total{$selector}[$rate_window]))"
            }
        },
    )
    collected = await collector.collect(chain_query(graph=graph))
    assert {s for s, _ in series_by_service(collected.artifacts)} == {"web-frontend"}
    assert asked(seen[0])["query"] == (
        'sum by (service) (rate(http_requests_total{service=~"web-frontend|\\\\.\\\\*\\"\\\\}\\\\) or vector\\\\(1\\\\) #",env="production"}[5m]))'
    )


def _as_evidence_lite(artifacts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "metrics": [
            {
                "name": artifact["name"],
                "value": point["value"],
                "timestamp": point["ts"],
                "labels": artifact["labels"],
            }
            for artifact in artifacts
            if artifact["kind"] == "metric_series"
            for point in artifact["points"]
        ]
    }


async def _diagnoses(
    url: str, client_with: Any, analyst: dict[str, str], tmp_path: Path
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An alert on web-frontend without evidence, collected through the real HTTP ingest; then
    the same series sent as evidenceLite. The two analyses, and the first one's bundle."""
    client, built = await client_with(collectors_file=collectors_file(tmp_path, url))
    created = await ingest_and_run(client, built, frontend_alert("chain-alert"), analyst)
    assert created["status"] == "analyzed", created
    bundle = (
        await client.get(f"/v1/evidence-bundles/{created['evidenceBundleId']}", headers=analyst)
    ).json()
    collected = (await client.get(f"/v1/analyses/{created['analysisId']}", headers=analyst)).json()
    series = [a for a in bundle["artifacts"] if a["kind"] == "metric_series"]
    sent = frontend_alert("chain-alert-with-evidence", evidenceLite=_as_evidence_lite(series))
    direct = await ingest_and_run(client, built, sent, analyst)
    assert direct["status"] == "analyzed", direct
    answered = (await client.get(f"/v1/analyses/{direct['analysisId']}", headers=analyst)).json()
    return collected["result"], answered["result"], bundle


def _ranking(result: dict[str, Any]) -> list[tuple[str, str | None, float]]:
    return [(h["id"], h["culpritService"], round(h["confidence"], 3)) for h in result["hypotheses"]]


async def test_an_alert_without_evidence_is_diagnosed_as_if_the_neighbourhood_were_sent(
    prometheus: PrometheusServer,
    client_with: Any,
    analyst: dict[str, str],
    tmp_path: Path,
) -> None:
    """Issue 11, item 5: through a real Prometheus and no evidence in the request, the
    diagnosis is the one given to the same metrics sent as evidence, and it points past the
    alerting service to orders-api."""
    collected, sent, bundle = await _diagnoses(prometheus.url, client_with, analyst, tmp_path)
    series = [a for a in bundle["artifacts"] if a["kind"] == "metric_series"]
    assert {a["service"] for a in series} == CHAIN
    note = next(n for n in bundle["collection"] if n["source"] == "prometheus-prod")
    assert (
        "neighbourhood of web-frontend: orders-api (callee), inventory-api (callee, 2 hops)"
        in note["detail"]
    )
    assert _ranking(collected) == _ranking(sent)
    assert collected["culpritService"] == sent["culpritService"]
    assert {s["service"] for s in collected["signals"]} == {"web-frontend", "orders-api"}
    leading = next(h for h in collected["hypotheses"] if h["id"] != "UNKNOWN")
    assert leading["culpritService"] == "orders-api"


async def test_an_alert_without_evidence_names_the_culprit_behind_the_alerting_service(
    prometheus: PrometheusServer,
    client_with: Any,
    analyst: dict[str, str],
    tmp_path: Path,
) -> None:
    collected, sent, _ = await _diagnoses(prometheus.url, client_with, analyst, tmp_path)
    assert collected["culpritService"] == "orders-api"
    assert sent["culpritService"] == "orders-api"


def _config(tmp_path: Path, url: str, topology: str = "") -> str:
    return collectors_file(tmp_path, url, f"service_graph = []\n{topology}")


async def _collected_services(
    served: tuple[httpx.AsyncClient, Services], analyst: dict[str, str], body: dict[str, Any]
) -> set[str]:
    client, services = served
    created = await ingest_and_run(client, services, body, analyst)
    bundle = (
        await client.get(f"/v1/evidence-bundles/{created['evidenceBundleId']}", headers=analyst)
    ).json()
    return {a["service"] for a in bundle["artifacts"] if a["kind"] == "metric_series"}


async def test_the_configured_topology_names_the_neighbours_and_the_hops_setting_bounds_them(
    prometheus: PrometheusServer, client_with: Any, analyst: dict[str, str], tmp_path: Path
) -> None:
    topology = '[topology]\n"web-frontend" = ["orders-api"]\n"orders-api" = ["inventory-api"]\n'
    config = _config(tmp_path, prometheus.url, topology)
    client = await client_with(collectors_file=config)
    assert await _collected_services(client, analyst, frontend_alert("configured")) == CHAIN
    near = await client_with(collectors_file=config, collectors_neighbour_hops=1)
    assert await _collected_services(near, analyst, frontend_alert("configured-one-hop")) == {
        "web-frontend",
        "orders-api",
    }
    alone = await client_with(collectors_file=config, collectors_neighbour_hops=0)
    assert await _collected_services(alone, analyst, frontend_alert("configured-no-hop")) == {
        "web-frontend"
    }


async def test_topology_events_sent_with_an_alert_name_the_neighbours_and_still_get_collection(
    prometheus: PrometheusServer, client_with: Any, analyst: dict[str, str], tmp_path: Path
) -> None:
    client = await client_with(collectors_file=_config(tmp_path, prometheus.url))
    edges = [("web-frontend", "orders-api"), ("orders-api", "inventory-api")]
    events = [
        {
            "type": "topology",
            "description": f"{caller} calls {callee}",
            "timestamp": format_instant(ONSET),
            "metadata": {"service": caller, "peerService": callee},
        }
        for caller, callee in edges
    ]
    body = frontend_alert("sent-topology", evidenceLite={"events": events})
    assert await _collected_services(client, analyst, body) == CHAIN
    # Without the events, and without a configured topology or service-graph metrics, the
    # alerting service is all there is to ask about.
    assert await _collected_services(client, analyst, frontend_alert("no-topology")) == {
        "web-frontend"
    }


async def test_services_configured_on_their_own_are_asked_alone_with_their_own_selector(
    prometheus: PrometheusServer,
) -> None:
    summed = {"query": "sum(rate(http_requests_total{$selector}[$rate_window]))"}
    collector = chain_collector(
        prometheus.url,
        queries={},
        services={
            "orders": {"selector": 'service="orders-api"', "queries": {"request_rate": summed}},
            "stock": {"selector": 'service="inventory-api"', "queries": {"request_rate": summed}},
        },
        service_graph=[],
    )
    graph = ServiceGraph.of([("web-frontend", "orders"), ("orders", "stock")])
    collected = await collector.collect(chain_query(graph=graph))
    series = series_by_service(collected.artifacts)
    assert set(series) == {("orders", "request_rate"), ("stock", "request_rate")}
    assert all(s.labels == {} for s in series.values())
    assert len({a.artifact_id for a in collected.artifacts}) == 2
