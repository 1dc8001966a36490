"""The signal table reads metric names of the common conventions, and operators can add rows."""

from __future__ import annotations

import pytest

from chronosops.analysis.signals import SignalRule, SignalTable, outcome_of, peer_of, unit_floor

TABLE = SignalTable()


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("http.server.request.duration", "latency"),  # OpenTelemetry semconv
        ("rpc.server.duration", "latency"),
        ("http_request_duration_seconds_bucket", "latency"),  # Prometheus client
        ("http_server_requests_seconds_max", "latency"),  # Micrometer
        ("trace.http.request.duration", "latency"),  # Datadog
        ("trace.http.request.errors", "errors"),
        ("trace.http.request.hits", "traffic"),
        ("http_requests_total", "traffic"),
        ("kube_pod_container_status_restarts_total", "restarts"),  # kube-state-metrics
        ("container_cpu_usage_seconds_total", "cpu"),  # cAdvisor
        ("container_memory_working_set_bytes", "memory"),
        ("node_network_receive_bytes_total", "network"),  # node_exporter
        ("jvm_gc_pause_seconds_sum", "gc"),  # JVM via Micrometer
        ("go_goroutines", "saturation"),
        ("nodejs_eventloop_lag_seconds", "saturation"),
        ("hikaricp_connections_pending", "saturation"),
        ("pgbouncer_pools_client_waiting_connections", "saturation"),
        ("executor_queued_tasks", "saturation"),
        # a client's database pool: OpenTelemetry, Go's database/sql, SQLAlchemy, ActiveRecord
        ("db.client.connection.pending_requests", "saturation"),
        ("db.client.connection.count", "saturation"),
        ("db_client_connections_usage", "saturation"),
        ("go_sql_wait_count", "saturation"),
        ("go_sql_in_use_connections", "saturation"),
        ("sqlalchemy_pool_checkedout", "saturation"),
        ("activerecord_connection_pool_busy", "saturation"),
        # a database server's own sessions
        ("pg_stat_activity_count", "saturation"),
        ("mysql_global_status_threads_connected", "saturation"),
        # restarts as Datadog's and OpenTelemetry's Kubernetes receivers name them
        ("kubernetes.containers.restarts", "restarts"),
        ("k8s.container.restarts", "restarts"),
        # failures named in the middle of the name are still failures, not requests
        ("http_requests_errors_per_second", "errors"),
        ("resilience4j_circuitbreaker_state", "circuit_open"),
        ("success_rate_percent", "availability"),
        ("cache_hit_ratio", "cache_hit"),
        ("error_ratio", "error_ratio"),
        # a latency histogram's count is its requests, not time
        ("http_server_requests_seconds_count", "traffic"),  # Micrometer
        ("http.server.request.duration.count", "traffic"),  # OpenTelemetry
        ("http_request_duration_seconds_count", "traffic"),  # Prometheus client
        ("jvm_gc_collection_seconds_count", "gc"),  # ... but a collector's pauses are no requests
        ("jvm_gc_pause_seconds_count", "gc"),
    ],
)
def test_the_table_reads_each_convention(name: str, kind: str) -> None:
    assert TABLE.kind_of(name) == kind


@pytest.mark.parametrize(
    ("labels", "kind"),
    [
        ({"status": "5xx"}, "errors"),  # the field's own convention
        ({"code": "503"}, "errors"),  # Prometheus client libraries
        ({"http.response.status_code": "500"}, "errors"),  # OpenTelemetry
        ({"outcome": "SERVER_ERROR"}, "errors"),  # Micrometer
        ({"grpc_code": "Unavailable"}, "errors"),
        ({"grpc_code": "14"}, "errors"),
        ({"error": "true"}, "errors"),
        ({"success": "false"}, "errors"),
        ({"code": "429"}, "errors"),
        ({"status": "all"}, "traffic"),
        ({"code": "200"}, "traffic"),
        ({"outcome": "SUCCESS"}, "traffic"),
        ({"grpc_code": "0"}, "traffic"),
        ({"status": "2"}, "traffic"),  # a bare small number is a gRPC code only under a gRPC label
        ({"service": "orders"}, "traffic"),
        ({}, "traffic"),
    ],
)
def test_a_request_count_kept_to_failed_requests_counts_errors_not_traffic(
    labels: dict[str, str], kind: str
) -> None:
    assert TABLE.kind_of("http_requests_total", labels) == kind


