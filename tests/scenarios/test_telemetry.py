"""Generated telemetry: systems that log with their trace context also yield log statements."""

from __future__ import annotations

import pytest

from chronosops.analysis.code_paths import statement_history
from chronosops.core.artifacts import LogStatement, LogTemplate, SpanGroup
from chronosops.core.log_statements import statement_of
from chronosops.scenarios import SCENARIOS, GenerationOptions, generate
from chronosops.scenarios import telemetry as telemetry_module
from chronosops.scenarios.telemetry import carries_trace_context
from chronosops.scenarios.topology import variant_topology

# A system (scenario, variant) that logs with trace context, and one that does not.
TRACED = ("network-partition", 0)
UNTRACED = ("cache-miss-storm", 0)


def _statements(incident_artifacts: tuple) -> list[LogStatement]:  # type: ignore[type-arg]
    return [a for a in incident_artifacts if isinstance(a, LogStatement)]


def test_some_systems_log_with_trace_context_and_some_do_not() -> None:
    drawn = [
        carries_trace_context(variant_topology(s.id, s.topology, variant))
        for s in SCENARIOS
        for variant in range(3)
    ]
    assert 0.25 < sum(drawn) / len(drawn) < 0.75


@pytest.mark.parametrize("seed", [0, 1])
def test_a_system_with_trace_context_yields_statements_in_every_incident_and_day(
    seed: int,
) -> None:
    scenario_id, variant = TRACED
    options = GenerationOptions(seed=seed, variant=variant)
    assert _statements(generate(scenario_id, options).artifacts)
    assert _statements(generate(scenario_id, options, without_fault=1).artifacts)
    untraced_id, untraced_variant = UNTRACED
    assert not _statements(
        generate(untraced_id, GenerationOptions(seed=seed, variant=untraced_variant)).artifacts
    )


def test_statements_are_placed_in_operations_the_traces_show_and_named_as_their_lines() -> None:
    scenario_id, variant = TRACED
    incident = generate(scenario_id, GenerationOptions(variant=variant))
    operations = {
        (a.service, a.operation)
        for a in incident.artifacts
        if isinstance(a, SpanGroup) and not a.peer_service
    }
    examples = {
        statement_of(example.message)
        for a in incident.artifacts
        if isinstance(a, LogTemplate)
        for example in a.examples
    }
    statements = _statements(incident.artifacts)
    assert statements
    for statement in statements:
        assert (statement.service, statement.operation) in operations
        assert statement.statement in examples
        assert statement.spans == sum(statement.levels.values())
        assert statement.spans == sum(point.value for point in statement.histogram)


def test_trace_context_adds_completion_lines_and_leaves_every_other_artifact_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario_id, variant = TRACED
    options = GenerationOptions(variant=variant)
    traced = generate(scenario_id, options).artifacts
    monkeypatch.setattr(telemetry_module, "carries_trace_context", lambda topology: False)
    plain = generate(scenario_id, options).artifacts
    added = [a for a in traced if a not in plain]
    assert added
    for artifact in added:
        assert isinstance(artifact, LogStatement) or (
            isinstance(artifact, LogTemplate) and artifact.template.startswith("completed ")
        )
    assert all(a in traced for a in plain)


def test_a_fault_free_day_writes_fewer_error_lines_than_the_incident() -> None:
    scenario_id, variant = TRACED
    options = GenerationOptions(variant=variant)

    def errors(artifacts: tuple) -> int:  # type: ignore[type-arg]
        return sum(a.levels.get("ERROR", 0) for a in artifacts if isinstance(a, LogTemplate))

    assert (
        errors(generate(scenario_id, options, without_fault=1).artifacts)
        < errors(generate(scenario_id, options).artifacts) / 2
    )


def test_fault_free_days_give_every_traced_service_a_history_of_each_day() -> None:
    scenario_id, variant = TRACED
    options = GenerationOptions(variant=variant)
    days = [generate(scenario_id, options, without_fault=d).artifacts for d in (1, 2, 3)]
    assert days[0] != days[1]
    history = statement_history(days)
    assert history
    assert all(len(past.shares) == 3 for past in history)
