"""Demo scenarios: browse them (public), and analyse one as a SCENARIO incident (analyst).

Everything these routes return or create is labelled synthetic: the telemetry is generated,
not observed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from chronosops.bootstrap import Services
from chronosops.core.artifacts import ChangeEvent, MetricSeries
from chronosops.core.errors import (
    DisabledError,
    FieldError,
    InvalidInputError,
    field_errors_from_pydantic,
)
from chronosops.core.ingest_request import (
    DEFAULT_WINDOW_MINUTES,
    MAX_WINDOW_MINUTES,
    MIN_WINDOW_MINUTES,
)
from chronosops.core.timestamps import format_instant
from chronosops.investigation import run_scenario
from chronosops.scenarios import (
    MAX_VARIANT,
    SCENARIOS,
    GenerationOptions,
    Scenario,
    generate,
    get_scenario,
    render,
)
from chronosops.web.api.incidents import ERROR_RESPONSES, ingest_status, parse_json_body
from chronosops.web.deps import Analyst, ServicesDep
from chronosops.web.errors import INVALID_BODY

router = APIRouter(tags=["scenarios"])

MAX_SEED = 2**31 - 1
# The reference spec's legacy metric names for the reported service's series.
LEGACY_METRICS = {
    "latency_p95_ms": "p95_latency_ms",
    "error_ratio": "error_rate",
    "request_rate": "rps",
}


def _enabled(services: Services) -> None:
    if not services.settings.scenarios_enabled:
        raise DisabledError("Demo scenarios are switched off (CHRONOSOPS_SCENARIOS_ENABLED=false)")


def scenario_summary(scenario: Scenario) -> dict[str, Any]:
    topology = scenario.topology
    return {
        "scenarioId": scenario.id,
        "title": scenario.title,
        "description": render(scenario.description, topology),
        "category": scenario.category,
        "severity": scenario.severity,
        "tags": list(scenario.tags),
        "hardCase": scenario.hard_case,
        "synthetic": True,
        "reportedService": topology.name(scenario.reported),
        "rootCause": {
            "hypothesisId": scenario.hypothesis_id,
            "culpritService": topology.name(scenario.culprit),
        },
        "onset": format_instant(scenario.onset),
        "durationMinutes": scenario.duration_minutes,
    }


@router.get("/v1/scenarios", summary="The demo scenarios (public; synthetic)")
async def list_scenarios(services: ServicesDep) -> list[dict[str, Any]]:
    _enabled(services)
    return [scenario_summary(scenario) for scenario in SCENARIOS]


@router.get(
    "/v1/scenarios/{scenario_id}",
    summary="One scenario with its topology, changes and telemetry summary (public; synthetic)",
    responses={404: {"description": "Unknown scenario"}},
)
async def get_scenario_detail(
    scenario_id: str,
    services: ServicesDep,
    seed: Annotated[int, Query(ge=0, le=MAX_SEED)] = 0,
    variant: Annotated[int, Query(ge=0, le=MAX_VARIANT)] = 0,
) -> dict[str, Any]:
    _enabled(services)
    scenario = get_scenario(scenario_id)
    incident = generate(scenario.id, GenerationOptions(seed=seed, variant=variant))
    changes = [a for a in incident.artifacts if isinstance(a, ChangeEvent)]
    deploys = [c for c in changes if c.version_to]
    marker = min(deploys, key=lambda c: abs(c.timestamp - incident.truth.onset), default=None)
    metrics = []
    for artifact in incident.artifacts:
        if (
            isinstance(artifact, MetricSeries)
            and artifact.service == incident.service
            and artifact.name in LEGACY_METRICS
        ):
            metrics += [
                {
                    "serviceId": incident.service,
                    "metric": LEGACY_METRICS[artifact.name],
                    "timestamp": format_instant(point.ts),
                    "value": point.value,
                }
                for point in artifact.points
            ]
    body = scenario_summary(scenario)
    body.update(
        {
            "description": incident.description,
            "reportedService": incident.service,
            "rootCause": {
                "hypothesisId": incident.truth.hypothesis_id,
                "culpritService": incident.truth.culprit_service,
            },
            "seed": seed,
            "variant": variant,
            "region": incident.region,
            "environment": incident.environment,
            "window": incident.window.to_json(),
            "topology": incident.topology.edges_json(),
            "groundTruth": incident.truth.to_json(),
            "deployment": (
                {
                    "id": marker.artifact_id,
                    "serviceId": marker.service,
                    "versionFrom": marker.version_from,
                    "versionTo": marker.version_to,
                    "timestamp": format_instant(marker.timestamp),
                }
                if marker
                else None
            ),
            "changes": [c.model_dump(mode="json") for c in changes],
            "artifactCounts": incident.counts(),
            "metrics": metrics,
        }
    )
    return body


WindowMinutes = Annotated[int, Field(strict=True, ge=MIN_WINDOW_MINUTES, le=MAX_WINDOW_MINUTES)]


class AnalyzeScenarioRequest(BaseModel):
    """The reference spec's analyze body, plus an optional seed and topology variant."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, validate_by_alias=True, validate_by_name=False
    )

    scenario_id: Annotated[str, Field(strict=True, min_length=1, max_length=100)]
    window_minutes_before: WindowMinutes = DEFAULT_WINDOW_MINUTES
    window_minutes_after: WindowMinutes = DEFAULT_WINDOW_MINUTES
    seed: Annotated[int, Field(strict=True, ge=0, le=MAX_SEED)] = 0
    variant: Annotated[int, Field(strict=True, ge=0, le=MAX_VARIANT)] = 0


@router.post(
    "/v1/incidents/analyze",
    summary="Create and analyse a SCENARIO incident from a demo scenario (synthetic evidence)",
    status_code=201,
    responses={
        201: {"description": "Incident stored with the scenario's synthetic evidence and analysed"},
        404: {"description": "Unknown scenario"},
        **ERROR_RESPONSES,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": AnalyzeScenarioRequest.model_json_schema(by_alias=True)
                }
            },
        }
    },
)
async def analyze_scenario(
    request: Request, services: ServicesDep, principal: Analyst
) -> JSONResponse:
    _enabled(services)
    body = await parse_json_body(request)
    if not isinstance(body, dict):
        raise InvalidInputError(INVALID_BODY, [FieldError("", "the body must be a JSON object")])
    try:
        parsed = AnalyzeScenarioRequest.model_validate(body)
    except ValidationError as exc:
        raise InvalidInputError(INVALID_BODY, field_errors_from_pydantic(exc.errors())) from None
    scenario = get_scenario(parsed.scenario_id)
    run = await run_scenario(
        services.pipeline,
        scenario.id,
        GenerationOptions(
            seed=parsed.seed,
            variant=parsed.variant,
            minutes_before=parsed.window_minutes_before,
            minutes_after=parsed.window_minutes_after,
        ),
        # Every call is a new incident, as in the reference spec; identical evidence is still
        # stored once, because bundles are content-addressed.
        source_ref=f"{scenario.id}:{services.ids.new()}",
        principal=principal,
    )
    response = run.outcome.response.model_dump(mode="json")
    response.update(
        {
            "scenarioId": scenario.id,
            "synthetic": True,
            "groundTruth": {
                "hypothesisId": run.truth.hypothesis_id,
                "culpritService": run.truth.culprit_service,
            },
        }
    )
    return JSONResponse(response, status_code=ingest_status(run.outcome))
