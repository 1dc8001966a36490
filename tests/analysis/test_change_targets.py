"""A change event's target is a node of the call graph, and the peer a change names is an edge:
a credential rotated or a setting pushed on a neighbour of the alerting service is localised
on that neighbour."""

from __future__ import annotations

from chronosops.analysis import analyze
from chronosops.analysis.observations import observe
from tests.analysis.builders import analysis_input, at, logs, series


def rotation(target: str, minutes_before: float, **names: object) -> dict[str, object]:
    return {
        "type": "config",
        "description": "Rotate password of role app_rw (secret orders-db-credentials, version 14)",
        "timestamp": at(-minutes_before),
        "metadata": {"service": target, **names},
    }


def failing_orders() -> dict[str, object]:
    """orders fails to authenticate to something its log lines never name."""
    return {
        "metrics": series("http_error_rate", 0.002, 0.4, service="orders"),
        "logs": logs(
            "FATAL: password authentication failed for user app_rw (attempt {i})",
            30,
            service="orders",
        ),
    }


def test_a_change_naming_its_consumers_adds_the_call_edges_to_the_graph() -> None:
    request = analysis_input(
        service="orders",
        events=[rotation("pg-orders-01", 2, consumers=["orders", "billing"])],
        **failing_orders(),
    )
    obs = observe(request.artifacts, request.context)
    assert {"pg-orders-01", "billing"} <= obs.services
    assert obs.callees("orders") == ["pg-orders-01"]
    assert obs.callers("pg-orders-01") == ["billing", "orders"]


def test_a_change_naming_its_peer_adds_the_edge_from_the_changed_service() -> None:
    request = analysis_input(
        service="orders",
        events=[rotation("orders", 2, peerService="pg-orders-01")],
        **failing_orders(),
    )
    obs = observe(request.artifacts, request.context)
    assert obs.callees("orders") == ["pg-orders-01"]


def test_a_credential_rotated_on_the_alerting_services_database_is_the_cause() -> None:
    result = analyze(
        analysis_input(
            service="orders",
            events=[rotation("pg-orders-01", 2, consumers=["orders"])],
            **failing_orders(),
        )
    )
    top = result.hypotheses[0]
    assert (top.id, top.culprit_service) == ("CONFIG_REGRESSION", "pg-orders-01")
    assert result.culprit_service == "pg-orders-01"
    assert any(ref.startswith("change:") for ref in top.evidence_refs)


def test_a_change_on_an_unrelated_service_stays_out_of_the_localisation() -> None:
    result = analyze(
        analysis_input(
            service="orders",
            events=[rotation("pg-ledger", 2)],
            **failing_orders(),
        )
    )
    assert all(h.culprit_service != "pg-ledger" for h in result.hypotheses[:1])


def test_a_config_push_on_the_callee_of_a_failing_connection_beats_an_identity_problem() -> None:
    request = analysis_input(
        service="orders",
        metrics=series("http_error_rate", 0.002, 0.4, service="orders"),
        logs=logs(
            "connection to pg-orders-01 failed: password authentication failed for user app_rw",
            30,
            service="orders",
        ),
        events=[rotation("pg-orders-01", 3)],
    )
    top = analyze(request).hypotheses[0]
    assert (top.id, top.culprit_service) == ("CONFIG_REGRESSION", "pg-orders-01")
