"""Traffic support: a near-idle service's percentiles count for little."""

from __future__ import annotations

from tests.analysis.builders import series
from tests.analysis.suspects.builders import ranked


def test_latency_of_a_near_idle_service_counts_for_little() -> None:
    order = ranked(
        metrics=series("server_latency_p90_seconds", 0.001, 5.0, service="admin")
        + series("requests_per_second", 0.01, 0.01, service="admin")
        + series("server_latency_p90_seconds", 0.02, 0.2, service="orders")
        + series("requests_per_second", 20, 20, service="orders")
    )
    assert order[0] == "orders"
