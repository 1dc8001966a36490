"""Generated incidents: deterministic, synthetic, within their window, and telling the truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from statistics import median

import pytest

from chronosops.core.aggregation import log_template
from chronosops.core.artifacts import (
    ChangeEvent,
    LogTemplate,
    MetricSeries,
    SpanGroup,
)
from chronosops.core.errors import FieldError, InvalidInputError
from chronosops.evidence.bundle import seal
from chronosops.scenarios import (
    SCENARIOS,
    GeneratedIncident,
    GenerationOptions,
    UnknownScenarioError,
    generate,
    options_from_fields,
    scenario_id_of,
)


@pytest.fixture(scope="module")
def canonical() -> dict[str, GeneratedIncident]:
    return {scenario.id: generate(scenario.id) for scenario in SCENARIOS}


def _series(incident: GeneratedIncident, service: str, name: str) -> MetricSeries:
    for artifact in incident.artifacts:
        if (
            isinstance(artifact, MetricSeries)
            and artifact.service == service
            and artifact.name == name
        ):
            return artifact
    raise AssertionError(f"no {name} for {service}")


def _before_after(incident: GeneratedIncident, series: MetricSeries) -> tuple[float, float]:
    onset = incident.truth.onset
    before = [p.value for p in series.points if p.ts < onset]
    after = [p.value for p in series.points if onset + timedelta(minutes=2) <= p.ts <= incident.end]
    if not before:  # the fault began before the window (a leak, a slow degradation)
        return min(p.value for p in series.points), max(after)
    return median(before), max(after)


def test_the_same_options_give_the_same_bytes() -> None:
    options = GenerationOptions(seed=7, variant=2, noise=0.6, jitter_minutes=5)
    first = seal(generate("downstream-outage", options).artifacts)
    second = seal(generate("downstream-outage", options).artifacts)
    assert first.bundle_id == second.bundle_id


def test_another_seed_gives_other_telemetry_but_the_same_answer() -> None:
    one = generate("cache-miss-storm", GenerationOptions(seed=1))
    two = generate("cache-miss-storm", GenerationOptions(seed=2))
    assert seal(one.artifacts).bundle_id != seal(two.artifacts).bundle_id
    assert one.truth.hypothesis_id == two.truth.hypothesis_id == "CACHE_MISS_STORM"
    assert one.truth.culprit_service == two.truth.culprit_service == "product-catalog"


@pytest.mark.parametrize("scenario_id", [s.id for s in SCENARIOS])
def test_every_artifact_is_synthetic_and_names_its_scenario(
    scenario_id: str, canonical: dict[str, GeneratedIncident]
) -> None:
    incident = canonical[scenario_id]
    assert incident.artifacts
    assert all(a.synthetic for a in incident.artifacts)
    assert {a.source for a in incident.artifacts} == {f"scenario:{scenario_id}"}
    ids = [a.artifact_id for a in incident.artifacts]
    assert len(ids) == len(set(ids))
    kinds = set(incident.counts())
    assert {"metric_series", "log_template"} <= kinds
    if incident.topology.services and any(
        n.kind in ("edge", "api", "worker") for n in incident.topology.services
    ):
        assert "span_group" in kinds


@pytest.mark.parametrize("scenario_id", [s.id for s in SCENARIOS])
def test_evidence_stays_inside_the_incident_window(
    scenario_id: str, canonical: dict[str, GeneratedIncident]
) -> None:
    incident = canonical[scenario_id]
    window = incident.window
    for artifact in incident.artifacts:
        if isinstance(artifact, MetricSeries):
            assert all(window.start <= p.ts <= window.end for p in artifact.points)
        elif isinstance(artifact, LogTemplate):
            assert window.start <= artifact.first_seen
            assert artifact.last_seen <= window.end + timedelta(minutes=1)
        elif isinstance(artifact, SpanGroup):
            assert (
                window.start
                <= artifact.first_seen
                <= artifact.last_seen
                <= window.end + timedelta(minutes=1)
            )
        elif isinstance(artifact, ChangeEvent):
            assert artifact.timestamp <= window.end


@pytest.mark.parametrize("scenario_id", [s.id for s in SCENARIOS])
def test_log_templates_and_span_groups_add_up(
    scenario_id: str, canonical: dict[str, GeneratedIncident]
) -> None:
    incident = canonical[scenario_id]
    for artifact in incident.artifacts:
        if isinstance(artifact, LogTemplate):
            assert sum(p.value for p in artifact.histogram) == artifact.count
            assert sum(artifact.levels.values()) == artifact.count
            assert artifact.examples
            assert all(log_template(e.message) == artifact.template for e in artifact.examples)
        if isinstance(artifact, SpanGroup):
            assert artifact.baseline is not None or artifact.incident is not None
            split = (artifact.baseline.count if artifact.baseline else 0) + (
                artifact.incident.count if artifact.incident else 0
            )
            assert split == artifact.count == sum(b.count for b in artifact.histogram)
            assert artifact.error_count == sum(b.error_count for b in artifact.histogram)


# (scenario, service, metric, at least this factor from the baseline median to the worst minute)
HONEST_SIGNALS = [
    ("latency-spike", "postgres", "latency_p95_ms", 10),
    ("latency-spike", "checkout-api", "latency_p95_ms", 3),
    ("error-spike-config", "auth-api", "error_ratio", 10),
    ("gradual-degradation", "payment-service", "latency_p95_ms", 3),
    ("db-pool-exhaustion", "order-service", "db_pool_connections_in_use", 5),
    ("db-pool-exhaustion", "order-service", "error_ratio", 20),
    ("cache-miss-storm", "catalog-db", "request_rate", 5),
    ("cache-miss-storm", "catalog-db", "cpu_utilization", 5),
    ("network-partition", "api-gateway", "error_ratio", 20),
    ("rate-limit-triggered", "api-gateway", "request_rate", 4),
    ("rate-limit-triggered", "user-api", "error_ratio", 50),
    ("memory-leak", "analytics-processor", "memory_working_set_mb", 1.4),
    ("downstream-outage", "feature-store", "error_ratio", 100),
    ("downstream-outage", "recommendation-engine", "error_ratio", 50),
    ("cpu-saturation", "search-service", "cpu_utilization", 2.5),
    ("bad-deploy-error-spike", "cart-service", "error_ratio", 20),
    ("feature-flag-regression", "pricing-service", "error_ratio", 20),
    ("traffic-surge-saturation", "storefront", "request_rate", 2.5),
    ("traffic-surge-saturation", "catalog-api", "cpu_utilization", 2.5),
    ("dns-resolution-failure", "coredns", "error_ratio", 100),
    ("third-party-rate-limit", "notification-service", "error_ratio", 20),
    ("innocent-deploy-pool-exhaustion", "inventory-service", "error_ratio", 50),
    ("slow-dependency-cascade", "checkout-api", "latency_p95_ms", 10),
]


@pytest.mark.parametrize(("scenario_id", "service", "metric", "factor"), HONEST_SIGNALS)
def test_the_fault_shows_in_the_metrics_where_it_should(
    scenario_id: str,
    service: str,
    metric: str,
    factor: float,
    canonical: dict[str, GeneratedIncident],
) -> None:
    incident = canonical[scenario_id]
    before, worst = _before_after(incident, _series(incident, service, metric))
    assert worst >= factor * before, (before, worst)


def test_a_dependency_outage_shows_in_the_callers_client_spans_and_logs(
    canonical: dict[str, GeneratedIncident],
) -> None:
    incident = canonical["downstream-outage"]
    client = next(
        a
        for a in incident.artifacts
        if isinstance(a, SpanGroup)
        and a.service == "recommendation-engine"
        and a.operation == "feature-store GET /features"
    )
    assert client.baseline is not None
    assert client.incident is not None
    assert client.baseline.error_count <= 2
    assert client.incident.error_count > 10 * max(client.baseline.error_count, 1)
    caller_logs = [
        a
        for a in incident.artifacts
        if isinstance(a, LogTemplate)
        and "feature-store" in a.template
        and a.services == ["recommendation-engine"]
    ]
    assert caller_logs
    assert caller_logs[0].first_seen >= incident.truth.onset
    model = _series(incident, "model-server", "error_ratio")
    _, worst = _before_after(incident, model)
    assert worst < 0.01, "the healthy sibling dependency stays healthy"


def test_an_innocent_deploy_is_in_the_evidence_but_its_service_fails_only_through_a_dependency(
    canonical: dict[str, GeneratedIncident],
) -> None:
    incident = canonical["innocent-deploy-pool-exhaustion"]
    deploys = [
        a for a in incident.artifacts if isinstance(a, ChangeEvent) and a.service == "checkout-web"
    ]
    assert deploys
    assert deploys[0].timestamp < incident.truth.onset
    assert any("innocent" in h and "checkout-web" in h for h in incident.truth.red_herrings)
    failing = {
        a.operation: a.incident.error_count
        for a in incident.artifacts
        if isinstance(a, SpanGroup) and a.service == "checkout-web" and a.incident
    }
    assert failing["inventory-service POST /reserve"] > 0
    assert incident.truth.culprit_service == "inventory-service"


def test_a_leak_ends_in_restarts_and_oom_logs(canonical: dict[str, GeneratedIncident]) -> None:
    incident = canonical["memory-leak"]
    restarts = _series(incident, "analytics-processor", "container_restarts_total")
    assert restarts.points[-1].value > restarts.points[0].value
    oom = [
        a for a in incident.artifacts if isinstance(a, LogTemplate) and "oomkilled" in a.template
    ]
    assert oom
    assert oom[0].count == restarts.points[-1].value - restarts.points[0].value


def test_an_expired_certificate_leaves_a_gap_in_the_latency_of_the_service_nobody_reaches(
    canonical: dict[str, GeneratedIncident],
) -> None:
    incident = canonical["expired-certificate"]
    latency = _series(incident, "accounts-api", "latency_p95_ms")
    assert all(p.ts < incident.truth.onset for p in latency.points)
    expiry = _series(incident, "accounts-api", "tls_certificate_expiry_days")
    assert expiry.points[0].value > 0 > expiry.points[-1].value


def test_variants_rename_services_and_the_ground_truth_follows() -> None:
    canonical = generate("downstream-outage")
    renamed = generate("downstream-outage", GenerationOptions(variant=4))
    names = {node.name for node in renamed.topology.services}
    assert renamed.truth.culprit_service in names
    assert renamed.truth.culprit_service != canonical.truth.culprit_service
    assert renamed.service == renamed.truth.reported_service
    services = {a.service for a in renamed.artifacts if isinstance(a, MetricSeries)}
    assert "feature-store" not in services
    assert renamed.truth.culprit_service in services


def test_variants_one_and_two_add_healthy_bystanders() -> None:
    base = generate("bad-deploy-error-spike")
    wider = generate("bad-deploy-error-spike", GenerationOptions(variant=2))
    assert len(wider.topology.services) == len(base.topology.services) + 2


def test_dropping_evidence_kinds_removes_exactly_those() -> None:
    full = generate("latency-spike", GenerationOptions(seed=3)).counts()
    thinner = generate(
        "latency-spike", GenerationOptions(seed=3, drop=frozenset({"logs", "changes"}))
    ).counts()
    assert "log_template" in full
    assert "change_event" in full
    assert set(thinner) == set(full) - {"log_template", "change_event"}
    assert thinner["metric_series"] == full["metric_series"]


def test_jitter_moves_the_real_onset_within_its_bound_but_not_the_reported_start() -> None:
    scenario_start = generate("bad-deploy-error-spike").start
    onsets = set()
    for seed in range(8):
        incident = generate(
            "bad-deploy-error-spike", GenerationOptions(seed=seed, jitter_minutes=10)
        )
        assert incident.start == scenario_start
        shift = (incident.truth.onset - incident.start).total_seconds() / 60
        assert -10 <= shift <= 5
        onsets.add(incident.truth.onset)
    assert len(onsets) > 1


def test_a_given_start_and_window_anchor_the_telemetry() -> None:
    start = datetime(2030, 5, 1, 8, 0, tzinfo=UTC)
    incident = generate(
        "rate-limit-triggered",
        GenerationOptions(start=start, minutes_before=30, minutes_after=10),
    )
    assert incident.window.start == start - timedelta(minutes=30)
    assert incident.window.end == start + timedelta(minutes=12 + 10)
    latency = _series(incident, "user-api", "request_rate")
    assert latency.points[0].ts == incident.window.start
    assert incident.truth.onset == start


def test_the_ingest_request_carries_the_scenario_options_and_no_evidence() -> None:
    incident = generate("cpu-saturation", GenerationOptions(seed=5, variant=1))
    request = incident.to_ingest_request(source_ref="cpu-saturation:run-1")
    assert request.source_type == "SCENARIO"
    assert request.evidence_lite is None
    assert request.metadata is not None
    assert request.metadata.tags == {
        "scenario": "cpu-saturation",
        "synthetic": "true",
    }
    assert request.metadata.custom_fields == {
        "scenario": {"seed": 5, "variant": 1, "noise": 0.2, "jitterMinutes": 0}
    }
    assert scenario_id_of(request.source_ref) == "cpu-saturation"


def test_source_refs_name_a_scenario_by_its_id_and_an_optional_suffix() -> None:
    assert scenario_id_of("memory-leak") == "memory-leak"
    assert scenario_id_of("memory-leak:demo") == "memory-leak"
    assert scenario_id_of("memory-leak-2") is None
    assert scenario_id_of("incident-12345") is None


def test_unknown_scenarios_and_bad_options_are_refused_by_name() -> None:
    with pytest.raises(UnknownScenarioError, match="Scenario not found: nope"):
        generate("nope")
    with pytest.raises(ValueError, match="noise must be 0–1") as caught:
        GenerationOptions(noise=2.0, variant=9)
    assert "variant must be 0–5" in str(caught.value)
    errors = refusal_of({"seed": "7", "drop": ["metrics", "vibes"]})
    assert [e.path for e in errors] == [
        "metadata.customFields.scenario.drop",
        "metadata.customFields.scenario.seed",
    ]


def refusal_of(fields: object) -> list[FieldError]:
    """What a stored incident's scenario options are refused for."""
    with pytest.raises(InvalidInputError) as invalid:
        options_from_fields(
            fields,
            start=datetime(2026, 1, 1, tzinfo=UTC),
            end=None,
            minutes_before=15,
            minutes_after=15,
        )
    return invalid.value.errors


