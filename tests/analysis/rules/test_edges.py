"""The edge rule: whose fault a caller's slower calls are."""

from __future__ import annotations

from chronosops.analysis.catalog import HypothesisId
from chronosops.analysis.localisation import localize
from chronosops.analysis.observations import observe
from chronosops.analysis.rules.edges import edge_candidates
from tests.analysis.topology_builders import Incident, level


def named(incident: Incident) -> set[tuple[HypothesisId, str | None]]:
    request = incident.request()
    obs = observe(request.artifacts, request.context)
    return {(HypothesisId(c.hypothesis_id), c.culprit) for c in edge_candidates(obs, localize(obs))}


def slower_calls(*, callee_ms: float) -> Incident:
    """web's calls to cart slow from 50 to 400 ms at the onset; cart's own server spans take
    ``callee_ms`` after it (5 before); cart's latency metric rises either way."""
    return (
        Incident("web")
        .spans("web", "GET /", ms=level(60, 420))
        .spans("web", "GetCart", peer="cart", ms=level(50, 400))
        .spans("cart", "GetCart", ms=level(5, callee_ms))
        .health("cart", latency=level(10, 40))
    )


def test_a_callee_whose_own_spans_took_as_long_as_before_is_not_named_an_outage() -> None:
    # The 350 ms web's calls gained were spent outside cart: on web's side or on the path.
    assert (HypothesisId.DOWNSTREAM_OUTAGE, "cart") not in named(slower_calls(callee_ms=5))


def test_a_callee_whose_own_spans_gained_the_time_is_named_an_outage() -> None:
    assert (HypothesisId.DOWNSTREAM_OUTAGE, "cart") in named(slower_calls(callee_ms=350))


def test_a_slow_callee_starved_of_cpu_is_saturated_not_out() -> None:
    found = named(
        slower_calls(callee_ms=350)
        .metric("cart", "cpu_usage_percent", level(0.1, 0.9))
        .metric("cart", "request_rate", level(100, 100))
    )
    assert (HypothesisId.CAPACITY_SATURATION, "cart") in found
    assert (HypothesisId.DOWNSTREAM_OUTAGE, "cart") not in found


PATH_OR_OUTAGE = {HypothesisId.NETWORK_DNS_ISSUE, HypothesisId.DOWNSTREAM_OUTAGE}


def a_few_calls_slower() -> Incident:
    """web's 20 calls a minute to cart take 50 ms throughout; from the onset 2 more a minute
    take 800 ms: the minutes' p95 rises sixteenfold while the typical call is as fast."""
    return (
        Incident("web")
        .spans("web", "GET /", ms=level(60, 60))
        .spans("web", "GetCart", peer="cart", ms=level(50, 50), per_minute=20)
        .spans("web", "GetCart", peer="cart", ms=level(800, 800), per_minute=level(0, 2))
        .spans("cart", "GetCart", ms=level(5, 5))
    )


def test_calls_whose_typical_one_is_as_fast_as_before_are_not_a_path_that_hangs() -> None:
    # A tail of a few calls (retries, a pause) is not the path between them slowed: a slow
    # network or proxy delays every call, the typical one too.
    found = named(a_few_calls_slower())
    assert not {culprit for hypothesis, culprit in found if hypothesis in PATH_OR_OUTAGE}


def test_calls_that_all_slowed_towards_a_healthy_callee_are_a_path_that_hangs() -> None:
    assert (HypothesisId.NETWORK_DNS_ISSUE, "web") in named(slower_calls(callee_ms=5))
