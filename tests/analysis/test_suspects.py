"""Services ranked by how far their own signals moved: robust to zero baselines, idle services
and caller-side symptoms."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import pytest

from chronosops.analysis.signals import DEFAULT_TABLE
from chronosops.analysis.suspects import (
    Cut,
    Suspect,
    _edge_attribution,
    _edge_gaps,
    _path_latency,
    client_spans,
    deviation,
    latest_regime,
    log_key,
    rank_suspects,
    strength_of,
)
from chronosops.analysis.units import normalise
from chronosops.core.artifacts import MetricSeries, SpanGroup
from chronosops.core.timestamps import format_instant
from tests.analysis.builders import ONSET, analysis_input, at, logs, series


def edge(name: str, caller: str, callee: str, before: float, after: float) -> list[dict[str, Any]]:
    points = series(name, before, after, service=caller)
    for point in points:
        point["labels"] = {"service": caller, "destination_service": callee}
    return points


def ranked(**lite: Any) -> list[str]:
    request = analysis_input(**lite)
    return [s.service for s in rank_suspects(request.artifacts, request.context)]


def test_a_zero_baseline_gives_a_finite_deviation_scaled_by_the_unit_floor() -> None:
    z = deviation([0.0] * 10, [0.05, 0.05], floor=0.01, relative=0.05)
    assert math.isfinite(z)
    assert z == 5.0


def test_strength_grows_with_the_deviation_and_saturates() -> None:
    assert strength_of(-3) == 0.0
    assert 0 < strength_of(3) < strength_of(10) < strength_of(30) == 1.0


def test_the_service_whose_cpu_jumped_leads() -> None:
    order = ranked(
        metrics=series("cpu_usage_percent", 20, 95, service="cart")
        + series("cpu_usage_percent", 30, 31, service="checkout")
    )
    assert order[0] == "cart"


def test_latency_of_a_near_idle_service_counts_for_little() -> None:
    order = ranked(
        metrics=series("server_latency_p90_seconds", 0.001, 5.0, service="admin")
        + series("requests_per_second", 0.01, 0.01, service="admin")
        + series("server_latency_p90_seconds", 0.02, 0.2, service="orders")
        + series("requests_per_second", 20, 20, service="orders")
    )
    assert order[0] == "orders"


def test_an_edge_metric_is_credited_to_the_callee_and_the_callee_comes_first() -> None:
    order = ranked(
        metrics=edge("outbound_request_latency_p50_seconds", "frontend", "email", 0.01, 0.5)
        + series("server_latency_p90_seconds", 0.05, 0.6, service="frontend")
    )
    assert order.index("email") < order.index("frontend")


def test_error_lines_in_excess_of_the_baseline_point_at_their_service() -> None:
    background = logs("GET /items served in {i} ms", 40, level="INFO", start=-10, service="web")
    background += logs("GET /items served in {i} ms", 40, level="INFO", start=0.5, service="web")
    failures = logs("order {i} failed: price lookup threw", 30, start=0.5, service="pricing")
    order = ranked(logs=background + failures)
    assert order[0] == "pricing"


def test_the_log_key_masks_ids_numbers_and_bracketed_values() -> None:
    one = log_key("c.s.Impl#232 SpanID: 7de994d6484b9912 [refund][amount: 18.00]")
    other = log_key("c.s.Impl#232 SpanID: 1f4daf024add3e61 [refund][amount: 3.50]")
    assert one == other


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

    metrics = series("cpu_usage_percent", 20, 97, service="inventory")
    metrics += series("server_latency_p90_seconds", 0.02, 0.4, service="inventory")
    metrics += series("requests_per_second", 30, 30, service="inventory")
    metrics += series("server_latency_p90_seconds", 0.05, 0.5, service="frontend")
    metrics += series("requests_per_second", 40, 40, service="frontend")
    metrics += series("cpu_usage_percent", 30, 31, service="frontend")
    metrics += edge("outbound_request_latency_p50_seconds", "frontend", "inventory", 0.02, 0.4)
    result = analyze(analysis_input(service="frontend", metrics=metrics))
    assert result.culprit_service == "inventory"
    assert result.hypotheses[0].id == "CAPACITY_SATURATION"
    assert result.suspects[0] == "inventory"


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


def suspect_kinds(**lite: Any) -> dict[str, dict[str, float]]:
    request = analysis_input(**lite)
    return {s.service: s.kinds for s in rank_suspects(request.artifacts, request.context)}


def test_an_error_template_first_logged_after_the_onset_is_new_and_one_logged_before_is_not() -> (
    None
):
    background = logs("GET /items served in {i} ms", 40, level="INFO", start=-10, service="web")
    steady = logs("seat {i} not found", 20, start=-10, service="orders")
    steady += logs("seat {i} not found", 20, start=0.5, service="orders")
    new = logs("[queryForTravel][catch price exception] trip {i}", 3, start=0.5, service="basic")
    kinds = suspect_kinds(logs=background + steady + new)
    assert kinds["basic"]["log_new_errors"] > 0.4
    assert "log_new_errors" not in kinds["orders"]


def new_error_kinds_with_logs_from(start: float) -> dict[str, dict[str, float]]:
    """Steady lines from ``start`` minutes (the fault starts a minute before the onset) and an
    error template first logged after the onset."""
    background = logs("GET /items served in {i} ms", 30, level="INFO", start=start, service="web")
    new = logs("[queryForTravel][catch price exception] trip {i}", 3, start=0.5, service="basic")
    return suspect_kinds(logs=background + new)


def test_logs_reaching_under_a_minute_before_the_faults_start_still_show_a_template_is_new() -> (
    None
):
    # 48 s of logs before the fault's start: short of the metrics' guard gap, enough to have
    # shown a statement logged before.
    assert new_error_kinds_with_logs_from(-1.8)["basic"]["log_new_errors"] > 0.4


def test_logs_that_begin_just_before_the_faults_start_cannot_tell_a_template_is_new() -> None:
    # 12 s of logs before the fault's start: the window merely shows its first lines.
    assert "log_new_errors" not in new_error_kinds_with_logs_from(-1.2).get("basic", {})


def test_a_statement_logged_as_info_before_the_fault_and_as_error_after_is_a_new_error() -> None:
    background = logs("GET /items served in {i} ms", 40, level="INFO", start=-10, service="web")
    quiet = logs("[verifyCode][code not found] id {i}", 6, level="INFO", start=-6, service="codes")
    loud = logs("[verifyCode][code not found] id {i}", 4, start=0.5, service="codes")
    kinds = suspect_kinds(logs=background + quiet + loud)
    assert kinds["codes"]["log_new_errors"] > 0.4


def test_a_statement_logged_as_error_on_both_sides_is_not_new() -> None:
    background = logs("GET /items served in {i} ms", 40, level="INFO", start=-10, service="web")
    before = logs("[verifyCode][code not found] id {i}", 6, start=-6, service="codes")
    after = logs("[verifyCode][code not found] id {i}", 4, start=0.5, service="codes")
    kinds = suspect_kinds(logs=background + before + after)
    assert "log_new_errors" not in kinds.get("codes", {})


def errors_from(
    start: float, count: int, *, every: float = 0.1, logs_from: float = -10
) -> list[dict[str, Any]]:
    """Steady lines at "web" from ``logs_from`` minutes to four after the onset, and an error
    template at "contacts" logged ``count`` times from ``start`` minutes, every ``every``."""
    steady = round((4 - logs_from) * 10)
    lines = logs(
        "GET /items served in {i} ms", steady, level="INFO", start=logs_from, service="web"
    )
    lines += [
        {
            "message": f"[findContactsById][no contacts according to id] id {i}",
            "level": "ERROR",
            "timestamp": at(start + i * every),
            "service": "contacts",
        }
        for i in range(count)
    ]
    return lines


def test_an_error_template_that_began_in_the_guard_gap_after_a_telling_silence_is_new() -> None:
    # The fault starts a minute before the onset; its first line 30 s before that, after eight
    # minutes of logs it was silent in, and it keeps failing after.
    kinds = suspect_kinds(logs=errors_from(-1.5, 30))
    assert kinds["contacts"]["log_new_errors"] > 0.4


def test_an_error_template_that_began_in_the_guard_gap_names_a_code_fault_at_its_service() -> None:
    from chronosops.analysis import analyze

    result = analyze(analysis_input(service="web", logs=errors_from(-1.5, 30)))
    assert result.culprit_service == "contacts"
    assert result.hypotheses[0].id == "DEPLOY_BUG"


def test_an_error_template_too_sparse_for_its_silence_to_tell_stays_out() -> None:
    # Two lines in five and a half minutes: two minutes without one says nothing.
    kinds = suspect_kinds(logs=errors_from(-1.5, 2, every=3.0, logs_from=-3.5))
    assert "log_new_errors" not in kinds.get("contacts", {})


def test_an_error_template_that_began_before_the_guard_gap_is_not_new() -> None:
    kinds = suspect_kinds(logs=errors_from(-2.5, 40))
    assert "log_new_errors" not in kinds.get("contacts", {})


def test_an_error_burst_in_the_guard_gap_that_stopped_before_the_fault_is_not_new() -> None:
    kinds = suspect_kinds(logs=errors_from(-1.9, 8))
    assert "log_new_errors" not in kinds.get("contacts", {})


def test_a_new_error_naming_another_service_is_not_the_loggers_own_fault() -> None:
    background = logs("GET /items served in {i} ms", 40, level="INFO", start=-10, service="web")
    background += logs("price lookup took {i} ms", 40, level="INFO", start=-10, service="pricing")
    failing = logs("call {i} failed: no instances available for pricing", 5, service="travel")
    kinds = suspect_kinds(logs=background + failing)
    assert "log_new_errors" not in kinds.get("travel", {})


# More peers than a few plain words: Drain masks the name where they stand.
PEERS = ("ts-pricing", "ts-billing", "ts-seats", "ts-routes")


def test_a_new_error_whose_template_masks_the_peer_it_names_is_not_the_loggers_own_fault() -> None:
    background = logs("GET /items served in {i} ms", 40, level="INFO", start=-10, service="web")
    for peer in PEERS:
        background += logs("lookup took {i} ms", 40, level="INFO", start=-10, service=peer)
    # One statement naming four peers: the template masks the name ("<*>"), the examples keep it.
    failing = [
        line
        for peer in PEERS
        for line in logs(
            "request {i} processing failed; nested exception is java.lang.IllegalStateException:"
            f" No instances available for {peer} with root cause",
            2,
            service="travel",
        )
    ]
    kinds = suspect_kinds(logs=background + failing)
    assert "log_new_errors" not in kinds.get("travel", {})


def test_a_new_error_template_with_nothing_else_moving_names_a_code_fault_at_its_service() -> None:
    from chronosops.analysis import analyze

    lines = logs("GET /items served in {i} ms", 60, level="INFO", start=-10, service="web")
    lines += logs("GET /items served in {i} ms", 60, level="INFO", start=0.5, service="web")
    lines += logs("price {i} computed", 60, level="INFO", start=-10, service="pricing")
    lines += logs("price {i} computed", 60, level="INFO", start=0.5, service="pricing")
    lines += logs("[computePrice][rule table empty] trip {i}", 12, start=0.5, service="pricing")
    result = analyze(analysis_input(service="web", logs=lines))
    assert result.suspects[0] == "pricing"
    assert result.culprit_service == "pricing"
    assert result.hypotheses[0].id == "DEPLOY_BUG"


def errors_before_and_after(
    message: str, before: int, after: int, *, service: str
) -> list[dict[str, Any]]:
    """Steady lines at "web" on both sides, and ``message`` logged ``before`` times before the
    fault's start and ``after`` times after the onset at ``service``."""
    lines = logs("GET /items served in {i} ms", 40, level="INFO", start=-10, service="web")
    lines += logs("GET /items served in {i} ms", 40, level="INFO", start=0.5, service="web")
    if before:
        lines += logs(message, before, start=-6, service=service)
    if after:
        lines += logs(message, after, start=0.5, service=service)
    return lines


