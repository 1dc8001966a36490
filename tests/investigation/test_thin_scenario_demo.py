"""The demo of issue 13 on the scenario library: an incident of `chronosops demo` reported with
thin evidence (its logs and traces dropped, its metrics not sent but backfilled into a real
Prometheus) is diagnosed weakly at first; an investigation started through the real server
goes to that Prometheus for the metrics and names the scenario's known root cause and culprit
with more confidence.

feature-flag-regression is the hard case: the alert names checkout-api, the fault is a flag on
pricing-service, which only the neighbourhood's metrics (found through the service graph) show.
memory-leak is the plain one: the alerting service is the culprit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from chronosops.scenarios import GeneratedIncident, GenerationOptions, generate
from chronosops.scenarios.openmetrics import openmetrics, prometheus_queries
from chronosops.scenarios.thin_report import thin_report
from tests.collectors.prometheus_server import PrometheusServer, available, running_prometheus
from tests.fixtures.app import make_settings
from tests.fixtures.live_server import live_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not available(), reason="needs /usr/bin/prometheus and promtool"),
]

# Metrics are generated (to be backfilled); logs and traces are dropped for good.
BACKFILLED = GenerationOptions(drop=frozenset({"logs", "traces"}))
SESSION_SECONDS = 60


@pytest.fixture(scope="module", params=["feature-flag-regression", "memory-leak"])
def scenario(request: pytest.FixtureRequest) -> GeneratedIncident:
    return generate(request.param, BACKFILLED)


@pytest.fixture(scope="module")
def prometheus(
    scenario: GeneratedIncident, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    with running_prometheus(
        tmp_path_factory.mktemp(f"prometheus-{scenario.scenario_id}"),
        data_set=openmetrics(scenario),
    ) as server:
        yield server


def _collectors(tmp_path: Path, url: str, scenario: GeneratedIncident) -> str:
    config = tmp_path / "collectors.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "collectors": [
                    {
                        "name": "prometheus-demo",
                        "backend": "prometheus",
                        "endpoint": url,
                        "options": {
                            "labels": {"environment": "env"},
                            "queries": prometheus_queries(scenario),
                        },
                    }
                ]
            }
        )
    )
    return str(config)


async def _finished(http: httpx.AsyncClient, session_id: str) -> dict[str, Any]:
    for _ in range(SESSION_SECONDS * 10):
        session: dict[str, Any] = (await http.get(f"/v1/investigations/{session_id}")).json()
        if session["status"] != "running":
            return session
        await asyncio.sleep(0.1)
    raise AssertionError(f"investigation {session_id} still running after {SESSION_SECONDS} s")


async def _demo(
    scenario: GeneratedIncident,
    prometheus: PrometheusServer,
    database_url: str,
    analyst: dict[str, str],
    tmp_path: Path,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The first analysis, the finished session, its best analysis and the second bundle."""
    settings = make_settings(
        database_url, collectors_file=_collectors(tmp_path, prometheus.url, scenario)
    )
    with live_server(settings) as server:
        async with httpx.AsyncClient(base_url=server.url, headers=analyst, timeout=30) as http:
            created = await http.post(
                "/v1/incidents/ingest",
                json=thin_report(scenario, source_ref=f"thin:{scenario.scenario_id}"),
            )
            assert created.status_code == 201, created.text
            body = created.json()
            first = (await http.get(f"/v1/analyses/{body['analysisId']}")).json()
            started = await http.post(
                f"/v1/incidents/{body['incidentId']}/investigate",
                json={"maxIterations": 3, "confidenceTarget": 0.9},
            )
            assert started.status_code == 202, started.text
            session = await _finished(http, started.json()["sessionId"])
            final = (await http.get(f"/v1/analyses/{session['bestAnalysisId']}")).json()
            bundle = (
                await http.get(f"/v1/evidence-bundles/{session['iterations'][0]['bundleId']}")
            ).json()
    return first, session, final, bundle


async def test_the_investigation_names_the_known_cause_with_more_confidence(
    scenario: GeneratedIncident,
    prometheus: PrometheusServer,
    database_url: str,
    analyst: dict[str, str],
    tmp_path: Path,
) -> None:
    first, session, final, _ = await _demo(scenario, prometheus, database_url, analyst, tmp_path)
    truth = scenario.truth
    # The thin report alone does not carry the diagnosis.
    assert (first["result"]["hypotheses"][0]["id"], first["result"]["culpritService"]) != (
        truth.hypothesis_id,
        truth.culprit_service,
    )
    assert final["result"]["hypotheses"][0]["id"] == truth.hypothesis_id
    assert final["result"]["culpritService"] == truth.culprit_service
    assert final["overallConfidence"] >= 0.9 > first["overallConfidence"]
    assert (session["status"], session["stopCode"]) == ("completed", "TARGET_REACHED")
    assert session["initialConfidence"] == pytest.approx(first["overallConfidence"])
    assert session["bestConfidence"] == pytest.approx(final["overallConfidence"])


async def test_the_iteration_record_shows_the_gate_and_what_prometheus_gave(
    scenario: GeneratedIncident,
    prometheus: PrometheusServer,
    database_url: str,
    analyst: dict[str, str],
    tmp_path: Path,
) -> None:
    _, session, _, bundle = await _demo(scenario, prometheus, database_url, analyst, tmp_path)
    [iteration] = session["iterations"]
    assert iteration["requests"][0]["kind"] == "METRICS"
    decisions = {d["kind"]: d for d in iteration["decisions"]}
    assert decisions["METRICS"]["approved"] is True
    assert decisions["METRICS"]["collectors"] == ["prometheus"]
    # Logs and traces were asked for too; no configured collector has them, and the record says so.
    for kind in ("LOGS", "TRACES"):
        assert (decisions[kind]["approved"], decisions[kind]["code"]) == (
            False,
            "NO_ALLOWED_COLLECTOR",
        )
        assert "allowed: prometheus" in decisions[kind]["reason"]
    assert iteration["confidenceAfter"] > iteration["confidenceBefore"]
    [note] = [n for n in iteration["collection"] if n["source"] == "prometheus-demo"]
    assert note["status"] == "ok"
    series = [a for a in bundle["artifacts"] if a["kind"] == "metric_series"]
    assert {a["source"] for a in series} == {"prometheus-demo"}
    assert scenario.truth.culprit_service in {a["service"] for a in series}
    assert not [a for a in bundle["artifacts"] if a["kind"] in ("log_template", "span_group")]