def test_outcome_labels_tell_throttled_from_failed_requests() -> None:
    assert outcome_of({"code": "429"}) == "throttled"
    assert outcome_of({"status_code": "502"}) == "failed"
    assert outcome_of({"status_code": "204"}) is None


@pytest.mark.parametrize(
    ("labels", "outcome"),
    [
        ({"classification": "failure"}, "failed"),  # Linkerd
        ({"classification": "success"}, None),
        ({"envoy_response_code": "503"}, "failed"),  # Envoy
        ({"envoy_response_code_class": "5"}, "failed"),
        ({"envoy_response_code_class": "2"}, None),
        ({"http.status_class": "5xx"}, "failed"),  # Datadog
        ({"grpc_server_status": "UNAVAILABLE"}, "failed"),  # OpenCensus
        ({"grpc_client_status": "OK"}, None),
    ],
)
def test_the_meshes_and_views_outcome_labels_say_how_requests_ended(
    labels: dict[str, str], outcome: str | None
) -> None:
    assert outcome_of(labels) == outcome


@pytest.mark.parametrize(
    "name",
    ["envoy_cluster_upstream_rq", "envoy_cluster_upstream_rq_xx", "envoy_http_downstream_rq_total"],
)
def test_envoys_request_counters_are_traffic(name: str) -> None:
    assert TABLE.kind_of(name) == "traffic"
    assert TABLE.kind_of(name, {"envoy_response_code_class": "5"}) == "errors"


def test_an_operators_row_is_tried_before_the_built_in_ones() -> None:
    table = SignalTable([SignalRule(r"^shop_checkout_slowness$", "latency")])
    assert table.kind_of("shop_checkout_slowness") == "latency"
    assert TABLE.kind_of("shop_checkout_slowness") is None


def test_a_label_naming_the_other_end_makes_an_edge_metric() -> None:
    assert peer_of({"service": "checkout", "destination_service": "cart"}) == "cart"
    assert peer_of({"service": "checkout", "peer.service": "payments"}) == "payments"
    assert peer_of({"service": "checkout"}) is None


def test_latency_floors_follow_the_unit_in_the_name_or_the_series() -> None:
    assert unit_floor("latency_ms", "latency") == 5.0
    assert unit_floor("http_request_duration_seconds", "latency") == 0.005
    assert unit_floor("http.server.duration", "latency", "ms") == 5.0
    assert unit_floor("redis_commands_latencies_p95_usec", "latency") == 5000.0


def test_bounded_kinds_have_their_floor_in_a_share_whatever_the_name() -> None:
    # `units.normalise` has read a percent series as a share before any floor is taken.
    assert unit_floor("cpu_usage_percent", "cpu") == unit_floor("cpu_utilisation", "cpu") == 0.02
    assert unit_floor("error_percent", "error_ratio") == 0.005