def test_a_service_failing_before_and_after_the_fault_with_most_of_the_errors_is_a_lead() -> None:
    failing = errors_before_and_after("no contacts for id {i}", 6, 8, service="contacts")
    ambient = errors_before_and_after("food store {i} is null", 2, 2, service="food")
    request = analysis_input(logs=failing + ambient[80:])
    suspects = rank_suspects(request.artifacts, request.context)
    assert suspects[0].service == "contacts"
    assert suspects[0].kinds["log_errors_persistent"] > 0.5
    assert "log_errors_persistent" not in {s.service: s.kinds for s in suspects}.get("food", {})


def test_errors_that_begin_after_the_fault_are_a_change_not_a_persistent_state() -> None:
    kinds = suspect_kinds(
        logs=errors_before_and_after("no contacts for id {i}", 0, 8, service="contacts")
    )
    assert "log_errors_persistent" not in kinds["contacts"]


def test_errors_that_fade_after_the_fault_are_a_recovery_not_a_persistent_state() -> None:
    kinds = suspect_kinds(
        logs=errors_before_and_after("no contacts for id {i}", 12, 2, service="contacts")
    )
    assert "log_errors_persistent" not in kinds.get("contacts", {})


def test_errors_that_surge_after_the_fault_are_a_change_not_a_persistent_state() -> None:
    lines = errors_before_and_after("no contacts for id {i}", 3, 60, service="contacts")
    kinds = suspect_kinds(logs=lines)
    assert "log_errors_persistent" not in kinds["contacts"]
    assert kinds["contacts"]["log_errors"] > 0.5  # read as the change it is


