"""Span readings: own time per operation, waits on a callee, operations cut short, the time a
call spends outside its callee, and client spans."""

from __future__ import annotations

from typing import Any

from chronosops.analysis.localisation import starved_of_cpu
from chronosops.analysis.observations import observe
from chronosops.analysis.suspects import rank_suspects
from chronosops.analysis.suspects.spans import client_spans
from chronosops.core.artifacts import SpanGroup
from tests.analysis.builders import analysis_input, at, series
from tests.analysis.suspects.builders import AFTER, BEFORE, calls, ranked, suspect_kinds


def spans_of(service: str, operation: str, minutes: list[float], ms: float) -> list[dict[str, Any]]:
    return [
        {
            "traceId": f"{service}-{minute}",
            "spanId": f"{service}-{minute}-s",
            "service": service,
            "operation": operation,
            "duration": ms,
            "timestamp": at(minute),
        }
        for minute in minutes
    ]


def test_an_operation_slower_after_the_faults_start_counts_with_only_a_minute_of_baseline() -> None:
    # Traces kept for a minute either side of the fault (which starts a minute before the
    # alert): the operation went from 2 ms to 15 ms; its neighbour stayed as fast.
    before = [-2 + i / 10 for i in range(10)]  # the whole minute before the fault's start
    after = [-1 + i / 10 for i in range(10)] + [i / 10 for i in range(10)]
    traces = spans_of("travel", "GET /trips", before, 2.0)
    traces += spans_of("travel", "GET /trips", after, 15.0)
    traces += spans_of("seat", "GET /seats", before + after, 3.0)
    kinds = suspect_kinds(traces=traces)
    assert kinds["travel"]["span_latency"] >= 0.5
    assert kinds.get("seat", {}).get("span_latency", 0.0) == 0.0
    assert ranked(traces=traces)[0] == "travel"


def test_calls_waited_on_longer_while_the_callee_serves_as_fast_point_at_the_shared_end() -> None:
    # web waits 5 → 300 ms on email, which still serves in 1 ms; web's calls to cart are calm.
    traces = calls("web", "email", BEFORE, 5, 1, "e0") + calls("web", "email", AFTER, 300, 1, "e1")
    traces += calls("web", "cart", BEFORE + AFTER, 5, 1, "c")
    traces += calls("api", "email", BEFORE, 5, 1, "a0") + calls("api", "email", AFTER, 300, 1, "a1")
    kinds = suspect_kinds(traces=traces)
    assert kinds["email"]["edge_latency"] > kinds["web"]["edge_latency"]
    assert kinds["email"]["edge_latency"] >= 0.4
    assert ranked(traces=traces)[0] == "email"


def test_a_callers_time_spent_waiting_on_its_callee_is_not_its_own() -> None:
    traces = calls("web", "email", BEFORE, 5, 1, "e0") + calls("web", "email", AFTER, 300, 1, "e1")
    kinds = suspect_kinds(traces=traces)
    # web's own operation took 295 ms longer, all of it waiting on email.
    assert kinds["web"].get("span_latency", 0.0) == 0.0


def test_an_operation_cut_to_a_fraction_of_its_time_reads_as_its_services_code_path() -> None:
    from chronosops.analysis.engine import _family

    traces = spans_of("web", "GET /product", BEFORE, 120.0) + spans_of(
        "web", "GET /product", AFTER, 1.0
    )
    traces += spans_of("catalog", "GetProduct", BEFORE + AFTER, 3.0)
    request = analysis_input(traces=traces)
    leader = rank_suspects(request.artifacts, request.context)[0]
    assert leader.service == "web"
    assert leader.kinds["span_cut_short"] >= 0.5
    assert _family(leader) == "DEPLOY_BUG"


def test_a_fast_operations_wobble_is_not_cut_short() -> None:
    traces = spans_of("web", "GET /health", BEFORE, 2.0) + spans_of(
        "web", "GET /health", AFTER, 0.4
    )
    assert "span_cut_short" not in suspect_kinds(traces=traces).get("web", {})


def test_an_operation_twice_as_fast_under_more_traffic_is_not_cut_short() -> None:
    more = AFTER + [minute + 0.05 for minute in AFTER]
    traces = spans_of("web", "GET /product", BEFORE, 40.0) + spans_of(
        "web", "GET /product", more, 20.0
    )
    assert "span_cut_short" not in suspect_kinds(traces=traces).get("web", {})


def test_calls_spending_long_outside_their_callee_point_at_it_with_no_traces_before_the_fault() -> (
    None
):
    # Traces kept only from the fault on: web's and api's calls to email wait 300 ms while email
    # serves in 1 ms; web's calls to cart and shop's to stock lose 4 ms as every call does.
    traces = calls("web", "email", AFTER, 300, 1, "e") + calls("api", "email", AFTER, 300, 1, "a")
    traces += calls("web", "cart", AFTER, 5, 1, "c") + calls("shop", "stock", AFTER, 5, 1, "s")
    kinds = suspect_kinds(traces=traces)
    assert kinds["email"]["edge_latency"] >= 0.9
    assert kinds["web"]["edge_latency"] < 0.5 * kinds["email"]["edge_latency"]
    assert "edge_latency" not in kinds.get("cart", {})
    assert ranked(traces=traces)[0] == "email"


