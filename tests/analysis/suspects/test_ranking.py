"""Services ranked by how far their own signals moved, callee before caller: robust to zero
baselines, idle services and caller-side symptoms."""

from __future__ import annotations

from typing import Any

from chronosops.analysis.operation_mix import FallenOperation
from chronosops.analysis.signals import DEFAULT_TABLE
from chronosops.analysis.suspects import Suspect, rank_suspects
from chronosops.analysis.suspects.ranking import own_mix_shifts
from chronosops.analysis.units import normalise
from tests.analysis.builders import analysis_input, at, series
from tests.analysis.suspects.builders import checkout_calling, edge, inventory_saturated, ranked


def test_the_service_whose_cpu_jumped_leads() -> None:
    order = ranked(
        metrics=series("cpu_usage_percent", 20, 95, service="cart")
        + series("cpu_usage_percent", 30, 31, service="checkout")
    )
    assert order[0] == "cart"


def test_an_edge_metric_is_credited_to_the_callee_and_the_callee_comes_first() -> None:
    order = ranked(
        metrics=edge("outbound_request_latency_p50_seconds", "frontend", "email", 0.01, 0.5)
        + series("server_latency_p90_seconds", 0.05, 0.6, service="frontend")
    )
    assert order.index("email") < order.index("frontend")


def test_a_topology_event_puts_the_callee_before_its_caller() -> None:
    metrics = series("server_latency_p90_seconds", 0.05, 0.8, service="gateway")
    metrics += series("server_latency_p90_seconds", 0.02, 0.5, service="ledger")
    alone = ranked(metrics=metrics)
    assert alone[0] == "gateway"
    with_graph = ranked(
        metrics=metrics,
        events=[
            {
                "type": "topology",
                "description": "gateway calls ledger",
                "timestamp": at(-20),
                "metadata": {"service": "gateway", "peerService": "ledger"},
            }
        ],
    )
    assert with_graph[0] == "ledger"


def test_metrics_alone_name_the_culprit_and_family_when_they_point_to_one() -> None:
    from chronosops.analysis import analyze

    metrics = inventory_saturated("frontend", "inventory")
    result = analyze(analysis_input(service="frontend", metrics=metrics))
    assert result.culprit_service == "inventory"
    assert result.hypotheses[0].id == "CAPACITY_SATURATION"
    assert result.suspects[0] == "inventory"


def success_rate(service: str, before: float, after: float) -> list[dict[str, Any]]:
    return [
        {
            "name": "success_rate_percent",
            "value": before if minute < 0 else after,
            "timestamp": at(minute),
            "labels": {"service": service},
        }
        for minute in range(-15, 5)
    ]


def explains(metrics: list[dict[str, Any]]) -> dict[str, float]:
    request = analysis_input(metrics=metrics)
    # The ranking reads series in their kind's unit, as the engine hands them over.
    artifacts = normalise(request.artifacts, DEFAULT_TABLE)
    return {s.service: s.explains for s in rank_suspects(artifacts, request.context)}


def test_a_caller_failing_a_few_percent_of_requests_is_a_symptom_its_broken_callee_explains() -> (
    None
):
    # checkout stopped calling payment and email (an exception ends its requests early) and
    # frontend, its caller, fails 3% of its requests: a symptom checkout's fault explains,
    # though 100% → 97% barely moves frontend's own ranking (a twentieth of the rate's level).
    metrics = checkout_calling(payment_after=0.0, email_after=0.0)
    assert explains(metrics)["checkout"] < 0.3
    metrics += success_rate("frontend", 100.0, 97.0)
    assert explains(metrics)["checkout"] >= 0.3


def test_a_success_rate_that_holds_is_no_symptom_to_explain() -> None:
    metrics = checkout_calling(payment_after=0.0, email_after=0.0)
    metrics += success_rate("frontend", 100.0, 99.9)
    assert explains(metrics)["checkout"] < 0.3


def frontend_failing_while_catalog_slows(catalog_success_after: float | None) -> list[str]:
    # frontend fails 60% of its requests; its calls to catalog went 10 ms → 100 ms, about as
    # anomalous as frontend itself.
    metrics = success_rate("frontend", 100.0, 40.0)
    metrics += edge("outbound_request_latency_p50_seconds", "frontend", "catalog", 0.010, 0.1)
    if catalog_success_after is not None:
        metrics += success_rate("catalog", 100.0, catalog_success_after)
    request = analysis_input(metrics=metrics)
    artifacts = normalise(request.artifacts, DEFAULT_TABLE)
    return [s.service for s in rank_suspects(artifacts, request.context)]


def test_a_caller_failing_its_requests_stays_ahead_of_a_callee_that_is_only_slower() -> None:
    # Latency adds up along a call, failures do not: a slower callee that fails nothing does
    # not explain the requests its caller fails.
    assert frontend_failing_while_catalog_slows(None)[0] == "frontend"


def test_a_callee_that_fails_too_still_comes_before_its_failing_caller() -> None:
    assert frontend_failing_while_catalog_slows(30.0)[0] == "catalog"


def _explained(metrics: list[dict[str, Any]]) -> dict[str, frozenset[str]]:
    request = analysis_input(metrics=metrics)
    artifacts = normalise(request.artifacts, DEFAULT_TABLE)
    return {s.service: s.explained_callers for s in rank_suspects(artifacts, request.context)}


def test_a_callee_explains_a_caller_that_is_only_slower_not_one_with_a_hot_cpu() -> None:
    metrics = series("cpu_usage_percent", 20, 97, service="inventory")
    metrics += series("server_latency_p90_seconds", 0.02, 0.4, service="inventory")
    metrics += series("server_latency_p90_seconds", 0.05, 0.5, service="frontend")
    metrics += edge("outbound_request_latency_p50_seconds", "frontend", "inventory", 0.02, 0.4)
    assert _explained(metrics)["inventory"] == {"frontend"}
    # frontend's own CPU pinned too: trouble of its own that inventory cannot explain.
    hot = metrics + series("cpu_usage_percent", 20, 97, service="frontend")
    assert _explained(hot)["inventory"] == frozenset()


def _fallen(service: str) -> FallenOperation:
    return FallenOperation(
        service=service,
        operation="Ads/getRandom",
        calls=0,
        spans=400,
        usual_share=0.1,
        incidents=10,
        p_value=1e-9,
        refs=(f"span:{service}",),
    )


def test_an_operation_mix_that_fell_at_a_service_alone_is_its_own() -> None:
    graph = {("frontend", "ads"), ("frontend", "catalog")}

    kept = own_mix_shifts([_fallen("ads")], graph, {})

    assert [f.service for f in kept] == ["ads"]


def test_an_operation_mix_that_fell_below_a_caller_whose_mix_fell_too_is_the_callers() -> None:
    # The frontend's handler stops early: every service it calls gets another mix of requests.
    graph = {("frontend", "ads"), ("frontend", "catalog")}

    kept = own_mix_shifts([_fallen("frontend"), _fallen("ads")], graph, {})

    assert [f.service for f in kept] == ["frontend"]


def test_an_operation_mix_that_fell_above_requests_cut_short_is_the_cut_services() -> None:
    # Requests now end at the catalog (an exception there): the frontend skips what came next.
    graph = {("frontend", "ads"), ("frontend", "checkout"), ("checkout", "catalog")}
    catalog = Suspect("catalog")
    catalog.note("requests_cut_short", 0.9, "span:catalog")

    kept = own_mix_shifts([_fallen("frontend"), _fallen("ads")], graph, {"catalog": catalog})

    assert kept == []