def test_persistent_errors_naming_another_service_are_that_peers_not_the_loggers() -> None:
    lines = errors_before_and_after(
        "call {i} failed: no instances available for pricing", 6, 8, service="travel"
    )
    lines += logs("price lookup took {i} ms", 40, level="INFO", start=-10, service="pricing")
    kinds = suspect_kinds(logs=lines)
    assert "log_errors_persistent" not in kinds.get("travel", {})


def test_persistent_errors_alone_rank_their_service_first_without_naming_it() -> None:
    from chronosops.analysis import analyze

    lines = errors_before_and_after("no contacts for id {i}", 6, 8, service="contacts")
    result = analyze(analysis_input(service="web", logs=lines))
    assert result.suspects[0] == "contacts"
    assert result.culprit_service is None  # a state is a lead, not a named cause


def test_an_edge_slower_from_one_caller_only_points_at_that_callers_side() -> None:
    metrics = edge("outbound_request_latency_p50_seconds", "checkout", "currency", 0.01, 0.3)
    metrics += edge("outbound_request_latency_p50_seconds", "frontend", "currency", 0.01, 0.01)
    request = analysis_input(metrics=metrics)
    found = {s.service: s for s in rank_suspects(request.artifacts, request.context)}
    assert found["checkout"].kinds["edge_latency"] > found["currency"].kinds["edge_latency"]


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


