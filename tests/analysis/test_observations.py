"""What the evidence shows, before any cause is named: shifts, pulses, log kinds, call edges."""

from __future__ import annotations

import pytest

from chronosops.analysis.observations import (
    LOG_CATEGORIES,
    change_point,
    metric_family,
    observe,
)
from chronosops.analysis.signals import SignalRule, SignalTable
from tests.analysis.builders import analysis_input, series
from tests.analysis.topology_builders import ONSET, Incident, at, level


def categories(message: str) -> set[str]:
    lowered = message.lower()
    return {name for name, pattern in LOG_CATEGORIES if pattern.search(lowered)}


def test_a_step_is_split_where_it_happens_not_where_the_alert_says() -> None:
    # The alert (reported onset) is at minute 0; the latency really jumped at minute -6.
    request = Incident("api").metric("api", "latency_p95_ms", level(100, 900, start=-6)).request()
    shift = observe(request.artifacts, request.context).shift("api", "latency")
    assert shift is not None
    assert shift.changed_at == at(-6)
    assert round(shift.before) == 100
    assert round(shift.after) == 900
    assert shift.z > 10


def test_a_pulse_that_ended_inside_the_window_is_still_seen() -> None:
    request = (
        Incident("api").metric("api", "error_ratio", level(0.001, 0.5, start=0, end=8)).request()
    )
    shift = observe(request.artifacts, request.context).shift("api", "errors")
    assert shift is not None
    assert shift.after > 0.4
    assert shift.changed_at == at(0)


def test_the_estimated_onset_follows_the_earliest_clear_change() -> None:
    request = (
        Incident("api")
        .metric("api", "error_ratio", level(0.001, 0.3, start=-4))
        .metric("db", "latency_p95_ms", level(5, 50, start=-7))
        .request()
    )
    assert observe(request.artifacts, request.context).onset == at(-7)


def test_change_point_finds_the_split_of_a_step() -> None:
    assert change_point([1.0] * 10 + [5.0] * 10) == 10
    assert change_point([1.0, 1.0]) == 0


def test_sawtooth_memory_counts_its_resets() -> None:
    sawtooth = lambda m: 400 + 40 * (m % 10)  # noqa: E731 — grows, is killed, starts over
    request = Incident("worker").metric("worker", "memory_working_set_mb", sawtooth).request()
    shift = observe(request.artifacts, request.context).shift("worker", "memory")
    assert shift is not None
    assert shift.resets >= 3


def test_status_codes_count_only_where_they_are_status_codes() -> None:
    assert "rate_limited" in categories("twilio-api answered 429 too many requests")
    assert "rate_limited" not in categories("shard 429 unavailable: no healthy replicas")
    assert "auth" in categories("upstream accounts responded 403 forbidden")
    assert "unavailable" in categories("upstream x responded 503 service unavailable")
    assert "dns" in categories("dial tcp: lookup payments.svc on 10.0.0.10:53: no such host")
    assert "tls" in categories("x509: certificate has expired or is not yet valid")
    assert "pool_exhausted" in categories("could not obtain a database connection within 5000ms")


def test_client_spans_become_edges_and_log_lines_name_the_services_they_call() -> None:
    request = (
        Incident("web")
        .spans("web", "GET /", ms=level(80, 80))
        .spans("web", "POST /pay", peer="payments-api", error_share=level(0, 0.8))
        .log("web", "upstream payments-api responded 503 service unavailable")
        .log("web", "calling get on the cache", level_="WARN")
        .request()
    )
    obs = observe(request.artifacts, request.context)
    edge = obs.edges[("web", "payments-api")]
    assert edge.base_errors == 0
    assert edge.inc_error_rate > 0.7
    assert ("web", "payments-api") in obs.log_edges
    assert "get" not in obs.services  # a bare word after "calling" is not a service
    assert obs.onset == ONSET


def test_a_latency_histograms_count_is_read_as_requests_and_its_failures_as_errors() -> None:
    assert metric_family("http_server_requests_seconds_count") == "traffic"
    assert metric_family("http.server.request.duration.count") == "traffic"
    assert metric_family("http_request_duration_seconds") == "latency"
    # A failed outcome makes the same count an error count (observe's outcome labels).
    request = analysis_input(
        service="api",
        metrics=[
            {**p, "labels": {"service": "api", "outcome": "SERVER_ERROR"}}
            for p in series("http_server_requests_seconds_count", 0.2, 9.0, service="api")
        ],
    )
    obs = observe(request.artifacts, request.context)
    assert obs.shift("api", "errors") is not None
    assert obs.shift("api", "latency") is None


