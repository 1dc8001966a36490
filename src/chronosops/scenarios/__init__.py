"""Demo scenarios: incidents with a known root cause, generated as synthetic telemetry.

Pure: no storage, no settings, no network. `generate` turns a scenario id and
`GenerationOptions` into a `GeneratedIncident` (artifacts marked ``synthetic`` plus the
`GroundTruth`); `benchmark_suite` produces many varied incidents for scoring an analysis.
"""

from chronosops.scenarios.generation import (
    UnknownScenarioError,
    generate,
    get_scenario,
    options_from_fields,
    render,
    scenario_id_of,
)
from chronosops.scenarios.library import BY_ID, SCENARIOS
from chronosops.scenarios.model import (
    EVIDENCE_KINDS,
    MAX_JITTER_MINUTES,
    MAX_VARIANT,
    EvidenceKind,
    GeneratedIncident,
    GenerationOptions,
    GroundTruth,
    Scenario,
    Topology,
    scenario_fields,
)
from chronosops.scenarios.suite import DEFAULT_SUITE_SIZE, benchmark_suite, suite_options

__all__ = [
    "BY_ID",
    "DEFAULT_SUITE_SIZE",
    "EVIDENCE_KINDS",
    "MAX_JITTER_MINUTES",
    "MAX_VARIANT",
    "SCENARIOS",
    "EvidenceKind",
    "GeneratedIncident",
    "GenerationOptions",
    "GroundTruth",
    "Scenario",
    "Topology",
    "UnknownScenarioError",
    "benchmark_suite",
    "generate",
    "get_scenario",
    "options_from_fields",
    "render",
    "scenario_fields",
    "scenario_id_of",
    "suite_options",
]
