"""Naming conventions and phrasing: the seed picks them, the telemetry underneath stays the same."""

from __future__ import annotations

from bisect import bisect_left
from datetime import UTC, datetime

import pytest

from chronosops.analysis.quantiles import statistic_of
from chronosops.analysis.signals import DEFAULT_TABLE
from chronosops.analysis.units import normalise
from chronosops.core.artifacts import LogTemplate, MetricSeries
from chronosops.core.errors import InvalidInputError
from chronosops.evidence.bundle import seal
from chronosops.scenarios import (
    GeneratedIncident,
    GenerationOptions,
    generate,
    options_from_fields,
    scenario_id_of,
)
from chronosops.scenarios.conventions import (
    APP_DIALECTS,
    BUCKET_FORMS,
    CPU_LIMIT_CORES,
    FAILURE_FORMS,
    FORM_SHARES,
    LANGUAGE_DIALECTS,
    LANGUAGES,
    NATIVE,
    NON_APP_KINDS,
    SUCCESS_FORMS,
    choose_style,
)
from chronosops.scenarios.generation import get_scenario, style_of
from chronosops.scenarios.phrasebook import OWN

# A marker of each runtime's phrasing, as its failing client calls read.
LANGUAGE_MARKERS = {
    "java": ("org.springframework", "java.net.", "javax.net"),
    "go": ("dial tcp", "context deadline exceeded", "rpc error", "unexpected status"),
    "python": ("requests.exceptions",),
    "node": ("AxiosError", "ECONNREFUSED", "ENOTFOUND", "ECONNRESET"),
    "dotnet": ("System.Net.Http", "System.Threading.Tasks"),
    "ruby": ("Faraday::", "Net::ReadTimeout", "Net::OpenTimeout"),
}


def mixed(scenario_id: str, seed: int, **options: object) -> GeneratedIncident:
    return generate(
        scenario_id,
        GenerationOptions(seed=seed, conventions="mixed", **options),  # type: ignore[arg-type]
    )


def metric_names(incident: GeneratedIncident) -> set[str]:
    return {a.name for a in incident.artifacts if isinstance(a, MetricSeries)}


def messages(incident: GeneratedIncident) -> list[str]:
    return [e.message for a in incident.artifacts if isinstance(a, LogTemplate) for e in a.examples]


def test_the_same_seed_gives_the_same_names_and_the_same_bytes() -> None:
    first = mixed("downstream-outage", 11, variant=2, noise=0.5)
    second = mixed("downstream-outage", 11, variant=2, noise=0.5)
    assert seal(first.artifacts).bundle_id == seal(second.artifacts).bundle_id


def test_different_seeds_pick_different_naming_conventions() -> None:
    latency_names = set()
    for seed in range(12):
        names = metric_names(mixed("latency-spike", seed))
        latency_names |= {
            n for n in names if "duration" in n or "latency" in n or n.endswith("95p")
        }
    # Micrometer, Prometheus client, OpenTelemetry, Datadog, Rails and the database exporters.
    assert len(latency_names) >= 5, latency_names


def test_mixed_conventions_never_use_the_house_names() -> None:
    for seed in range(6):
        assert not metric_names(mixed("db-pool-exhaustion", seed)) & {
            m.name for m in NATIVE.values()
        }


def test_the_house_style_is_what_the_default_options_give() -> None:
    incident = generate("db-pool-exhaustion", GenerationOptions(seed=3))
    assert {"latency_p95_ms", "error_ratio", "db_pool_connections_in_use"} <= metric_names(incident)


def test_every_language_phrases_its_failures_in_its_own_idiom_across_seeds() -> None:
    seen = set()
    for seed in range(16):
        text = "\n".join(messages(mixed("downstream-outage", seed)))
        seen |= {
            lang for lang, markers in LANGUAGE_MARKERS.items() if any(m in text for m in markers)
        }
    assert seen == set(LANGUAGES)