@pytest.mark.parametrize(
    ("line", "category"),
    [
        (
            "java.util.concurrent.RejectedExecutionException: Task rejected from pool",
            "worker_saturation",
        ),
        ("upstream answered 503: server overloaded, shedding load", "worker_saturation"),
        (
            "io.github.resilience4j.circuitbreaker.CallNotPermittedException: CircuitBreaker 'stripe' is OPEN",
            "circuit_open",
        ),
        ("Polly.CircuitBreaker.BrokenCircuitException: The circuit is now open", "circuit_open"),
        ('FATAL: password authentication failed for user "orders"', "db_credentials"),
        ("io.jsonwebtoken.ExpiredJwtException: JWT expired at 2024-01-01", "auth"),
        ("dial tcp 10.0.0.7:5432: connect: connection refused", "refused"),
        ("Error: getaddrinfo ENOTFOUND payments.internal", "dns"),
        ("System.NullReferenceException: Object reference not set", "code_bug"),
        ("FATAL ERROR: Reached heap limit - JavaScript heap out of memory", "oom"),
        (
            "HikariPool-1 - Connection is not available, request timed out after 30000ms",
            "pool_exhausted",
        ),
        ("Net::ReadTimeout with #<TCPSocket:(closed)>", "timeout"),
        ("botocore.errorfactory.ThrottlingException: Rate exceeded", "rate_limited"),
        (
            "rpc error: code = ResourceExhausted desc = maps: quota exhausted, retry after 30s",
            "rate_limited",
        ),
        ('Order Load (312.4ms)  SELECT "orders".* FROM "orders" ORDER BY created_at', "db_slow"),
        ("Executed DbCommand (412ms) [Parameters=[]] SELECT o.* FROM orders AS o", "db_slow"),
        ("SLOW SQL >= 200ms [412.3ms] [rows:10] SELECT * FROM orders", "db_slow"),
        ('query is slow (412ms) on pg-main: SELECT * FROM "orders"', "db_slow"),
        ("pgxpool: acquire connection: context deadline exceeded (12 waiting)", "pool_exhausted"),
        (
            "KnexTimeoutError: Knex: Timeout acquiring a connection. The pool is probably full.",
            "pool_exhausted",
        ),
        ("[CRITICAL] WORKER TIMEOUT (pid:4312)", "worker_saturation"),
        ("Cache 'products' miss for key product:81, loading from pg-main", "cache_miss"),
        ("Cache read: product/81 (miss) fetching from pg-main", "cache_miss"),
    ],
)
def test_the_signature_library_reads_failures_of_many_languages(line: str, category: str) -> None:
    from chronosops.analysis.observations import LOG_CATEGORIES

    found = {name for name, pattern in LOG_CATEGORIES if pattern.search(line.lower())}
    assert category in found


@pytest.mark.parametrize(
    "line",
    [
        "RangeError: Invalid rounding mode 'HALF_AWAY' from PRICING_ROUNDING_MODE",
        'invalid value "eu-west-9" read from storage_region',
        "java.lang.IllegalArgumentException: Could not resolve placeholder 'payments.url' in value",
        "Failed to bind properties under 'spring.datasource' to javax.sql.DataSource",
        "Microsoft.Extensions.Options.OptionsValidationException: MaxRetries must be positive",
        "django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty.",
        "1 validation error for Settings database_url field required",
        "envconfig.Process: assigning TIMEOUT to Timeout: converting 'ten' to type time.Duration",
        "environment variable STRIPE_KEY is not set",
    ],
)
def test_a_service_rejecting_its_own_configuration_logs_a_configuration_error(line: str) -> None:
    from chronosops.analysis.observations import LOG_CATEGORIES

    found = [name for name, pattern in LOG_CATEGORIES if pattern.search(line.lower())]
    assert "config_error" in found


@pytest.mark.parametrize(
    "line",
    [
        "invalid token from auth_service",  # no value named: an identity failure, not a setting
        "RangeError: Maximum call stack size exceeded",
        "ValueError: invalid literal for int() with base 10: 'abc'",
    ],
)
def test_a_rejected_value_not_read_from_a_setting_is_no_configuration_error(line: str) -> None:
    from chronosops.analysis.observations import LOG_CATEGORIES

    found = [name for name, pattern in LOG_CATEGORIES if pattern.search(line.lower())]
    assert "config_error" not in found


def test_an_orms_ordinary_per_statement_line_is_not_a_slow_query() -> None:
    from chronosops.analysis.observations import LOG_CATEGORIES

    line = 'order load (0.4ms)  select "orders".* from "orders" where "orders"."id" = $1'
    assert "db_slow" not in {name for name, pattern in LOG_CATEGORIES if pattern.search(line)}


