"""What a metric measures, read from its name: a data table, not the scenarios' own vocabulary.

Each row maps a name pattern (matched on the lower-cased metric name) to a signal kind and the
direction in which the kind is bad. The rows cover the common conventions: OpenTelemetry
semantic conventions, Prometheus client libraries, Micrometer, Datadog `trace.*`,
kube-state-metrics, cAdvisor, node_exporter, JVM / Go / Python / Node runtimes, HikariCP and
pgbouncer pools, resilience4j. The first matching row wins, so specific rows come first.
Operators add rows through `AnalysisInput.signal_rules` (setting `CHRONOSOPS_ANALYSIS_SIGNALS`),
which are tried before these.

Labels that name the other end of a call edge (`PEER_LABELS`) make a series an edge metric:
it belongs to the callee as much as to the caller.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

SignalKind = Literal[
    "latency",
    "error_ratio",
    "errors",
    "availability",
    "traffic",
    "cpu",
    "memory",
    "saturation",
    "restarts",
    "gc",
    "circuit_open",
    "network",
    "cache_hit",
]
Direction = Literal["up", "down", "both"]

# The direction in which a kind is bad, and the smallest change that counts in its own unit
# (a zero or flat baseline is scaled by this floor instead of reading as infinitely far off).
KIND_DIRECTION: dict[str, Direction] = {
    "latency": "up",
    "error_ratio": "up",
    "errors": "up",
    "availability": "down",
    "traffic": "both",
    "cpu": "up",
    "memory": "up",
    "saturation": "up",
    "restarts": "up",
    "gc": "up",
    "circuit_open": "up",
    "network": "both",
    "cache_hit": "down",
}


@dataclass(frozen=True)
class SignalRule:
    pattern: str
    kind: str

    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern)


# A latency histogram's (or summary's) count of observations: requests, not time.
# (A garbage collector's pauses are counted the same way, and are not requests.)
HISTOGRAM_COUNT = (
    r"^(?!.*gc[_.]).*(latenc|duration|response_?time|_seconds|_milliseconds).*[_.]count$"
)

# (pattern, kind). Read top to bottom; the first match wins.
SIGNAL_TABLE: tuple[tuple[str, str], ...] = (
    # read from a pair of series (`analysis.pairs`), named as recording rules are
    (r":mean_latency$", "latency"),
    (r":p\d{2,3}_latency$", "latency"),  # a histogram's buckets read into a quantile
    (r":error_ratio$", "error_ratio"),
    # resilience4j, Hystrix, Polly, generic breakers
    (r"circuit.?breaker.*state|circuitbreaker_state|breaker.*open|circuit_open", "circuit_open"),
    # availability and success rates (down is bad)
    (r"success_?rate|availability|apdex|slo_?good|uptime_ratio|probe_success|^up$", "availability"),
    (r"cache.*hit|hit_?ratio|hitrate", "cache_hit"),
    # restarts and kills: kube-state-metrics, cAdvisor
    (
        r"restarts?_total|containers?[_.]restarts|restart_count|oom_?kill|terminated_reason.*oom|crashloop",
        "restarts",
    ),
    # garbage collection: JVM (Micrometer jvm_gc_pause), Go, .NET, Node, Python
    (
        r"jvm_gc_pause|gc_pause|gc_duration|go_gc_duration|gc_collections?|gc_time|dotnet_gc|nodejs_gc|python_gc",
        "gc",
    ),
    # pools, threads, queues: HikariCP, pgbouncer, Tomcat/Jetty/Undertow, executors, Go, Node
    (r"hikaricp_connections_(pending|active|timeout)|hikaricp_.*(pending|timeout)", "saturation"),
    (r"pgbouncer_pools_(client_waiting|cl_waiting)|pgbouncer.*wait", "saturation"),
    (
        r"(db|jdbc|r2dbc)?_?pool.*(pending|waiting|waiters|active|in_?use|usage|util|busy|checked_?out)",
        "saturation",
    ),
    # OpenTelemetry's database client pool (`db.client.connection.count`, `.pending_requests`,
    # `.timeouts`), Go's database/sql stats, a database server's own sessions
    (
        r"db[_.]client[_.]connections?[_.]|go_sql_(in_use|wait|open)|pg_stat_activity_count|numbackends|threads_connected",
        "saturation",
    ),
    (
        r"executor_(active|queued|queue_remaining|pool_size)|thread_?pool.*(active|queue|reject)|tomcat_threads_busy|jetty_threads_busy|undertow.*busy",
        "saturation",
    ),
    (
        r"jvm_threads_(live|states)|go_goroutines|nodejs_eventloop_lag|eventloop_lag|event_loop_lag",
        "saturation",
    ),
    (
        r"queue_?(depth|size|length|lag)|consumer_lag|backlog|inflight|in_flight|concurrency",
        "saturation",
    ),
    (
        r"fd_?usage|open_fds|file_descriptors|disk.*(util|usage|used)|filesystem_avail|saturation",
        "saturation",
    ),
    # CPU: cAdvisor, node_exporter, process collectors, OTel system/process, Datadog
    (r"cpu.*throttl|cfs_throttled", "cpu"),
    (r"cpu|process_cpu_seconds|system_load|load1|load5", "cpu"),
    # memory: cAdvisor working set, RSS, heap (JVM / Go / Node / Python / .NET)
    (
        r"memory|mem_|_mem\b|heap|working_set|\brss\b|resident|jvm_buffer|go_memstats|nodejs_heap",
        "memory",
    ),
    # network: node_exporter, cAdvisor, OTel
    (
        r"network|net_|_net\b|bytes_(received|sent|transmitted)|receive_bytes|transmit_bytes|tcp_retrans|packets_dropped|dropped",
        "network",
    ),
    # error ratios and counts: OTel (http.server.request.duration with error.type is latency),
    # Prometheus http_requests_total{code=5xx}, Micrometer, Datadog trace.*.errors
    (
        r"error_?(ratio|rate|percent|pct)|failure_?(ratio|rate)|fail_?rate|5xx_?(ratio|rate)",
        "error_ratio",
    ),
    (
        r"trace\..*\.errors|errors?_total|[_.]errors?(?:[_.]|\b)|5xx|exceptions?_total|failures?_total|failed|\bfail|fault|status_5",
        "errors",
    ),
    # a latency histogram's or summary's count is its requests (Micrometer
    # http_server_requests_seconds_count, OTel http.server.request.duration.count): traffic,
    # or errors where its labels keep failed requests only (`kind_of`)
    (HISTOGRAM_COUNT, "traffic"),
    # latency: OTel semconv (http.server.request.duration, rpc.server.duration), Prometheus
    # (http_request_duration_seconds), Micrometer (http_server_requests_seconds), Datadog
    # (trace.http.request.duration), gRPC, Envoy/Istio
    (
        r"latenc|duration|response_?time|_seconds_(bucket|sum|max|count)?$|request_time|elapsed|p9[059]|p50|_ms$|_seconds$|rtt",
        "latency",
    ),
    # traffic: request counts and rates
    (r"throttl|429|rate_limited", "errors"),
    (
        r"requests?|rps|qps|throughput|traffic|hits|calls|_total$|ops|(?:^|[_.])rq(?:[_.](?:total|completed|xx))?$",
        "traffic",
    ),
)

# Labels that name the other end of a call edge.
PEER_LABELS: tuple[str, ...] = (
    "peer_service",
    "peer.service",
    "peerService",
    "destination_service",
    "destination_service_name",
    "destination_workload",
    "dst_service",
    "upstream",
    "upstream_service",
    "server",
    "target_service",
    "callee",
    "to",
)
# Labels on an inbound edge metric that name the caller (the series belongs to its service).
SOURCE_LABELS: tuple[str, ...] = (
    "source_service",
    "source_workload",
    "src_service",
    "client",
    "caller",
    "from",
)


# Labels that say how a counted request ended: Prometheus `code`/`status`, OTel
# `http.response.status_code` and `error.type`, Micrometer `outcome`, gRPC `grpc_code`.
OUTCOME_LABELS: tuple[str, ...] = (
    "code",
    "status",
    "status_code",
    "http_status",
    "http_code",
    "response_code",
    "http.status_code",
    "http.response.status_code",
    "http_response_status_code",
    "outcome",
    "result",
    "grpc_code",
    "grpc.status_code",
    "rpc.grpc.status_code",
    "error",
    "error.type",
    "success",
    # Linkerd (`response_total{classification="failure"}`), Envoy
    # (`envoy_cluster_upstream_rq{envoy_response_code="503"}`, `_rq_xx` by class), OpenCensus
    # gRPC views, Datadog's status class
    "classification",
    "envoy_response_code",
    "envoy_response_code_class",
    "grpc_server_status",
    "grpc_client_status",
    "http.status_class",
    "http_status_class",
    # resilience4j through Micrometer (`resilience4j_circuitbreaker_calls_seconds_count`,
    # `resilience4j_retry_calls_total`, `resilience4j_timelimiter_calls_total`): read only for
    # the values it gives there (`_KIND_OUTCOMES`), a `kind` elsewhere says nothing of outcomes
    "kind",
)
_FAILED_OUTCOME = re.compile(
    r"^(5\d\d|5xx|error|errors|failed|failure|fail|server_error|true|exception|timeout"
    r"|unavailable|internal|deadline_exceeded|aborted|data_loss|unimplemented"
    r"|resource_exhausted|2|4|8|10|13|14|15)$"
)
_THROTTLED_OUTCOME = re.compile(r"^(429|throttled|rate_limited|too_many_requests)$")
# gRPC's numeric codes above (2 UNKNOWN, 4 DEADLINE_EXCEEDED, 8 RESOURCE_EXHAUSTED, 10 ABORTED,
# 13 INTERNAL, 14 UNAVAILABLE, 15 DATA_LOSS) only count under a gRPC label.
_GRPC_LABELS = frozenset(
    {
        "grpc_code",
        "grpc.status_code",
        "rpc.grpc.status_code",
        "grpc_server_status",
        "grpc_client_status",
    }
)
# resilience4j's `kind` of call: failed (with or without a retry) or timed out, refused by an
# open breaker or a full bulkhead (as throttled), or successful (with or without a retry) or
# ignored; any other value is no outcome (the label is tried as the next one).
_KIND_FAILED = re.compile(r"^(failed|failed_with_retry|failed_without_retry|timeout)$")
_KIND_REFUSED = re.compile(r"^(not_permitted|rejected)$")
_KIND_OTHER = re.compile(r"^(successful|successful_with_retry|successful_without_retry|ignored)$")


def states_outcome(key: str, value: str) -> bool:
    """Whether a label among `OUTCOME_LABELS` says how requests ended here: always, but for a
    `kind` whose value is none of resilience4j's."""
    if key != "kind":
        return True
    lowered = value.strip().lower()
    return any(p.match(lowered) for p in (_KIND_FAILED, _KIND_REFUSED, _KIND_OTHER))