def test_renamed_signals_carry_the_same_measurements_in_their_own_units() -> None:
    """A mixed incident is the house incident under other names: same seed, same values."""
    scenario = get_scenario("latency-spike")
    # The first seed from 4 whose checkout sends its latency as one gauge (an exporter form,
    # `FORM_SHARES`, may send it as a histogram or a summary instead).
    for seed in range(4, 40):
        options = {"seed": seed, "variant": 0}
        other = mixed("latency-spike", **options)
        style = style_of(scenario, other.topology, other.options)
        node = other.topology.node("checkout")
        _, names = style.names(node)
        if "latency" in names:
            break
    house = generate("latency-spike", GenerationOptions(**options))  # type: ignore[arg-type]
    latency = names["latency"]
    native = next(
        a
        for a in house.artifacts
        if isinstance(a, MetricSeries) and a.service == node.name and a.name == "latency_p95_ms"
    )
    renamed = next(
        a
        for a in other.artifacts
        if isinstance(a, MetricSeries)
        and a.service == node.name
        and a.name == latency.name
        and dict(latency.labels).items() <= a.labels.items()
    )
    factor = latency.scale if latency.transform == "scale" else 1.0
    assert [p.ts for p in renamed.points] == [p.ts for p in native.points]
    for mine, theirs in zip(renamed.points, native.points, strict=True):
        assert mine.value == pytest.approx(theirs.value * factor, rel=1e-6, abs=1e-6)


def test_each_language_exports_with_a_dialect_the_library_defines() -> None:
    for language in LANGUAGES:
        assert LANGUAGE_DIALECTS[language]
        assert set(LANGUAGE_DIALECTS[language]) <= set(APP_DIALECTS)
    for event, phrases in OWN.items():
        assert set(phrases) == set(LANGUAGES), event


def test_a_style_is_a_pure_function_of_its_seed() -> None:
    topology = get_scenario("downstream-outage").topology
    assert choose_style("x/1", topology) == choose_style("x/1", topology)
    styles = {repr(choose_style(f"x/{n}", topology)) for n in range(8)}
    assert len(styles) > 1


def test_a_stored_incident_keeps_its_conventions_through_its_custom_fields() -> None:
    options = GenerationOptions(seed=2, conventions="mixed")
    metadata = generate("cpu-saturation", options).to_ingest_request().metadata
    assert metadata is not None
    fields = metadata.custom_fields
    assert fields is not None
    assert fields["scenario"]["conventions"] == "mixed"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    again = options_from_fields(
        fields["scenario"], start=start, end=None, minutes_before=15, minutes_after=15
    )
    assert again.conventions == "mixed"


def test_an_unknown_convention_is_refused_naming_the_field() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidInputError) as raised:
        options_from_fields(
            {"conventions": "klingon"}, start=start, end=None, minutes_before=15, minutes_after=15
        )
    assert [e.path for e in raised.value.errors] == ["metadata.customFields.scenario.conventions"]


def test_a_field_scenario_is_found_from_a_scenario_source_ref() -> None:
    assert scenario_id_of("field-rotated-db-credential:run-7") == "field-rotated-db-credential"


def test_mixed_conventions_vary_units_without_changing_the_names_drawn_before() -> None:
    topology = get_scenario("cpu-saturation").topology
    styles = [choose_style(f"cpu-saturation/{n}", topology, vary_units=True) for n in range(40)]
    units = {
        (signal, metric.name, metric.unit) for style in styles for signal, metric in style.units
    }
    # CPU and the error ratio in percent, said by the name, by the unit or by neither; latency in ms.
    assert ("cpu", "CPUUtilization", "") in units
    assert ("cpu", "docker.cpu.usage", "percent") in units
    assert ("errors", "http_requests_error_percent", "%") in units
    assert ("latency", "http.server.duration", "ms") in units
    for n, style in enumerate(styles):
        plain = choose_style(f"cpu-saturation/{n}", topology)
        assert plain.units == ()
        assert (plain.languages, plain.app_dialects, plain.infra) == (
            style.languages,
            style.app_dialects,
            style.infra,
        )


