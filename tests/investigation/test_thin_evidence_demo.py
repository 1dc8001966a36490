"""The demo of issue 13: an outage deep in a call chain, reported with thin evidence (the alert
and one annotation, its logs and metrics dropped), is diagnosed weakly at first; an
investigation against a real Prometheus goes back for the metrics of the alerting service's
neighbourhood and reaches the right culprit with more confidence.

The data (`chain_openmetrics`, backfilled with promtool): web-frontend → orders-api →
inventory-api; from 10:00 orders-api is slow, fails a quarter of its requests and burns its CPU,
and web-frontend, which waits on it, is slow too. The alert names web-frontend only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from chronosops.core.timestamps import format_instant
from tests.collectors.prometheus_server import (
    ONSET,
    PrometheusServer,
    available,
    chain_openmetrics,
    running_prometheus,
)
from tests.fixtures.app import ClientFactory
from tests.fixtures.guide import request

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not available(), reason="needs /usr/bin/prometheus and promtool"),
]

CHAIN = {"web-frontend", "orders-api", "inventory-api"}
# What is left of the incident's evidence: one annotation, no log line, no metric.
THIN = {
    "events": [
        {
            "type": "alert",
            "description": "web-frontend p95 latency above 2 s",
            "timestamp": format_instant(ONSET + timedelta(minutes=2)),
            "metadata": {"service": "web-frontend"},
        }
    ]
}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    with running_prometheus(
        tmp_path_factory.mktemp("prometheus-demo"), data_set=chain_openmetrics()
    ) as server:
        yield server


def _collectors(tmp_path: Path, url: str) -> str:
    config = tmp_path / "collectors.toml"
    config.write_text(
        f'[[collectors]]\nname = "prometheus-prod"\nbackend = "prometheus"\nendpoint = "{url}"\n'
        '\n[collectors.options]\nlabels = { environment = "env" }\n'
    )
    return str(config)


async def _investigated(
    prometheus: PrometheusServer,
    client_with: ClientFactory,
    analyst: dict[str, str],
    tmp_path: Path,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], Any]:
    """The first analysis, the finished investigation, its final analysis, and the client."""
    client, services = await client_with(collectors_file=_collectors(tmp_path, prometheus.url))
    body = request(
        sourceRef="demo-thin-chain",
        title="web-frontend is slow",
        timeline={
            "start": format_instant(ONSET),
            "end": format_instant(ONSET + timedelta(minutes=30)),
        },
        metadata={"service": "web-frontend", "environment": "production"},
        evidenceLite=THIN,
    )
    created = await client.post("/v1/incidents/ingest", json=body, headers=analyst)
    # Evidence was sent, so nothing is collected at ingest: the first diagnosis is the thin one.
    assert created.status_code == 201, created.text
    incident_id = created.json()["incidentId"]
    first = (
        await client.get(f"/v1/analyses/{created.json()['analysisId']}", headers=analyst)
    ).json()
    started = await client.post(
        f"/v1/incidents/{incident_id}/investigate",
        json={"maxIterations": 3, "confidenceTarget": 0.95},
        headers=analyst,
    )
    assert started.status_code == 202, started.text
    await services.runner.drain()
    session = (
        await client.get(f"/v1/investigations/{started.json()['sessionId']}", headers=analyst)
    ).json()
    final = (await client.get(f"/v1/analyses/{session['bestAnalysisId']}", headers=analyst)).json()
    return first, session, final, client


async def test_an_investigation_turns_a_thin_report_into_a_stronger_correct_diagnosis(
    prometheus: PrometheusServer,
    client_with: ClientFactory,
    analyst: dict[str, str],
    tmp_path: Path,
) -> None:
    first, session, final, _ = await _investigated(prometheus, client_with, analyst, tmp_path)
    assert first["result"]["culpritService"] != "orders-api"
    assert final["result"]["culpritService"] == "orders-api"
    leading = final["result"]["hypotheses"][0]
    assert (leading["culpritService"], leading["id"]) != (None, "UNKNOWN")
    assert final["overallConfidence"] > first["overallConfidence"]
    assert session["initialConfidence"] == pytest.approx(first["overallConfidence"])
    assert session["bestConfidence"] == pytest.approx(final["overallConfidence"])


async def test_the_iteration_records_show_the_neighbourhood_was_collected(
    prometheus: PrometheusServer,
    client_with: ClientFactory,
    analyst: dict[str, str],
    tmp_path: Path,
) -> None:
    _, session, _, client = await _investigated(prometheus, client_with, analyst, tmp_path)
    first = session["iterations"][0]
    assert first["requests"][0]["kind"] == "METRICS"
    approved = {d["kind"]: d for d in first["decisions"] if d["approved"]}
    assert approved["METRICS"]["collectors"] == ["prometheus"]
    # What no configured collector provides is refused, with the reason.
    assert all(d["code"] == "NO_ALLOWED_COLLECTOR" for d in first["decisions"] if not d["approved"])
    note = next(n for n in first["collection"] if n["source"] == "prometheus-prod")
    assert "orders-api (callee)" in note["detail"]
    assert first["confidenceAfter"] > first["confidenceBefore"]
    assert first["completenessAfter"] > first["completenessBefore"]
    bundle = (await client.get(f"/v1/evidence-bundles/{first['bundleId']}", headers=analyst)).json()
    series = [a for a in bundle["artifacts"] if a["kind"] == "metric_series"]
    assert {a["service"] for a in series} == CHAIN
    assert {a["source"] for a in bundle["artifacts"]} == {"evidenceLite", "prometheus-prod"}
