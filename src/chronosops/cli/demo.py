"""``chronosops demo``: analysed demo incidents in one command, through the real pipeline."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from chronosops.cli.errors import fail, failures_reported
from chronosops.cli.incidents import cli_principal
from chronosops.cli.local_prometheus import find_programs
from chronosops.cli.settings import resolve_migrated, services_for
from chronosops.config import Settings
from chronosops.core.ingest_request import MAX_WINDOW_MINUTES, MIN_WINDOW_MINUTES
from chronosops.scenarios import BY_ID, FIELD_BY_ID, MAX_VARIANT, SCENARIOS, GenerationOptions

if TYPE_CHECKING:
    from chronosops.bootstrap import Services
    from chronosops.investigation import InvestigateRequest

# Its report names checkout-api; the fault is a flag on pricing-service, which only the
# neighbourhood's metrics show.
DEFAULT_INVESTIGATION_SCENARIO = "feature-flag-regression"

out = Console()
err = Console(stderr=True)


@dataclass(frozen=True)
class DemoRow:
    scenario_id: str
    incident_id: str
    status: str
    http_status: int
    top: str | None
    confidence: float | None
    culprit: str | None
    expected: str
    expected_culprit: str

    @property
    def matches(self) -> bool:
        return self.top == self.expected and self.culprit == self.expected_culprit

    def to_json(self) -> dict[str, Any]:
        return {
            "scenarioId": self.scenario_id,
            "incidentId": self.incident_id,
            "status": self.status,
            "httpStatus": self.http_status,
            "topHypothesisId": self.top,
            "confidence": self.confidence,
            "culpritService": self.culprit,
            "expected": {"hypothesisId": self.expected, "culpritService": self.expected_culprit},
            "matches": self.matches,
            "synthetic": True,
        }


async def _run(
    services: Services,
    scenario_ids: list[str],
    options: GenerationOptions,
    *,
    fresh: bool,
    quiet: bool,
) -> list[DemoRow]:
    from chronosops.investigation import run_scenario  # on use, not at start-up

    rows: list[DemoRow] = []
    try:
        with Progress(console=err, transient=True, disable=quiet) as progress:
            task = progress.add_task("Analysing demo scenarios", total=len(scenario_ids))
            for scenario_id in scenario_ids:
                progress.update(task, description=f"Analysing {scenario_id}")
                suffix = (
                    services.ids.new()
                    if fresh
                    else (
                        f"demo-s{options.seed}-v{options.variant}"
                        f"-w{options.minutes_before}-{options.minutes_after}"
                    )
                )
                run = await run_scenario(
                    services.pipeline,
                    scenario_id,
                    options,
                    source_ref=f"{scenario_id}:{suffix}",
                    principal=cli_principal(),
                )
                response = run.outcome.response
                top = confidence = culprit = None
                if response.analysis_id:
                    async with services.database.unit_of_work(write=False) as session:
                        analysis = await services.reasoning.get(session, response.analysis_id)
                    first = analysis.result["hypotheses"][0]
                    top, confidence = first["id"], first["confidence"]
                    culprit = analysis.result["culpritService"]
                rows.append(
                    DemoRow(
                        scenario_id=scenario_id,
                        incident_id=response.incident_id,
                        status=response.status,
                        http_status=201 if run.outcome.created else 200,
                        top=top,
                        confidence=confidence,
                        culprit=culprit,
                        expected=run.truth.hypothesis_id,
                        expected_culprit=run.truth.culprit_service,
                    )
                )
                progress.advance(task)
    finally:
        await services.aclose()
    return rows


def _investigations(
    settings: Settings,
    scenario_ids: list[str],
    options: GenerationOptions,
    body: InvestigateRequest,
    *,
    as_json: bool,
) -> None:
    # The investigation loop and the application: on use, not at the CLI's start-up.
    from chronosops.cli.demo_investigation import investigate_scenario, print_demo

    programs = find_programs()
    demos = []
    for scenario_id in scenario_ids:
        if not as_json:
            err.print(f"Investigating {scenario_id} against a local Prometheus …")
        ran = investigate_scenario(settings, programs, scenario_id, options, body)
        demos.append(ran)
        if as_json:
            typer.echo(json.dumps(ran.to_json()))
        else:
            print_demo(ran)
    if any(ran.session.status == "failed" for ran in demos):
        failures_reported()


def demo(
    scenario_ids: list[str] | None = typer.Argument(
        None, help="scenario ids to run (all of them when none are given)"
    ),
    seed: int = typer.Option(0, min=0, help="random seed of the generated telemetry"),
    variant: int = typer.Option(
        0, min=0, max=MAX_VARIANT, help="topology variant: 0 = canonical service names"
    ),
    window_before: int = typer.Option(
        15, min=MIN_WINDOW_MINUTES, max=MAX_WINDOW_MINUTES, help="minutes before the start"
    ),
    window_after: int = typer.Option(
        15, min=MIN_WINDOW_MINUTES, max=MAX_WINDOW_MINUTES, help="minutes after the end"
    ),
    fresh: bool = typer.Option(
        False, help="new incidents every run (by default a rerun finds the incidents it made)"
    ),
    list_only: bool = typer.Option(False, "--list", help="list the scenarios and exit"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
    investigate: bool = typer.Option(
        False,
        "--investigate",
        help=(
            "report each scenario with thin evidence (alert and changes; logs and traces "
            "dropped), backfill its metrics into a local Prometheus (prometheus and promtool "
            f"on PATH) and investigate it; default scenario {DEFAULT_INVESTIGATION_SCENARIO}"
        ),
    ),
    max_iterations: int = typer.Option(
        5, min=1, max=10, help="with --investigate: the investigation's maxIterations"
    ),
    confidence_target: float = typer.Option(
        0.8, min=0.5, max=0.99, help="with --investigate: the investigation's confidenceTarget"
    ),
) -> None:
    """Create and analyse demo incidents from the scenario library (synthetic evidence).

    With --investigate, show the investigation loop instead: thin evidence first, then the
    metrics an investigation fetches from Prometheus, compared with the known root cause."""
    if list_only:
        table = Table("scenario", "title", "known root cause", "culprit")
        for scenario in SCENARIOS:
            table.add_row(
                scenario.id,
                scenario.title,
                scenario.hypothesis_id,
                scenario.topology.name(scenario.culprit),
            )
        out.print(table)
        return
    if investigate:
        chosen = list(scenario_ids or [DEFAULT_INVESTIGATION_SCENARIO])
    else:
        chosen = list(scenario_ids or [s.id for s in SCENARIOS])
    # Field scenarios run when named; "all" is the demo library.
    unknown = [s for s in chosen if s not in BY_ID and s not in FIELD_BY_ID]
    if unknown:
        fail(
            f"unknown scenario {', '.join(unknown)}; `chronosops demo --list` shows the "
            f"{len(SCENARIOS)} there are"
        )
    settings = resolve_migrated()
    if not settings.scenarios_enabled:
        fail("demo scenarios are switched off (CHRONOSOPS_SCENARIOS_ENABLED=false)")
    options = GenerationOptions(
        seed=seed, variant=variant, minutes_before=window_before, minutes_after=window_after
    )
    if investigate:
        from chronosops.investigation import InvestigateRequest  # on use, not at start-up

        _investigations(
            settings,
            chosen,
            options,
            InvestigateRequest(max_iterations=max_iterations, confidence_target=confidence_target),
            as_json=as_json,
        )
        return
    rows = asyncio.run(_run(services_for(settings), chosen, options, fresh=fresh, quiet=as_json))
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row.to_json()))
    else:
        table = Table(
            "scenario",
            "incident",
            "status",
            "top hypothesis",
            "culprit",
            "known root cause",
            "match",
            title="Demo incidents — synthetic evidence generated by the scenarios",
        )
        for row in rows:
            table.add_row(
                row.scenario_id,
                row.incident_id,
                row.status,
                f"{row.top} ({row.confidence:.2f})" if row.top else "-",
                row.culprit or "-",
                f"{row.expected} on {row.expected_culprit}",
                "✓" if row.matches else "✗",
            )
        out.print(table)
        matched = sum(row.matches for row in rows)
        out.print(
            f"{matched}/{len(rows)} analyses name the known root cause and culprit. "
            "Read one with `chronosops incidents show ID`."
        )
    if any(row.status == "failed" for row in rows):
        failures_reported()