@pytest.mark.parametrize(
    ("fields", "paths"),
    [
        ({"seed": -1}, ["seed"]),
        ({"variant": 6}, ["variant"]),
        ({"noise": 2}, ["noise"]),
        ({"jitterMinutes": 31}, ["jitterMinutes"]),
        ({"seed": -1, "noise": -0.5, "variant": 9}, ["noise", "seed", "variant"]),
    ],
)
def test_an_option_out_of_its_range_is_refused_by_its_own_path(
    fields: dict[str, object], paths: list[str]
) -> None:
    errors = refusal_of(fields)
    assert [e.path for e in errors] == [f"metadata.customFields.scenario.{path}" for path in paths]
    assert "jitter_minutes" not in str([e.message for e in errors])


def test_a_misspelt_scenario_option_is_refused_by_its_path_not_read_as_the_defaults() -> None:
    errors = refusal_of({"seeds": 4, "variant": 1})
    assert [e.path for e in errors] == ["metadata.customFields.scenario.seeds"]
    assert errors[0].message.startswith("unknown field")


@pytest.mark.parametrize("fields", ["latency-spike", 7, ["seed"]])
def test_scenario_options_that_are_not_an_object_are_refused_not_ignored(fields: object) -> None:
    errors = refusal_of(fields)
    assert [e.path for e in errors] == ["metadata.customFields.scenario"]
    assert "must be an object" in errors[0].message


def test_absent_scenario_options_are_the_defaults() -> None:
    options = options_from_fields(
        None, start=datetime(2026, 1, 1, tzinfo=UTC), end=None, minutes_before=15, minutes_after=15
    )
    assert (options.seed, options.variant, options.noise) == (0, 0, GenerationOptions.noise)
