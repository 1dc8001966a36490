"""Code faults that skip a usual step: the step's line stops while its operation runs on."""

from __future__ import annotations

from datetime import datetime

import pytest

from chronosops.core.artifacts import ChangeEvent, LogStatement, LogTemplate, SpanGroup
from chronosops.scenarios import GeneratedIncident, GenerationOptions, generate, get_scenario
from chronosops.scenarios.code_faults import (
    CODE_FAULT_KINDS,
    PATH_SCENARIOS,
    code_fault,
    target_of,
)
from chronosops.scenarios.conventions import FORM_SHARES
from chronosops.scenarios.library import BY_ID, SCENARIOS
from chronosops.scenarios.suite import benchmark_suite, is_held_out, suite_options, suite_size
from chronosops.scenarios.telemetry import STEP_PHRASES, step_pattern

OPTIONS = GenerationOptions(seed=3, noise=0.1)


def _at_onset(kind: str) -> str:
    return next(
        s.id
        for s in PATH_SCENARIOS
        if s.id.startswith(f"path-{kind}-") and s.skipped and s.skipped.since == 0
    )


def _in_force() -> str:
    return next(s.id for s in PATH_SCENARIOS if s.skipped and s.skipped.since < 0)


def _step(incident: GeneratedIncident) -> LogStatement:
    scenario = get_scenario(incident.scenario_id)
    assert scenario.skipped is not None
    node = incident.topology.node(scenario.skipped.service)
    words = step_pattern(node.name, scenario.skipped.operation).split()[:2]
    return next(
        a
        for a in incident.artifacts
        if isinstance(a, LogStatement)
        and a.service == node.name
        and a.operation == scenario.skipped.operation
        and a.statement.split()[:2] == words
    )


def _calls(incident: GeneratedIncident, service: str, operation: str) -> dict[datetime, int]:
    return {
        bucket.ts: bucket.count
        for group in incident.artifacts
        if isinstance(group, SpanGroup)
        and (group.service, group.operation, group.peer_service) == (service, operation, None)
        for bucket in group.histogram
    }


def test_every_library_system_with_a_called_service_gives_both_kinds_of_code_fault() -> None:
    systems = [s for s in SCENARIOS if target_of(s) is not None]

    assert len(systems) >= 15
    for base in systems:
        for kind in CODE_FAULT_KINDS:
            scenario = code_fault(base, kind)
            assert scenario is not None
            assert scenario.hypothesis_id == "DEPLOY_BUG"
            assert scenario.skipped is not None
            assert scenario.skipped.service == scenario.culprit
            assert scenario.reported != scenario.culprit  # the alert names its caller


def test_the_skipped_steps_line_stops_at_the_onset_while_its_operation_keeps_being_called() -> None:
    incident = generate(_at_onset("return"), OPTIONS)
    step = _step(incident)
    onset = incident.truth.onset
    calls = _calls(incident, step.service, step.operation)

    assert sum(p.value for p in step.histogram if p.ts < onset) > 0
    assert all(p.ts < onset for p in step.histogram)
    assert sum(n for ts, n in calls.items() if ts >= onset) > 0


def test_a_wrong_return_logs_no_error_at_the_culprit() -> None:
    incident = generate(_at_onset("return"), OPTIONS)
    culprit = incident.truth.culprit_service
    day = generate(incident.scenario_id, OPTIONS, without_fault=1)

    def failures(evidence: GeneratedIncident) -> set[str]:
        return {
            t.template
            for t in evidence.artifacts
            if isinstance(t, LogTemplate)
            and culprit in t.services
            and any(level in ("ERROR", "WARN") for level in t.levels)
        }

    # What it writes about failing is what it writes on an ordinary day: nothing new.
    assert failures(incident) <= failures(day)


def test_an_exception_writes_a_new_error_at_the_culprit_and_follows_its_deploy() -> None:
    incident = generate(_at_onset("exception"), OPTIONS)
    culprit = incident.truth.culprit_service

    assert any(
        isinstance(a, ChangeEvent) and a.service == culprit and a.change_type == "deploy"
        for a in incident.artifacts
    )
    assert any(
        isinstance(t, LogTemplate) and culprit in t.services and "ERROR" in t.levels
        for t in incident.artifacts
    )


def test_a_fault_in_force_before_the_window_leaves_the_step_absent_from_all_of_it() -> None:
    scenario_id = _in_force()
    incident = generate(scenario_id, OPTIONS)
    scenario = get_scenario(scenario_id)
    assert scenario.skipped is not None
    node = incident.topology.node(scenario.skipped.service)
    words = step_pattern(node.name, scenario.skipped.operation).split()[:2]

    def steps(evidence: GeneratedIncident) -> list[LogStatement]:
        return [
            a
            for a in evidence.artifacts
            if isinstance(a, LogStatement)
            and a.service == node.name
            and a.statement.split()[:2] == words
        ]

    assert steps(incident) == []
    # An ordinary day of the same system logs it: the history that shows it was usual.
    assert steps(generate(scenario_id, OPTIONS, without_fault=1))


def test_the_library_scenarios_log_no_steps() -> None:
    incident = generate("bad-deploy-error-spike", OPTIONS)
    steps = [
        step_pattern(node.name, op.name).split("{id}")[0]
        for node in incident.topology.services
        for op in node.operations
    ]

    assert not BY_ID["bad-deploy-error-spike"].steps
    assert not any(
        isinstance(t, LogTemplate) and t.template.startswith(step)
        for t in incident.artifacts
        for step in steps
    )


def test_the_paths_suite_holds_three_rounds_of_each_code_fault_one_of_them_held_out() -> None:
    size = suite_size("paths")

    assert size == 3 * len(PATH_SCENARIOS)
    cases = [suite_options(index, suite="paths") for index in range(size)]
    for scenario in PATH_SCENARIOS:
        mine = [options for scenario_id, options in cases if scenario_id == scenario.id]
        assert len(mine) == 3
        assert sum(is_held_out(scenario.id, options) for options in mine) == 1


def test_a_paths_suite_incident_is_a_code_fault_with_its_ground_truth() -> None:
    (incident,) = benchmark_suite(1, suite="paths")

    assert incident.scenario_id.startswith("path-")
    assert incident.truth.hypothesis_id == "DEPLOY_BUG"
    assert incident.truth.culprit_service != incident.service


def test_in_joined_traces_a_call_keeps_its_step_and_its_completion_line_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(FORM_SHARES, "joined", 1.0)
    incident = generate(_at_onset("return"), GenerationOptions(seed=3, conventions="mixed"))
    steps = [
        a
        for a in incident.artifacts
        if isinstance(a, LogStatement)
        and a.span_offsets_ms
        and any(a.statement.startswith(p.split()[0]) for p in STEP_PHRASES)
    ]

    assert steps
    for step in steps:
        completions = [n for s, n in step.co_spans.items() if s.startswith("completed ")]
        # Every span that logged the step logged its completion line too (the 3.17 reading).
        assert completions == [len(step.span_offsets_ms)]
