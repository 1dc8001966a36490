"""What the recorded call-graph answers (`traces_call_graph.json`, `spans_call_graph.json`) must
become, whichever collector read them: web-frontend's client span wraps payment-service's server
span, twice; the caller waited 130 ms for 92.4 ms of callee before the onset, 5300 ms for 5012 ms
after, and the second call failed."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from chronosops.core.artifacts import Artifact, SpanGroup


def assert_web_frontend_calls_payment(artifacts: Sequence[Artifact], *, source: str) -> SpanGroup:
    """Check the call edge and the caller's own time; the edge, for checks of one backend."""
    groups = {g.artifact_id: g for g in artifacts if isinstance(g, SpanGroup)}
    call = groups[f"span:{source}:web-frontend:→payment-service"]
    assert (call.service, call.peer_service, call.count, call.error_count) == (
        "web-frontend",
        "payment-service",
        2,
        1,
    )
    assert [b.p50_ms for b in call.histogram] == [130, 5300]
    assert [b.own_p50_ms for b in call.histogram] == pytest.approx([37.6, 288])
    # The caller's own code is its span less the call it waited on.
    checkout = groups[f"span:{source}:web-frontend:GET /checkout"]
    assert [b.own_p50_ms for b in checkout.histogram] == pytest.approx([10, 100])
    return call
