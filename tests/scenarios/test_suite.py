"""The benchmark suite: more than two hundred varied incidents, each with its answer."""

from __future__ import annotations

from collections import Counter

from chronosops.evidence.bundle import seal
from chronosops.scenarios import (
    DEFAULT_SUITE_SIZE,
    MAX_VARIANT,
    SCENARIOS,
    benchmark_suite,
    generate,
    suite_options,
)


def test_the_default_suite_is_over_two_hundred_incidents_covering_every_dimension() -> None:
    assert DEFAULT_SUITE_SIZE >= 200
    plan = [suite_options(index) for index in range(DEFAULT_SUITE_SIZE)]
    per_scenario = Counter(scenario_id for scenario_id, _ in plan)
    assert set(per_scenario) == {s.id for s in SCENARIOS}
    assert min(per_scenario.values()) >= 10
    options = [o for _, o in plan]
    assert {o.variant for o in options} == set(range(MAX_VARIANT + 1))
    assert len({o.noise for o in options}) >= 4
    assert len({o.jitter_minutes for o in options}) >= 4
    assert {kind for o in options for kind in o.drop} == {"metrics", "logs", "traces", "changes"}
    assert sum(1 for o in options if not o.drop) > len(options) / 2
    assert len({(s, o) for s, o in plan}) == len(plan), "no two incidents are the same"


def test_a_suite_is_a_pure_function_of_its_size_and_seed() -> None:
    first = benchmark_suite(3, seed=4)
    again = benchmark_suite(3, seed=4)
    other = benchmark_suite(3, seed=5)
    assert [seal(i.artifacts).bundle_id for i in first] == [
        seal(i.artifacts).bundle_id for i in again
    ]
    assert [seal(i.artifacts).bundle_id for i in first] != [
        seal(i.artifacts).bundle_id for i in other
    ]
    assert [i.truth.scenario_id for i in first] == [s.id for s in SCENARIOS[:3]]


def test_sampled_suite_incidents_generate_with_their_ground_truth() -> None:
    for index in range(0, DEFAULT_SUITE_SIZE, 17):
        scenario_id, options = suite_options(index)
        incident = generate(scenario_id, options)
        assert incident.truth.scenario_id == scenario_id
        assert incident.truth.culprit_service in {n.name for n in incident.topology.services}
        dropped = {
            "metrics": "metric_series",
            "logs": "log_template",
            "traces": "span_group",
            "changes": "change_event",
        }
        for kind in options.drop:
            assert dropped[kind] not in incident.counts()
