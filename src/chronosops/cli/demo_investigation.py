"""``chronosops demo SCENARIO --investigate``: the investigation loop shown on a scenario whose
evidence arrives thin.

The scenario's incident is reported with its alert and recorded changes only (logs and traces
dropped); its metrics are backfilled into a Prometheus of the demo's own (the ``prometheus`` and
``promtool`` on PATH), which is the only collector the demo configures. The first analysis has
little to go on; the investigation asks for the missing evidence, the gate lets the metrics
through, and the re-analysis is compared with the scenario's known root cause.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from chronosops.bootstrap import Services
from chronosops.cli.errors import fail
from chronosops.cli.incidents import cli_principal
from chronosops.cli.local_prometheus import Programs, running_prometheus
from chronosops.cli.settings import services_for
from chronosops.config import Settings
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.investigation import InvestigateRequest, InvestigationRead
from chronosops.reasoning import AnalysisRead
from chronosops.scenarios import EvidenceKind, GeneratedIncident, GenerationOptions, generate
from chronosops.scenarios.openmetrics import openmetrics, prometheus_queries
from chronosops.scenarios.thin_report import thin_report

COLLECTOR = "prometheus-demo"
# Logs and traces are dropped for good; metrics are generated to be backfilled, never sent.
THIN_DROP: frozenset[EvidenceKind] = frozenset({"logs", "traces"})
POLL_SECONDS = 0.2
WAIT_SECONDS = 120.0

out = Console()
err = Console(stderr=True)


@dataclass(frozen=True)
class Diagnosis:
    analysis_id: str
    hypothesis: str
    culprit: str | None
    confidence: float

    @classmethod
    def of(cls, analysis: AnalysisRead) -> Diagnosis:
        return cls(
            analysis_id=analysis.analysis_id,
            hypothesis=str(analysis.result["hypotheses"][0]["id"]),
            culprit=analysis.culprit_service,
            confidence=analysis.overall_confidence,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "analysisId": self.analysis_id,
            "topHypothesisId": self.hypothesis,
            "culpritService": self.culprit,
            "confidence": self.confidence,
        }

    def text(self) -> str:
        return f"{self.hypothesis} on {self.culprit or '-'} ({self.confidence:.2f})"


@dataclass(frozen=True)
class InvestigationDemo:
    scenario_id: str
    incident_id: str
    prometheus_url: str
    first: Diagnosis
    final: Diagnosis
    session: InvestigationRead
    expected: str
    expected_culprit: str
    iterations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return (self.final.hypothesis, self.final.culprit) == (self.expected, self.expected_culprit)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenarioId": self.scenario_id,
            "incidentId": self.incident_id,
            "sessionId": self.session.session_id,
            "status": self.session.status,
            "stopCode": self.session.stop_code,
            "reason": self.session.reason,
            "first": self.first.to_json(),
            "final": self.final.to_json(),
            "expected": {"hypothesisId": self.expected, "culpritService": self.expected_culprit},
            "matches": self.matches,
            "iterations": self.iterations,
            "synthetic": True,
        }


def _collectors_file(workdir: Path, url: str, incident: GeneratedIncident) -> Path:
    path = workdir / "collectors.yaml"
    config = {
        "collectors": [
            {
                "name": COLLECTOR,
                "backend": "prometheus",
                "endpoint": url,
                "options": {
                    "labels": {"environment": "env"},
                    "queries": prometheus_queries(incident),
                },
            }
        ]
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


async def _analysis(services: Services, analysis_id: str) -> AnalysisRead:
    async with services.database.unit_of_work(write=False) as session:
        return await services.reasoning.get(session, analysis_id)


async def _finished(services: Services, session_id: str) -> InvestigationRead:
    """Run the session's job here; if a `chronosops worker` took it, wait for the worker."""
    await services.runner.drain()
    waited = 0.0
    while True:
        async with services.database.unit_of_work(write=False) as session:
            read = await services.investigations.get(session, session_id)
        if read.status != "running":
            return read
        if waited > WAIT_SECONDS:
            fail(f"investigation {session_id} still running after {WAIT_SECONDS:.0f} s")
        await asyncio.sleep(POLL_SECONDS)
        waited += POLL_SECONDS
        await services.runner.drain()


