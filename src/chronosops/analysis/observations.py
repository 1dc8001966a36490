"""What the evidence shows, per service and per call edge, before any cause is named.

Every metric series is split at its own change point (CUSUM, refined backwards to where the
series first left its baseline), so a jittered or late alert does not blur before and after.
Spans are summed per service (server side) and per caller→callee edge (client side); log
templates are read for what kind of failure they describe, which services they name, and
whether they are new or bursting. Nothing here decides a cause; `hypotheses` does.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chronosops.analysis.code_paths import MissingPath, VanishedPath, missing_paths, vanished_paths
from chronosops.analysis.models import IncidentContext, StatementHistory
from chronosops.analysis.signals import (
    DEFAULT_TABLE,
    HISTOGRAM_COUNT,
    SignalTable,
    outcome_of,
    unit_floor,
)
from chronosops.analysis.signatures import extra_patterns
from chronosops.analysis.statistics import MAD_SCALE, mad, median
from chronosops.core.artifacts import (
    ERROR_LEVELS,
    Artifact,
    ChangeEvent,
    LogTemplate,
    MetricSeries,
    ProviderStatus,
    SpanBucket,
    SpanGroup,
)
from chronosops.core.required_literals import matches, may_match
from chronosops.core.topology import edges_from_change

# Metric families by name, most specific first.
FAMILIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # read from a pair of series (`analysis.pairs`) or a histogram's buckets (`analysis.buckets`)
    ("latency", re.compile(r":mean_latency$|:p\d{2,3}_latency$")),
    ("errors", re.compile(r":error_ratio$")),
    ("cert_expiry", re.compile(r"cert.*expir|expiry_days|ssl_.*expir")),
    ("cache_hit", re.compile(r"cache.*hit|hit_?ratio")),
    ("cache_miss", re.compile(r"cache.*miss|miss_?(ratio|rate|total)")),
    # A runtime's threads, executors, event loop and request backlog: work waiting for the
    # service itself, not for a database connection (`dotnet.thread_pool.queue.length`).
    ("saturation", re.compile(r"thread_?pool|executor|goroutines|event_?loop|backlog")),
    # A client's database connection pool, by the pool libraries' and OpenTelemetry's names
    # (`db.client.connection.pending_requests`, Go's `go_sql_wait_count`, `hikaricp_*`).
    (
        "pool_pending",
        re.compile(
            r"pool.*(pending|waiting|queue|waiters)|connections?[_.](pending|waiting)|sql_wait_(count|duration)"
        ),
    ),
    (
        "pool_in_use",
        re.compile(
            r"pool.*(in_use|inuse|active|used|busy|checked_?out)|pool_active|hikaricp_connections_(active|usage)"
            r"|sql_in_use_connections|db[_.]client[_.]connections?[_.](count|usage)|db_connections_in_use"
        ),
    ),
    ("restarts", re.compile(r"restart|oom|crash")),
    # a latency histogram's count is its requests (failed ones: errors, by their labels)
    ("traffic", re.compile(HISTOGRAM_COUNT)),
    ("latency", re.compile(r"latenc|duration|response_?time|p9[059]|p50|elapsed|_ms$|_seconds")),
    ("errors", re.compile(r"error|5xx|fail|exception|fault|status_5|xact_rollback")),
    ("cpu", re.compile(r"cpu")),
    ("memory", re.compile(r"memory|mem_|heap|working_set|rss")),
    # A database server's own sessions (postgres_exporter, mysqld_exporter), not a client's pool.
    (
        "db_connections",
        re.compile(
            r"db_connections|connections_active|active_connections|pg_stat_activity_count|numbackends|threads_connected"
        ),
    ),
    ("throttled", re.compile(r"throttl|429|rate_limited")),
    # Envoy counts requests as `rq` (`envoy_http_downstream_rq_total`, `..._rq_xx`)
    (
        "traffic",
        re.compile(
            r"rps|qps|request|throughput|traffic|rate$|(?:^|[_.])rq(?:[_.](?:total|completed|xx))?$"
        ),
    ),
    ("saturation", re.compile(r"pool|connection|thread|queue|saturat|utili[sz]|load|disk|fd")),
)

# What a log line says happened, matched on the template and its examples (lower-cased).
LOG_CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "dns",
        re.compile(
            r"nxdomain|servfail|no such host|name resolution|could not resolve|getaddrinfo|\bdns\b|unknown host|lookup .* on .*:\s*(no such host|server misbehaving|i/o timeout)"
        ),
    ),
    ("tls", re.compile(r"x509|certificate|\btls\b|\bssl\b|handshake")),
    (
        "auth",
        re.compile(
            r"(?:status|code|http|responded|answered|returned|got)\D{0,3}40[13]\b|unauthori[sz]ed|forbidden|invalid token|token (is )?expired|authentication fail|auth fail|invalid credentials|permission denied"
        ),
    ),
    (
        "rate_limited",
        re.compile(
            r"(?:status|code|http|responded|answered|returned|got)\D{0,3}429\b|too many requests|rate.?limit|throttl|quota exceeded"
        ),
    ),
    (
        "pool_exhausted",
        re.compile(
            r"pool (is )?exhaust|exhausted.*pool|too many connections|remaining connection slots|could not (obtain|acquire) (a )?(database )?connection|connection pool.*(timeout|full|exhaust)"
        ),
    ),
    (
        "connection_leak",
        re.compile(
            r"without being returned to the pool|connection leak|possible leak|leaked connection"
        ),
    ),
    (
        "oom",
        re.compile(
            r"out of memory|outofmemory|\boom\b|oomkill|killed process|memory limit|heap space|cannot allocate memory"
        ),
    ),
    (
        "worker_saturation",
        re.compile(
            r"worker pool saturated|requests queued|queue (is )?full|no free worker|thread pool (is )?(exhausted|saturated)"
        ),
    ),
    (
        "cache_miss",
        re.compile(
            r"cache miss|cache_miss|missed cache|cache (evict|invalidat|flush|stampede|cold)|cold cache|miss ratio"
            # Spring's and Rails' cache logging name the cache or key between the two words
            r"|\bcache\b[^.]{0,40}\bmiss\b"
        ),
    ),
    (
        "db_slow",
        re.compile(
            r"slow query|duration: .*statement|statement timeout|lock wait|deadlock|seq scan|full table scan|query took"
        ),
    ),
    (
        "config_error",
        re.compile(
            r"\bconfig|configuration|invalid (value|setting|option)|missing (env|environment|variable|key|setting)|feature flag|flag .* (on|enabled)|unknown (setting|option)"
        ),
    ),
    (
        "code_bug",
        re.compile(
            r"exception|traceback|null ?pointer|typeerror|attributeerror|keyerror|valueerror|panic:|segfault|is not a function|undefined is not|cannot read propert|index out of range|nil pointer|unhandled"
        ),
    ),
    (
        "unavailable",
        re.compile(
            r"(?:status|code|http|responded|answered|returned|got)\D{0,3}50[234]\b|bad gateway|service unavailable|gateway timeout|no healthy (upstream|replicas)|unavailable"
        ),
    ),
    (
        "upstream_error",
        re.compile(
            r"upstream \S+ (responded|returned)|internal server error|responded <num>|status <num>"
        ),
    ),
    ("circuit_open", re.compile(r"circuit (breaker )?.*(is )?open")),
    (
        "refused",
        re.compile(
            r"connection refused|econnrefused|connection reset|econnreset|broken pipe|no route to host|unreachable|consecutive connect failures"
        ),
    ),
    ("timeout", re.compile(r"timed? ?out|timeout|deadline exceeded")),
    ("slow_request", re.compile(r"slow request|took \S+ms|took <num>ms")),
)


def _with_signatures(
    categories: tuple[tuple[str, re.Pattern[str]], ...],
) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The categories above, each widened by the signature library's phrases for it; categories
    only the library knows (``db_credentials``) go first, so rules can tell them apart."""
    extra = extra_patterns()
    known = {name for name, _ in categories}
    widened = [
        (name, re.compile(f"{pattern.pattern}|{extra[name]}") if name in extra else pattern)
        for name, pattern in categories
    ]
    added = [(name, re.compile(pattern)) for name, pattern in extra.items() if name not in known]
    return (*added, *widened)


