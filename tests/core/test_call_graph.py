"""Spans become their service's operations and the calls between services, one way for all."""

from __future__ import annotations

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
) -> RawSpan:
    return RawSpan(
        ts=T0 + timedelta(milliseconds=start_ms),
        service=service,
        operation=operation,
        duration_ms=duration_ms,
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