def test_a_cpu_in_percent_carries_the_same_utilisation_a_hundredfold() -> None:
    for seed in range(40):
        incident = mixed("cpu-saturation", seed)
        style = style_of(get_scenario("cpu-saturation"), incident.topology, incident.options)
        if dict(style.units).get("cpu") is None:
            continue
        house = generate("cpu-saturation", GenerationOptions(seed=seed))
        node = next(
            n for n in incident.topology.services if n.kind not in ("database", "cache", "dns")
        )
        cpu = dict(style.units)["cpu"]
        native = next(
            a
            for a in house.artifacts
            if isinstance(a, MetricSeries)
            and a.service == node.name
            and a.name == "cpu_utilization"
        )
        renamed = next(
            a
            for a in incident.artifacts
            if isinstance(a, MetricSeries) and a.service == node.name and a.name == cpu.name
        )
        assert renamed.unit == (cpu.unit or None)
        for mine, theirs in zip(renamed.points, native.points, strict=True):
            assert mine.value == pytest.approx(theirs.value * 100, rel=1e-4, abs=1e-4)
        return
    raise AssertionError("no seed drew a CPU in percent")


def incident_with_form(form: str, scenario_id: str = "latency-spike") -> GeneratedIncident:
    for seed in range(60):
        incident = mixed(scenario_id, seed)
        style = style_of(get_scenario(scenario_id), incident.topology, incident.options)
        if form in style.forms:
            return incident
    raise AssertionError(f"no seed drew the {form} form")


def test_exporter_forms_are_drawn_apart_with_their_stated_shares() -> None:
    topology = get_scenario("cpu-saturation").topology
    seeds = [f"cpu-saturation/{n}" for n in range(300)]
    styles = [choose_style(seed, topology, vary_units=True) for seed in seeds]
    for form, share in FORM_SHARES.items():
        drawn = sum(form in style.forms for style in styles) / len(styles)
        assert abs(drawn - share) < 0.08
    for seed, style in zip(seeds, styles, strict=True):
        # Every other choice is the one drawn without the forms; the field library has none.
        plain = choose_style(seed, topology)
        assert plain.forms == frozenset()
        assert (plain.languages, plain.app_dialects, plain.infra, plain.spans) == (
            style.languages,
            style.app_dialects,
            style.infra,
            style.spans,
        )


def test_a_latency_histograms_sum_over_its_count_is_a_mean_below_the_p95() -> None:
    incident = incident_with_form("histogram")
    read = normalise(list(incident.artifacts), DEFAULT_TABLE)
    means = [a for a in read if isinstance(a, MetricSeries) and a.name.endswith(":mean_latency")]
    assert means
    for mean in means:
        assert DEFAULT_TABLE.kind_of(mean.name) == "latency"
        assert 0.0 < mean.stats.median < 5.0  # seconds per request
    assert not [
        a for a in read if isinstance(a, MetricSeries) and a.name.endswith(("_sum", ".sum"))
    ]


def test_requests_counted_by_outcome_add_up_to_the_requests() -> None:
    incident = incident_with_form("outcomes", "bad-deploy-error-spike")
    read = normalise(list(incident.artifacts), DEFAULT_TABLE)
    ratios = [a for a in read if isinstance(a, MetricSeries) and a.name.endswith(":error_ratio")]
    assert ratios
    for ratio in ratios:
        assert 0.0 <= ratio.stats.min <= ratio.stats.max <= 1.0


def test_a_cgroup_quota_over_its_period_is_the_containers_two_cores() -> None:
    incident = incident_with_form("cgroup", "cpu-saturation")
    sent = [a for a in incident.artifacts if isinstance(a, MetricSeries)]
    quotas = [a for a in sent if a.name == "container_spec_cpu_quota"]
    periods = [a for a in sent if a.name == "container_spec_cpu_period"]
    assert quotas
    assert len(quotas) == len(periods)
    assert quotas[0].stats.median / periods[0].stats.median == CPU_LIMIT_CORES
    read = normalise(list(incident.artifacts), DEFAULT_TABLE)
    cpus = [a for a in read if isinstance(a, MetricSeries) and a.name.startswith("container_cpu")]
    assert cpus
    assert all(a.unit == "1" and a.stats.max <= 1.0 for a in cpus)
    assert not [a for a in read if isinstance(a, MetricSeries) and "cpu_quota" in a.name]


