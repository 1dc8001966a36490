"""What operators watch: ingests, analyses, evidence collection (and, later, notifications).

Every label value is bounded: source types and outcomes are closed sets, and names that come
from configuration (collector backends, receivers) are capped at `MAX_NAMES` distinct values
(the rest count as ``other``), so no payload or caller can grow the number of series. HTTP
request metrics live with the HTTP middleware; ``GET /metrics`` exposes both.
"""

from __future__ import annotations

import re
import threading
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

MAX_NAMES = 50
OTHER = "other"
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

INGEST_OUTCOMES = frozenset(
    {"duplicate", "joined", "silenced", "analyzed", "analysis_failed", "deferred"}
)
ANALYSIS_OUTCOMES = frozenset({"conclusive", "inconclusive", "failed"})
COLLECTION_STATUSES = frozenset({"ok", "empty", "timeout", "error", "skipped"})
DELIVERY_OUTCOMES = frozenset({"sent", "failed", "retrying", "gave_up"})
JOB_KINDS = frozenset({"analyze", "reanalyze", "delivery", "notify"})
JOB_STATES = frozenset({"queued", "running", "succeeded", "failed", "lost"})


Metric = TypeVar("Metric", Counter, Histogram)


class Children(Generic[Metric]):
    """A labelled metric's children, kept by their label values: ``labels(…)`` checks the
    values and takes the metric's lock on every call (~13 µs of an ingest's CPU for its
    counter, docs/benchmarks.md, nineteenth pass); a child once made is the same object for
    good (nothing here removes one). The values are bounded where they are chosen (closed
    sets, `BoundedNames`, route templates), so this holds a bounded number of children."""

    def __init__(self, metric: Metric) -> None:
        self.metric: Metric = metric
        self._children: dict[tuple[str, ...], Metric] = {}

    def __call__(self, *values: str) -> Metric:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.metric.labels(*values)
        return child


class BoundedNames:
    """At most `MAX_NAMES` distinct, well-formed names; anything else is ``other``."""

    def __init__(self, limit: int = MAX_NAMES) -> None:
        self.limit = limit
        self.seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, name: str | None) -> str:
        if not name or not _NAME.match(name):
            return OTHER
        with self._lock:
            if name in self.seen:
                return name
            if len(self.seen) >= self.limit:
                return OTHER
            self.seen.add(name)
            return name


def _closed(value: str, allowed: frozenset[str]) -> str:
    return value if value in allowed else OTHER


class OperatorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._sources = BoundedNames()
        self._backends = BoundedNames()
        self._receivers = BoundedNames()
        self.ingests = Counter(
            "chronosops_ingests_total",
            "Incident reports ingested, by sourceType and outcome: duplicate (matched an open "
            "incident), silenced, deferred (analysis on ingest off), analyzed, analysis_failed.",
            ["source", "outcome"],
            registry=self.registry,
        )
        self._ingests = Children(self.ingests)
        self.analysis_seconds = Histogram(
            "chronosops_analysis_duration_seconds",
            "Evidence collection plus analysis of one incident, by outcome.",
            ["outcome"],
            registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.analyses = Counter(
            "chronosops_analyses_total",
            "Analyses by outcome (conclusive, inconclusive, failed).",
            ["outcome"],
            registry=self.registry,
        )
        self.collector_calls = Counter(
            "chronosops_collector_calls_total",
            "Evidence collector calls by backend and status (ok, empty, timeout, error, skipped).",
            ["backend", "status"],
            registry=self.registry,
        )
        self.collector_failures = Counter(
            "chronosops_collector_failures_total",
            "Evidence collector calls that timed out or failed, by backend.",
            ["backend"],
            registry=self.registry,
        )
        self.notifications = Counter(
            "chronosops_notifications_total",
            "Notification deliveries by receiver and outcome (sent, failed, retrying, gave_up).",
            ["receiver", "outcome"],
            registry=self.registry,
        )
        self.job_queue = Gauge(
            "chronosops_jobs",
            "Jobs by state (queued, running, failed for good), read when scraped.",
            ["state"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "chronosops_job_duration_seconds",
            "How long one run of a job took, by kind and the state it ended in.",
            ["kind", "state"],
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )

    def jobs_in(self, counts: dict[str, int]) -> None:
        """Set the queue from one count per job state (read at scrape time)."""
        for state in ("queued", "running", "failed"):
            self.job_queue.labels(state).set(counts.get(state, 0))

    def job_ran(self, kind: str, state: str, seconds: float) -> None:
        self.job_seconds.labels(_closed(kind, JOB_KINDS), _closed(state, JOB_STATES)).observe(
            seconds
        )

    def ingested(self, source_type: str, outcome: str) -> None:
        self._ingests(self._sources(source_type), _closed(outcome, INGEST_OUTCOMES)).inc()

    def analysed(self, outcome: str, seconds: float) -> None:
        label = _closed(outcome, ANALYSIS_OUTCOMES)
        self.analyses.labels(label).inc()
        self.analysis_seconds.labels(label).observe(seconds)

    def collected(self, backend: str, status: str) -> None:
        name = self._backends(backend)
        label = _closed(status, COLLECTION_STATUSES)
        self.collector_calls.labels(name, label).inc()
        if label in ("timeout", "error"):
            self.collector_failures.labels(name).inc()

    def delivered(self, receiver: str, outcome: str) -> None:
        self.notifications.labels(
            self._receivers(receiver), _closed(outcome, DELIVERY_OUTCOMES)
        ).inc()
