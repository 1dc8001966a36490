"""Demo scenarios: browse them, preview their synthetic telemetry, analyse one.

The same library and use case as ``/v1/scenarios`` and ``POST /v1/incidents/analyze``:
`scenarios.generate` for the preview, `investigation.run_scenario` to make the incident.
"""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from chronosops.bootstrap import Services
from chronosops.core.artifacts import ChangeEvent, MetricSeries
from chronosops.core.errors import DisabledError, FieldError, InvalidInputError
from chronosops.core.ingest_request import (
    DEFAULT_WINDOW_MINUTES,
    MAX_WINDOW_MINUTES,
    MIN_WINDOW_MINUTES,
)
from chronosops.investigation import run_scenario
from chronosops.scenarios import MAX_VARIANT, SCENARIOS, GenerationOptions, generate, get_scenario
from chronosops.scenarios import render as render_text
from chronosops.web.deps import ServicesDep
from chronosops.web.pages.charts import metric_chart
from chronosops.web.pages.rendering import PageUser, render
from chronosops.web.pages.session import AnalystAction, CheckedForm, PageRoute, ViewerPage

log = structlog.get_logger("chronosops.console")

router = APIRouter(route_class=PageRoute)

MAX_SEED = 2**31 - 1
PREVIEW_CHARTS = 6


def enabled(services: Services) -> None:
    if not services.settings.scenarios_enabled:
        raise DisabledError("Demo scenarios are switched off (CHRONOSOPS_SCENARIOS_ENABLED=false)")


def scenario_choices() -> list[tuple[str, str]]:
    return [(scenario.id, scenario.title) for scenario in SCENARIOS]


@router.get("/scenarios", summary="Demo scenarios")
async def scenario_list(request: Request, services: ServicesDep, user: ViewerPage) -> Response:
    enabled(services)
    rows = [
        {
            "scenario": scenario,
            "description": render_text(scenario.description, scenario.topology),
            "reported": scenario.topology.name(scenario.reported),
        }
        for scenario in SCENARIOS
    ]
    return render(request, "scenarios/list.html", {"rows": rows}, user=user)


def _preview(
    request: Request,
    user: PageUser,
    scenario_id: str,
    *,
    seed: int,
    variant: int,
    before: int = DEFAULT_WINDOW_MINUTES,
    after: int = DEFAULT_WINDOW_MINUTES,
    error: InvalidInputError | None = None,
) -> Response:
    scenario = get_scenario(scenario_id)
    incident = generate(scenario.id, GenerationOptions(seed=seed, variant=variant))
    changes = sorted(
        (a for a in incident.artifacts if isinstance(a, ChangeEvent)), key=lambda c: c.timestamp
    )
    reported = [
        a
        for a in incident.artifacts
        if isinstance(a, MetricSeries) and a.service == incident.service
    ]
    charts = [
        (
            series,
            metric_chart(
                series,
                window=incident.window,
                incident_start=incident.start,
                incident_end=incident.end,
                changes=changes,
            ),
        )
        for series in reported[:PREVIEW_CHARTS]
    ]
    context = {
        "scenario": scenario,
        "incident": incident,
        "changes": changes,
        "charts": charts,
        "seed": seed,
        "variant": variant,
        "before": before,
        "after": after,
        "error": error,
        "limits": (MIN_WINDOW_MINUTES, MAX_WINDOW_MINUTES),
        "max_variant": MAX_VARIANT,
    }
    return render(
        request,
        "scenarios/detail.html",
        context,
        user=user,
        status_code=400 if error else 200,
    )


@router.get("/scenarios/{scenario_id}", summary="One scenario and its telemetry")
async def scenario_detail(
    scenario_id: str,
    request: Request,
    services: ServicesDep,
    user: ViewerPage,
    seed: Annotated[int, Query(ge=0, le=MAX_SEED)] = 0,
    variant: Annotated[int, Query(ge=0, le=MAX_VARIANT)] = 0,
) -> Response:
    enabled(services)
    return _preview(request, user, scenario_id, seed=seed, variant=variant)


def _bounded(
    form: dict[str, str], name: str, label: str, low: int, high: int, default: int
) -> tuple[int, FieldError | None]:
    text = form.get(name, "").strip()
    if not text:
        return default, None
    try:
        value = int(text)
    except ValueError:
        return default, FieldError(label, f"must be a whole number from {low} to {high}")
    if not low <= value <= high:
        return default, FieldError(label, f"must be from {low} to {high}")
    return value, None


@router.post("/scenarios/analyze", summary="Analyse a scenario as a new incident")
async def analyze_scenario(
    request: Request, services: ServicesDep, user: AnalystAction, form: CheckedForm
) -> Response:
    enabled(services)
    scenario = get_scenario(form.get("scenario", ""))
    before, before_error = _bounded(
        form,
        "before",
        "windowMinutesBefore",
        MIN_WINDOW_MINUTES,
        MAX_WINDOW_MINUTES,
        DEFAULT_WINDOW_MINUTES,
    )
    after, after_error = _bounded(
        form,
        "after",
        "windowMinutesAfter",
        MIN_WINDOW_MINUTES,
        MAX_WINDOW_MINUTES,
        DEFAULT_WINDOW_MINUTES,
    )
    seed, seed_error = _bounded(form, "seed", "seed", 0, MAX_SEED, 0)
    variant, variant_error = _bounded(form, "variant", "variant", 0, MAX_VARIANT, 0)
    problems = [e for e in (before_error, after_error, seed_error, variant_error) if e]
    if problems:
        return _preview(
            request,
            user,
            scenario.id,
            seed=seed,
            variant=variant,
            before=before,
            after=after,
            error=InvalidInputError("The analysis was not started", problems),
        )
    run = await run_scenario(
        services.pipeline,
        scenario.id,
        GenerationOptions(seed=seed, variant=variant, minutes_before=before, minutes_after=after),
        source_ref=f"{scenario.id}:{services.ids.new()}",
        principal=user.principal,
    )
    incident_id = run.outcome.response.incident_id
    log.info("console.scenario_analyzed", scenario_id=scenario.id, incident_id=incident_id)
    return RedirectResponse(f"/incidents/{incident_id}?done=scenario", status_code=303)


def scenario_context(services: Services) -> dict[str, Any]:
    """What the New incident page needs to offer a scenario run."""
    return {
        "scenarios_enabled": services.settings.scenarios_enabled,
        "scenario_choices": scenario_choices() if services.settings.scenarios_enabled else [],
        "window_limits": (MIN_WINDOW_MINUTES, MAX_WINDOW_MINUTES),
        "window_default": DEFAULT_WINDOW_MINUTES,
    }
