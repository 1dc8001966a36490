"""Where the fault lives and what kind it is, on small call graphs with one known cause each."""

from __future__ import annotations

from typing import Any

import pytest

from chronosops.analysis import AnalysisResult, analyze
from tests.analysis.builders import analysis_input, at
from tests.analysis.topology_builders import Incident, level


def verdict(incident: Incident) -> AnalysisResult:
    request = incident.request()
    result = analyze(request)
    known = {a.artifact_id for a in request.artifacts}
    for hypothesis in result.hypotheses:
        assert set(hypothesis.evidence_refs) <= known, hypothesis
    return result


def top(result: AnalysisResult) -> tuple[str, str | None]:
    return result.hypotheses[0].id, result.culprit_service


def web_calling(callee: str) -> Incident:
    """web (reported) → callee: web fails because its calls to callee fail."""
    return (
        Incident("web")
        .health("web", errors=level(0.001, 0.6))
        .spans("web", "GET /home", error_share=level(0, 0.6))
        .spans("web", f"{callee} GET /data", peer=callee, error_share=level(0, 0.6))
    )


def test_a_failing_dependency_is_blamed_not_the_caller_or_its_innocent_deploy() -> None:
    incident = (
        web_calling("features")
        .health("features", errors=level(0.001, 0.7))
        .spans("features", "GET /data", error_share=level(0, 0.7))
        .log("features", "shard 3 unavailable: no healthy replicas (0/3 ready)")
        .log("web", "upstream features responded 503 service unavailable")
        .change("web", "deploy", 10, version_from="1.4", version_to="1.5")
    )
    result = verdict(incident)
    assert top(result) == ("DOWNSTREAM_OUTAGE", "features")
    assert not result.inconclusive


def failing_after_a_change(
    service: str, change_type: str, *, minutes_before_onset: int
) -> Incident:
    """The service's errors rising at the onset, its deploy or config change that many minutes
    before it, and nothing else tying the two."""
    return (
        Incident(service)
        .health(service, errors=level(0.001, 0.3))
        .change(service, change_type, minutes_before_onset, version_from="1.4", version_to="1.5")
    )


@pytest.mark.parametrize("change_type", ["deploy", "config"])
def test_a_change_the_service_ran_healthy_for_minutes_before_failing_is_not_named(
    change_type: str,
) -> None:
    # Its errors began at the onset, twelve minutes after the change rolled out, and no log line
    # or CPU ties the change to them: a change in the window, not the cause.
    result = verdict(failing_after_a_change("web", change_type, minutes_before_onset=12))
    assert result.inconclusive
    assert result.hypotheses[0].id == "UNKNOWN"


@pytest.mark.parametrize(
    ("change_type", "named"), [("deploy", "DEPLOY_BUG"), ("config", "CONFIG_REGRESSION")]
)
def test_a_change_the_service_failed_from_as_it_rolled_out_is_still_named(
    change_type: str, named: str
) -> None:
    result = verdict(failing_after_a_change("web", change_type, minutes_before_onset=2))
    assert top(result) == (named, "web")
    assert not result.inconclusive


def test_calls_failing_to_a_healthy_quieter_callee_are_a_network_problem_at_the_caller() -> None:
    incident = (
        web_calling("orders")
        .health("orders", traffic=level(100, 30))
        .spans("orders", "GET /data", per_minute=6)
        .log("web", "dial tcp 10.0.3.4:8080: i/o timeout (calling orders)")
    )
    assert top(verdict(incident)) == ("NETWORK_DNS_ISSUE", "web")