LOG_CATEGORIES = _with_signatures(LOG_CATEGORIES)

# Phrases in which a log line names the service it was talking to.
_PEER_PATTERNS = (
    re.compile(r"upstream ([a-z0-9][a-z0-9.-]*[a-z0-9])"),
    re.compile(r"calling ([a-z0-9][a-z0-9.-]*[a-z0-9])"),
    re.compile(r"lookup ([a-z0-9][a-z0-9-]*)[.\s]"),
    re.compile(r"certificate for ([a-z0-9][a-z0-9.-]*[a-z0-9]):"),
    re.compile(
        r"^([a-z0-9]+(?:-[a-z0-9]+)+) (?:answered|responded|returned|get |post |put |patch |delete |timed)"
    ),
    re.compile(r"circuit breaker ([a-z0-9][a-z0-9-]*?)(?:-client)? is open"),
)
# Phrases that name the other end so plainly that a bare word counts (a third party's name):
# breaker names (resilience4j, Polly, gobreaker, Hystrix command keys) and URL hosts.
_NAMED_PEER_PATTERNS = (
    re.compile(
        r"circuit ?breaker[ '\"]+([a-z0-9][a-z0-9_.-]*?)(?:-client)?['\"]? (?:is )?(?:open|half)"
    ),
    re.compile(
        r"breaker (?:for |on )?['\"]?([a-z0-9][a-z0-9_.-]*?)(?:-client)?['\"]? (?:is )?open"
    ),
    # Underscores too: compose and Swarm service names carry them (``http://catalog_svc:8080``).
    re.compile(r"https?://([a-z0-9][a-z0-9_.-]*[a-z0-9])"),
    re.compile(r"\b([a-z0-9][a-z0-9-]*) (?:is )?(?:unavailable|unreachable)\b"),
)
_NOT_A_PEER = frozenset(
    {
        "service",
        "server",
        "the",
        "is",
        "it",
        "host",
        "upstream",
        "backend",
        "api",
        "www",
        "localhost",
    }
)


