"""Requests cut short at a service (engine 3.32): most requests now stop right after a call to
one service, far shorter than the requests that used to go on past it — the handlers gave up
on that service's answer. Spans only, no status, no parents: the shape of Nezha's
OnlineBoutique traces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chronosops.analysis import AnalysisInput, IncidentContext, analyze
from chronosops.core.aggregation import RawSpan
from chronosops.core.artifacts import SpanGroup
from chronosops.core.call_graph import call_groups

ONSET = datetime(2025, 6, 2, 14, 0, tzinfo=UTC)
CALLEES = ("catalog", "cart", "currency", "ads", "recs", "shipping", "reviews")


def _span(trace: str, service: str, operation: str, start: datetime, ms: float) -> RawSpan:
    return RawSpan(
        ts=start,
        service=service,
        operation=operation,
        duration_ms=ms,
        trace_id=trace,
        span_id=f"{trace}-{service}-{operation}",
    )


def _request(trace: str, start: datetime, callees: tuple[str, ...]) -> list[RawSpan]:
    """The entry's span, then one call after the other, each callee with an inner step."""
    spans = [_span(trace, "web", "GET /product", start, 20.0 * len(callees) + 5)]
    for index, callee in enumerate(callees):
        at = start + timedelta(milliseconds=2 + 20 * index)
        spans.append(_span(trace, callee, "Get", at, 15.0))
        spans.append(_span(trace, callee, "query", at + timedelta(milliseconds=2), 10.0))
    return spans


def _incident(
    shape_after: tuple[str, ...], share_after: float, *, short_always: bool = False
) -> AnalysisInput:
    spans: list[RawSpan] = []
    for minute in range(-5, 3):
        for n in range(12):
            start = ONSET + timedelta(minutes=minute, seconds=4 * n)
            trace = f"m{minute}n{n}"
            if short_always and n < 2:
                spans += _request(trace, start, ("cart",))  # an endpoint that calls cart only
            elif minute >= -1 and n < share_after * 12:
                spans += _request(trace, start, shape_after)
            else:
                spans += _request(trace, start, CALLEES)
    return AnalysisInput(
        context=IncidentContext(
            source_type="CUSTOM",
            title="errors at web",
            service="web",
            onset=ONSET,
            window_start=ONSET - timedelta(minutes=10),
            window_end=ONSET + timedelta(minutes=5),
        ),
        artifacts=list(call_groups(spans, id_prefix="span", source="test", onset=ONSET)),
    )


def _cut_short(request: AnalysisInput) -> dict[str, int]:
    found: dict[str, int] = {}
    for group in request.artifacts:
        if not isinstance(group, SpanGroup):
            continue
        for bucket in group.histogram:
            if bucket.cut_short:
                found[group.service] = found.get(group.service, 0) + bucket.cut_short
    return found


def test_requests_that_stop_after_one_callee_name_a_code_fault_there() -> None:
    request = _incident(("catalog",), 0.75)
    assert set(_cut_short(request)) == {"catalog"}
    result = analyze(request)
    assert not result.inconclusive
    assert result.hypotheses[0].id == "DEPLOY_BUG"
    assert result.hypotheses[0].culprit_service == "catalog"


def test_an_endpoint_that_always_calls_one_service_is_not_a_cut() -> None:
    # Two requests a minute call cart only, before the fault as after it: short, and always so.
    request = _incident(CALLEES, 0.0, short_always=True)
    assert _cut_short(request).get("cart", 0) > 0
    result = analyze(request)
    assert all(
        h.culprit_service != "cart" for h in result.hypotheses[:1] if not result.inconclusive
    )
    assert not any(h.id == "DEPLOY_BUG" and h.culprit_service == "cart" for h in result.hypotheses)


def test_a_minority_of_requests_cut_short_is_not_read() -> None:
    # A quarter of the requests stop at catalog: a few users' products, not the service's code.
    result = analyze(_incident(("catalog",), 0.25))
    assert not any(
        h.id == "DEPLOY_BUG" and h.culprit_service == "catalog" for h in result.hypotheses
    )


def test_a_call_that_reached_no_span_is_not_a_request_cut_short_at_the_callee() -> None:
    # The entry's calls to catalog leave no catalog span (refused, lost): the request stops at
    # the entry's own client span, which is not the callee's code answering.
    spans: list[RawSpan] = []
    for n in range(30):
        start = ONSET + timedelta(seconds=2 * n)
        trace = f"t{n}"
        spans += _request(trace, start, CALLEES)
        lost = f"l{n}"
        spans.append(_span(lost, "web", "GET /product", start, 30.0))
        spans.append(_span(lost, "web", "catalog.Get", start + timedelta(milliseconds=2), 25.0))
    groups = call_groups(spans, id_prefix="span", source="test", onset=ONSET)
    assert not any(b.cut_short for g in groups for b in g.histogram)
    assert sum(b.traces or 0 for g in groups for b in g.histogram) == 60