def test_a_healthy_callee_that_several_callers_lose_at_once_is_where_the_network_fails() -> None:
    # web and orders both lose their calls to inventory, while orders still reaches its
    # database: the common factor is inventory's side of the network (its nodes, its zone).
    incident = (
        web_calling("inventory")
        .health("orders", errors=level(0.001, 0.4))
        .spans("orders", "POST /checkout", error_share=level(0, 0.4))
        .spans(
            "orders", "inventory POST /reservations", peer="inventory", error_share=level(0, 0.5)
        )
        .spans("orders", "orders-db INSERT", peer="orders-db")
        .health("inventory", traffic=level(100, 40))
        .spans("inventory", "GET /data", per_minute=6)
        .log("web", "dial tcp 10.0.3.4:8080: i/o timeout (calling inventory)")
        .log("orders", "connect timed out after 2000ms calling inventory")
    )
    assert top(verdict(incident)) == ("NETWORK_DNS_ISSUE", "inventory")


def orders_refused_by_its_database() -> Incident:
    """orders' queries on its open connections still succeed (the spans are clean), but every
    new connection is refused a login: only the log lines tell."""
    return (
        Incident("orders")
        .health("orders", errors=level(0.001, 0.5))
        .spans("orders", "POST /orders", error_share=level(0, 0.5))
        .spans("orders", "orders-db INSERT", peer="orders-db", ms=level(4, 4))
        .log(
            "orders",
            'connection to server at "orders-db" (10.0.0.7), port 5432 failed: '
            'FATAL:  password authentication failed for user "app_rw"',
        )
    )


def test_a_database_refusing_logins_after_its_password_rotated_is_named_with_the_rotation() -> None:
    incident = orders_refused_by_its_database().change(
        "orders-db", "config", 3, description="Rotate password of role app_rw"
    )
    assert top(verdict(incident)) == ("CONFIG_REGRESSION", "orders-db")


def test_a_database_refusing_logins_is_a_credential_out_of_step_not_an_identity_provider() -> None:
    result = verdict(orders_refused_by_its_database())
    assert top(result) == ("CONFIG_REGRESSION", "orders-db")
    assert "AUTH_OIDC_ISSUE" not in [h.id for h in result.hypotheses[:1]]


def test_a_pool_drained_by_a_slow_third_party_blames_the_third_party() -> None:
    incident = (
        Incident("checkout")
        .health("checkout", latency=level(300, 9000), errors=level(0.001, 0.8))
        .metric("checkout", "db_pool_connections_in_use", level(10, 40))
        .metric("checkout", "db_pool_pending_requests", level(0, 120))
        .spans("checkout", "POST /pay", ms=level(300, 5000), error_share=level(0, 0.8))
        .spans("checkout", "stripe-api POST /v1/charges", peer="stripe-api", ms=level(300, 8000))
        .spans("checkout", "payments-db INSERT", peer="payments-db", ms=level(10, 10))
        .log("checkout", "could not obtain a database connection within 5000ms (pool size 40)")
        .log(
            "checkout",
            "stripe-api post /v1/charges timed out after 10000ms: context deadline exceeded",
        )
    )
    assert top(verdict(incident)) == ("DOWNSTREAM_OUTAGE", "stripe-api")


def test_a_pool_exhausted_with_a_healthy_database_is_saturation_of_the_service() -> None:
    incident = (
        web_calling("inventory")
        .health("inventory", latency=level(50, 7000), errors=level(0.001, 0.5))
        .metric("inventory", "db_pool_connections_in_use", level(2, 20))
        .metric("inventory", "db_pool_pending_requests", level(0, 15))
        .spans("inventory", "POST /reserve", ms=level(50, 5000), error_share=level(0, 0.5))
        .spans("inventory", "inventory-db SELECT", peer="inventory-db", ms=level(10, 10))
        .log("inventory", "could not obtain a database connection within 5000ms (pool size 20)")
        .change("web", "deploy", 6, version_from="2.0", version_to="2.1")
    )
    assert top(verdict(incident)) == ("CAPACITY_SATURATION", "inventory")


