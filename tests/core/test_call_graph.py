"""Spans become their service's operations and the calls between services, one way for all."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chronosops.core.aggregation import RawSpan
from chronosops.core.call_graph import call_groups, span_kind

T0 = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)


def span(
    service: str,
    operation: str,
    start_ms: float,
    duration_ms: float,
    *,
    span_id: str | None = None,
    parent: str | None = None,
    kind: str | None = None,
    trace: str = "t1",
    failed: bool = False,
) -> RawSpan:
    return RawSpan(
        ts=T0 + timedelta(milliseconds=start_ms),
        service=service,
        operation=operation,
        duration_ms=duration_ms,
        is_error=failed,
        trace_id=trace,
        span_id=span_id,
        parent_span_id=parent,
        kind=kind,
    )


@pytest.mark.parametrize(
    ("written", "kind"),
    [
        ("client", "client"),
        ("SPAN_KIND_CLIENT", "client"),
        ("RPC_SERVER", "server"),
        (" Producer ", "producer"),
        ("SPAN_KIND_UNSPECIFIED", None),
        ("", None),
        (3, None),
    ],
)
def test_a_span_kind_is_read_in_any_backends_spelling(written: object, kind: str | None) -> None:
    assert span_kind(written) == kind


def test_spans_without_ids_are_still_placed_in_their_callers_by_time() -> None:
    # A backend that writes no span ids: web's span [0, 300] encloses api's [50, 250].
    groups = call_groups(
        [span("web", "GET /", 0, 300), span("api", "GET /items", 50, 200)],
        id_prefix="span",
        source="test",
    )
    call = next(g for g in groups if g.peer_service == "api")
    assert (call.service, call.operation, call.count) == ("web", "→api", 1)
    web = next(g for g in groups if g.operation == "GET /")
    assert web.histogram[0].own_p50_ms is None  # a span wrapping one call only is a client's


def test_a_client_span_to_no_traced_service_stays_an_operation_of_its_service() -> None:
    # orders' server span calls the database through a client span no peer is named for: the
    # call's only record, kept, with its time the call's rather than the service's own code.
    groups = call_groups(
        [
            span("orders", "POST /orders", 0, 100, span_id="a"),
            span("orders", "INSERT orders", 10, 60, span_id="b", parent="a", kind="client"),
        ],
        id_prefix="span",
        source="test",
    )
    own = {g.operation: g.histogram[0].own_p50_ms for g in groups}
    assert own == {"POST /orders": 40, "INSERT orders": None}


def test_a_client_span_naming_its_peer_and_the_callees_span_under_it_are_one_call() -> None:
    # OpenTelemetry's usual shape: web's client span names api as its peer, and api's server
    # span is its child. One call, read once: what web waited, and the 20 ms outside api.
    client = replace(
        span("web", "GET /items", 50, 220, span_id="b", parent="a", kind="client"),
        peer_service="api",
    )
    groups = call_groups(
        [
            span("web", "GET /", 0, 300, span_id="a", kind="server"),
            client,
            span("api", "GET /items", 60, 200, span_id="c", parent="b", kind="server"),
        ],
        id_prefix="span",
        source="test",
    )
    (call,) = [g for g in groups if g.peer_service == "api"]
    assert (call.operation, call.count, call.p50_ms) == ("→api", 1, 220)
    assert call.histogram[0].own_p50_ms == 20


def test_a_call_its_client_saw_fail_is_a_failed_call_though_the_callee_finished() -> None:
    # web gave up on api after 100 ms (its client span failed); api's own span ran on, fine.
    timed_out = span(
        "web", "GET /items", 10, 100, span_id="b", parent="a", kind="client", failed=True
    )
    groups = call_groups(
        [
            span("web", "GET /", 0, 120, span_id="a", kind="server"),
            timed_out,
            span("api", "GET /items", 15, 400, span_id="c", parent="b", kind="server"),
        ],
        id_prefix="span",
        source="test",
    )
    call = next(g for g in groups if g.operation == "→api")
    assert call.error_count == 1
    assert next(g for g in groups if g.service == "api").error_count == 0


def test_a_call_lost_on_the_way_is_a_call_to_the_service_its_call_site_reaches() -> None:
    # Two calls from the same client operation (named by URL, no peer): one reached api, the
    # other was lost in the network (no api span). Both are web's calls to api.
    lost = span(
        "web",
        "GET http://api:8080/items",
        2000,
        3000,
        span_id="e",
        parent="d",
        kind="client",
        trace="t2",
        failed=True,
    )
    groups = call_groups(
        [
            span("web", "GET /", 0, 300, span_id="a", kind="server"),
            span(
                "web", "GET http://api:8080/items", 50, 220, span_id="b", parent="a", kind="client"
            ),
            span("api", "GET /items", 60, 200, span_id="c", parent="b", kind="server"),
            span("web", "GET /", 2000, 3010, span_id="d", kind="server", trace="t2"),
            lost,
        ],
        id_prefix="span",
        source="test",
    )
    call = next(g for g in groups if g.operation == "→api")
    assert (call.count, call.error_count) == (2, 1)
    assert {g.operation for g in groups if g.service == "web" and not g.peer_service} == {"GET /"}
