"""Call edges: slow paths read per direction and from both ends of a call, which end of a slowed
call keeps it, and calls each request made that vanished."""

from __future__ import annotations

from typing import Any

from chronosops.analysis.signals import DEFAULT_TABLE
from chronosops.analysis.suspects import Suspect, rank_suspects
from chronosops.analysis.suspects.cut import Cut
from chronosops.analysis.suspects.edges import edge_attribution, edge_gaps, path_latency
from chronosops.core.artifacts import MetricSeries
from tests.analysis.builders import analysis_input, at, series
from tests.analysis.suspects.builders import checkout_calling, edge, flat, rate, suspect_kinds


def test_a_slower_path_to_a_service_that_serves_as_fast_as_before_reads_as_network() -> None:
    from chronosops.analysis import analyze

    metrics = edge("outbound_request_latency_p50_seconds", "checkout", "email", 0.01, 0.4)
    metrics += series("server_latency_p90_seconds", 0.01, 0.0101, service="email")
    metrics += series("requests_per_second", 5, 5, service="email")
    metrics += series("server_latency_p90_seconds", 0.05, 0.45, service="checkout")
    metrics += series("requests_per_second", 5, 5, service="checkout")
    result = analyze(analysis_input(service="checkout", metrics=metrics))
    assert result.suspects[0] == "email"
    assert result.hypotheses[0].id == "NETWORK_DNS_ISSUE"
    assert result.culprit_service == "email"


def test_an_edge_slower_from_one_caller_only_points_at_that_callers_side() -> None:
    metrics = edge("outbound_request_latency_p50_seconds", "checkout", "currency", 0.01, 0.3)
    metrics += edge("outbound_request_latency_p50_seconds", "frontend", "currency", 0.01, 0.01)
    request = analysis_input(metrics=metrics)
    found = {s.service: s for s in rank_suspects(request.artifacts, request.context)}
    assert found["checkout"].kinds["edge_latency"] > found["currency"].kinds["edge_latency"]


def inbound(
    name: str, caller: str, callee: str, before: float, after: float
) -> list[dict[str, Any]]:
    points = series(name, before, after, service=callee)
    for point in points:
        point["labels"] = {"service": callee, "source_service": caller}
    return points


def test_two_callers_waiting_longer_on_a_service_say_more_than_one() -> None:
    metrics = edge("outbound_request_latency_p50_seconds", "checkout", "currency", 0.01, 0.05)
    metrics += edge("outbound_request_latency_p50_seconds", "frontend", "currency", 0.01, 0.05)
    metrics += edge("outbound_request_latency_p50_seconds", "checkout", "email", 0.01, 0.05)
    found = suspect_kinds(metrics=metrics)
    assert found["currency"]["edge_latency"] > found["email"]["edge_latency"]


def test_a_call_the_callee_serves_as_slowly_as_the_caller_waits_lost_no_time_between_them() -> None:
    metrics = edge("outbound_request_latency_p50_seconds", "checkout", "currency", 0.01, 0.05)
    metrics += edge("outbound_request_latency_p50_seconds", "frontend", "currency", 0.01, 0.05)
    slow_between = suspect_kinds(
        metrics=metrics
        + inbound("inbound_request_latency_p50_seconds", "checkout", "currency", 0.01, 0.01)
        + inbound("inbound_request_latency_p50_seconds", "frontend", "currency", 0.01, 0.01)
    )
    slow_inside = suspect_kinds(
        metrics=metrics
        + inbound("inbound_request_latency_p50_seconds", "checkout", "currency", 0.01, 0.05)
        + inbound("inbound_request_latency_p50_seconds", "frontend", "currency", 0.01, 0.05)
    )
    assert slow_between["currency"]["edge_latency"] > slow_inside["currency"]["edge_latency"]


def both_views(
    caller: str, callee: str, waited: dict[int, float], served: dict[int, float]
) -> list[dict[str, Any]]:
    """One call edge seen from both ends: the caller's wait and the callee's own time."""
    return flat(
        "outbound_request_latency_p50_seconds",
        waited,
        {"service": caller, "destination_service": callee},
    ) + flat(
        "inbound_request_latency_p50_seconds",
        served,
        {"service": callee, "source_service": caller},
    )


def earlier_fault_then(after: float) -> dict[int, float]:
    """0.2 s a call, 2 s during an earlier fault that ended four minutes before the onset."""
    return {
        minute: 2.0 if -9 <= minute <= -5 else (0.2 + 0.01 * (minute % 3) if minute < 0 else after)
        for minute in range(-15, 5)
    }