def test_a_database_refusing_a_rotated_password_is_configuration_not_identity() -> None:
    from chronosops.analysis import analyze
    from tests.analysis.builders import analysis_input, logs, series

    result = analyze(
        analysis_input(
            metrics=series("error_rate", 0.002, 0.3),
            logs=logs('FATAL: password authentication failed for user "orders" ({i})', 20),
        )
    )
    ids = [h.id for h in result.hypotheses]
    assert ids[0] == "CONFIG_REGRESSION"
    assert "AUTH_OIDC_ISSUE" not in ids[:1]


@pytest.mark.parametrize(
    "message",
    [
        "io.github.resilience4j.circuitbreaker.CallNotPermittedException: "
        "CircuitBreaker 'stripe' is OPEN and does not permit further calls ({i})",
        "POST https://api.stripe.com/v1/charges failed: 503 Service Unavailable ({i})",
    ],
)
def test_a_third_party_named_by_a_breaker_or_a_url_is_the_failing_dependency(
    message: str,
) -> None:
    from chronosops.analysis import analyze
    from tests.analysis.builders import analysis_input, logs, series

    result = analyze(
        analysis_input(
            service="checkout",
            metrics=series("http_error_rate", 0.002, 0.2),
            logs=logs(message, 30),
        )
    )
    assert (result.hypotheses[0].id, result.culprit_service) == ("DOWNSTREAM_OUTAGE", "stripe")


@pytest.mark.parametrize(
    ("text", "known", "named"),
    [
        ("post https://legacy-billing.example.com/soap/billing: 503", set(), "legacy-billing"),
        ("get https://rates.example.org/v2/rates timed out", set(), "rates"),
        ("get https://carrier-rates.partner.io/v2/rates timed out", set(), "carrier-rates"),
        ("post https://api.stripe.com/v1/charges failed", set(), "stripe"),
        ("500 on get http://catalog_svc:8080/quote", set(), "catalog_svc"),
        ("get http://orders.prod.svc.cluster.local:8080/orders", set(), "orders"),
        ("get https://fx.bank.com/rates failed", {"fx"}, "fx"),
    ],
)
def test_a_url_names_the_service_behind_it_not_its_domain(
    text: str, known: set[str], named: str
) -> None:
    from chronosops.analysis.observations import _mentions

    found = _mentions([text], known)
    assert named in found
    assert not found & {"example", "partner", "catalog", "svc", "bank"}


def test_temporarily_unavailable_names_no_service() -> None:
    from chronosops.analysis.observations import _mentions

    assert _mentions(["resource temporarily unavailable"], set()) == set()
    assert _mentions(["ledger-db unavailable, retrying"], set()) == {"ledger-db"}


def test_a_latency_histograms_count_of_failed_requests_counts_errors() -> None:
    assert TABLE.kind_of("http_server_requests_seconds_count", {"outcome": "SERVER_ERROR"}) == (
        "errors"
    )
    assert TABLE.kind_of("http.server.request.duration.count", {"error.type": "timeout"}) == (
        "errors"
    )


@pytest.mark.parametrize(
    "line",
    [
        "cache hit for key product:81",
        "Cache 'products' loaded. Missing keys are fetched on demand",
        "worker timeout set to 30s",
    ],
)
def test_lines_that_only_share_words_with_a_signature_are_not_read_as_it(line: str) -> None:
    from chronosops.analysis.observations import LOG_CATEGORIES

    found = {name for name, pattern in LOG_CATEGORIES if pattern.search(line.lower())}
    assert not found & {"cache_miss", "worker_saturation"}


def test_resilience4js_kind_of_call_is_its_outcome() -> None:
    assert outcome_of({"kind": "failed"}) == "failed"
    assert outcome_of({"kind": "failed_without_retry"}) == "failed"
    assert outcome_of({"kind": "not_permitted"}) == "throttled"
    assert outcome_of({"kind": "successful"}) is None


def test_a_kind_that_names_no_outcome_leaves_the_other_labels_to_say_it() -> None:
    # a span kind, a message kind: no outcome, and no failure read into "internal" or "error"
    assert outcome_of({"kind": "internal"}) is None
    assert outcome_of({"kind": "error"}) is None
    assert outcome_of({"kind": "server", "code": "500"}) == "failed"
