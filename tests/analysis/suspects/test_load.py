"""Saturation read against load: CPU that rises in proportion to a service's requests is load,
a latency percentile the service's own operations do not show is not its saturation, and a
tail that moved while the median held is a slower path."""

from __future__ import annotations

from typing import Any

import pytest

from chronosops.analysis.engine import suspect_candidates
from chronosops.analysis.signals import DEFAULT_TABLE
from chronosops.analysis.suspects import Suspect, rank_suspects
from chronosops.analysis.suspects.cut import Cut
from chronosops.analysis.suspects.load import cpu_beyond_load, own_time_calm
from chronosops.core.artifacts import MetricSeries, SpanGroup
from tests.analysis.builders import ONSET, analysis_input, at, series
from tests.analysis.suspects.builders import AFTER, BEFORE, calls


def cpu_and_traffic(
    cpu: tuple[float, float], rps: tuple[float, float], service: str = "cart"
) -> list[dict[str, Any]]:
    return series("cpu_usage_percent", *cpu, service=service) + series(
        "requests_per_second", *rps, service=service
    )


def beyond_load(metrics: list[dict[str, Any]]) -> dict[str, float]:
    request = analysis_input(metrics=metrics)
    found = [a for a in request.artifacts if isinstance(a, MetricSeries)]
    return cpu_beyond_load(found, DEFAULT_TABLE, Cut.around(ONSET))


def suspects_of(**lite: Any) -> dict[str, Suspect]:
    request = analysis_input(**lite)
    return {s.service: s for s in rank_suspects(request.artifacts, request.context)}


def test_cpu_that_rises_in_proportion_to_the_requests_is_load_not_saturation() -> None:
    # Three times the requests, three times the CPU: every request costs what it did.
    assert beyond_load(cpu_and_traffic((20, 60), (10, 30)))["cart"] == 0.0
    found = suspects_of(metrics=cpu_and_traffic((20, 60), (10, 30)))
    assert found["cart"].kinds.get("cpu", 0.0) == 0.0


def test_cpu_that_rises_beyond_what_the_requests_explain_stays_strong() -> None:
    # A fifth more requests, three times the CPU: most of the rise is not the load.
    assert beyond_load(cpu_and_traffic((20, 60), (10, 12)))["cart"] >= 0.8
    found = suspects_of(metrics=cpu_and_traffic((20, 60), (10, 12)))
    assert found["cart"].kinds["cpu"] >= 0.8


def test_cpu_is_read_as_it_is_when_the_requests_did_not_rise() -> None:
    assert "cart" not in beyond_load(cpu_and_traffic((20, 60), (10, 10)))
    assert suspects_of(metrics=cpu_and_traffic((20, 60), (10, 10)))["cart"].kinds["cpu"] >= 0.8


def spans_in(traces: list[dict[str, Any]]) -> list[SpanGroup]:
    request = analysis_input(traces=traces)
    return [a for a in request.artifacts if isinstance(a, SpanGroup)]


def test_a_service_whose_own_operations_serve_as_fast_as_before_has_calm_own_time() -> None:
    # web waits 5 → 300 ms on email; web's own time (the 4 ms around the call) is unchanged.
    traces = calls("web", "email", BEFORE, 5, 1, "e0") + calls("web", "email", AFTER, 300, 1, "e1")
    calm = own_time_calm(spans_in(traces), Cut.around(ONSET))
    assert "web" in calm
    assert "email" in calm


def test_a_service_whose_own_operations_got_slower_does_not_have_calm_own_time() -> None:
    # email itself takes 1 → 200 ms to serve: its own time moved.
    traces = calls("web", "email", BEFORE, 5, 1, "e0") + calls(
        "web", "email", AFTER, 205, 200, "e1"
    )
    calm = own_time_calm(spans_in(traces), Cut.around(ONSET))
    assert "email" not in calm


def test_a_latency_percentile_the_services_own_time_does_not_show_counts_half() -> None:
    metrics = series("server_latency_p99_seconds", 0.02, 0.2, service="web")
    metrics += series("requests_per_second", 20, 20, service="web")
    calm = calls("web", "email", BEFORE + AFTER, 5, 1, "c")
    shown = suspects_of(metrics=metrics)["web"]
    unshown = suspects_of(metrics=metrics, traces=calm)["web"]
    assert unshown.own_time_calm
    assert unshown.kinds["latency"] == 0.5 * shown.kinds["latency"]


def family(suspect: Suspect) -> str:
    return suspect_candidates([suspect])[0].hypothesis_id


def test_a_service_slower_to_serve_is_saturated_unless_its_own_time_did_not_move() -> None:
    slower = Suspect("web", kinds={"latency": 0.8})
    assert family(slower) == "CAPACITY_SATURATION"
    percentile_only = Suspect("web", kinds={"latency": 0.8}, own_time_calm=True)
    assert family(percentile_only) != "CAPACITY_SATURATION"