def test_a_latency_histograms_buckets_read_into_the_bucket_of_the_p95_the_gauge_sends() -> None:
    incident = incident_with_form("buckets")
    style = style_of(get_scenario("latency-spike"), incident.topology, incident.options)
    house = generate("latency-spike", GenerationOptions(seed=incident.options.seed))
    gauges = {
        a.service: {p.ts: p.value / 1000 for p in a.points}
        for a in house.artifacts
        if isinstance(a, MetricSeries) and a.name == "latency_p95_ms"
    }
    bounds = {
        n.name: BUCKET_FORMS[style.app_dialects[n.key]][1]
        for n in incident.topology.services
        if n.key in style.app_dialects and style.app_dialects[n.key] in BUCKET_FORMS
    }
    read = normalise(list(incident.artifacts), DEFAULT_TABLE)
    quantiles = [a for a in read if isinstance(a, MetricSeries) and a.name.endswith(":p95_latency")]
    assert quantiles
    compared = 0
    for quantile in quantiles:
        assert DEFAULT_TABLE.kind_of(quantile.name) == "latency"
        assert quantile.unit == "s"
        service = str(quantile.service)
        for point in quantile.points:
            gauge = gauges[service].get(point.ts)
            if gauge is None or gauge != gauge:
                continue
            # Linear inside a bucket, as Prometheus reads it: the gauge's bucket, not its value.
            assert bisect_left(bounds[service], point.value - 1e-9) == bisect_left(
                bounds[service], gauge
            )
            compared += 1
    assert compared > 20
    assert not [
        a for a in read if isinstance(a, MetricSeries) and a.name.endswith(("_bucket", "_sum"))
    ]


def test_buckets_sent_alone_carry_the_requests_in_their_infinite_bucket() -> None:
    for seed in range(80):
        incident = mixed("traffic-surge-saturation", seed)
        style = style_of(get_scenario(incident.scenario_id), incident.topology, incident.options)
        if "buckets" not in style.forms or "histogram" in style.forms:
            continue
        micrometer = [
            n for n in incident.topology.services if style.app_dialects.get(n.key) == "micrometer"
        ]
        if not micrometer:
            continue
        name = micrometer[0].name
        sent = [a for a in incident.artifacts if isinstance(a, MetricSeries) and a.service == name]
        # No count of every request was sent: only the buckets and the failures' count.
        assert not [a for a in sent if a.labels.get("outcome") == "ALL" and "le" not in a.labels]
        read = [
            a
            for a in normalise(list(incident.artifacts), DEFAULT_TABLE)
            if isinstance(a, MetricSeries) and a.service == name
        ]
        requests = [
            a
            for a in read
            if a.name == "http_server_requests_seconds_count" and a.labels.get("outcome") == "ALL"
        ]
        assert len(requests) == 1
        assert DEFAULT_TABLE.kind_of(requests[0].name, requests[0].labels) == "traffic"
        assert requests[0].stats.median > 0
        return
    raise AssertionError("no seed drew the buckets alone on a Micrometer service")


def house_gauges(incident: GeneratedIncident, name: str) -> dict[str, dict[datetime, float]]:
    """The house style's ``name`` per service and minute, for the same incident and seed."""
    house = generate(incident.scenario_id, GenerationOptions(seed=incident.options.seed))
    return {
        str(a.service): {p.ts: p.value for p in a.points}
        for a in house.artifacts
        if isinstance(a, MetricSeries) and a.name == name
    }


def test_failures_counted_apart_read_back_as_the_error_ratio_the_gauge_sends() -> None:
    incident = incident_with_form("failures", "bad-deploy-error-spike")
    style = style_of(get_scenario(incident.scenario_id), incident.topology, incident.options)
    apart = {
        n.name for n in incident.topology.services if style.app_dialects.get(n.key) in FAILURE_FORMS
    }
    assert apart
    gauges = house_gauges(incident, "error_ratio")
    read = normalise(list(incident.artifacts), DEFAULT_TABLE)
    ratios = {
        str(a.service): a
        for a in read
        if isinstance(a, MetricSeries) and a.name.endswith(":error_ratio") and a.service in apart
    }
    assert set(ratios) == apart
    compared = 0
    for service, ratio in ratios.items():
        for point in ratio.points:
            gauge = gauges[service].get(point.ts)
            if gauge is None or gauge != gauge:
                continue
            # Rounded to six places as exported, over requests jittered apart.
            assert point.value == pytest.approx(gauge, abs=2e-4, rel=0.1)
            compared += 1
    assert compared > 20