def calls(
    caller: str, callee: str, minutes: list[float], wait_ms: float, serve_ms: float, tag: str
) -> list[dict[str, Any]]:
    """One trace per minute mark: the caller's server span, its client span, the callee's span."""
    found: list[dict[str, Any]] = []
    for index, minute in enumerate(minutes):
        trace = f"{tag}-{index}"
        start = ONSET + timedelta(minutes=minute)

        def stamp(offset_ms: float, start: datetime = start) -> str:
            return format_instant(start + timedelta(milliseconds=offset_ms))

        found += [
            {
                "traceId": trace,
                "spanId": f"{trace}-s",
                "service": caller,
                "operation": "GET /",
                "duration": wait_ms + 4,
                "timestamp": stamp(0),
            },
            {
                "traceId": trace,
                "spanId": f"{trace}-c",
                "service": caller,
                "operation": f"call {callee}",
                "duration": wait_ms,
                "timestamp": stamp(2),
            },
            {
                "traceId": trace,
                "spanId": f"{trace}-e",
                "service": callee,
                "operation": "serve",
                "duration": serve_ms,
                "timestamp": stamp(3),
            },
        ]
    return found


BEFORE = [-2 + i / 10 for i in range(10)]
AFTER = [-1 + i / 10 for i in range(10)] + [i / 10 for i in range(10)]


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