# Documentation and test domains (RFC 2606 / RFC 6761): never a service's own name, so the label
# in front of them is the name (``legacy-billing.example.com`` → ``legacy-billing``).
_PLACEHOLDER_DOMAINS = frozenset({"example", "test", "invalid", "localhost"})
# A first label that says what kind of endpoint a host is, not whose it is.
_GENERIC_HOST_LABELS = frozenset(
    {"api", "www", "hooks", "auth", "login", "rest", "app", "gateway", "edge", "cdn"}
)


def _host_name(host: str, known: set[str] | frozenset[str] = frozenset()) -> str:
    """The service a host names.

    Inside a cluster (``orders.prod.svc.cluster.local``) and wherever the first label is a
    service the evidence already knows, the first label. Outside one, the organisation's name
    (``api.stripe.com`` → ``stripe``) unless the first label is itself a specific name (hyphenated,
    ``carrier-rates.partner.io``) or the domain is a placeholder (``example.com``).
    """
    labels = [part for part in host.split(".") if part]
    if not labels:
        return host
    first = labels[0]
    if len(labels) == 1 or first in known or labels[-1] in ("local", "internal", "svc", "cluster"):
        return first
    registrable = labels[-2]
    if len(labels) == 2 and labels[1] not in ("com", "net", "io", "org", "dev"):
        return first
    if registrable in _PLACEHOLDER_DOMAINS or (
        len(labels) >= 3 and first not in _GENERIC_HOST_LABELS and ("-" in first or "_" in first)
    ):
        return first
    return registrable


MIN_POINTS = 4
# The patterns above have unbounded gaps (``cert.*expir``), so they never see more than this
# much of a name or a log text: linear in the input however long a name a caller sends.
PATTERN_INPUT_MAX = 2000
ERRORS_FAMILY_FLOOR = 0.002  # an error ratio change below this is noise, whatever its z


@dataclass(frozen=True)
class Shift:
    """One metric series' move: medians before and after its change point."""

    artifact_id: str
    name: str
    family: str
    service: str | None
    before: float
    after: float
    peak: float
    trough: float
    z: float
    changed_at: datetime | None
    first: float
    last: float
    trend: float = 0.0  # start of the window to its end, in baseline spreads (slow drifts)
    resets: int = 0  # sudden falls of more than a third: a process restarting, a pool recycling
    floor: float = 0.0  # the smallest change that counts, in the series' unit
    # An error series that counts failures (per sample or per second), not a share of
    # requests: its levels mean nothing against a ratio's points (`scoring.error_strength`).
    counts: bool = False

    @property
    def factor(self) -> float:
        if self.before == 0:
            # From nothing: how many unit floors it rose, not infinity (a first error is an
            # event, and a near-idle series waking up is not a surge).
            if self.after <= 0:
                return 1.0
            return 1.0 + self.after / self.floor if self.floor > 0 else math.inf
        return self.after / self.before

    @property
    def delta(self) -> float:
        return self.after - self.before


# Observation families read as signal kinds, for their unit floors.
_FLOOR_KIND = {
    "latency": "latency",
    "cpu": "cpu",
    "memory": "memory",
    "restarts": "restarts",
    "cache_hit": "cache_hit",
    "pool_in_use": "saturation",
    "pool_pending": "saturation",
    "saturation": "saturation",
}


_RATIO_NAME = re.compile(r"ratio|rate|percent|pct")


def counts_errors(name: str, family: str) -> bool:
    """Whether an error series counts failures rather than giving their share of requests."""
    return family == "errors" and not _RATIO_NAME.search(name.lower())


def family_floor(name: str, family: str, unit: str | None = None) -> float:
    """The smallest change worth a z-score in this family, so a flat or zero baseline is
    scaled by a unit floor instead of 1e-9 (which read a near-idle series waking up as
    "traffic rose inf×")."""
    if family == "errors":
        lowered = name.lower()
        return unit_floor(name, "errors" if counts_errors(lowered, family) else "error_ratio", unit)
    if family == "traffic":
        return 0.2
    kind = _FLOOR_KIND.get(family)
    return unit_floor(name, kind, unit) if kind else 1e-9


