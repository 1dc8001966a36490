"""Demo scenarios: incidents with a known root cause, generated as synthetic telemetry.

Pure: no storage, no settings, no network. `generate` turns a scenario id and
`GenerationOptions` into a `GeneratedIncident` (artifacts marked ``synthetic`` plus the
`GroundTruth`); `benchmark_suite` produces many varied incidents for scoring an analysis.
"""

from chronosops.scenarios.field import FIELD_BY_ID, FIELD_SCENARIOS
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
    CONVENTIONS,
    EVIDENCE_KINDS,
    MAX_JITTER_MINUTES,
    MAX_VARIANT,
    Conventions,
    EvidenceKind,
    GeneratedIncident,
    GenerationOptions,
    GroundTruth,
    Scenario,
    Topology,
    scenario_fields,
)
from chronosops.scenarios.suite import (
    DEFAULT_SUITE_SIZE,
    FIELD_SUITE_SIZE,
    SUITES,
    SuiteName,
    benchmark_suite,
    case_id,
    is_held_out,
    suite_options,
    suite_size,
)

__all__ = [
    "BY_ID",
    "CONVENTIONS",
    "DEFAULT_SUITE_SIZE",
    "EVIDENCE_KINDS",
    "FIELD_BY_ID",
    "FIELD_SCENARIOS",
    "FIELD_SUITE_SIZE",
    "MAX_JITTER_MINUTES",
    "MAX_VARIANT",
    "SCENARIOS",
    "SUITES",
    "Conventions",
    "EvidenceKind",
    "GeneratedIncident",
    "GenerationOptions",
    "GroundTruth",
    "Scenario",
    "SuiteName",
    "Topology",
    "UnknownScenarioError",
    "benchmark_suite",
    "case_id",
    "generate",
    "get_scenario",
    "is_held_out",
    "options_from_fields",
    "render",
    "scenario_fields",
    "scenario_id_of",
    "suite_options",
    "suite_size",
]