def gaps_of(metrics: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    request = analysis_input(metrics=metrics)
    series_only = [a for a in request.artifacts if isinstance(a, MetricSeries)]
    return edge_gaps(series_only, DEFAULT_TABLE, Cut.around(request.context.onset))


def test_a_gap_between_the_callers_wait_and_the_callees_own_time_survives_an_earlier_fault() -> (
    None
):
    # Both views carry the earlier fault (the callee was slow then); only the caller's grows at
    # the onset. Each view alone has too short a calm stretch to read; the gap needs none.
    metrics = both_views("frontend", "checkout", earlier_fault_then(0.5), earlier_fault_then(0.2))
    assert gaps_of(metrics)[("frontend", "checkout")] > 5


def test_more_traffic_slowing_both_ends_alike_opens_no_gap() -> None:
    waited = {m: (0.01 if m < 0 else 0.03) + 0.001 * (m % 3) for m in range(-15, 5)}
    served = {minute: value - 0.002 for minute, value in waited.items()}
    metrics = both_views("frontend", "checkout", waited, served)
    metrics += series("requests_per_second", 10, 20, service="checkout")
    assert abs(gaps_of(metrics)[("frontend", "checkout")]) < 1


def test_a_callee_whose_only_caller_waits_longer_outranks_the_caller_calm_on_its_other_calls() -> (
    None
):
    edges = [("frontend", "checkout")]
    edges += [("frontend", callee) for callee in ("cart", "ads", "catalog", "currency")]
    edges += [("checkout", callee) for callee in ("payment", "email", "shipping", "currency")]
    moves = {edge: [(0.0, 1.0, f"metric:{edge[1]}", True)] for edge in edges}
    gaps = dict.fromkeys(edges, 0.0)
    gaps[("frontend", "checkout")] = 10.0
    found: dict[str, Suspect] = {}
    path_latency(moves, gaps, {}, found)
    assert found["checkout"].kinds["edge_latency"] > 1.2 * found["frontend"].kinds["edge_latency"]


def test_a_callee_every_caller_waits_on_takes_the_slowed_call_from_a_caller_calm_elsewhere() -> (
    None
):
    # A network delay at catalog: all three of its callers wait longer on it, and checkout's
    # other calls are as fast as before. The common end explains the call away from checkout.
    moves = {
        ("frontend", "catalog"): 12.0,
        ("recommendation", "catalog"): 10.0,
        ("checkout", "catalog"): 11.0,
        ("checkout", "cart"): 0.0,
        ("checkout", "payment"): -0.5,
        ("checkout", "email"): 0.2,
    }
    caller_share, callee_share = edge_attribution(moves)[("checkout", "catalog")]
    assert callee_share == 1.0
    assert caller_share < 0.3


def test_a_slowed_call_with_nothing_to_tell_its_ends_apart_stays_with_both() -> None:
    assert edge_attribution({("frontend", "checkout"): 6.0}) == {
        ("frontend", "checkout"): (1.0, 1.0)
    }


def test_a_leaf_callee_keeps_its_only_call_from_a_caller_whose_other_calls_are_calm() -> None:
    # email has no other edge to speak for or against it; checkout's other calls are calm.
    moves = {("checkout", "email"): 20.0, ("checkout", "cart"): 0.0, ("checkout", "payment"): 0.0}
    caller_share, callee_share = edge_attribution(moves)[("checkout", "email")]
    assert callee_share == 1.0
    assert caller_share < 0.5


def test_a_caller_calm_on_its_other_calls_gets_little_of_the_callees_slowed_edge_metric() -> None:
    metrics = edge("outbound_request_latency_p50_seconds", "checkout", "email", 0.005, 0.5)
    for callee in ("cart", "payment", "shipping"):
        metrics += edge("outbound_request_latency_p50_seconds", "checkout", callee, 0.005, 0.005)
    request = analysis_input(metrics=metrics)
    found = {s.service: s for s in rank_suspects(request.artifacts, request.context)}
    assert found["email"].kinds["edge_latency"] > 0.9
    assert found["checkout"].kinds["edge_latency"] < 0.5 * found["email"].kinds["edge_latency"]


def test_calls_every_request_made_that_stopped_while_requests_kept_coming_point_at_the_caller() -> (
    None
):
    from chronosops.analysis import analyze

    metrics = checkout_calling(payment_after=0.0, email_after=0.0)
    found = suspect_kinds(metrics=metrics)
    assert found["checkout"]["calls_vanished"] > 0.5
    result = analyze(analysis_input(service="frontend", metrics=metrics))
    assert result.suspects[0] == "checkout"
    assert result.hypotheses[0].id == "DEPLOY_BUG"


def since(metrics: list[dict[str, Any]], minute: int) -> list[dict[str, Any]]:
    """The points from ``minute`` (before the onset) on: a shorter look-back."""
    return [m for m in metrics if m["timestamp"] >= at(minute)]


def test_calls_that_vanished_are_read_on_a_three_point_baseline_weighed_down() -> None:
    # A five-minute look-back leaves three points before the cut's guard gap: enough for the
    # level the missing calls are counted against, weaker than a full baseline.
    full = suspect_kinds(metrics=checkout_calling(payment_after=0.0, email_after=0.0))
    short = suspect_kinds(metrics=since(checkout_calling(payment_after=0.0, email_after=0.0), -5))
    assert 0.0 < short["checkout"]["calls_vanished"] < full["checkout"]["calls_vanished"]


def test_calls_that_vanished_are_not_read_on_a_single_baseline_point() -> None:
    metrics = since(checkout_calling(payment_after=0.0, email_after=0.0), -3)
    assert "calls_vanished" not in suspect_kinds(metrics=metrics).get("checkout", {})


def test_a_plain_traffic_drop_at_the_caller_is_no_vanished_call() -> None:
    metrics = checkout_calling(payment_after=0.05, email_after=0.05, checkout_after=0.05)
    assert "calls_vanished" not in suspect_kinds(metrics=metrics).get("checkout", {})


def test_a_callee_another_service_calls_too_is_not_read_for_vanished_calls() -> None:
    # The shared callee loses its calls; the ones only checkout makes go on.
    metrics = checkout_calling(payment_after=0.4, email_after=0.4, currency_after=0.5)
    assert "calls_vanished" not in suspect_kinds(metrics=metrics).get("checkout", {})


def test_a_callees_own_view_slower_than_its_caller_waits_is_not_the_callee_slowing() -> None:
    # checkout calls currency a few times a minute: currency's own p50 of those calls jumps
    # tenfold while checkout waits on them as long as before. A callee cannot serve a call
    # slower than its caller waits for it; the percentile is over too few calls.
    calm = {minute: 0.004 + 0.0002 * (minute % 3) for minute in range(-15, 5)}
    jumped = {minute: value if minute < 0 else 0.05 for minute, value in calm.items()}
    metrics = both_views("checkout", "currency", calm, jumped)
    assert suspect_kinds(metrics=metrics).get("currency", {}).get("edge_latency", 0.0) < 0.3


def test_a_callee_serving_slower_as_its_caller_waits_longer_keeps_its_own_view() -> None:
    calm = {minute: 0.004 + 0.0002 * (minute % 3) for minute in range(-15, 5)}
    waited = {minute: value if minute < 0 else 0.052 for minute, value in calm.items()}
    served = {minute: value if minute < 0 else 0.05 for minute, value in calm.items()}
    metrics = both_views("checkout", "currency", waited, served)
    assert suspect_kinds(metrics=metrics)["currency"]["edge_latency"] > 0.5


def test_a_busy_callers_calm_calls_outweigh_a_quiet_callers_calm_call() -> None:
    # web's calls to ship slowed; checkout's few calls a minute to ship did not move, and web's
    # many calls to cart did not either. The better-supported calm says web's side is fine.
    metrics = edge("outbound_request_latency_p50_seconds", "web", "ship", 0.005, 0.7)
    metrics += edge("outbound_request_latency_p50_seconds", "checkout", "ship", 0.005, 0.005)
    metrics += edge("outbound_request_latency_p50_seconds", "web", "cart", 0.005, 0.005)
    metrics += (
        rate("web", 10, 10) + rate("cart", 20, 20) + rate("ship", 3, 3) + rate("checkout", 0.1, 0.1)
    )
    found = suspect_kinds(metrics=metrics)
    assert found["ship"]["edge_latency"] >= found["web"]["edge_latency"]


def test_a_busy_other_callers_calm_call_still_points_at_a_quiet_callers_side() -> None:
    # The converse: checkout's few calls to currency slowed while web's many calls to it, and
    # checkout's own few other calls, did not move: checkout's side of the path.
    metrics = edge("outbound_request_latency_p50_seconds", "checkout", "currency", 0.005, 0.7)
    metrics += edge("outbound_request_latency_p50_seconds", "web", "currency", 0.005, 0.005)
    metrics += edge("outbound_request_latency_p50_seconds", "checkout", "cart", 0.005, 0.005)
    metrics += (
        rate("web", 10, 10)
        + rate("cart", 20, 20)
        + rate("currency", 30, 30)
        + rate("checkout", 0.1, 0.1)
    )
    found = suspect_kinds(metrics=metrics)
    assert found["checkout"]["edge_latency"] > found["currency"]["edge_latency"]