# The signal table's kinds the rules read as a family of their own. Where the table says a
# series is a CPU or a memory, the rules read it so, whatever its name shares with another
# family (cAdvisor's `container_cpu_usage_seconds_total` has a latency's `_seconds`).
RESOURCE_FAMILIES = {"cpu": "cpu", "memory": "memory"}
# An operator's own rows (`SignalTable.extra`) reach the rules too: their kind, as a family.
KIND_FAMILIES = {
    **RESOURCE_FAMILIES,
    "latency": "latency",
    "error_ratio": "errors",
    "errors": "errors",
    "traffic": "traffic",
    "saturation": "saturation",
    "restarts": "restarts",
    "cache_hit": "cache_hit",
}


def metric_family(name: str, table: SignalTable = DEFAULT_TABLE) -> str | None:
    """The family the rules read a series as: an operator's row first, then the signal table
    where it names a resource, then the families' own patterns."""
    operator_kind = table.operator_kind_of(name)
    if operator_kind in KIND_FAMILIES:
        return KIND_FAMILIES[operator_kind]
    kind = table.kind_of(name)
    if kind in RESOURCE_FAMILIES:
        return RESOURCE_FAMILIES[kind]
    lowered = name[:PATTERN_INPUT_MAX].lower()
    for family, pattern in FAMILIES:
        if pattern.search(lowered):
            return family
    return None


def change_point(values: Sequence[float]) -> int:
    """Index splitting ``values`` where the mean shifts most (CUSUM); 0 when there is no split."""
    n = len(values)
    if n < MIN_POINTS:
        return 0
    mean = sum(values) / n
    running = 0.0
    best, best_k = 0.0, 0
    for k in range(1, n - 1):
        running += values[k - 1] - mean
        if abs(running) > best:
            best, best_k = abs(running), k
    return best_k if best_k >= 2 else 0