@pytest.mark.parametrize(
    ("in_use", "pending"),
    [
        ("db_pool_connections_in_use", "db_pool_pending_requests"),
        ("db.client.connection.count", "db.client.connection.pending_requests"),  # OpenTelemetry
        ("go_sql_in_use_connections", "go_sql_wait_count"),  # Go's database/sql
        ("hikaricp_connections_active", "hikaricp_connections_pending"),  # HikariCP
    ],
)
def test_a_pool_exhausted_is_saturation_whichever_library_names_its_metrics(
    in_use: str, pending: str
) -> None:
    """Metrics only: no log line says the pool ran dry, and requests waiting for a connection
    are not more traffic (read as such, they made failures without a hotter CPU a throttling)."""
    incident = (
        web_calling("inventory")
        .health("inventory", latency=level(50, 7000), errors=level(0.001, 0.5))
        .metric("inventory", in_use, level(2, 20))
        .metric("inventory", pending, level(0, 15))
        .spans("inventory", "POST /reserve", ms=level(50, 5000), error_share=level(0, 0.5))
        .spans("inventory", "inventory-db SELECT", peer="inventory-db", ms=level(10, 10))
    )
    assert top(verdict(incident)) == ("CAPACITY_SATURATION", "inventory")


def test_a_deploy_that_flushed_the_cache_is_a_cache_miss_storm_not_a_code_bug() -> None:
    incident = (
        Incident("catalog")
        .health("catalog", latency=level(50, 800))
        .metric("catalog", "cache_hit_ratio", level(0.95, 0.4))
        .spans("catalog", "GET /products", ms=level(50, 800))
        .spans(
            "catalog",
            "catalog-db SELECT",
            peer="catalog-db",
            ms=level(8, 80),
            per_minute=level(3, 30),
        )
        .change(
            "catalog",
            "deploy",
            2,
            version_from="1.2.0",
            version_to="1.2.1",
            description="new cache key prefix",
        )
    )
    assert top(verdict(incident)) == ("CACHE_MISS_STORM", "catalog")


def test_new_code_errors_right_after_a_deploy_are_a_deploy_bug_with_a_rollback() -> None:
    incident = (
        Incident("cart")
        .health("cart", errors=level(0.001, 0.4))
        .log("cart", "TypeError: cannot read properties of undefined (reading 'currency')")
        .change("cart", "deploy", 4, version_from="v1.41", version_to="v1.42")
    )
    result = verdict(incident)
    assert top(result) == ("DEPLOY_BUG", "cart")
    assert result.recommended_actions[0].title == "Roll back cart from v1.42 to v1.41"


def test_a_traffic_surge_blames_the_service_that_ran_hottest() -> None:
    incident = (
        web_calling("catalog-api")
        .health("web", traffic=level(200, 600), latency=level(100, 2500))
        .health("catalog-api", traffic=level(200, 600), latency=level(80, 2100))
        .metric("web", "cpu_utilization", level(0.25, 0.7))
        .metric("catalog-api", "cpu_utilization", level(0.3, 0.95))
        .spans("catalog-api", "GET /listings", ms=level(80, 2100))
        .log(
            "catalog-api",
            "worker pool saturated: 40 requests queued for a free worker",
            level_="WARN",
        )
    )
    assert top(verdict(incident)) == ("CAPACITY_SATURATION", "catalog-api")


def test_an_expired_certificate_blames_the_service_that_serves_it() -> None:
    incident = (
        web_calling("accounts")
        .health("accounts", traffic=level(150, 0), latency=level(40, 0), errors=level(0.001, 0))
        .metric("accounts", "tls_certificate_expiry_days", lambda m: 0.02 - m / 1440)
        .log(
            "web",
            "tls: failed to verify certificate for accounts:443: x509: certificate has expired",
        )
    )
    assert top(verdict(incident)) == ("AUTH_OIDC_ISSUE", "accounts")


def test_a_failing_resolver_is_a_dns_issue_of_the_resolver() -> None:
    incident = (
        Incident("orders")
        .health("orders", errors=level(0.001, 0.7))
        .health("coredns", errors=level(0.001, 0.7))
        .log(
            "orders",
            "dial tcp: lookup payments-api.svc.cluster.local on 10.0.0.10:53: no such host",
        )
    )
    assert top(verdict(incident)) == ("NETWORK_DNS_ISSUE", "coredns")