def test_a_baseline_reaching_back_into_an_earlier_fault_is_read_from_its_latest_regime() -> None:
    def seconds(minute: int) -> float:
        if minute < -7:
            return 2.0  # the previous incident, still in the window
        return 0.01 if minute < 0 else 0.05

    metrics = [
        {
            "name": "server_latency_p90_seconds",
            "value": seconds(minute) * (1 + 0.02 * ((minute % 3) - 1)),
            "timestamp": at(minute),
            "labels": {"service": "currency"},
        }
        for minute in range(-15, 15)
    ]
    assert suspect_kinds(metrics=metrics)["currency"].get("latency", 0.0) > 0.3


def test_a_calm_baseline_with_one_spike_keeps_all_its_points() -> None:
    baseline = [1.0, 1.02, 0.98, 5.0, 1.0, 0.99, 1.01, 1.0]
    assert latest_regime(baseline, floor=0.01, relative=0.05) == baseline


def flat(name: str, values: dict[int, float], labels: dict[str, str]) -> list[dict[str, Any]]:
    """A metric at the given value per minute (no jitter), from 15 minutes before the onset."""
    return [
        {"name": name, "value": value, "timestamp": at(minute), "labels": dict(labels)}
        for minute, value in sorted(values.items())
    ]


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
    return _edge_gaps(series_only, DEFAULT_TABLE, Cut.around(request.context.onset))


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
    _path_latency(moves, gaps, {}, found)
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
    caller_share, callee_share = _edge_attribution(moves)[("checkout", "catalog")]
    assert callee_share == 1.0
    assert caller_share < 0.3


def test_a_slowed_call_with_nothing_to_tell_its_ends_apart_stays_with_both() -> None:
    assert _edge_attribution({("frontend", "checkout"): 6.0}) == {
        ("frontend", "checkout"): (1.0, 1.0)
    }


def test_a_leaf_callee_keeps_its_only_call_from_a_caller_whose_other_calls_are_calm() -> None:
    # email has no other edge to speak for or against it; checkout's other calls are calm.
    moves = {("checkout", "email"): 20.0, ("checkout", "cart"): 0.0, ("checkout", "payment"): 0.0}
    caller_share, callee_share = _edge_attribution(moves)[("checkout", "email")]
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


def footprint(before: float, after: float) -> dict[int, float]:
    return {minute: before if minute < 0 else after for minute in range(-15, 5)}


def test_a_memory_step_from_a_flat_footprint_reads_as_a_change_inside_the_service() -> None:
    from chronosops.analysis.engine import _family

    metrics = flat("memory_usage_percent", footprint(15.6, 16.6), {"service": "catalog"})
    request = analysis_input(metrics=metrics)
    suspect = rank_suspects(request.artifacts, request.context)[0]
    assert suspect.service == "catalog"
    assert suspect.kinds["memory"] >= 0.3
    assert _family(suspect) == "DEPLOY_BUG"