async def _investigate(
    services: Services,
    incident: GeneratedIncident,
    body: InvestigateRequest,
    *,
    prometheus_url: str,
) -> InvestigationDemo:
    try:
        request = IngestIncidentRequest.model_validate(
            thin_report(incident, source_ref=f"thin:{incident.scenario_id}:{services.ids.new()}")
        )
        outcome = await services.pipeline.ingest(request, principal=cli_principal())
        analysis_id = outcome.response.analysis_id
        if analysis_id is None:
            fail(f"the thin report of {incident.scenario_id} was not analysed")
        first = await _analysis(services, analysis_id)
        started = await services.investigations.start(
            outcome.response.incident_id, body, principal=cli_principal()
        )
        session = await _finished(services, started.session_id)
        final = await _analysis(services, session.best_analysis_id or analysis_id)
    finally:
        await services.aclose()
    return InvestigationDemo(
        scenario_id=incident.scenario_id,
        incident_id=outcome.response.incident_id,
        prometheus_url=prometheus_url,
        first=Diagnosis.of(first),
        final=Diagnosis.of(final),
        session=session,
        expected=incident.truth.hypothesis_id,
        expected_culprit=incident.truth.culprit_service,
        iterations=[
            {
                "iteration": it.iteration,
                "decisions": [
                    {k: d[k] for k in ("kind", "approved", "code", "reason") if k in d}
                    for d in it.decisions
                ],
                "confidenceBefore": it.confidence_before,
                "confidenceAfter": it.confidence_after,
                "outcome": it.outcome,
            }
            for it in session.iterations
        ],
    )


def investigate_scenario(
    settings: Settings,
    programs: Programs,
    scenario_id: str,
    options: GenerationOptions,
    body: InvestigateRequest,
) -> InvestigationDemo:
    """One scenario through the demo, with a Prometheus started for it and stopped after."""
    incident = generate(scenario_id, replace(options, drop=THIN_DROP))
    with tempfile.TemporaryDirectory(prefix="chronosops-demo-") as scratch:
        workdir = Path(scratch)
        with running_prometheus(programs, workdir, openmetrics(incident)) as prometheus:
            demo_settings = settings.model_copy(
                update={
                    "collectors_file": _collectors_file(workdir, prometheus.url, incident),
                    "collectors_allow": "*",
                    # A rerun must open an incident of its own, not join the last one.
                    "alert_grouping_windows": {},
                }
            )
            return asyncio.run(
                _investigate(
                    services_for(demo_settings), incident, body, prometheus_url=prometheus.url
                )
            )


def print_demo(demo: InvestigationDemo) -> None:
    table = Table(
        "",
        "diagnosis",
        title=f"{demo.scenario_id}: thin evidence, then an investigation against Prometheus",
    )
    table.add_row("reported with", "the alert and recorded changes (logs and traces dropped)")
    table.add_row("first analysis", demo.first.text())
    for it in demo.iterations:
        gate = "; ".join(
            f"{d['kind']} {'approved' if d['approved'] else d['code']}" for d in it["decisions"]
        )
        table.add_row(f"iteration {it['iteration']}", f"{gate} → {it['outcome']}")
    table.add_row("final analysis", demo.final.text())
    table.add_row("known root cause", f"{demo.expected} on {demo.expected_culprit}")
    table.add_row("match", "✓" if demo.matches else "✗")
    out.print(table)
    out.print(
        f"Investigation {demo.session.session_id}: {demo.session.status} "
        f"({demo.session.reason}). Read it with `chronosops incidents show {demo.incident_id}` "
        f"or GET /v1/investigations/{demo.session.session_id}."
    )