def test_a_third_party_throttling_us_blames_our_sender() -> None:
    incident = (
        Incident("notifier")
        .health("notifier", traffic=level(40, 140), errors=level(0.002, 0.3))
        .spans("notifier", "send", error_share=level(0, 0.3))
        .spans(
            "notifier", "twilio-api POST /messages", peer="twilio-api", error_share=level(0, 0.3)
        )
        .log(
            "notifier",
            "twilio-api answered 429 too many requests to post /messages; retrying in 4s",
        )
    )
    assert top(verdict(incident)) == ("RATE_LIMIT_THROTTLING", "notifier")


def test_slow_queries_the_callers_orm_logs_blame_the_caller_that_deployed() -> None:
    # Only the application's ORM says the queries are slow, naming a database whose name says
    # nothing of what it is; the application logging them does not make it a database.
    incident = (
        Incident("checkout")
        .health("checkout", latency=level(200, 1200))
        .spans("checkout", "GET /orders", ms=level(200, 1200))
        .spans("checkout", "warehouse-main SELECT", peer="warehouse-main", ms=level(12, 480))
        .log(
            "checkout",
            'Order Load (480.2ms)  SELECT "orders".* FROM "orders" ORDER BY "orders"."created_at" '
            "DESC [host warehouse-main]",
            level_="WARN",
        )
        .change("checkout", "deploy", 3, version_from="1.8.2", version_to="1.8.3")
    )
    assert top(verdict(incident)) == ("DB_QUERY_REGRESSION", "checkout")


def test_a_pool_timeout_wrapped_in_an_exception_class_is_not_new_code_failing() -> None:
    # .NET reports an exhausted pool as an InvalidOperationException; right after a deploy that
    # must still read as the pool running dry, not as the deploy's code throwing.
    incident = (
        Incident("profile-api")
        .health("profile-api", latency=level(100, 2000), errors=level(0.001, 0.4))
        .metric("profile-api", "db_pool_pending_requests", level(0, 80))
        .log(
            "profile-api",
            "System.InvalidOperationException: Timeout expired. The timeout period elapsed prior "
            "to obtaining a connection from the pool.",
        )
        .change("profile-api", "deploy", 2, version_from="1.2.0", version_to="1.2.1")
    )
    result = verdict(incident)
    assert top(result) == ("CAPACITY_SATURATION", "profile-api")


def test_slow_queries_after_a_callers_deploy_blame_that_caller() -> None:
    incident = (
        Incident("checkout")
        .health("checkout", latency=level(200, 1200))
        .health("postgres", latency=level(10, 450))
        .spans("checkout", "postgres SELECT orders", peer="postgres", ms=level(12, 480))
        .log(
            "postgres",
            "duration: 812 ms statement: select o.* from orders o order by o.created_at",
            level_="WARN",
        )
        .change("checkout", "deploy", 3, version_from="1.8.2", version_to="1.8.3")
    )
    assert top(verdict(incident)) == ("DB_QUERY_REGRESSION", "checkout")


