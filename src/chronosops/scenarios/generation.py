"""Generating an incident from a scenario: options in, artifacts and ground truth out."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from chronosops.core.artifacts import Artifact
from chronosops.core.errors import FieldError, InvalidInputError, NotFoundError
from chronosops.core.windows import TimeWindow, incident_window
from chronosops.scenarios.code_faults import PATH_BY_ID
from chronosops.scenarios.conventions import Style, choose_style, native_style
from chronosops.scenarios.field import FIELD_BY_ID, FIELD_BYSTANDERS, FIELD_NAME_POOLS
from chronosops.scenarios.library import BY_ID
from chronosops.scenarios.model import (
    CONVENTIONS,
    EVIDENCE_KINDS,
    MAX_JITTER_MINUTES,
    MAX_VARIANT,
    GeneratedIncident,
    GenerationOptions,
    GroundTruth,
    Scenario,
    Topology,
)
from chronosops.scenarios.simulation import simulate
from chronosops.scenarios.telemetry import Telemetry, stream
from chronosops.scenarios.topology import variant_region, variant_topology

_SERVICE_REF = re.compile(r"\{svc:([a-z0-9_]+)\}")


class UnknownScenarioError(NotFoundError):
    code = "scenario-not-found"

    def __init__(self, scenario_id: str) -> None:
        super().__init__(f"Scenario not found: {scenario_id}")
        self.scenario_id = scenario_id


ALL_BY_ID: dict[str, Scenario] = {**BY_ID, **FIELD_BY_ID, **PATH_BY_ID}


def get_scenario(scenario_id: str) -> Scenario:
    try:
        return ALL_BY_ID[scenario_id]
    except KeyError:
        raise UnknownScenarioError(scenario_id) from None


def style_of(scenario: Scenario, topology: Topology, options: GenerationOptions) -> Style:
    """The naming conventions of this incident: the house style, or a mix the seed draws."""
    if options.conventions == "native" and scenario.family == "default":
        return native_style(topology)
    # Units vary in the default suite's mixed conventions; the field library keeps its own.
    return choose_style(
        f"{scenario.id}/{options.seed}", topology, vary_units=scenario.family == "default"
    )


def render(text: str, topology: Topology) -> str:
    """A scenario text with ``{svc:key}`` replaced by the service names of this topology."""
    return _SERVICE_REF.sub(lambda m: topology.name(m.group(1)), text)


def _seed(scenario: Scenario, options: GenerationOptions) -> str:
    return f"{scenario.id}/{options.seed}/{options.variant}/{options.noise:.3f}"


def real_onset(scenario: Scenario, options: GenerationOptions, start: datetime) -> datetime:
    """When the fault really began relative to the reported start (the timing jitter)."""
    if options.jitter_minutes == 0:
        return start
    rng = stream(_seed(scenario, options), f"timing/{options.jitter_minutes}")
    # Alerts lag the fault more often than they lead it.
    offset = rng.uniform(-options.jitter_minutes, options.jitter_minutes / 2)
    return start + timedelta(seconds=round(offset * 60))


def fault_free(scenario: Scenario) -> Scenario:
    """The scenario's system on a day without its fault: no effects, no changes, none of the
    lines the fault writes from its onset on (lines driven by what the simulation says happens
    stay: without the fault they are what the system usually writes), no step skipped."""
    return replace(
        scenario,
        effects=(),
        changes=(),
        skipped=None,
        logs=tuple(rule for rule in scenario.logs if rule.driver != "after_onset"),
    )


def generate(
    scenario_id: str,
    options: GenerationOptions | None = None,
    *,
    with_telemetry: bool = True,
    without_fault: int = 0,
) -> GeneratedIncident:
    """The incident ``scenario_id`` describes, as ``options`` vary it; same options, same bytes.

    ``with_telemetry=False`` skips the simulation: the incident's description and ground truth
    (without the red herrings only the telemetry reveals), cheaply. ``without_fault=k`` (1, 2, …):
    the same system (names, conventions, instrumentation) and window with the fault left out
    (`fault_free`) on its k-th other day, its own random draws: the evidence of an ordinary day
    (the history of earlier incidents, `investigation.benchmark`).
    """
    scenario = get_scenario(scenario_id)
    if without_fault:
        scenario = fault_free(scenario)
    options = options or GenerationOptions()
    topology = _topology(scenario, options)
    start = options.start or scenario.onset
    end = options.end or start + timedelta(minutes=scenario.duration_minutes)
    onset = real_onset(scenario, options, start)
    window = incident_window(
        start=start,
        end=end,
        minutes_before=options.minutes_before,
        minutes_after=options.minutes_after,
    )
    seed = _seed(scenario, options) + (f"/day{without_fault}" if without_fault else "")
    began = onset + timedelta(minutes=min([0.0, *(e.shape.start for e in scenario.effects)]))
    if not with_telemetry:
        return GeneratedIncident(
            scenario_id=scenario.id,
            title=scenario.title,
            description=render(scenario.description, topology),
            severity=scenario.severity,
            service=topology.name(scenario.reported),
            region=variant_region(scenario.region, options.variant),
            environment=scenario.environment,
            start=start,
            end=end,
            window=window,
            options=options,
            truth=_truth(scenario, topology, began, ()),
            topology=topology,
        )
    telemetry = _telemetry(
        scenario, topology, options, onset=onset, start=start, window=window, seed=seed
    )
    artifacts: list[Artifact] = []
    if "metrics" not in options.drop:
        artifacts += telemetry.metrics()
    if "logs" not in options.drop:
        artifacts += telemetry.logs()
        if "traces" not in options.drop:
            artifacts += telemetry.statements()
    if "traces" not in options.drop:
        artifacts += telemetry.spans()
    if "changes" not in options.drop:
        artifacts += telemetry.changes(window_end=window.end, environment=scenario.environment)
    truth = _truth(scenario, topology, began, tuple(telemetry.red_herrings))
    return GeneratedIncident(
        scenario_id=scenario.id,
        title=scenario.title,
        description=render(scenario.description, topology),
        severity=scenario.severity,
        service=topology.name(scenario.reported),
        region=variant_region(scenario.region, options.variant),
        environment=scenario.environment,
        start=start,
        end=end,
        window=window,
        options=options,
        truth=truth,
        topology=topology,
        artifacts=tuple(artifacts),
    )


def telemetry_of(scenario_id: str, options: GenerationOptions | None = None) -> Telemetry:
    """The telemetry `generate` reads ``scenario_id``'s incident from, before it becomes
    artifacts: what a test needs to see beneath them (the joined traces' spans)."""
    scenario = get_scenario(scenario_id)
    options = options or GenerationOptions()
    topology = _topology(scenario, options)
    start = options.start or scenario.onset
    end = options.end or start + timedelta(minutes=scenario.duration_minutes)
    window = incident_window(
        start=start,
        end=end,
        minutes_before=options.minutes_before,
        minutes_after=options.minutes_after,
    )
    onset = real_onset(scenario, options, start)
    return _telemetry(
        scenario,
        topology,
        options,
        onset=onset,
        start=start,
        window=window,
        seed=_seed(scenario, options),
    )


def _topology(scenario: Scenario, options: GenerationOptions) -> Topology:
    return (
        variant_topology(
            scenario.id,
            scenario.topology,
            options.variant,
            pools=FIELD_NAME_POOLS,
            bystander_names=FIELD_BYSTANDERS,
        )
        if scenario.family == "field"
        else variant_topology(scenario.id, scenario.topology, options.variant)
    )


def _telemetry(
    scenario: Scenario,
    topology: Topology,
    options: GenerationOptions,
    *,
    onset: datetime,
    start: datetime,
    window: TimeWindow,
    seed: str,
) -> Telemetry:
    run = simulate(
        scenario,
        topology,
        onset=onset,
        start=window.start.replace(second=0, microsecond=0),
        end=window.end,
        rng=random.Random(f"{seed}/simulation"),
        noise=options.noise,
    )
    source = f"scenario:{scenario.id}"
    return Telemetry(
        scenario,
        topology,
        run,
        onset=onset,
        reported_start=start,
        seed=seed,
        noise=options.noise,
        source=source,
        style=style_of(scenario, topology, options),
    )


def _truth(
    scenario: Scenario, topology: Topology, began: datetime, red_herrings: tuple[str, ...]
) -> GroundTruth:
    return GroundTruth(
        scenario_id=scenario.id,
        hypothesis_id=scenario.hypothesis_id,
        culprit_service=topology.name(scenario.culprit),
        reported_service=topology.name(scenario.reported),
        onset=began.replace(microsecond=0),
        explanation=scenario.explanation,
        red_herrings=red_herrings,
    )


def scenario_id_of(source_ref: str) -> str | None:
    """The scenario a SCENARIO incident's ``sourceRef`` names: ``<id>`` or ``<id>:<anything>``."""
    candidate = source_ref.split(":", 1)[0].strip()
    return candidate if candidate in ALL_BY_ID else None


OPTIONS_PATH = "metadata.customFields.scenario"
OPTION_NAMES = ("seed", "variant", "noise", "jitterMinutes", "drop", "conventions")


def options_from_fields(
    fields: Any,
    *,
    start: datetime,
    end: datetime | None,
    minutes_before: int,
    minutes_after: int,
) -> GenerationOptions:
    """Options from an incident's ``metadata.customFields.scenario`` (all optional).

    Raises `InvalidInputError` naming the field when a value breaks its rule.
    """
    errors: list[FieldError] = []
    if fields is not None and not isinstance(fields, dict):
        raise InvalidInputError(
            "Invalid scenario options",
            [
                FieldError(
                    OPTIONS_PATH,
                    f"must be an object of {', '.join(OPTION_NAMES)}",
                )
            ],
        )
    data: dict[str, Any] = fields or {}
    # A misspelt option would otherwise generate the defaults without a word.
    errors.extend(
        FieldError(f"{OPTIONS_PATH}.{name}", f"unknown field; known: {', '.join(OPTION_NAMES)}")
        for name in sorted(set(data) - set(OPTION_NAMES))
    )

    def integer(name: str, default: int, low: int, high: int | None) -> int:
        value = data.get(name, default)
        path = f"{OPTIONS_PATH}.{name}"
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(FieldError(path, "must be an integer"))
            return default
        if value < low or (high is not None and value > high):
            rule = f"must be {low}–{high}" if high is not None else f"must be {low} or more"
            errors.append(FieldError(path, rule))
            return default
        return value

    noise = data.get("noise", GenerationOptions.noise)
    if isinstance(noise, bool) or not isinstance(noise, int | float) or not 0 <= noise <= 1:
        errors.append(FieldError(f"{OPTIONS_PATH}.noise", "must be a number 0–1"))
        noise = GenerationOptions.noise
    drop = data.get("drop", [])
    if not isinstance(drop, list) or not all(item in EVIDENCE_KINDS for item in drop):
        errors.append(
            FieldError(f"{OPTIONS_PATH}.drop", f"must be a list of {', '.join(EVIDENCE_KINDS)}")
        )
        drop = []
    conventions = data.get("conventions", "native")
    if conventions not in CONVENTIONS:
        errors.append(
            FieldError(f"{OPTIONS_PATH}.conventions", f"must be one of {', '.join(CONVENTIONS)}")
        )
        conventions = "native"
    seed = integer("seed", 0, 0, None)
    variant = integer("variant", 0, 0, MAX_VARIANT)
    jitter = integer("jitterMinutes", 0, 0, MAX_JITTER_MINUTES)
    if errors:
        raise InvalidInputError("Invalid scenario options", errors)
    try:
        return GenerationOptions(
            seed=seed,
            variant=variant,
            noise=float(noise),
            jitter_minutes=jitter,
            drop=frozenset(drop),
            start=start,
            end=end,
            minutes_before=minutes_before,
            minutes_after=minutes_after,
            conventions=conventions,
        )
    except ValueError as exc:
        raise InvalidInputError(
            "Invalid scenario options",
            [FieldError(OPTIONS_PATH, str(exc))],
        ) from None
