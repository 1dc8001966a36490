"""The field library: other conventions, honest ground truths, and a held-out part that stays put."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from statistics import median

import pytest

from chronosops.analysis import CATALOG, UNKNOWN
from chronosops.core.artifacts import ChangeEvent, LogTemplate, MetricSeries, SpanGroup
from chronosops.scenarios import (
    FIELD_SCENARIOS,
    FIELD_SUITE_SIZE,
    SCENARIOS,
    GeneratedIncident,
    GenerationOptions,
    benchmark_suite,
    generate,
    is_held_out,
    suite_options,
)
from chronosops.scenarios.conventions import NATIVE, Signal
from chronosops.scenarios.generation import get_scenario, style_of
from chronosops.scenarios.simulation import caller_first


@pytest.fixture(scope="module")
def canonical() -> dict[str, GeneratedIncident]:
    return {s.id: generate(s.id, GenerationOptions(seed=1)) for s in FIELD_SCENARIOS}


def signal(incident: GeneratedIncident, key: str, name: Signal) -> MetricSeries:
    """The series carrying ``name`` for service ``key``, whatever its exporter calls it."""
    scenario = get_scenario(incident.scenario_id)
    node = incident.topology.node(key)
    _, names = style_of(scenario, incident.topology, incident.options).names(node)
    metric = names[name]
    for artifact in incident.artifacts:
        if (
            isinstance(artifact, MetricSeries)
            and artifact.service == node.name
            and artifact.name == metric.name
            and dict(metric.labels).items() <= artifact.labels.items()
        ):
            return artifact
    raise AssertionError(f"no {name} ({metric.name}) for {node.name}")


def before_after(incident: GeneratedIncident, series: MetricSeries) -> tuple[float, float]:
    onset = incident.truth.onset
    before = [p.value for p in series.points if p.ts < onset]
    after = [p.value for p in series.points if onset + timedelta(minutes=2) <= p.ts <= incident.end]
    if not before:  # the fault began before the window (a leak)
        return min(p.value for p in series.points), max(after)
    return median(before), max(after)


def lines(incident: GeneratedIncident, service: str) -> str:
    return "\n".join(
        e.message
        for a in incident.artifacts
        if isinstance(a, LogTemplate) and service in a.services
        for e in a.examples
    )


def changes(incident: GeneratedIncident) -> list[ChangeEvent]:
    return [a for a in incident.artifacts if isinstance(a, ChangeEvent)]


@pytest.mark.parametrize("scenario", FIELD_SCENARIOS, ids=lambda s: s.id)
def test_every_field_scenario_answers_from_the_catalog_about_its_own_services(scenario) -> None:
    assert scenario.family == "field"
    assert scenario.hypothesis_id in {h.id for h in CATALOG} - {UNKNOWN}
    keys = {node.key for node in scenario.topology.services}
    assert {scenario.culprit, scenario.reported} <= keys
    caller_first(scenario.topology)  # raises on a call cycle
    assert not {s.id for s in SCENARIOS} & {scenario.id}


@pytest.mark.parametrize("scenario", FIELD_SCENARIOS, ids=lambda s: s.id)
def test_field_incidents_never_use_the_house_metric_names(
    scenario,
    canonical: dict[str, GeneratedIncident],
) -> None:
    incident = canonical[scenario.id]
    names = {a.name for a in incident.artifacts if isinstance(a, MetricSeries)}
    assert names
    assert not names & {m.name for m in NATIVE.values()}


# (scenario, service key, signal, at least this factor from the baseline to the worst minute)
FIELD_SIGNALS: list[tuple[str, str, Signal, float]] = [
    ("field-surge-rejections", "edge", "traffic", 2.5),
    ("field-surge-rejections", "catalog", "cpu", 2.0),
    ("field-surge-rejections", "catalog", "errors", 10),
    ("field-partner-breaker-open", "shipping", "errors", 20),
    ("field-rotated-db-credential", "orders", "errors", 50),
    ("field-neighbour-config", "pricing", "errors", 50),
    ("field-neighbour-config", "basket", "errors", 20),
    ("field-deploy-none-error", "invoicing", "errors", 50),
    ("field-heap-exhaustion", "consumer", "memory", 1.4),
    ("field-zone-packet-loss", "orders", "errors", 20),
    ("field-orm-slow-query", "orders", "latency", 5),
    ("field-orm-slow-query", "db", "latency", 10),
    ("field-cache-flush", "db", "traffic", 5),
    ("field-partner-throttling", "enricher", "errors", 20),
    ("field-idp-key-rollover", "accounts", "errors", 20),
    ("field-idp-key-rollover", "payments", "errors", 20),
    ("field-legacy-dependency", "orders", "errors", 20),
    ("field-legacy-dependency", "settlement", "errors", 20),
    ("field-node-dns-timeouts", "orders", "errors", 20),
    ("field-node-dns-timeouts", "dns", "errors", 50),
]


@pytest.mark.parametrize(("scenario_id", "key", "name", "factor"), FIELD_SIGNALS)
def test_the_fault_shows_in_the_metrics_under_whatever_name_they_carry(
    scenario_id: str,
    key: str,
    name: Signal,
    factor: float,
    canonical: dict[str, GeneratedIncident],
) -> None:
    incident = canonical[scenario_id]
    before, worst = before_after(incident, signal(incident, key, name))
    assert worst >= factor * before, (before, worst)


def test_a_surge_is_answered_with_rejections_in_the_culprits_own_idiom(
    canonical: dict[str, GeneratedIncident],
) -> None:
    incident = canonical["field-surge-rejections"]
    text = lines(incident, incident.truth.culprit_service)
    assert any(
        marker in text
        for marker in ("RejectedExecutionException", "overloaded", "WORKER TIMEOUT", "queue full")
    )
    assert not [c for c in changes(incident) if c.service == incident.truth.culprit_service]


def test_a_third_party_is_named_only_in_its_callers_lines(
    canonical: dict[str, GeneratedIncident],
) -> None:
    incident = canonical["field-partner-breaker-open"]
    partner = incident.truth.culprit_service
    assert partner not in {a.service for a in incident.artifacts if isinstance(a, MetricSeries)}
    caller = incident.truth.reported_service
    text = lines(incident, caller).lower()
    assert partner in text
    assert "open" in text


@pytest.mark.parametrize(
    ("scenario_id", "callers", "phrase"),
    [
        ("field-idp-key-rollover", ("accounts", "payments"), "401"),
        ("field-legacy-dependency", ("orders", "settlement"), "503"),
    ],
)
def test_a_service_that_exports_nothing_is_named_in_every_callers_lines(
    scenario_id: str,
    callers: tuple[str, ...],
    phrase: str,
    canonical: dict[str, GeneratedIncident],
) -> None:
    incident = canonical[scenario_id]
    culprit = incident.truth.culprit_service
    assert culprit not in {a.service for a in incident.artifacts if isinstance(a, MetricSeries)}
    for caller in callers:
        text = lines(incident, incident.topology.name(caller))
        assert any(culprit in line and phrase in line for line in text.splitlines()), caller


def test_a_rotated_credential_is_a_config_change_on_the_database_the_caller_cannot_log_into(
    canonical: dict[str, GeneratedIncident],
) -> None:
    incident = canonical["field-rotated-db-credential"]
    database = incident.truth.culprit_service
    assert incident.truth.hypothesis_id == "CONFIG_REGRESSION"
    rotation = [c for c in changes(incident) if c.service == database]
    assert rotation
    assert rotation[0].change_type == "config"
    assert rotation[0].timestamp < incident.truth.onset
    text = lines(incident, incident.truth.reported_service)
    assert "password authentication failed" in text
    assert database in text


def test_a_neighbours_config_change_precedes_the_errors_it_causes(
    canonical: dict[str, GeneratedIncident],
) -> None:
    incident = canonical["field-neighbour-config"]
    config = [c for c in changes(incident) if c.change_type == "config"]
    assert [c.service for c in config] == [incident.truth.culprit_service]
    assert incident.truth.culprit_service != incident.truth.reported_service
    assert any("innocent" in h for h in incident.truth.red_herrings)


def test_every_caller_of_the_unreachable_service_fails_to_reach_it_and_nothing_else(
    canonical: dict[str, GeneratedIncident],
) -> None:
    incident = canonical["field-zone-packet-loss"]
    inventory = incident.truth.culprit_service
    failing = {
        a.service: a.operation
        for a in incident.artifacts
        if isinstance(a, SpanGroup)
        and a.incident is not None
        and a.incident.error_count >= 5
        and a.service != inventory
        and (a.peer_service == inventory or inventory in a.operation)
    }
    assert set(failing) == {incident.service, incident.topology.name("edge")}
    to_db = [
        a
        for a in incident.artifacts
        if isinstance(a, SpanGroup)
        and incident.topology.name("db") in (a.peer_service or a.operation)
    ]
    assert to_db
    assert all(a.error_count <= 2 for a in to_db)


def test_the_held_out_part_is_a_stable_third_of_every_scenarios_rounds() -> None:
    cases = [suite_options(i, seed=0, suite="field") for i in range(FIELD_SUITE_SIZE)]
    held = [is_held_out(sid, options) for sid, options in cases]
    per_scenario = Counter(sid for (sid, _), out in zip(cases, held, strict=True) if out)
    assert set(per_scenario) == {s.id for s in FIELD_SCENARIOS}
    assert set(per_scenario.values()) == {FIELD_SUITE_SIZE // len(FIELD_SCENARIOS) // 3}
    # Pinned: changing the rule would quietly let the engine's author see held-out cases.
    assert held[:12] == [
        False, True, False, True, True, False, True, True, True, False, False, False,
    ]  # fmt: skip
    assert [is_held_out(sid, options) for sid, options in cases] == held


def test_another_suite_seed_holds_out_other_rounds() -> None:
    first = [is_held_out(*suite_options(i, seed=0, suite="field")) for i in range(60)]
    second = [is_held_out(*suite_options(i, seed=1, suite="field")) for i in range(60)]
    assert first != second


def test_the_held_out_part_depends_on_the_case_not_on_the_order_of_generation() -> None:
    sid, options = suite_options(7, seed=1, suite="field")
    assert is_held_out(sid, options) == is_held_out(sid, GenerationOptions(seed=options.seed))


def test_the_field_suite_is_always_in_mixed_conventions_and_covers_every_field_scenario() -> None:
    suite = benchmark_suite(len(FIELD_SCENARIOS), seed=0, suite="field")
    assert [i.scenario_id for i in suite] == [s.id for s in FIELD_SCENARIOS]
    assert {i.options.conventions for i in suite} == {"mixed"}