def _baseline(
    values: Sequence[float], times: Sequence[datetime], reported_onset: datetime
) -> list[float]:
    """Points before the reported onset (less two minutes), else the first third of the window."""
    cut = reported_onset - timedelta(minutes=2)
    before = [v for v, t in zip(values, times, strict=True) if t < cut]
    return before if len(before) >= 3 else list(values[: max(3, len(values) // 3)])


def pulse_shift(series: MetricSeries, family: str, reported_onset: datetime) -> Shift | None:
    """A stretch that left the baseline and maybe came back: an incident that already ended."""
    points = series.points
    values = [p.value for p in points]
    base = _baseline(values, [p.ts for p in points], reported_onset)
    centre = median(base)
    scale = max(
        MAD_SCALE * mad(base), abs(centre) * 0.02, family_floor(series.name, family, series.unit)
    )
    threshold = max(4 * scale, abs(centre) * 0.25)
    high = [i for i, v in enumerate(values) if v - centre > threshold]
    low = [i for i, v in enumerate(values) if centre - v > threshold]
    run = high if len(high) >= len(low) else low
    if len(run) < 2:
        return None
    segment = values[run[0] : run[-1] + 1]
    after = median(segment)
    return Shift(
        artifact_id=series.artifact_id,
        name=series.name,
        family=family,
        service=series.service,
        before=centre,
        after=after,
        peak=max(segment),
        trough=min(segment),
        z=(after - centre) / scale,
        floor=family_floor(series.name, family, series.unit),
        counts=counts_errors(series.name, family),
        changed_at=points[run[0]].ts,
        first=values[0],
        last=values[-1],
    )


def _resets(values: Sequence[float]) -> int:
    return sum(1 for a, b in itertools.pairwise(values) if a > 0 and b < a * 0.67)


def series_shift(series: MetricSeries, family: str, reported_onset: datetime) -> Shift | None:
    step = step_shift(series, family, reported_onset)
    pulse = (
        pulse_shift(series, family, reported_onset) if len(series.points) >= MIN_POINTS else None
    )
    resets = _resets([p.value for p in series.points])
    if pulse is None:
        return Shift(**{**step.__dict__, "resets": resets}) if step else None
    if step is None or abs(pulse.after - pulse.before) > 1.5 * abs(step.after - step.before):
        return Shift(**{**pulse.__dict__, "trend": step.trend if step else 0.0, "resets": resets})
    return Shift(**{**step.__dict__, "resets": resets})


def step_shift(series: MetricSeries, family: str, reported_onset: datetime) -> Shift | None:
    points = series.points
    if len(points) < 2:
        return None
    values = [p.value for p in points]
    k = change_point(values)
    if k == 0:
        # Too short for a change point: split at the reported onset instead.
        k = next((i for i, p in enumerate(points) if p.ts >= reported_onset), len(points))
        if k == 0 or k == len(points):
            return None
    before, after = values[:k], values[k:]
    centre = median(before)
    scale = max(
        MAD_SCALE * mad(before), abs(centre) * 0.02, family_floor(series.name, family, series.unit)
    )
    after_median = median(after)
    z = (after_median - centre) / scale
    # Walk back from the change point to where the series first left its baseline (a ramp's foot).
    start = k
    threshold = 3 * scale
    while (
        start > 1
        and abs(values[start - 1] - centre) > threshold
        and (values[start - 1] - centre) * z > 0
    ):
        start -= 1
    # Drift across the whole window: the median of its last fifth against its first fifth.
    fifth = max(2, len(values) // 5)
    head, tail = values[:fifth], values[-fifth:]
    head_scale = max(MAD_SCALE * mad(head), abs(median(head)) * 0.02, 1e-9)
    trend = (median(tail) - median(head)) / head_scale
    return Shift(
        trend=trend,
        artifact_id=series.artifact_id,
        name=series.name,
        family=family,
        service=series.service,
        before=centre,
        after=after_median,
        peak=max(after),
        trough=min(after),
        z=z,
        floor=family_floor(series.name, family, series.unit),
        counts=counts_errors(series.name, family),
        changed_at=points[start].ts,
        first=values[0],
        last=values[-1],
    )


# What a side of the onset must hold before its typical minute's p95 is read against the other
# side's: 1 / (1 - 0.95) = 20 calls (under that, the 95th percentile is the slowest call
# itself: one slow call in a thin minute read as the operation slowing down, and a callee was
# named an outage on the ten calls one caller made to it in the minute after the onset), or
# 3 minutes of calls (the fewest whose median one slow minute cannot move).
PERCENTILE_MIN_CALLS = 20
PERCENTILE_MIN_MINUTES = 3


def _supported(buckets: Sequence[SpanBucket], p95s: Sequence[float]) -> bool:
    return bool(p95s) and (
        sum(b.count for b in buckets) >= PERCENTILE_MIN_CALLS or len(p95s) >= PERCENTILE_MIN_MINUTES
    )


# An operation's own typical time is read in spreads of a quarter of its level, at least a
# millisecond, and moved by less than one spread is unmoved (`suspects.spans.GroupMove`,
# `suspects.load.CALM_OWN_Z`): the same reading for a call's typical minute.
TYPICAL_RELATIVE = 0.25
TYPICAL_FLOOR_MS = 1.0
TYPICAL_CALM_Z = 1.0


@dataclass
class SpanTotals:
    """Spans of one service (server side) or one edge (client side), before and after the onset."""

    artifact_ids: list[str] = field(default_factory=list)
    base_count: int = 0
    base_errors: int = 0
    inc_count: int = 0
    inc_errors: int = 0
    base_p95: float = 0.0
    inc_p95: float = 0.0
    # A typical minute's median call on each side, where the p95s are compared (0: unknown).
    base_p50: float = 0.0
    inc_p50: float = 0.0
    first_error_at: datetime | None = None
    base_minutes: set[datetime] = field(default_factory=set)
    inc_minutes: set[datetime] = field(default_factory=set)

    def add(self, group: SpanGroup, onset: datetime) -> None:
        """Count the group's spans, split at ``onset`` (per-minute buckets when there are some)."""
        self.artifact_ids.append(group.artifact_id)
        if group.histogram:
            before = [b for b in group.histogram if b.ts < onset]
            after = [b for b in group.histogram if b.ts >= onset]
            self.base_minutes |= {b.ts for b in before}
            self.inc_minutes |= {b.ts for b in after}
            self.base_count += sum(b.count for b in before)
            self.base_errors += sum(b.error_count for b in before)
            self.inc_count += sum(b.count for b in after)
            self.inc_errors += sum(b.error_count for b in after)
            # A typical minute's p95 on each side: robust to one slow minute. Compared only
            # where both sides hold the support for a typical reading (`_supported`).
            before_p95 = [b.p95_ms for b in before if b.p95_ms is not None]
            after_p95 = [b.p95_ms for b in after if b.p95_ms is not None]
            if _supported(before, before_p95) and _supported(after, after_p95):
                self.base_p95 = max(self.base_p95, median(before_p95))
                self.inc_p95 = max(self.inc_p95, median(after_p95))
                before_p50 = [b.p50_ms for b in before if b.p50_ms is not None]
                after_p50 = [b.p50_ms for b in after if b.p50_ms is not None]
                if before_p50 and after_p50:
                    self.base_p50 = max(self.base_p50, median(before_p50))
                    self.inc_p50 = max(self.inc_p50, median(after_p50))
            failing = [b.ts for b in after if b.error_count]
            if failing and (self.first_error_at is None or failing[0] < self.first_error_at):
                self.first_error_at = failing[0]
            return
        if group.baseline is not None:
            self.base_count += group.baseline.count
            self.base_errors += group.baseline.error_count
            self.base_p95 = max(self.base_p95, group.baseline.p95_ms or 0.0)
        if group.incident is not None:
            self.inc_count += group.incident.count
            self.inc_errors += group.incident.error_count
            self.inc_p95 = max(self.inc_p95, group.incident.p95_ms or 0.0)
        if group.baseline is None and group.incident is None:
            # No split recorded: everything counts as the incident window.
            self.inc_count += group.count
            self.inc_errors += group.error_count
            self.inc_p95 = max(self.inc_p95, group.p95_ms or 0.0)

    def ok_growth(self) -> float | None:
        """Successful spans per minute after the onset over before (failures are sampled more)."""
        if not self.base_minutes or not self.inc_minutes or self.base_count - self.base_errors < 5:
            return None
        before = (self.base_count - self.base_errors) / len(self.base_minutes)
        after = (self.inc_count - self.inc_errors) / len(self.inc_minutes)
        return after / before

    @property
    def base_error_rate(self) -> float:
        return self.base_errors / self.base_count if self.base_count else 0.0

    @property
    def inc_error_rate(self) -> float:
        return self.inc_errors / self.inc_count if self.inc_count else 0.0

    @property
    def error_rise(self) -> float:
        """Share of failing spans gained at the onset (0–1)."""
        return max(0.0, self.inc_error_rate - self.base_error_rate)

    @property
    def latency_factor(self) -> float:
        if self.base_p95 <= 0:
            return 1.0
        return self.inc_p95 / self.base_p95

    @property
    def latency_added_ms(self) -> float:
        return max(0.0, self.inc_p95 - self.base_p95)

    @property
    def typical_calm(self) -> bool:
        """The typical call (the minutes' median) took no longer after the onset, read as an
        operation's own time is (`TYPICAL_RELATIVE` of its level, at least `TYPICAL_FLOOR_MS`):
        a p95 that rose while it held is a share of the calls, not every call slowed."""
        if self.base_p50 <= 0 or self.inc_p50 <= 0:
            return False
        scale = max(TYPICAL_RELATIVE * self.base_p50, TYPICAL_FLOOR_MS)
        return (self.inc_p50 - self.base_p50) / scale < TYPICAL_CALM_Z

    @property
    def went_quiet(self) -> bool:
        """Spans stopped arriving: the service no longer receives (or records) the calls."""
        return self.base_count > 0 and self.inc_count == 0


@dataclass(frozen=True)
class LogFinding:
    artifact_id: str
    template: str
    services: tuple[str, ...]
    categories: frozenset[str]
    errors: int
    warnings: int
    count: int
    before_rate: float  # lines per minute before the onset
    after_rate: float
    is_new: bool
    first_seen: datetime
    mentions: frozenset[str]

    @property
    def is_error(self) -> bool:
        return self.errors > 0

    @property
    def burst(self) -> float:
        """How many times more often it appears after the onset than before."""
        if self.before_rate <= 0:
            return math.inf if self.after_rate > 0 else 1.0
        return self.after_rate / self.before_rate

    @property
    def grew(self) -> bool:
        return self.is_new or self.burst >= 3


@dataclass(frozen=True)
class Change:
    artifact_id: str
    service: str | None
    change_type: str
    at: datetime
    description: str
    version_from: str | None
    version_to: str | None

    def lead_minutes(self, onset: datetime) -> float:
        """Minutes from the change to the onset (negative: after the onset)."""
        return (onset - self.at).total_seconds() / 60


@dataclass
class Observations:
    context: IncidentContext
    onset: datetime
    services: set[str]
    shifts: dict[str, dict[str, Shift]]  # service → family → the most significant series
    all_shifts: list[Shift]
    server: dict[str, SpanTotals]
    edges: dict[tuple[str, str], SpanTotals]
    log_edges: set[tuple[str, str]]
    logs: list[LogFinding]
    changes: list[Change]
    provider_incidents: list[ProviderStatus]
    exports: set[str]  # services that publish their own telemetry (metrics or server spans)
    # Caller → callee edges that change events name (a rotated credential's consumers, the
    # peer a changed setting points at): structure only, they carry no measurement.
    change_edges: set[tuple[str, str]] = field(default_factory=set)
    # Log statements an operation reached on its calls before the fault and not after.
    code_paths: list[VanishedPath] = field(default_factory=list)
    # Log statements the services' earlier incidents always showed, never logged in this one.
    missing_paths: list[MissingPath] = field(default_factory=list)
    _by_service: dict[str, list[LogFinding]] | None = field(default=None, repr=False)
    _indexed: int = field(default=-1, repr=False)

    def callees(self, service: str) -> list[str]:
        found = {callee for caller, callee in self.edges if caller == service}
        found |= {callee for caller, callee in self.log_edges if caller == service}
        found |= {callee for caller, callee in self.change_edges if caller == service}
        return sorted(found)

    def callers(self, service: str) -> list[str]:
        found = {caller for caller, callee in self.edges if callee == service}
        found |= {caller for caller, callee in self.log_edges if callee == service}
        found |= {caller for caller, callee in self.change_edges if callee == service}
        return sorted(found)

    def logs_of(self, service: str) -> list[LogFinding]:
        if self._by_service is None or self._indexed != len(self.logs):
            index: dict[str, list[LogFinding]] = defaultdict(list)
            for finding in self.logs:
                for name in finding.services:
                    index[name].append(finding)
            self._by_service, self._indexed = dict(index), len(self.logs)
        return list(self._by_service.get(service, []))

    def shift(self, service: str, family: str) -> Shift | None:
        return self.shifts.get(service, {}).get(family)


def _significance(shift: Shift) -> float:
    """How remarkable a shift is, for choosing one series per service and family."""
    return abs(shift.z) * (
        1 + abs(math.log(max(shift.factor, 1e-9))) if math.isfinite(shift.factor) else 10
    )


def _minute_rates(
    template: LogTemplate, onset: datetime, window_start: datetime, window_end: datetime
) -> tuple[float, float]:
    before = sum(p.value for p in template.histogram if p.ts < onset)
    after = sum(p.value for p in template.histogram if p.ts >= onset)
    if not template.histogram:
        if template.first_seen >= onset:
            after = template.count
        else:
            before = template.count
    before_minutes = max((onset - window_start).total_seconds() / 60, 1.0)
    after_minutes = max((window_end - onset).total_seconds() / 60, 1.0)
    return before / before_minutes, after / after_minutes


def _name_pattern(names: set[str]) -> re.Pattern[str] | None:
    """One pattern for every known service name (longest first), so a text is read once."""
    ordered = sorted((n for n in names if n), key=lambda n: (-len(n), n))
    if not ordered:
        return None
    return re.compile(
        r"(?<![a-z0-9-])(" + "|".join(re.escape(n) for n in ordered) + r")(?![a-z0-9-])"
    )


def _mentions(
    texts: Iterable[str], names: set[str], pattern: re.Pattern[str] | None = None
) -> set[str]:
    found: set[str] = set()
    named = pattern if pattern is not None else _name_pattern(names)
    for text in texts:
        if named is not None:
            found.update(match.group(1) for match in named.finditer(text))
        for peer_pattern in _PEER_PATTERNS:
            if not may_match(peer_pattern, text):
                continue
            for match in peer_pattern.finditer(text):
                name = match.group(1).split(".")[0]
                # A bare word ("get", "the") is not a service name; hyphenated hostnames are.
                if name in names or "-" in name:
                    found.add(name)
        for peer_pattern in _NAMED_PEER_PATTERNS:
            if not may_match(peer_pattern, text):
                continue
            for match in peer_pattern.finditer(text):
                found_name = match.group(1)
                name = _host_name(found_name, names) if "." in found_name else found_name
                if (
                    name
                    and name not in _NOT_A_PEER
                    and not name.isdigit()
                    and not name.endswith("ly")  # "temporarily unavailable"
                ):
                    found.add(name)
    return found


def _span_onsets(spans: Sequence[SpanGroup], context: IncidentContext) -> list[datetime]:
    """Minutes where a span group first turned bad: failures or p95 well above its early minutes."""
    found: list[datetime] = []
    for group in spans:
        buckets = [b for b in group.histogram if b.count]
        if len(buckets) < 6:
            continue
        early = buckets[: max(3, len(buckets) // 4)]
        base_rate = sum(b.error_count for b in early) / max(sum(b.count for b in early), 1)
        base_p95 = median([b.p95_ms for b in early if b.p95_ms is not None] or [0.0])
        for bucket in buckets[len(early) :]:
            rate = bucket.error_count / bucket.count
            slow = base_p95 > 0 and bucket.p95_ms is not None and bucket.p95_ms >= 3 * base_p95
            if rate >= base_rate + 0.3 or slow:
                found.append(bucket.ts)
                break
    return found


# Families whose clear step marks when the fault began. Work waiting (a pool's pending
# requests, a request backlog, a thread pool's queue) builds at the fault's first minute as
# surely as latency does; a backlog was read as traffic before engine 3.28, and so marked it.
ONSET_FAMILIES = frozenset(
    {
        "latency",
        "errors",
        "traffic",
        "pool_in_use",
        "pool_pending",
        "saturation",
        "cpu",
        "memory",
        "cache_hit",
        "restarts",
    }
)


# The direction in which each onset family gets worse (traffic: either way). A step the other
# way is a recovery, often from the incident before this one in the same window: it marks when
# that one ended, not when this one began.
_WORSE = {
    "latency": 1,
    "errors": 1,
    "pool_in_use": 1,
    "pool_pending": 1,
    "saturation": 1,
    "cpu": 1,
    "memory": 1,
    "restarts": 1,
    "cache_hit": -1,
}


def _worsened(shift: Shift) -> bool:
    direction = _WORSE.get(shift.family)
    return direction is None or direction * (shift.after - shift.before) > 0


def _estimate_onset(
    shifts: list[Shift], spans: Sequence[SpanGroup], context: IncidentContext
) -> datetime:
    """The earliest clear change in a symptom near the reported start, else the reported start."""
    earliest_allowed = context.window_start + timedelta(minutes=2)
    if not any(s.family in ("latency", "errors") for s in shifts):
        candidates = [
            t
            for t in _span_onsets(spans, context)
            if earliest_allowed <= t <= context.onset + timedelta(minutes=20)
        ]
        return min(candidates) if candidates else context.onset
    candidates = [
        s.changed_at
        for s in shifts
        if s.changed_at is not None
        and s.family in ONSET_FAMILIES
        and abs(s.z) >= 6
        and _worsened(s)
        and earliest_allowed <= s.changed_at <= context.onset + timedelta(minutes=20)
    ]
    return min(candidates) if candidates else context.onset


def observe(
    artifacts: Sequence[Artifact],
    context: IncidentContext,
    history: Sequence[StatementHistory] = (),
    table: SignalTable = DEFAULT_TABLE,
) -> Observations:
    series = [a for a in artifacts if isinstance(a, MetricSeries)]
    templates = [a for a in artifacts if isinstance(a, LogTemplate)]
    spans = [a for a in artifacts if isinstance(a, SpanGroup)]
    changes = [a for a in artifacts if isinstance(a, ChangeEvent)]
    providers = [a for a in artifacts if isinstance(a, ProviderStatus)]

    all_shifts: list[Shift] = []
    for item in series:
        family = metric_family(item.name, table)
        if family is None:
            continue
        if family == "traffic":
            # A request count kept to failed or throttled requests is an error count.
            outcome = outcome_of(item.labels)
            family = {"failed": "errors", "throttled": "throttled"}.get(outcome or "", family)
        shift = series_shift(item, family, context.onset)
        if shift is not None:
            all_shifts.append(shift if shift.service else _with_service(shift, context.service))
    shifts: dict[str, dict[str, Shift]] = defaultdict(dict)
    for shift in sorted(all_shifts, key=lambda s: (s.service or "", s.family, s.artifact_id)):
        key = shift.service or context.service or "unknown"
        current = shifts[key].get(shift.family)
        if current is None or _significance(shift) > _significance(current):
            shifts[key][shift.family] = shift

    onset = _estimate_onset(all_shifts, spans, context)
    server: dict[str, SpanTotals] = defaultdict(SpanTotals)
    edges: dict[tuple[str, str], SpanTotals] = defaultdict(SpanTotals)
    for group in spans:
        if group.peer_service:
            edges[(group.service, group.peer_service)].add(group, onset)
        else:
            server[group.service].add(group, onset)

    services: set[str] = set(shifts) | set(server)
    services |= {caller for caller, _ in edges} | {callee for _, callee in edges}
    # A change's target is a node of the graph, and the peers it names are edges to it.
    services |= {c.service for c in changes if c.service}
    change_edges = {edge for c in changes for edge in edges_from_change(c.service, c.metadata)}
    services |= {name for edge in change_edges for name in edge}
    for template in templates:
        services |= set(template.services)
    if context.service:
        services.add(context.service)
    exports = set(shifts) | set(server)

    logs: list[LogFinding] = []
    log_edges: set[tuple[str, str]] = set()
    named = _name_pattern(services)
    for template in templates:
        texts = [
            text[:PATTERN_INPUT_MAX]
            for text in [template.template, *(e.message.lower() for e in template.examples)]
        ]
        # One search per category over all the texts at once (none of the patterns spans lines),
        # skipped where the text holds none of the phrases a match needs (`core.required_literals`).
        joined = "\n".join(texts)
        categories = frozenset(
            category for category, pattern in LOG_CATEGORIES if matches(pattern, joined)
        )
        mentions = frozenset(_mentions(texts, services, named) - set(template.services))
        before_rate, after_rate = _minute_rates(
            template, onset, context.window_start, context.window_end
        )
        errors = sum(n for level, n in template.levels.items() if level in ERROR_LEVELS)
        finding = LogFinding(
            artifact_id=template.artifact_id,
            template=template.template,
            services=tuple(template.services) or ((context.service,) if context.service else ()),
            categories=categories,
            errors=errors,
            warnings=template.levels.get("WARN", 0),
            count=template.count,
            before_rate=before_rate,
            after_rate=after_rate,
            is_new=before_rate == 0 and after_rate > 0,
            first_seen=template.first_seen,
            mentions=mentions,
        )
        logs.append(finding)
        if finding.is_error or finding.warnings:
            for service in finding.services:
                for peer in mentions:
                    log_edges.add((service, peer))
                    services.add(peer)

    return Observations(
        context=context,
        onset=onset,
        services=services,
        shifts=dict(shifts),
        all_shifts=all_shifts,
        server=dict(server),
        edges=dict(edges),
        log_edges=log_edges,
        logs=logs,
        changes=[
            Change(
                artifact_id=c.artifact_id,
                service=c.service,
                change_type=c.change_type,
                at=c.timestamp,
                description=c.description,
                version_from=c.version_from,
                version_to=c.version_to,
            )
            for c in changes
        ],
        provider_incidents=providers,
        exports=exports,
        change_edges=change_edges,
        code_paths=vanished_paths(artifacts, context.onset),
        missing_paths=missing_paths(artifacts, history),
    )


def _with_service(shift: Shift, service: str | None) -> Shift:
    return Shift(**{**shift.__dict__, "service": service})