def test_failures_counted_beside_the_successes_read_back_as_the_gauges_ratio_and_requests() -> None:
    for seed in range(60):
        incident = mixed("bad-deploy-error-spike", seed)
        style = style_of(get_scenario(incident.scenario_id), incident.topology, incident.options)
        if "successes" in style.forms and "failures" not in style.forms:
            break
    else:
        raise AssertionError("no seed drew the successes form alone")
    beside = {
        n.name
        for n in incident.topology.services
        if style.app_dialects.get(n.key) in SUCCESS_FORMS and n.kind not in NON_APP_KINDS
    }
    assert beside
    # Each pair's reading keeps the id of the series it replaced: the failures', the successes'.
    keys = {n.name: n.key for n in incident.topology.services}
    sent = {
        a.artifact_id: index
        for a in incident.artifacts
        if isinstance(a, MetricSeries)
        if a.service in beside
        for index, metric in enumerate(SUCCESS_FORMS[style.app_dialects[keys[str(a.service)]]])
        if a.name == metric.name and all(a.labels.get(k) == v for k, v in metric.labels)
    }
    read = [
        a
        for a in normalise(list(incident.artifacts), DEFAULT_TABLE)
        if isinstance(a, MetricSeries) and a.artifact_id in sent
    ]
    compared = 0
    for index, (signal, gauge_name) in enumerate(
        (("error_ratio", "error_ratio"), ("traffic", "request_rate"))
    ):
        gauges = house_gauges(incident, gauge_name)
        for service in beside:
            (found,) = [a for a in read if a.service == service and sent[a.artifact_id] == index]
            assert DEFAULT_TABLE.kind_of(found.name) == signal
            for point in found.points:
                gauge = gauges[service].get(point.ts)
                if gauge is None or gauge != gauge:
                    continue
                # failed / (failed + succeeded): the share of every request, not of the successes
                assert point.value == pytest.approx(gauge, abs=2e-4, rel=0.1)
                compared += 1
    assert compared > 40


def test_a_summary_reads_back_as_the_p95_the_gauge_sends_and_its_median() -> None:
    incident = incident_with_form("summary")
    style = style_of(get_scenario(incident.scenario_id), incident.topology, incident.options)
    summaries = {n.name: style.summary(n) for n in incident.topology.services}
    with_p95 = {name for name, form in summaries.items() if form and 0.95 in form[1]}
    assert with_p95
    gauges = house_gauges(incident, "latency_p95_ms")
    read = [
        a
        for a in normalise(list(incident.artifacts), DEFAULT_TABLE)
        if isinstance(a, MetricSeries) and a.service in with_p95
    ]
    compared = 0
    for service in with_p95:
        latencies = [
            a
            for a in read
            if a.service == service and DEFAULT_TABLE.kind_of(a.name, a.labels) == "latency"
        ]
        # One quantile and the median: no p99, no max, no mean beside them.
        assert len(latencies) == 2
        (tail,) = [a for a in latencies if statistic_of(a) != 0.5]
        assert statistic_of(tail) == pytest.approx(0.95)
        for point in tail.points:
            gauge = gauges[service].get(point.ts)
            if gauge is None or gauge != gauge:
                continue
            assert point.value == pytest.approx(gauge / 1000, rel=1e-3, abs=2e-6)
            compared += 1
    assert compared > 20


def test_a_summary_without_a_p95_is_read_at_its_next_quantile_above() -> None:
    for seed in range(120):
        incident = mixed("latency-spike", seed)
        style = style_of(get_scenario(incident.scenario_id), incident.topology, incident.options)
        golang = [
            n.name
            for n in incident.topology.services
            if style.summary(n) is not None and style.app_dialects[n.key] == "prometheus-go"
        ]
        if not golang:
            continue
        read = [
            a
            for a in normalise(list(incident.artifacts), DEFAULT_TABLE)
            if isinstance(a, MetricSeries)
            and a.service == golang[0]
            and DEFAULT_TABLE.kind_of(a.name, a.labels) == "latency"
        ]
        assert sorted(a.labels.get("quantile", "") for a in read) == ["0.5", "0.99"]
        return
    raise AssertionError("no seed drew the summary form on a Go service")