# Labels that hold a status class by its first digit alone (Envoy's ``"5"`` is ``5xx``).
_CLASS_LABELS = frozenset({"envoy_response_code_class", "http.status_class", "http_status_class"})


def outcome_of(labels: dict[str, str]) -> str | None:
    """``"failed"`` or ``"throttled"`` when a series' labels count only requests that ended so
    (``http_requests_total{status="5xx"}``), else None: all requests, or the successful ones."""
    for key in OUTCOME_LABELS:
        value = labels.get(key)
        if not value:
            continue
        lowered = value.strip().lower()
        if key in _CLASS_LABELS and lowered.isdigit():
            lowered = f"{lowered}xx"
        if key == "kind":
            if _KIND_FAILED.match(lowered):
                return "failed"
            if _KIND_REFUSED.match(lowered):
                return "throttled"
            if _KIND_OTHER.match(lowered):
                return None
            continue
        if key == "success":
            return "failed" if lowered == "false" else None
        if key in ("error", "error.type"):
            return None if lowered in ("false", "none", "") else "failed"
        if _THROTTLED_OUTCOME.match(lowered):
            return "throttled"
        if lowered.isdigit() and len(lowered) <= 2 and key not in _GRPC_LABELS:
            continue
        if _FAILED_OUTCOME.match(lowered):
            return "failed"
        return None
    return None