def test_a_memory_step_beside_a_hot_cpu_still_reads_as_saturation() -> None:
    from chronosops.analysis.engine import _family

    metrics = flat("memory_usage_percent", footprint(15.6, 18.0), {"service": "catalog"})
    metrics += series("cpu_usage_percent", 20, 95, service="catalog")
    request = analysis_input(metrics=metrics)
    assert _family(rank_suspects(request.artifacts, request.context)[0]) == "CAPACITY_SATURATION"


def test_memory_that_swings_with_collections_and_traffic_is_no_step() -> None:
    sawtooth = {minute: 15.0 + 1.5 * (minute % 4) for minute in range(-15, 5)}
    metrics = flat("memory_usage_percent", sawtooth, {"service": "catalog"})
    metrics += series("requests_per_second", 10, 14, service="catalog")
    found = suspect_kinds(metrics=metrics)
    assert found.get("catalog", {}).get("memory", 0.0) < 0.1


def rate(service: str, before: float, after: float) -> list[dict[str, Any]]:
    return series("requests_per_second", before, after, service=service)


def checkout_calling(
    payment_after: float,
    email_after: float,
    *,
    checkout_after: float = 0.4,
    currency_after: float = 20,
) -> list[dict[str, Any]]:
    """checkout calls payment and email on every request, and currency, which frontend calls too."""
    calm = 0.005
    metrics = rate("checkout", 0.4, checkout_after)
    metrics += rate("payment", 0.4, payment_after) + rate("email", 0.4, email_after)
    metrics += rate("currency", 20, currency_after) + rate("frontend", 8, 8)
    for caller, callee in (
        ("frontend", "checkout"),
        ("frontend", "currency"),
        ("checkout", "currency"),
        ("checkout", "payment"),
        ("checkout", "email"),
    ):
        metrics += edge("outbound_request_latency_p50_seconds", caller, callee, calm, calm)
    return metrics


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


def test_a_plain_traffic_drop_at_the_caller_is_no_vanished_call() -> None:
    metrics = checkout_calling(payment_after=0.05, email_after=0.05, checkout_after=0.05)
    assert "calls_vanished" not in suspect_kinds(metrics=metrics).get("checkout", {})


def test_a_callee_another_service_calls_too_is_not_read_for_vanished_calls() -> None:
    # The shared callee loses its calls; the ones only checkout makes go on.
    metrics = checkout_calling(payment_after=0.4, email_after=0.4, currency_after=0.5)
    assert "calls_vanished" not in suspect_kinds(metrics=metrics).get("checkout", {})


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
    hot = suspect_kinds(traces=traces, metrics=series("cpu_usage_percent", 30, 95, service="web"))
    assert hot["web"]["edge_latency"] >= 0.9
    assert "edge_latency" not in hot.get("email", {})


def wrapped_calls(
    caller: str, callee: str, minutes: list[float], wait_ms: float, tag: str
) -> list[dict[str, Any]]:
    """One trace per minute mark: the caller's 100 ms request, inside it a client span waiting
    ``wait_ms`` on the callee, and the callee's span a millisecond shorter."""
    found: list[dict[str, Any]] = []
    for index, minute in enumerate(minutes):
        trace = f"{tag}-{index}"
        start = ONSET + timedelta(minutes=minute)

        def stamp(offset_ms: float, start: datetime = start) -> str:
            return format_instant(start + timedelta(milliseconds=offset_ms))

        found += [
            {"traceId": trace, "spanId": f"{trace}-s", "service": caller,
             "operation": "GET /", "duration": 100.0, "timestamp": stamp(0)},
            {"traceId": trace, "spanId": f"{trace}-c", "service": caller,
             "operation": f"{callee}/Get", "duration": wait_ms, "timestamp": stamp(2)},
            {"traceId": trace, "spanId": f"{trace}-e", "service": callee,
             "operation": f"{callee}/Get", "duration": wait_ms - 1, "timestamp": stamp(2.5)},
        ]  # fmt: skip
    return found


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
