"""The library: enough scenarios, the reference ids, answers from the catalog, hard cases."""

from __future__ import annotations

import pytest

from chronosops.analysis import BY_ID as CATALOG
from chronosops.scenarios import SCENARIOS, Scenario, get_scenario
from chronosops.scenarios.simulation import caller_first

REFERENCE_IDS = (
    "latency-spike",
    "error-spike-config",
    "gradual-degradation",
    "db-pool-exhaustion",
    "cache-miss-storm",
    "network-partition",
    "rate-limit-triggered",
    "memory-leak",
    "downstream-outage",
    "cpu-saturation",
)


def test_the_library_has_at_least_twelve_scenarios_with_unique_ids() -> None:
    ids = [scenario.id for scenario in SCENARIOS]
    assert len(ids) >= 12
    assert len(set(ids)) == len(ids)


def test_the_reference_spec_scenario_ids_are_kept() -> None:
    assert set(REFERENCE_IDS) <= {scenario.id for scenario in SCENARIOS}
    assert get_scenario("latency-spike").topology.name("checkout") == "checkout-api"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_every_ground_truth_names_a_catalog_cause_and_a_service_of_its_topology(
    scenario: Scenario,
) -> None:
    assert scenario.hypothesis_id in CATALOG
    assert scenario.hypothesis_id != "UNKNOWN"
    keys = {node.key for node in scenario.topology.services}
    assert scenario.culprit in keys
    assert scenario.reported in keys
    assert {effect.target for effect in scenario.effects} <= keys
    assert {rule.service for rule in scenario.logs} <= keys
    assert {change.service for change in scenario.changes} <= keys
    assert scenario.explanation


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_every_topology_is_a_call_graph_without_cycles_or_dangling_calls(
    scenario: Scenario,
) -> None:
    order = [node.key for node in caller_first(scenario.topology)]
    for node in scenario.topology.services:
        for dependency in scenario.topology.dependencies(node.key):
            assert order.index(node.key) < order.index(dependency)
    assert len(scenario.topology.services) >= 2


def test_the_library_covers_most_of_the_catalog() -> None:
    causes = {scenario.hypothesis_id for scenario in SCENARIOS}
    assert causes == set(CATALOG) - {"UNKNOWN"}


def test_hard_cases_include_a_downstream_culprit_and_innocent_deploys() -> None:
    downstream = [
        s for s in SCENARIOS if s.hypothesis_id == "DOWNSTREAM_OUTAGE" and s.culprit != s.reported
    ]
    assert downstream, "a dependency outage reported by its caller"
    innocent = [
        s
        for s in SCENARIOS
        if any(c.innocent and c.change_type == "deploy" for c in s.changes)
        and s.hypothesis_id != "DEPLOY_BUG"
    ]
    assert len(innocent) >= 2, "deploys that happened but did not cause the incident"
    assert any(s.culprit != s.reported for s in innocent)
