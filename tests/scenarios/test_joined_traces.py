"""Joined traces: requests followed through the call graph, the fault where the scenario puts it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chronosops.core.aggregation import RawSpan
from chronosops.core.artifacts import LogStatement, SpanGroup
from chronosops.scenarios import GeneratedIncident, GenerationOptions, generate
from chronosops.scenarios.conventions import FORM_SHARES
from chronosops.scenarios.generation import telemetry_of
from chronosops.scenarios.suite import benchmark_suite

OPTIONS = GenerationOptions(seed=1, conventions="mixed", noise=0.3)


@pytest.fixture
def joined(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every mixed incident of the default suite in the joined form."""
    monkeypatch.setitem(FORM_SHARES, "joined", 1.0)


def spans_of(scenario_id: str) -> list[RawSpan]:
    return telemetry_of(scenario_id, OPTIONS).joined_spans()


def ends(span: RawSpan) -> tuple[float, float]:
    start = span.ts.timestamp() * 1000
    return start, start + float(span.duration_ms or 0.0)


@pytest.mark.usefixtures("joined")
@pytest.mark.parametrize("scenario_id", ["downstream-outage", "slow-dependency-cascade"])
def test_a_joined_traces_spans_nest_inside_their_callers(scenario_id: str) -> None:
    spans = spans_of(scenario_id)
    by_id = {span.span_id: span for span in spans}
    children: dict[str, list[RawSpan]] = {}
    crossing = 0
    for span in spans:
        if span.parent_span_id is None:
            assert span.kind == "server"  # a trace starts at the entry service
            continue
        parent = by_id[span.parent_span_id]
        assert parent.trace_id == span.trace_id
        children.setdefault(parent.span_id or "", []).append(span)
        start, end = ends(span)
        parent_start, parent_end = ends(parent)
        assert start >= parent_start
        # A callee may run on after its caller gave up on it (a timeout), nothing else may.
        timed_out = parent.kind == "client" and parent.is_error
        assert end <= parent_end + 0.02 or timed_out
        if span.kind == "server":
            assert parent.kind == "client"
            assert parent.service != span.service
            crossing += 1
        else:
            assert parent.kind == "server"
            assert parent.service == span.service
    assert crossing > 100
    for span in spans:
        # A server span lasts its own time plus the calls it waited on, one after another.
        if span.kind == "server" and span.span_id in children:
            waited = sum(float(c.duration_ms or 0.0) for c in children[span.span_id])
            assert float(span.duration_ms or 0.0) >= waited - 0.02


@pytest.mark.usefixtures("joined")
def test_a_failing_callees_error_status_appears_at_its_callers_client_span() -> None:
    # feature-store fails; recommendation-engine calls it and passes the failure on.
    spans = spans_of("downstream-outage")
    by_id = {span.span_id: span for span in spans}
    failing = [
        s for s in spans if s.kind == "server" and s.service == "feature-store" and s.is_error
    ]
    assert len(failing) > 50
    for span in failing:
        client = by_id[span.parent_span_id]
        assert (client.service, client.kind, client.is_error) == (
            "recommendation-engine",
            "client",
            True,
        )
    callers = [by_id[by_id[s.parent_span_id].parent_span_id] for s in failing]
    # Passed on up the trace with the call's propagation (fallbacks absorb the rest).
    assert sum(c.is_error for c in callers) / len(callers) > 0.7


@pytest.mark.usefixtures("joined")
def test_a_slow_callees_time_is_carried_up_to_each_caller() -> None:
    # The payment provider slows after the onset: checkout's calls to it wait as long.
    telemetry = telemetry_of("slow-dependency-cascade", OPTIONS)
    spans = telemetry.joined_spans()
    onset = telemetry.onset + timedelta(minutes=10)
    calls = [s for s in spans if s.kind == "client" and s.service == "checkout-api"]
    before = sorted(s.duration_ms or 0.0 for s in calls if s.ts < telemetry.onset)
    after = sorted(s.duration_ms or 0.0 for s in calls if s.ts >= onset)
    assert after[len(after) // 2] > 3 * before[len(before) // 2]


def comparable(incident: GeneratedIncident) -> list[str]:
    return [a.model_dump_json() for a in incident.artifacts]


@pytest.mark.long
def test_the_suite_at_share_zero_is_the_suite_without_the_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(FORM_SHARES, "joined", 0.0)
    at_zero = [comparable(i) for i in benchmark_suite(24, conventions="mixed")]
    monkeypatch.delitem(FORM_SHARES, "joined")
    without = [comparable(i) for i in benchmark_suite(24, conventions="mixed")]
    assert at_zero == without


def test_the_form_changes_only_the_spans_and_the_statements(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(FORM_SHARES, "joined", 0.0)
    plain = generate("downstream-outage", OPTIONS)
    monkeypatch.setitem(FORM_SHARES, "joined", 1.0)
    joined = generate("downstream-outage", OPTIONS)

    def rest(incident: GeneratedIncident) -> list[str]:
        return [
            a.model_dump_json()
            for a in incident.artifacts
            if not isinstance(a, SpanGroup | LogStatement)
        ]

    assert rest(plain) == rest(joined)
    assert comparable(plain) != comparable(joined)


@pytest.mark.usefixtures("joined")
def test_joined_traces_become_the_call_graph_evidence_sent_with_an_incident_gives() -> None:
    incident = generate("downstream-outage", OPTIONS)
    groups = [a for a in incident.artifacts if isinstance(a, SpanGroup)]
    edges = {(g.service, g.peer_service) for g in groups if g.operation.startswith("→")}
    assert ("recommendation-engine", "feature-store") in edges
    assert ("storefront", "recommendation-engine") in edges


@pytest.mark.usefixtures("joined")
def test_log_lines_with_trace_context_are_placed_in_the_spans_that_wrote_them() -> None:
    for seed in range(12):
        incident = generate(
            "downstream-outage", GenerationOptions(seed=seed, conventions="mixed", noise=0.3)
        )
        statements = [a for a in incident.artifacts if isinstance(a, LogStatement)]
        if statements:
            break
    else:
        raise AssertionError("no system of the first seeds logs with its trace context")
    placed = {s.service: s for s in statements if s.levels.get("ERROR") and s.operation}
    # The caller's line about the failing callee sits in the operation that made the call.
    caller = placed["recommendation-engine"]
    assert caller.operation == "GET /recommendations"
    assert caller.synthetic