class SignalTable:
    """The built-in rows with an operator's rows tried first."""

    def __init__(self, extra: Sequence[SignalRule] = ()) -> None:
        rows = [(rule.pattern, rule.kind) for rule in extra] + list(SIGNAL_TABLE)
        self.rows = [(re.compile(pattern), kind) for pattern, kind in rows]
        self.extra = self.rows[: len(extra)]
        self._cache: dict[str, str | None] = {}

    def operator_kind_of(self, name: str) -> str | None:
        """The kind an operator's own row gives the name; None when none of theirs matches."""
        if not self.extra:
            return None
        lowered = name.lower()
        return next((kind for pattern, kind in self.extra if pattern.search(lowered)), None)

    def kind_of(self, name: str, labels: dict[str, str] | None = None) -> str | None:
        """The kind of signal a series carries: its name's row, except that a request count
        whose labels keep only failed (or throttled) requests counts errors, not traffic."""
        kind = self._kind_of_name(name)
        if kind == "traffic" and labels and outcome_of(labels) is not None:
            return "errors"
        return kind

    def _kind_of_name(self, name: str) -> str | None:
        lowered = name.lower()
        if lowered in self._cache:
            return self._cache[lowered]
        found = next((kind for pattern, kind in self.rows if pattern.search(lowered)), None)
        self._cache[lowered] = found
        return found


DEFAULT_TABLE = SignalTable()


def peer_of(labels: dict[str, str]) -> str | None:
    for key in PEER_LABELS:
        value = labels.get(key)
        if value:
            return value
    return None


def unit_floor(name: str, kind: str, unit: str | None = None) -> float:
    """The smallest change of this kind worth a look, in the kind's unit (`analysis.units`:
    bounded kinds as 0-1 shares, latency in its own ``unit`` or its name's)."""
    if kind == "latency":
        from chronosops.analysis.units import latency_unit

        scale = {"ms": 1.0, "us": 1000.0}.get(latency_unit(name, unit), 0.001)
        return 5.0 * scale  # 5 ms
    if kind == "error_ratio":
        # half a point of errors: below it a ratio's wobble, above it a real rise
        return 0.005
    if kind in ("cpu", "memory", "availability", "cache_hit", "saturation"):
        # two points of a share either way
        return 0.02
    if kind in ("errors", "restarts", "circuit_open", "gc"):
        # one event: per sample as sent, or one a minute for a counter read as its rate per
        # second (`analysis.counters`)
        return 1.0 / 60 if (unit or "").endswith("/s") else 1.0
    return 1e-6