def test_cpu_beyond_the_load_with_its_own_time_slower_names_saturation() -> None:
    # cart: a fifth more requests, CPU 20 → 60 %, its own operation 1 → 200 ms.
    metrics = cpu_and_traffic((20, 60), (10, 12))
    traces = calls("web", "cart", BEFORE, 5, 1, "e0") + calls("web", "cart", AFTER, 205, 200, "e1")
    found = suspects_of(metrics=metrics, traces=traces)
    assert not found["cart"].own_time_calm
    assert family(found["cart"]) == "CAPACITY_SATURATION"


def test_a_tail_that_slowed_while_the_typical_request_did_not_reads_as_a_code_path() -> None:
    from chronosops.analysis.engine import _family

    metrics = (
        series("server_latency_p90_seconds", 0.035, 0.7, service="ads")
        + series("server_latency_p50_seconds", 0.014, 0.015, service="ads")
        + series("requests_per_second", 5, 5, service="ads")
    )
    request = analysis_input(metrics=metrics)
    suspect = rank_suspects(request.artifacts, request.context)[0]
    assert suspect.service == "ads"
    assert suspect.median_calm
    assert _family(suspect) == "DEPLOY_BUG"


@pytest.mark.parametrize(
    ("tail", "median"),
    [
        # a Prometheus summary's quantiles, by their label
        (
            ("rpc_duration_seconds", {"quantile": "0.99"}),
            ("rpc_duration_seconds", {"quantile": "0.5"}),
        ),
        # Datadog's percentiles as queried
        (
            ("trace.grpc.server.duration.by.service.95p", {}),
            ("trace.grpc.server.duration.by.service.50p", {}),
        ),
    ],
)
def test_a_summarys_median_is_read_as_the_median_whichever_way_it_is_named(
    tail: tuple[str, dict[str, str]], median: tuple[str, dict[str, str]]
) -> None:
    def labelled(name: str, labels: dict[str, str], before: float, after: float) -> list[Any]:
        return [
            {**p, "labels": {**p["labels"], **labels}}
            for p in series(name, before, after, service="ads")
        ]

    metrics = (
        labelled(*tail, 0.035, 0.7)
        + labelled(*median, 0.014, 0.015)
        + series("requests_per_second", 5, 5, service="ads")
    )
    request = analysis_input(metrics=metrics)
    suspect = rank_suspects(request.artifacts, request.context)[0]
    assert suspect.service == "ads"
    assert suspect.median_calm


def test_a_tail_and_a_median_that_slowed_together_still_read_as_saturation() -> None:
    from chronosops.analysis.engine import _family

    metrics = (
        series("server_latency_p90_seconds", 0.035, 0.7, service="ads")
        + series("server_latency_p50_seconds", 0.014, 0.3, service="ads")
        + series("requests_per_second", 5, 5, service="ads")
    )
    request = analysis_input(metrics=metrics)
    suspect = rank_suspects(request.artifacts, request.context)[0]
    assert not suspect.median_calm
    assert _family(suspect) == "CAPACITY_SATURATION"


def test_the_callees_own_view_of_calls_into_it_counts_as_its_median() -> None:
    inbound = series("inbound_request_latency_p50_seconds", 0.014, 0.015, service="ads")
    for point in inbound:
        point["labels"] = {"service": "ads", "source_service": "frontend"}
    metrics = inbound + series("server_latency_p90_seconds", 0.035, 0.7, service="ads")
    request = analysis_input(metrics=metrics)
    found = {s.service: s for s in rank_suspects(request.artifacts, request.context)}
    assert found["ads"].median_calm


def stepped(
    name: str, levels: list[tuple[int, int, float]], service: str = "cart"
) -> list[dict[str, Any]]:
    """A series at each (first minute, last minute, level) stretch, with a little jitter."""
    return [
        {
            "name": name,
            "value": round(level * (1 + 0.02 * ((minute % 3) - 1)), 6),
            "timestamp": at(minute),
            "labels": {"service": service},
        }
        for first, last, level in levels
        for minute in range(first, last + 1)
    ]


def test_cpu_against_load_reads_both_baselines_from_their_latest_regime() -> None:
    # An earlier CPU hog fills the first seven minutes of the window (CPU 95%, the service's
    # requests down to 1/s with it); the service then runs at 8% and 6/s, and at the onset its
    # CPU jumps to 60% at about the same traffic. Read against the whole window, the requests
    # "rose" sixfold and the CPU "fell" from 95%; read from the latest regime, as every series
    # is, the CPU rose sevenfold beyond its load.
    metrics = stepped("cpu_usage_percent", [(-15, -9, 95.0), (-8, -1, 8.0), (0, 14, 60.0)])
    metrics += stepped("requests_per_second", [(-15, -9, 1.0), (-8, -1, 6.0), (0, 14, 6.3)])
    assert beyond_load(metrics)["cart"] >= 0.8
    assert suspects_of(metrics=metrics)["cart"].kinds["cpu"] >= 0.8