def test_a_cpu_counted_in_seconds_is_read_as_a_cpu_not_a_latency() -> None:
    assert metric_family("container_cpu_usage_seconds_total") == "cpu"
    assert metric_family("process_cpu_seconds_total") == "cpu"
    assert metric_family("container_memory_working_set_bytes") == "memory"
    # A latency in seconds stays a latency.
    assert metric_family("http_server_requests_seconds_max") == "latency"


@pytest.mark.parametrize(
    "name",
    ["envoy_http_downstream_rq_total", "envoy_cluster_upstream_rq", "envoy_cluster_upstream_rq_xx"],
)
def test_envoys_request_counters_are_the_rules_traffic(name: str) -> None:
    # Beside its failures counted apart (`pairs`), a surge through an Envoy sidecar is read as
    # the traffic it is, or the surge rule never sees the service's requests rise.
    assert metric_family(name) == "traffic"


def test_an_operators_own_row_decides_the_family_the_rules_read() -> None:
    table = SignalTable([SignalRule(r"^shop_checkout_slowness$", "latency")])
    assert metric_family("shop_checkout_slowness") is None
    assert metric_family("shop_checkout_slowness", table) == "latency"
    request = (
        Incident("api").metric("api", "shop_checkout_slowness", level(100, 900, start=-6)).request()
    )
    assert observe(request.artifacts, request.context).shift("api", "latency") is None
    shift = observe(request.artifacts, request.context, table=table).shift("api", "latency")
    assert shift is not None
    assert round(shift.after) == 900


@pytest.mark.parametrize(
    ("name", "family"),
    [
        # a client's database pool: requests waiting for a connection ...
        ("db.client.connection.pending_requests", "pool_pending"),
        ("hikaricp_connections_pending", "pool_pending"),
        ("go_sql_wait_count", "pool_pending"),
        ("pg_pool_waiting_count", "pool_pending"),
        # ... and connections checked out
        ("db.client.connection.count", "pool_in_use"),
        ("db_client_connections_usage", "pool_in_use"),
        ("db_connections_in_use", "pool_in_use"),  # the Prometheus collector's default query
        ("hikaricp_connections_active", "pool_in_use"),
        ("go_sql_in_use_connections", "pool_in_use"),
        ("sqlalchemy_pool_checkedout", "pool_in_use"),
        # a runtime's own threads, queue and backlog wait for the service, not for a database
        ("dotnet.thread_pool.queue.length", "saturation"),
        ("gunicorn_requests_backlog", "saturation"),
        ("puma.backlog", "saturation"),
        ("go_goroutines", "saturation"),
        ("nodejs_eventloop_lag_seconds", "saturation"),
        # a database server's own sessions make it a database, a client's pool does not
        ("pg_stat_activity_count", "db_connections"),
        ("mysql_global_status_threads_connected", "db_connections"),
        ("pg_stat_database_xact_rollback_rate", "errors"),
    ],
)
def test_pools_runtimes_and_database_servers_are_told_apart_by_name(name: str, family: str) -> None:
    assert metric_family(name) == family


def test_a_recovery_from_the_fault_before_does_not_mark_the_onset() -> None:
    # The latency coming down at -7 is the previous incident ending; the errors rise at -4.
    request = (
        Incident("api")
        .metric("api", "error_ratio", level(0.001, 0.3, start=-4))
        .metric("db", "latency_p95_ms", level(50, 5, start=-7))
        .request()
    )
    assert observe(request.artifacts, request.context).onset == at(-4)


def test_a_p95_over_fewer_calls_than_a_p95_needs_is_not_read_against_the_baseline() -> None:
    def calls(per_minute: int, minutes: int) -> Incident:
        rate = lambda m: 6 if m < 0 else (per_minute if m < minutes else 0)  # noqa: E731
        return Incident("api").spans("api", "GET /", ms=level(50, 500), per_minute=rate)

    def server_slowdown(incident: Incident) -> float:
        request = incident.request()
        return observe(request.artifacts, request.context).server["api"].latency_factor

    assert server_slowdown(calls(5, minutes=2)) == 1.0  # 10 calls: their p95 is the slowest
    assert server_slowdown(calls(8, minutes=3)) > 5  # 24 calls
    assert server_slowdown(calls(2, minutes=5)) > 5  # a median over 5 minutes of slow calls