def test_a_leak_ending_in_oom_kills_is_saturation() -> None:
    sawtooth = lambda m: 500 + 50 * ((m + 20) % 10)  # noqa: E731
    incident = (
        Incident("worker")
        .health("worker", errors=lambda m: 0.3 if (m + 20) % 10 == 0 else 0.001)
        .metric("worker", "memory_working_set_mb", sawtooth)
        .metric("worker", "container_restarts_total", lambda m: (m + 20) // 10)
        .log("worker", "java.lang.OutOfMemoryError: Java heap space", per_minute=1)
    )
    assert top(verdict(incident)) == ("CAPACITY_SATURATION", "worker")


def test_a_provider_incident_in_our_region_is_a_downstream_outage_of_the_provider() -> None:
    incident = (
        Incident("api", region="us-east1")
        .health("api", errors=level(0.001, 0.4))
        .provider("Cloud SQL", ["us-east1", "us-central1"])
    )
    result = verdict(incident)
    assert top(result) == ("DOWNSTREAM_OUTAGE", "Google Cloud: Cloud SQL")


def test_errors_with_nothing_specific_are_inconclusive() -> None:
    result = verdict(Incident("api").health("api", errors=level(0.001, 0.05)))
    assert result.inconclusive
    assert result.hypotheses[0].id == "UNKNOWN"
    assert result.culprit_service is None


def surge_with_errors() -> Incident:
    """A surge that saturated `api` and made it fail; metrics alone, no spans."""
    return (
        Incident("api")
        .health("api", traffic=level(150, 900), errors=level(0.001, 0.4), latency=level(30, 400))
        .metric("api", "cpu_utilization", level(0.3, 0.95))
    )


def test_without_logs_a_surge_with_errors_keeps_a_rate_limiter_as_the_runner_up() -> None:
    result = verdict(surge_with_errors())
    first, second = result.hypotheses[:2]
    assert (first.id, first.culprit_service) == ("CAPACITY_SATURATION", "api")
    assert (second.id, second.culprit_service) == ("RATE_LIMIT_THROTTLING", "api")
    assert second.confidence >= 0.1  # a real alternative, not a rounding error
    assert first.confidence <= 0.9  # and the leader is not sure: the metrics cannot tell


def test_without_logs_a_surge_failing_at_once_while_its_latency_holds_is_a_limiter_first() -> None:
    # An overload slows before it fails; a limiter answers at once.
    incident = (
        Incident("api")
        .health("api", traffic=level(150, 900), errors=level(0.001, 0.4), latency=level(30, 31))
        .metric("api", "cpu_utilization", level(0.3, 0.95))
    )
    first, second = verdict(incident).hypotheses[:2]
    assert (first.id, first.culprit_service) == ("RATE_LIMIT_THROTTLING", "api")
    assert (second.id, second.culprit_service) == ("CAPACITY_SATURATION", "api")
    assert first.confidence <= 0.9  # still metrics alone: the other stays a live alternative


def surge_past_a_calm_peer(api_cpu: float = 0.95) -> Incident:
    """The surge reaches `api` (reported, failing) and `search`, which runs at its CPU limit,
    slows and does not fail."""
    return (
        Incident("api")
        .health("api", traffic=level(150, 900), errors=level(0.001, 0.4), latency=level(30, 400))
        .metric("api", "cpu_utilization", level(0.3, api_cpu))
        .health(
            "search", traffic=level(150, 900), errors=level(0.001, 0.001), latency=level(20, 600)
        )
        .metric("search", "cpu_utilization", level(0.3, 0.99))
    )


def test_without_logs_a_surge_failing_where_a_peer_at_its_limit_does_not_is_a_limiter_first() -> (
    None
):
    # Running at the limit did not fail `search`'s requests, so it is not what fails `api`'s.
    first, second = verdict(surge_past_a_calm_peer()).hypotheses[:2]
    assert (first.id, first.culprit_service) == ("RATE_LIMIT_THROTTLING", "api")
    assert (second.id, second.culprit_service) == ("CAPACITY_SATURATION", "api")
    assert "search ran at its CPU limit" in first.rationale


def test_saturation_that_fails_no_one_does_not_answer_an_alert_about_failures() -> None:
    # `search` runs hotter than `api`, but only `api`'s failures are what the alert reports.
    result = verdict(surge_past_a_calm_peer(api_cpu=0.8))
    assert top(result) == ("RATE_LIMIT_THROTTLING", "api")
    saturation = next(h for h in result.hypotheses if h.id == "CAPACITY_SATURATION")
    assert saturation.culprit_service == "api"


def test_a_saturated_callee_still_explains_the_failures_of_callers_whose_calls_to_it_slow() -> None:
    incident = (
        Incident("web")
        .health("web", traffic=level(150, 900), errors=level(0.001, 0.4))
        .spans("web", "GET /home", error_share=level(0, 0.4))
        .spans("web", "search GET /q", peer="search", ms=level(20, 900))
        .health("search", traffic=level(150, 900), latency=level(20, 900))
        .metric("search", "cpu_utilization", level(0.3, 0.99))
    )
    assert top(verdict(incident)) == ("CAPACITY_SATURATION", "search")


def test_where_the_alert_reports_slowness_a_saturated_peer_that_does_not_fail_is_still_the_answer() -> (
    None
):
    # No call graph: `catalog`'s slowness may be what times `web`'s requests out.
    incident = (
        Incident("web")
        .health("web", traffic=level(200, 650), errors=level(0.002, 0.06), latency=level(100, 3000))
        .metric("web", "cpu_utilization", level(0.25, 0.76))
        .health("catalog", traffic=level(200, 650), latency=level(90, 2500))
        .metric("catalog", "cpu_utilization", level(0.33, 0.99))
    )
    assert top(verdict(incident)) == ("CAPACITY_SATURATION", "catalog")


def test_logs_without_429s_rule_the_rate_limiter_out() -> None:
    incident = surge_with_errors().log("api", "request timed out after 30s waiting for a worker")
    assert "RATE_LIMIT_THROTTLING" not in [h.id for h in verdict(incident).hypotheses]


def stepped(
    name: str, service: str, before: float, after: float, step: int
) -> list[dict[str, Any]]:
    """A metric at ``before`` until ``step`` minutes from the onset, at ``after`` from then on."""
    return [
        {
            "name": name,
            "value": (before if minute < step else after) * (1 + 0.02 * ((minute % 3) - 1)),
            "timestamp": at(minute),
            "labels": {"service": service},
        }
        for minute in range(-15, 15)
    ]


def surge_after_heat(cpu_step: int) -> AnalysisResult:
    metrics = stepped("requests_per_second", "api", 100, 220, 0)
    metrics += stepped("cpu_utilization", "api", 0.3, 0.95, cpu_step)
    return analyze(analysis_input(service="api", metrics=metrics))


def saturated_by_traffic(result: AnalysisResult) -> bool:
    return any(
        "traffic rose" in reason
        for h in result.hypotheses
        if h.id == "CAPACITY_SATURATION"
        for reason in [h.rationale]
    )


def test_traffic_rising_reads_as_saturation_only_when_the_cpu_heated_with_it_or_after() -> None:
    assert saturated_by_traffic(surge_after_heat(cpu_step=0))
    assert not saturated_by_traffic(surge_after_heat(cpu_step=-8))


def test_a_cpu_that_heated_minutes_after_the_traffic_rose_was_not_heated_by_it() -> None:
    # More requests load a process from the minute they arrive; a CPU that ran at its old level
    # through four minutes of the surge and then heated was heated by something else.
    assert saturated_by_traffic(surge_after_heat(cpu_step=1))
    assert not saturated_by_traffic(surge_after_heat(cpu_step=4))


def surge_with_cpu_percent(
    before: float, after: float, name: str = "cpu_usage_percent"
) -> AnalysisResult:
    metrics = stepped("requests_per_second", "api", 100, 220, 0)
    metrics += stepped(name, "api", before, after, 0)
    return analyze(analysis_input(service="api", metrics=metrics))


@pytest.mark.parametrize("name", ["cpu_usage_percent", "CPUUtilization", "cpu_utilization"])
def test_a_cpu_in_percent_reads_as_saturated_by_a_surge_only_near_its_limit(name: str) -> None:
    # 20% → 40% with twice the traffic is load, far from the limit; 30% → 95% is saturation. Read
    # as a 0-1 share, any percent series was "75% busy" at 0.75%. The unit comes from the name
    # where it says one, else from the values (a utilisation above 1 is no share).
    assert not saturated_by_traffic(surge_with_cpu_percent(20, 40, name))
    assert saturated_by_traffic(surge_with_cpu_percent(30, 95, name))


def web_waiting_longer_on_a_healthy_orders(*, web_cpu: Any) -> Incident:
    """web's calls to orders take eight times longer while orders serves as fast as before and
    hears less (web sends less); web's own requests drop a little."""
    return (
        Incident("web")
        .health("web", latency=level(100, 600), traffic=level(100, 60))
        .metric("web", "cpu_usage_percent", web_cpu)
        .spans("web", "GET /home", ms=level(50, 400))
        .spans("web", "orders GET /data", peer="orders", ms=level(10, 80))
        .health("orders", traffic=level(100, 60))
        .spans("orders", "GET /data", ms=level(8, 8))
    )


def test_a_caller_whose_cpu_ran_hot_beyond_its_load_hangs_on_its_calls_because_it_is_starved() -> (
    None
):
    incident = web_waiting_longer_on_a_healthy_orders(web_cpu=level(25, 85))
    assert top(verdict(incident)) == ("CAPACITY_SATURATION", "web")


def test_a_caller_hanging_on_a_healthy_callee_with_its_cpu_as_before_is_its_network() -> None:
    incident = web_waiting_longer_on_a_healthy_orders(web_cpu=level(25, 25))
    assert top(verdict(incident)) == ("NETWORK_DNS_ISSUE", "web")


@pytest.mark.parametrize(
    "line",
    [
        "dial tcp 10.0.3.4:8080: connect: no route to host",
        "java.net.NoRouteToHostException: No route to host (Host unreachable)",
        "Errno::ECONNREFUSED: Failed to open TCP connection to 10.0.3.4:8080",
    ],
)
def test_failures_its_own_logs_put_on_the_way_out_are_the_services_network_not_its_code(
    line: str,
) -> None:
    """Nothing names the service it calls: only its errors, and lines saying the connections
    were never made. Generic errors would read as its code; these read as its network path."""
    incident = (
        Incident("web")
        .health("web", errors=level(0.001, 0.5), latency=level(80, 600))
        .log("web", line)
    )
    assert top(verdict(incident)) == ("NETWORK_DNS_ISSUE", "web")


def test_generic_new_errors_of_a_service_still_read_as_its_code() -> None:
    incident = (
        Incident("web")
        .health("web", errors=level(0.001, 0.5), latency=level(80, 600))
        .log("web", "java.lang.IllegalStateException: order total is negative")
    )
    assert top(verdict(incident)) == ("DEPLOY_BUG", "web")


def test_a_surge_blames_the_callee_whose_work_queues_even_where_its_cpu_stays_cooler() -> None:
    # catalog-api's executor queue fills (a thread pool at its size) while its CPU is cooler
    # than web's: queued work is saturation as much as a CPU at its limit.
    incident = (
        web_calling("catalog-api")
        .health("web", traffic=level(200, 600), latency=level(100, 2500))
        .health("catalog-api", traffic=level(200, 600), latency=level(80, 2100))
        .metric("web", "cpu_utilization", level(0.25, 0.85))
        .metric("catalog-api", "cpu_utilization", level(0.3, 0.5))
        .metric("catalog-api", "executor_queued_tasks", level(0, 400))
        .spans("catalog-api", "GET /listings", ms=level(80, 2100))
    )
    assert top(verdict(incident)) == ("CAPACITY_SATURATION", "catalog-api")


def test_a_sender_throttled_by_a_third_party_is_over_its_quota_even_while_it_runs_hot() -> None:
    # notify's sends tripled; the SMS provider answers the excess with 429. notify's CPU, and
    # that of the audit service its surge reaches (slower, failing none of its calls), heated
    # with the sends: the quota is the mechanism, the heat follows.
    incident = (
        Incident("notify")
        .health("notify", traffic=level(40, 130), errors=level(0.001, 0.4))
        .metric("notify", "cpu_utilization", level(0.3, 0.95))
        .spans("notify", "send notification", error_share=level(0, 0.4))
        .spans("notify", "audit GET /v1/audit", peer="audit", ms=level(20, 300))
        .health("audit", traffic=level(40, 130), latency=level(20, 300))
        .metric("audit", "cpu_utilization", level(0.4, 1.0))
        .log(
            "notify",
            "twilio-api answered POST /Messages.json with status 429 (too many requests)",
            level_="WARN",
        )
    )
    assert top(verdict(incident)) == ("RATE_LIMIT_THROTTLING", "notify")
