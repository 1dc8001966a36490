"""Naming conventions: how the same signal is called by different stacks.

The simulation knows a service's p95 latency, error ratio, CPU and so on; what a real system
calls them depends on who exports them. A Spring service exports Micrometer names
(`http_server_requests_seconds`), a Go service the Prometheus client's
(`http_request_duration_seconds`), a .NET one OpenTelemetry's (`http.server.request.duration`),
an agent Datadog's (`trace.http.request.duration`), the cluster cAdvisor's and
kube-state-metrics' (`container_cpu_usage_seconds_total`, `kube_pod_container_status_restarts_total`),
and the units differ with them (seconds or milliseconds, bytes or MiB, ratios or per-second
counts of failures). A `Style` is one such choice for a whole incident: a language per service
(which also decides its log phrasing, see `phrasebook`), the metric dialect that language's
services export, the infrastructure exporter, and how spans name their client calls.

`native_style` is the generator's own house style (the names the default suite has always
used). `choose_style` draws a mixed style from the incident's seed, so the same options always
give the same names.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal, get_args

from chronosops.scenarios.model import ServiceNode, Topology

Language = Literal["java", "go", "python", "node", "dotnet", "ruby"]
LANGUAGES: tuple[Language, ...] = get_args(Language)

# What the simulation knows about a service each minute, in its native unit.
Signal = Literal[
    "latency",  # p95, ms
    "errors",  # share of requests that failed, 0–1
    "traffic",  # requests per second
    "cpu",  # utilisation of the container's CPU limit, 0–1
    "memory",  # working set, MiB
    "restarts",  # container restarts, cumulative count
    "pool_in_use",  # database connections checked out
    "pool_pending",  # requests waiting for a database connection
    "cache_hit",  # hit ratio of the service's cache-aside reads, 0–1
    "db_connections",  # connections open on a database server
    "cert_expiry",  # days until the serving certificate expires
    "busy_threads",  # requests in flight (Little's law); how runtimes show saturation
    "breaker_open",  # 1 while a circuit breaker towards a dependency is open
    "cpu_limit",  # the container's CPU limit, cores
    # Only in an exporter form (`FORMS`): the same signals sent as pairs of series.
    "latency_sum",  # mean latency, ms: a histogram's sum counts it times the requests
    "latency_count",  # requests per second a histogram timed
    "successes",  # error ratio: requests that did not fail, counted apart from the failures
    "cpu_quota",  # the container's CPU limit, cores: its cgroup quota per period
    "cpu_period",  # 1: the cgroup's period
]

# How a value is derived from the native one.
Transform = Literal[
    "same",
    "scale",  # value × scale
    "error_rate",  # errors per second: error ratio × request rate
    "cores",  # CPU seconds per second: utilisation × the container's CPU limit in cores
    "nanocores",  # Datadog's kubernetes.cpu.usage.total
    "lag",  # event-loop lag in seconds, growing as the CPU fills
    "queue",  # requests in flight beyond the workers' count: a queue length
    "busy",  # seconds of requests per second: mean latency (ms) × request rate / 1000
    "successes",  # requests per second that did not fail: (1 − error ratio) × request rate
]

CPU_LIMIT_CORES = 2.0
MIB = 1024.0 * 1024.0


@dataclass(frozen=True)
class MetricName:
    """One signal as one convention exports it."""

    name: str
    unit: str
    transform: Transform = "same"
    scale: float = 1.0
    labels: tuple[tuple[str, str], ...] = ()
    # For ``queue``: workers sized at this many times the early minutes' requests in flight.
    headroom: float = 0.0


def _m(
    name: str,
    unit: str,
    transform: Transform = "same",
    scale: float = 1.0,
    headroom: float = 0.0,
    dotted: dict[str, str] | None = None,  # label keys that are not Python names
    **labels: str,
) -> MetricName:
    every = {**(dotted or {}), **labels}
    return MetricName(name, unit, transform, scale, tuple(sorted(every.items())), headroom)


# The generator's house style: what the default suite has always exported.
NATIVE: dict[Signal, MetricName] = {
    "latency": _m("latency_p95_ms", "ms"),
    "errors": _m("error_ratio", "ratio"),
    "traffic": _m("request_rate", "req/s"),
    "cpu": _m("cpu_utilization", "ratio"),
    "memory": _m("memory_working_set_mb", "MiB"),
    "restarts": _m("container_restarts_total", "count"),
    "pool_in_use": _m("db_pool_connections_in_use", "count"),
    "pool_pending": _m("db_pool_pending_requests", "count"),
    "cache_hit": _m("cache_hit_ratio", "ratio"),
    "db_connections": _m("db_connections_active", "count"),
    "cert_expiry": _m("tls_certificate_expiry_days", "days"),
}

# Application metrics, by the client library a service's language usually exports with.
# The label keys are part of the convention: where the service's name goes differs too.
APP_DIALECTS: dict[str, tuple[str, dict[Signal, MetricName]]] = {
    "micrometer": (
        "application",
        {
            "latency": _m("http_server_requests_seconds", "s", "scale", 0.001, quantile="0.95"),
            "errors": _m(
                "http_server_requests_seconds_count", "1/s", "error_rate", outcome="SERVER_ERROR"
            ),
            "traffic": _m("http_server_requests_seconds_count", "1/s", outcome="ALL"),
            "pool_in_use": _m("hikaricp_connections_active", "connections", pool="HikariPool-1"),
            "pool_pending": _m("hikaricp_connections_pending", "threads", pool="HikariPool-1"),
            "cache_hit": _m("cache_gets_hit_ratio", "ratio", cache="default"),
            "busy_threads": _m("executor_queued_tasks", "tasks", "queue", headroom=2.0),
            "cert_expiry": _m("ssl_certificate_expiry_seconds", "s", "scale", 86400.0),
        },
    ),
    "otel": (
        "service.name",
        {
            "latency": _m("http.server.request.duration", "s", "scale", 0.001, quantile="0.95"),
            "errors": _m(
                "http.server.request.duration.count",
                "{request}/s",
                "error_rate",
                dotted={"http.response.status_code": "5xx"},
            ),
            "traffic": _m("http.server.request.duration.count", "{request}/s"),
            "pool_in_use": _m(
                "db.client.connection.count",
                "{connection}",
                dotted={"db.client.connection.state": "used"},
            ),
            "pool_pending": _m("db.client.connection.pending_requests", "{request}"),
            "cache_hit": _m("cache.hit_ratio", "1"),
            "busy_threads": _m(
                "dotnet.thread_pool.queue.length", "{work_item}", "queue", headroom=2.5
            ),
            "cert_expiry": _m("tls.certificate.time_to_expiry", "s", "scale", 86400.0),
        },
    ),
    "prometheus-go": (
        "job",
        {
            "latency": _m(
                "http_request_duration_seconds", "seconds", "scale", 0.001, quantile="0.95"
            ),
            "errors": _m("http_requests_total", "requests/s", "error_rate", code="500"),
            "traffic": _m("http_requests_total", "requests/s", code="all"),
            "pool_in_use": _m("go_sql_in_use_connections", "connections", db_name="main"),
            "pool_pending": _m("go_sql_wait_count", "waits", db_name="main"),
            "cache_hit": _m("cache_hit_rate", "ratio"),
            "busy_threads": _m("go_goroutines", "goroutines", "scale", 1.0),
            "cert_expiry": _m("x509_cert_expires_in_seconds", "seconds", "scale", 86400.0),
        },
    ),
    "prometheus-python": (
        "app",
        {
            "latency": _m(
                "http_request_duration_seconds", "seconds", "scale", 0.001, quantile="0.95"
            ),
            "errors": _m("http_requests_total", "requests/s", "error_rate", status="5xx"),
            "traffic": _m("http_requests_total", "requests/s", status="all"),
            "pool_in_use": _m("sqlalchemy_pool_checkedout", "connections"),
            "pool_pending": _m("sqlalchemy_pool_overflow_waiters", "waiters"),
            "cache_hit": _m("django_cache_hit_ratio", "ratio"),
            "busy_threads": _m("gunicorn_requests_backlog", "requests", "queue", headroom=1.5),
        },
    ),
    "prom-client": (
        "service",
        {
            "latency": _m("http_request_duration_ms", "ms", quantile="0.95", route="*"),
            "errors": _m("http_requests_errors_per_second", "1/s", "error_rate"),
            "traffic": _m("http_requests_per_second", "1/s"),
            "pool_in_use": _m("pg_pool_active_count", "clients"),
            "pool_pending": _m("pg_pool_waiting_count", "clients"),
            "cache_hit": _m("lru_cache_hit_ratio", "ratio"),
            "busy_threads": _m("nodejs_eventloop_lag_seconds", "seconds", "lag"),
        },
    ),
    "datadog": (
        "service",
        {
            "latency": _m("trace.http.request.duration.by.service.95p", "second", "scale", 0.001),
            "errors": _m("trace.http.request.errors", "error/second", "error_rate"),
            "traffic": _m("trace.http.request.hits", "hit/second"),
            "pool_in_use": _m("activerecord.connection_pool.busy", "connection"),
            "pool_pending": _m("activerecord.connection_pool.waiting", "thread"),
            "cache_hit": _m("rails.cache.hit_rate", "fraction"),
            "busy_threads": _m("puma.backlog", "request", "queue", headroom=2.0),
            "cert_expiry": _m("tls.days_left", "day"),
        },
    ),
    "yabeda": (
        "controller",
        {
            "latency": _m(
                "rails_request_duration_seconds", "seconds", "scale", 0.001, quantile="0.95"
            ),
            "errors": _m("rails_requests_total", "requests/s", "error_rate", status="500"),
            "traffic": _m("rails_requests_total", "requests/s", status="all"),
            "pool_in_use": _m("activerecord_connection_pool_busy", "connections"),
            "pool_pending": _m("activerecord_connection_pool_waiting", "threads"),
            "cache_hit": _m("rails_cache_hit_ratio", "ratio"),
            "busy_threads": _m("puma_backlog", "requests", "queue", headroom=2.0),
        },
    ),
}

# Which dialects a language's services may export with.
LANGUAGE_DIALECTS: dict[Language, tuple[str, ...]] = {
    "java": ("micrometer", "otel", "datadog"),
    "go": ("prometheus-go", "otel"),
    "python": ("prometheus-python", "otel", "datadog"),
    "node": ("prom-client", "otel"),
    "dotnet": ("otel", "datadog"),
    "ruby": ("yabeda", "datadog"),
}

# Container metrics, by whoever scrapes the cluster.
INFRA_DIALECTS: dict[str, tuple[str, dict[Signal, MetricName]]] = {
    "cadvisor": (
        "container",
        {
            "cpu": _m("container_cpu_usage_seconds_total", "cores", "cores", namespace="prod"),
            "memory": _m(
                "container_memory_working_set_bytes", "bytes", "scale", MIB, namespace="prod"
            ),
            "restarts": _m("kube_pod_container_status_restarts_total", "count", namespace="prod"),
            # kube-state-metrics beside cAdvisor: what a CPU in cores is a share of
            "cpu_limit": _m(
                "kube_pod_container_resource_limits", "core", namespace="prod", resource="cpu"
            ),
        },
    ),
    "datadog": (
        "kube_deployment",
        {
            "cpu": _m("kubernetes.cpu.usage.total", "nanocore", "nanocores"),
            "memory": _m("kubernetes.memory.working_set", "byte", "scale", MIB),
            "restarts": _m("kubernetes.containers.restarts", "restart"),
            "cpu_limit": _m("kubernetes.cpu.limits", "core"),
        },
    ),
    "otel-k8s": (
        "k8s.deployment.name",
        {
            "cpu": _m("k8s.pod.cpu.utilization", "1"),
            "memory": _m("k8s.pod.memory.working_set", "By", "scale", MIB),
            "restarts": _m("k8s.container.restarts", "{restart}"),
        },
    ),
}

# Database servers, by their exporter: what they say about themselves.
DATABASE_DIALECTS: dict[str, tuple[str, dict[Signal, MetricName]]] = {
    "postgres": (
        "instance",
        {
            "latency": _m("pg_stat_statements_p95_exec_time_seconds", "seconds", "scale", 0.001),
            "errors": _m("pg_stat_database_xact_rollback_rate", "1/s", "error_rate"),
            "traffic": _m("pg_stat_database_xact_commit_rate", "1/s"),
            "db_connections": _m("pg_stat_activity_count", "connections", state="active"),
        },
    ),
    "mysql": (
        "instance",
        {
            "latency": _m(
                "mysql_info_schema_query_response_time_seconds",
                "seconds",
                "scale",
                0.001,
                quantile="0.95",
            ),
            "errors": _m("mysql_global_status_errors_rate", "1/s", "error_rate"),
            "traffic": _m("mysql_global_status_questions_rate", "1/s"),
            "db_connections": _m("mysql_global_status_threads_connected", "threads"),
        },
    ),
}

# Caches and name servers, by their exporter.
CACHE_DIALECT: tuple[str, dict[Signal, MetricName]] = (
    "instance",
    {
        "latency": _m("redis_commands_latencies_p95_usec", "us", "scale", 1000.0),
        "errors": _m("redis_errors_rate", "1/s", "error_rate"),
        "traffic": _m("redis_commands_processed_rate", "1/s"),
    },
)
DNS_DIALECT: tuple[str, dict[Signal, MetricName]] = (
    "server",
    {
        "latency": _m(
            "coredns_dns_request_duration_seconds", "seconds", "scale", 0.001, quantile="0.95"
        ),
        "errors": _m("coredns_dns_responses_servfail_rate", "1/s", "error_rate", rcode="SERVFAIL"),
        "traffic": _m("coredns_dns_requests_rate", "1/s"),
    },
)

BREAKER = _m("resilience4j_circuitbreaker_state", "state", state="open")

# Units vary with the exporter as much as names do: a CPU or an error ratio in percent (Docker
# and Datadog's `docker.cpu.usage`, CloudWatch's `CPUUtilization`, dashboards' `*_percent`), a
# latency in milliseconds (OpenTelemetry's older `http.server.duration`). Each incident of the
# default suite in mixed conventions draws one option per signal (``None``: the dialect's own);
# some say their unit in the name, some only in the series' unit, some nowhere (the values
# must tell).
UNIT_VARIANTS: dict[Signal, tuple[MetricName | None, ...]] = {
    "cpu": (
        None,
        None,
        _m("cpu_usage_percent", "", "scale", 100.0),
        _m("docker.cpu.usage", "percent", "scale", 100.0),
        _m("CPUUtilization", "", "scale", 100.0),
    ),
    "errors": (
        None,
        None,
        _m("http_requests_error_percent", "%", "scale", 100.0),
        _m("error_rate_pct", "", "scale", 100.0),
    ),
    "latency": (
        None,
        _m("http.server.duration", "ms", quantile="0.95"),
        _m("http_request_duration_milliseconds", "", quantile="0.95"),
    ),
}

# Exporter forms: the same signal sent as two series, as real exporters do, instead of the
# one series a dialect exports by default. Each incident of the default suite in mixed
# conventions draws each form with its share, from a seed stream of its own (so every other
# choice of the incident stays what it was, and with every share at 0 the suite is the one
# generated before the forms existed).
Form = Literal[
    "histogram", "outcomes", "cgroup", "joined", "buckets", "failures", "summary", "successes"
]
FORM_SHARES: dict[Form, float] = {
    # latency as a histogram's `_sum` and `_count` instead of a p95 (`HISTOGRAM_FORMS`)
    "histogram": 1 / 3,
    # requests counted by outcome, successes apart from failures, with no series of them all
    # (`OUTCOME_FORMS`): the requests are the outcomes' sum
    "outcomes": 1 / 3,
    # cAdvisor's cgroup CPU quota and period instead of kube-state-metrics' limit
    "cgroup": 1 / 3,
    # requests followed through the call graph as whole traces (parents, kinds, status up the
    # call path; log lines in the spans that wrote them) instead of spans drawn one by one
    # (`scenarios.joined_traces`)
    "joined": 1 / 3,
    # latency as a histogram's buckets instead of a p95 (`BUCKET_FORMS`); drawn with
    # "histogram", the buckets beside the sum and count (the whole Prometheus histogram),
    # alone, the buckets only (the +Inf bucket is then the requests, where the dialect's
    # requests were the histogram's count)
    "buckets": 1 / 3,
    # failures counted by a counter of their own, named apart from the requests' counter
    # (`FAILURE_FORMS`), instead of one counter split by an outcome label
    "failures": 1 / 3,
    # latency as a summary's quantiles (and Micrometer's max, Datadog's other percentiles)
    # instead of one p95 (`SUMMARY_FORMS`), where no histogram form took the latency
    "summary": 1 / 3,
    # failures counted beside the successes (`SUCCESS_FORMS`), by name or by resilience4j's
    # `kind`, with no series of every request, where no *failures* form took the failures
    "successes": 1 / 3,
}

# A latency histogram per dialect: its sum (seconds per second as a rate) and its count.
# Datadog's agent reports percentiles, not sums.
HISTOGRAM_FORMS: dict[str, tuple[MetricName, MetricName]] = {
    "micrometer": (
        _m("http_server_requests_seconds_sum", "s/s", "busy", outcome="ALL"),
        _m("http_server_requests_seconds_count", "1/s", outcome="ALL"),
    ),
    "otel": (
        _m("http.server.request.duration.sum", "s/s", "busy"),
        _m("http.server.request.duration.count", "{request}/s"),
    ),
    "prometheus-go": (
        _m("http_request_duration_seconds_sum", "seconds/s", "busy"),
        _m("http_request_duration_seconds_count", "requests/s"),
    ),
    "prometheus-python": (
        _m("http_request_duration_seconds_sum", "seconds/s", "busy"),
        _m("http_request_duration_seconds_count", "requests/s"),
    ),
    "prom-client": (
        _m("http_request_duration_seconds_sum", "seconds/s", "busy", route="*"),
        _m("http_request_duration_seconds_count", "requests/s", route="*"),
    ),
    "yabeda": (
        _m("rails_request_duration_seconds_sum", "seconds/s", "busy"),
        _m("rails_request_duration_seconds_count", "requests/s"),
    ),
}
# A latency histogram per dialect as its buckets: the bucket series (counts per second at or
# under each bound, cumulative over the bounds; a ``le`` label is added per bound) and the
# bounds, in seconds, each stack's defaults. OpenTelemetry's explicit-bucket histogram is
# read as exported to Prometheus. Datadog's agent reports percentiles, not buckets.
PROMETHEUS_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BUCKET_FORMS: dict[str, tuple[MetricName, tuple[float, ...]]] = {
    # Micrometer with service-level objectives configured (its percentile histogram has ~70)
    "micrometer": (
        _m("http_server_requests_seconds_bucket", "1/s", outcome="ALL"),
        (0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
    ),
    # the semantic conventions' advice for http.server.request.duration
    "otel": (
        _m("http_server_request_duration_seconds_bucket", "1/s"),
        (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0),
    ),
    "prometheus-go": (_m("http_request_duration_seconds_bucket", "1/s"), PROMETHEUS_BOUNDS),
    "prometheus-python": (_m("http_request_duration_seconds_bucket", "1/s"), PROMETHEUS_BOUNDS),
    "prom-client": (
        _m("http_request_duration_seconds_bucket", "1/s", route="*"),
        PROMETHEUS_BOUNDS,
    ),
    # yabeda-rails' long-running request buckets
    "yabeda": (
        _m("rails_request_duration_seconds_bucket", "1/s"),
        (*PROMETHEUS_BOUNDS, 30.0, 60.0),
    ),
}
# The successful requests per dialect that labels its request counter by outcome; the failures
# stay the dialect's own error series (Datadog and prom-client name them apart already).
OUTCOME_FORMS: dict[str, MetricName] = {
    "micrometer": _m("http_server_requests_seconds_count", "1/s", "successes", outcome="SUCCESS"),
    "otel": _m(
        "http.server.request.duration.count",
        "{request}/s",
        "successes",
        dotted={"http.response.status_code": "200"},
    ),
    "prometheus-go": _m("http_requests_total", "requests/s", "successes", code="200"),
    "prometheus-python": _m("http_requests_total", "requests/s", "successes", status="2xx"),
    "yabeda": _m("rails_requests_total", "requests/s", "successes", status="200"),
}
# Failures counted apart from the requests, per dialect whose exporters do so: hand-written
# Prometheus counters (`<x>_request_errors_total`, `<x>_failed_requests_total`,
# `<x>_errors_total` beside `<x>_requests_total`), and Envoy's inbound sidecar stats for the
# stacks that run in a mesh (`envoy_http_downstream_rq_5xx` beside `_rq_total`). The errors
# first, the requests second. Datadog names its errors apart already.
_ENVOY_INBOUND = "ingress_http"  # the listener's `envoy_http_conn_manager_prefix`
_ENVOY_FAILURES = (
    _m(
        "envoy_http_downstream_rq_5xx",
        "1/s",
        "error_rate",
        envoy_http_conn_manager_prefix=_ENVOY_INBOUND,
    ),
    _m("envoy_http_downstream_rq_total", "1/s", envoy_http_conn_manager_prefix=_ENVOY_INBOUND),
)
FAILURE_FORMS: dict[str, tuple[MetricName, MetricName]] = {
    "micrometer": _ENVOY_FAILURES,
    "otel": _ENVOY_FAILURES,
    "prometheus-go": (
        _m("http_request_errors_total", "requests/s", "error_rate"),
        _m("http_requests_total", "requests/s"),
    ),
    "prometheus-python": (
        _m("http_failed_requests_total", "requests/s", "error_rate"),
        _m("http_requests_total", "requests/s"),
    ),
    "prom-client": (
        _m("http_errors_total", "1/s", "error_rate", route="*"),
        _m("http_requests_total", "1/s", route="*"),
    ),
    "yabeda": (
        _m("rails_request_errors_total", "requests/s", "error_rate"),
        _m("rails_requests_total", "requests/s"),
    ),
}
# Failures counted beside the successes, as job, queue and RPC libraries count them, per
# dialect: a Go worker's own counters, celery-exporter's task counters for Python, a BullMQ
# queue's failed and completed jobs for Node, yabeda-sidekiq's for Rails, dotted OpenTelemetry
# instruments of one's own for .NET, and resilience4j's calls by `kind` (through Micrometer) for
# Java. The failures first, the successes second; no series counts them together.
SUCCESS_FORMS: dict[str, tuple[MetricName, MetricName]] = {
    "micrometer": (
        _m(
            "resilience4j_circuitbreaker_calls_seconds_count",
            "1/s",
            "error_rate",
            dotted={"name": "inbound"},  # the breaker's name (`name` is this helper's)
            kind="failed",
        ),
        _m(
            "resilience4j_circuitbreaker_calls_seconds_count",
            "1/s",
            "successes",
            dotted={"name": "inbound"},
            kind="successful",
        ),
    ),
    "otel": (
        _m("app.jobs.failed", "{job}/s", "error_rate"),
        _m("app.jobs.succeeded", "{job}/s", "successes"),
    ),
    "prometheus-go": (
        _m("worker_jobs_failed_total", "jobs/s", "error_rate"),
        _m("worker_jobs_succeeded_total", "jobs/s", "successes"),
    ),
    "prometheus-python": (
        _m("celery_task_failed_total", "tasks/s", "error_rate"),
        _m("celery_task_succeeded_total", "tasks/s", "successes"),
    ),
    "prom-client": (
        _m("queue_jobs_failed_total", "1/s", "error_rate"),
        _m("queue_jobs_completed_total", "1/s", "successes"),
    ),
    "yabeda": (
        _m("sidekiq_jobs_failed_total", "jobs/s", "error_rate"),
        _m("sidekiq_jobs_success_total", "jobs/s", "successes"),
    ),
}
# A latency as a summary, per dialect whose client exports one: the series per quantile (a
# ``quantile`` label, or the quantile in the name with ``{q}``), the quantiles, and the name of
# the slowest request of the minute where the stack sends it. Micrometer publishes the
# percentiles it is asked for and its max; client_golang's summary objectives were 0.5, 0.9
# and 0.99; prom-client's default percentiles; Datadog's per-service percentiles (100p is the
# max). The Python client's summary exports no quantiles, OpenTelemetry has none.
SUMMARY_FORMS: dict[str, tuple[MetricName, tuple[float, ...], MetricName | None]] = {
    "micrometer": (
        _m("http_server_requests_seconds", "s", "scale", 0.001),
        (0.5, 0.95, 0.99),
        _m("http_server_requests_seconds_max", "s", "scale", 0.001),
    ),
    "prometheus-go": (
        _m("http_request_duration_seconds", "seconds", "scale", 0.001),
        (0.5, 0.9, 0.99),
        None,
    ),
    "prom-client": (
        _m("http_request_duration_seconds", "seconds", "scale", 0.001, route="*"),
        (0.01, 0.05, 0.5, 0.9, 0.95, 0.99, 0.999),
        None,
    ),
    "datadog": (
        _m("trace.http.request.duration.by.service.{q}p", "second", "scale", 0.001),
        (0.5, 0.75, 0.9, 0.95, 0.99),
        _m("trace.http.request.duration.by.service.100p", "second", "scale", 0.001),
    ),
}

# cAdvisor's cgroup limit: microseconds of CPU per period; quota / period is the limit in cores.
CGROUP_PERIOD_US = 100_000.0
CGROUP_FORM: dict[Signal, MetricName] = {
    "cpu_quota": _m("container_spec_cpu_quota", "us", "scale", CGROUP_PERIOD_US, namespace="prod"),
    "cpu_period": _m(
        "container_spec_cpu_period", "us", "scale", CGROUP_PERIOD_US, namespace="prod"
    ),
}

# How spans name the calls a service makes: "peer" is the house style (`target GET /x`, with
# peer.service), "otel" names the call by its route and carries peer.service, "url" names it by
# its URL and carries no peer (older instrumentations).
SpanStyle = Literal["peer", "otel", "url"]
# Nodes whose names come from their own exporter, not an application dialect (`Style.names`).
NON_APP_KINDS = frozenset({"database", "cache", "dns"})


@dataclass(frozen=True)
class Style:
    """Every naming choice of one incident."""

    native: bool
    languages: dict[str, Language]  # service key -> language
    app_dialects: dict[str, str]  # service key -> APP_DIALECTS key
    infra: str  # INFRA_DIALECTS key
    database: str  # DATABASE_DIALECTS key
    spans: SpanStyle
    # Signals exported in another unit than the dialect's (`UNIT_VARIANTS`), on every
    # application service.
    units: tuple[tuple[Signal, MetricName], ...] = ()
    # Counters sent as scraped, without ``rate()``: cumulative counts (`scraped`).
    scraped: bool = False
    # Signals sent as pairs of series (`FORMS`).
    forms: frozenset[Form] = frozenset()

    def language(self, key: str) -> Language:
        return self.languages.get(key, "go")

    def names(self, node: ServiceNode) -> tuple[str, dict[Signal, MetricName]]:
        """The label key that carries the service's name, and each signal's name, for ``node``."""
        if self.native:
            return "service", NATIVE
        if node.kind == "database":
            return DATABASE_DIALECTS[self.database]
        if node.kind == "cache":
            return CACHE_DIALECT
        if node.kind == "dns":
            return DNS_DIALECT
        dialect = self.app_dialects[node.key]
        label, app = APP_DIALECTS[dialect]
        _, infra = INFRA_DIALECTS[self.infra]
        names = {**app, **infra, **dict(self.units)}
        if "outcomes" in self.forms and dialect in OUTCOME_FORMS:
            del names["traffic"]
            names["successes"] = OUTCOME_FORMS[dialect]
        if "failures" in self.forms and dialect in FAILURE_FORMS:
            names["errors"], names["traffic"] = FAILURE_FORMS[dialect]
            names.pop("successes", None)
        elif "successes" in self.forms and dialect in SUCCESS_FORMS:
            names.pop("traffic", None)
            names["errors"], names["successes"] = SUCCESS_FORMS[dialect]
        if "histogram" in self.forms and dialect in HISTOGRAM_FORMS:
            del names["latency"]
            total, count = HISTOGRAM_FORMS[dialect]
            names["latency_sum"] = total
            traffic = names.get("traffic")
            if traffic is None or (traffic.name, traffic.labels) != (count.name, count.labels):
                names["latency_count"] = count
        if "buckets" in self.forms and dialect in BUCKET_FORMS:
            names.pop("latency", None)
            bucket, _ = BUCKET_FORMS[dialect]
            traffic = names.get("traffic")
            if (
                "histogram" not in self.forms
                and traffic is not None
                and (traffic.name, traffic.labels)
                == (bucket.name.removesuffix("_bucket") + "_count", bucket.labels)
            ):
                # Buckets only: the +Inf bucket is the histogram's count, the requests.
                del names["traffic"]
        if "summary" in self.forms and dialect in SUMMARY_FORMS and "latency" in names:
            # The quantiles are sent by `summary` in place of the one p95.
            del names["latency"]
        if "cgroup" in self.forms and "cpu_limit" in infra and self.infra == "cadvisor":
            del names["cpu_limit"]
            names.update(CGROUP_FORM)
        return label, names

    def buckets(self, node: ServiceNode) -> tuple[MetricName, tuple[float, ...]] | None:
        """The bucket series and bounds ``node`` sends its latency as, if the buckets form."""
        if self.native or "buckets" not in self.forms or node.kind in NON_APP_KINDS:
            return None
        return BUCKET_FORMS.get(self.app_dialects.get(node.key, ""))

    def summary(
        self, node: ServiceNode
    ) -> tuple[MetricName, tuple[float, ...], MetricName | None] | None:
        """The quantile series, quantiles and max ``node`` sends its latency as, if the summary
        form took its latency (no histogram form did)."""
        if self.native or "summary" not in self.forms or node.kind in NON_APP_KINDS:
            return None
        dialect = self.app_dialects.get(node.key, "")
        if dialect not in SUMMARY_FORMS:
            return None
        taken = ("histogram" in self.forms and dialect in HISTOGRAM_FORMS) or (
            "buckets" in self.forms and dialect in BUCKET_FORMS
        )
        return None if taken else SUMMARY_FORMS[dialect]

    def labels(self, node: ServiceNode, metric: MetricName) -> dict[str, str]:
        if self.native:
            return {"service": node.name}
        key, _ = self.names(node)
        if metric in INFRA_DIALECTS[self.infra][1].values() or metric in CGROUP_FORM.values():
            key = INFRA_DIALECTS[self.infra][0]
        found = {key: node.name, **dict(metric.labels)}
        if key == "container":
            found["pod"] = f"{node.name}-{hash_text(node.name) % 0xFFFFF:05x}"
        return found


def hash_text(text: str) -> int:
    # A stable digest: Python's hash() of a str changes from process to process.
    value = 0
    for char in text:
        value = (value * 131 + ord(char)) % 2**31
    return value


def native_style(topology: Topology) -> Style:
    return Style(
        native=True,
        languages={},
        app_dialects={},
        infra="cadvisor",
        database="postgres",
        spans="peer",
    )


def choose_style(seed: str, topology: Topology, *, vary_units: bool = False) -> Style:
    """A mixed style drawn from ``seed``: each service its own language and exporter, and with
    ``vary_units`` some signals in another unit (drawn apart, so the names stay the same)."""
    rng = random.Random(f"{seed}/style")
    languages: dict[str, Language] = {}
    dialects: dict[str, str] = {}
    for node in topology.services:
        language = rng.choice(LANGUAGES)
        languages[node.key] = language
        dialects[node.key] = rng.choice(LANGUAGE_DIALECTS[language])
    return Style(
        native=False,
        languages=languages,
        app_dialects=dialects,
        infra=rng.choice(sorted(INFRA_DIALECTS)),
        database=rng.choice(sorted(DATABASE_DIALECTS)),
        spans=rng.choice(("otel", "otel", "url")),
        units=_choose_units(seed) if vary_units else (),
        # Drawn apart too, so every other choice of the incident stays what it was.
        scraped=vary_units and random.Random(f"{seed}/scrape").random() < SCRAPED_SHARE,
        forms=_choose_forms(seed) if vary_units else frozenset(),
    )


def _choose_forms(seed: str) -> frozenset[Form]:
    return frozenset(
        form
        for form, share in FORM_SHARES.items()
        if random.Random(f"{seed}/forms/{form}").random() < share
    )


def _choose_units(seed: str) -> tuple[tuple[Signal, MetricName], ...]:
    rng = random.Random(f"{seed}/units")
    found: list[tuple[Signal, MetricName]] = []
    for signal, options in UNIT_VARIANTS.items():
        choice = rng.choice(options)
        if choice is not None:
            found.append((signal, choice))
    return tuple(found)


# The share of mixed-convention incidents whose counters arrive as scraped.
SCRAPED_SHARE = 1 / 3
# Names that are counters where they are exported (Prometheus' ``_total``, a histogram's
# ``_count``, OpenTelemetry's ``.count`` sum): a raw scrape gives their running count.
_COUNTER_SUFFIXES = ("_total", "_count", ".count", "_sum", ".sum", "_bucket", "_5xx")


def scraped(
    metric: MetricName, values: list[float], *, start: float
) -> tuple[MetricName, list[float]] | None:
    """A per-second rate (requests, errors, CPU seconds) as its counter is scraped once a
    minute: the running count from ``start``, in the counted unit; ``None`` for a metric that
    is no counter where it is exported."""
    if not metric.name.endswith(_COUNTER_SUFFIXES):
        return None
    if metric.transform == "cores":
        unit = "s"
    elif "/" in metric.unit:
        unit = metric.unit.split("/", 1)[0].strip() or "1"
    else:
        return None
    running, counted = start, []
    for value in values:
        running += value * 60.0
        counted.append(round(running, 1))
    return MetricName(metric.name, unit, metric.transform, metric.scale, metric.labels), counted


def derive(
    metric: MetricName, values: list[float], rates: list[float], cpus: list[float]
) -> list[float]:
    """``values`` of a signal as ``metric`` exports them (``rates`` and ``cpus`` of the same minutes)."""
    if metric.transform == "same":
        return values
    if metric.transform == "scale":
        return [v * metric.scale for v in values]
    if metric.transform == "error_rate":
        return [v * r for v, r in zip(values, rates, strict=True)]
    if metric.transform == "cores":
        return [v * CPU_LIMIT_CORES for v in values]
    if metric.transform == "busy":
        # No requests, no time spent on them.
        return [
            0.0 if math.isnan(v) else v * r / 1000.0 for v, r in zip(values, rates, strict=True)
        ]
    if metric.transform == "successes":
        return [
            r * (1.0 - (0.0 if math.isnan(v) else v)) for v, r in zip(values, rates, strict=True)
        ]
    if metric.transform == "nanocores":
        return [v * CPU_LIMIT_CORES * 1e9 for v in values]
    if metric.transform == "lag":
        # An event loop lags little until the CPU is nearly full, then a lot.
        return [0.004 / max(0.03, 1.0 - c) for c in cpus]
    # queue: the runtime's workers are sized for a few times the usual load; beyond, work waits.
    usual = sorted(values[:5])[len(values[:5]) // 2] if values else 0.0
    workers = max(1.0, metric.headroom * usual)
    return [max(0.0, v - workers) for v in values]