def test_a_call_that_spent_as_long_outside_its_callee_before_the_fault_is_not_read() -> None:
    # A slow path all along (another region, a proxy): 300 ms before the fault and after it.
    traces = calls("web", "email", BEFORE + AFTER, 300, 1, "e")
    traces += calls("web", "cart", BEFORE + AFTER, 5, 1, "c")
    traces += calls("shop", "stock", BEFORE + AFTER, 5, 1, "s")
    kinds = suspect_kinds(traces=traces)
    assert "edge_latency" not in kinds.get("email", {})


def test_a_few_milliseconds_more_outside_the_callee_are_the_meshs_jitter() -> None:
    traces = calls("web", "email", AFTER, 12, 1, "e") + calls("web", "cart", AFTER, 5, 1, "c")
    traces += calls("shop", "stock", AFTER, 5, 1, "s")
    kinds = suspect_kinds(traces=traces)
    assert "edge_latency" not in kinds.get("email", {})


def test_calls_too_few_to_give_a_typical_time_outside_the_callee_are_not_read() -> None:
    traces = calls("web", "email", AFTER[:4], 300, 1, "e") + calls("web", "cart", AFTER, 5, 1, "c")
    traces += calls("shop", "stock", AFTER, 5, 1, "s")
    kinds = suspect_kinds(traces=traces)
    assert "edge_latency" not in kinds.get("email", {})


def test_calls_of_a_caller_starved_of_cpu_spend_their_time_outside_the_callee_at_the_caller() -> (
    None
):
    # web's CPU went 30% → 95%: it reads email's replies late, though email answered in 1 ms.
    traces = calls("web", "email", AFTER, 300, 1, "e") + calls("web", "cart", AFTER, 5, 1, "c")
    traces += calls("shop", "stock", AFTER, 5, 1, "s")
    hot = kinds_as_the_engine_reads(traces, series("cpu_usage_percent", 30, 95, service="web"))
    assert hot["web"]["edge_latency"] >= 0.9
    assert "edge_latency" not in hot.get("email", {})


def test_a_caller_whose_cpu_rose_with_its_load_is_not_starved_and_its_slow_calls_are_the_paths() -> (
    None
):
    # web's CPU tripled with its requests: it is busier, not starved (the edge rules' reading,
    # `localisation.starved_of_cpu`); the time outside email is on the path, shared by both ends.
    traces = calls("web", "email", AFTER, 300, 1, "e") + calls("web", "cart", AFTER, 5, 1, "c")
    traces += calls("shop", "stock", AFTER, 5, 1, "s")
    metrics = series("cpu_usage_percent", 30, 90, service="web")
    metrics += series("requests_per_second", 10, 30, service="web")
    busy = kinds_as_the_engine_reads(traces, metrics)
    assert busy["email"]["edge_latency"] > 0


def kinds_as_the_engine_reads(
    traces: list[dict[str, Any]], metrics: list[dict[str, Any]]
) -> dict[str, dict[str, float]]:
    """The suspects' readings with the services starved of CPU read as the engine reads them."""
    request = analysis_input(traces=traces, metrics=metrics)
    obs = observe(request.artifacts, request.context)
    starved = frozenset(s for s in obs.services if starved_of_cpu(obs, s))
    found = rank_suspects(request.artifacts, request.context, starved=starved)
    return {s.service: s.kinds for s in found}


def wrapped_calls(
    caller: str, callee: str, minutes: list[float], wait_ms: float, tag: str
) -> list[dict[str, Any]]:
    """One trace per minute mark: the caller's 100 ms request, inside it a client span waiting
    ``wait_ms`` on the callee, and the callee's span a millisecond shorter."""
    operation = f"{callee}/Get"
    return calls(
        caller,
        callee,
        minutes,
        wait_ms,
        wait_ms - 1,
        tag,
        request_ms=100.0,
        client_operation=operation,
        callee_operation=operation,
        callee_at_ms=2.5,
    )


def test_a_span_that_only_waits_on_one_callee_is_the_callers_client_span() -> None:
    traces = wrapped_calls("web", "email", BEFORE + AFTER, 60, "w")
    request = analysis_input(traces=traces)
    spans = [a for a in request.artifacts if isinstance(a, SpanGroup)]
    waits = {(g.service, g.operation) for g in spans if g.artifact_id in client_spans(spans)}
    assert waits == {("web", "email/Get")}


def test_a_callee_answering_sooner_does_not_cut_its_callers_code_path_short() -> None:
    # web's request takes 100 ms throughout; its wait on email falls 60 → 5 ms (email answers
    # sooner). web's own code path did not change: nothing of it was cut short.
    traces = wrapped_calls("web", "email", BEFORE, 60, "w0")
    traces += wrapped_calls("web", "email", AFTER, 5, "w1")
    kinds = suspect_kinds(traces=traces)
    assert kinds.get("web", {}).get("span_cut_short", 0.0) == 0.0
