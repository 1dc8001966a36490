"""Simulation frames read off as evidence: metric series, log templates, span groups, changes.

What a real observability stack would have recorded: per-service RED and saturation metrics
scraped every minute (with measurement noise), log lines written by the services at rates the
simulation implies (clustered into templates with per-minute histograms), sampled spans per
service and operation (all errors kept, a slice of the rest), and the change log. External
services (third-party APIs) export nothing; they are seen only through their callers.
"""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from statistics import NormalDist

from chronosops.core.aggregation import (
    RawLogLine,
    RawSpan,
    bounded_id,
    log_template,
    metric_series,
    minute_of,
    span_groups,
)
from chronosops.core.artifacts import (
    ChangeEvent,
    LogExample,
    LogStatement,
    LogTemplate,
    MetricSeries,
    SeriesPoint,
    SpanGroup,
    normalise_level,
)
from chronosops.core.call_graph import call_groups
from chronosops.core.canonical import content_hash
from chronosops.core.log_statements import log_statements, span_operations, statement_of
from chronosops.core.redaction import redact_text
from chronosops.core.timestamps import format_instant
from chronosops.scenarios.conventions import (
    BREAKER,
    CPU_LIMIT_CORES,
    MetricName,
    Signal,
    Style,
    derive,
    hash_text,
    native_style,
    scraped,
)
from chronosops.scenarios.joined_traces import JoinedTraces
from chronosops.scenarios.model import (
    ChangeSpec,
    FailureMode,
    LogDriver,
    LogRule,
    Scenario,
    ServiceNode,
    Shape,
    Topology,
)
from chronosops.scenarios.phrasebook import Peer, call_failure, own
from chronosops.scenarios.simulation import CallFrame, OpFrame, Run, ServiceFrame

APP_KINDS = ("edge", "api", "worker")
# The standard normal's 95th percentile, as `simulation.p95_of` places a frame's p95.
P95_Z = 1.645


def _quantile_name(metric: MetricName, q: float) -> MetricName:
    """A summary's series for quantile ``q``: the quantile in its name where the name has a
    place for it (``{q}``, in percent), else in a ``quantile`` label."""
    if "{q}" in metric.name:
        return MetricName(
            metric.name.replace("{q}", f"{q * 100:g}"),
            metric.unit,
            scale=metric.scale,
            labels=metric.labels,
        )
    return MetricName(
        metric.name,
        metric.unit,
        scale=metric.scale,
        labels=tuple(sorted((*metric.labels, ("quantile", f"{q:g}")))),
    )


SQRT2 = math.sqrt(2.0)
EXAMPLES_PER_TEMPLATE = 5
SPANS_PER_MINUTE = 6.0  # sampled successful spans per operation and minute at baseline
MAX_OK_SPANS = 14
MAX_ERROR_SPANS = 10
SLOW_LOG_SAMPLING = 0.05  # slow-request warnings are rate-limited by the services
CHANGE_LOOKBACK = timedelta(minutes=180)
IDLE_RPS = 0.01
# Systems whose services log with their trace context (OpenTelemetry-instrumented loggers put
# the span's ids on every record): their lines are also read as log statements placed in the
# operations that logged them (`core.log_statements`), and their operations log an info line on
# each call that completes (sampled: high-volume services keep a share of their info lines).
TRACE_CONTEXT_SHARE = 0.5
PATH_LOG_SAMPLING = 0.05

_PLACEHOLDER = re.compile(r"\{([a-z]+)(?::([a-z0-9_]+))?\}")


def stream(seed: str, name: str) -> random.Random:
    """An independent random stream per kind of evidence: dropping one leaves the others alone."""
    return random.Random(f"{seed}/{name}")


def stochastic_round(value: float, rng: random.Random) -> int:
    whole = math.floor(value)
    return whole + (1 if rng.random() < value - whole else 0)


@dataclass
class _TemplateAccumulator:
    template: str
    levels: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    services: set[str] = field(default_factory=set)
    per_minute: dict[datetime, int] = field(default_factory=lambda: defaultdict(int))
    examples: list[LogExample] = field(default_factory=list)


@dataclass(frozen=True)
class _LogSource:
    """One stream of log lines: a template pattern, its level and its per-minute rate."""

    service: str  # key
    level: str
    pattern: str
    rate: Callable[[int, ServiceFrame], float]  # lines per second in minute i
    values: Callable[[int, ServiceFrame, random.Random], dict[str, str]] = field(
        default_factory=lambda: _no_values
    )
    operation: str = ""  # the operation whose calls log it, where one does
    peer: str = ""  # key of the service whose failing calls it reports, where it does
    path: bool = False  # a line of the usual path: written by calls that complete


def _no_values(index: int, frame: ServiceFrame, rng: random.Random) -> dict[str, str]:
    return {}


def _slow_rate(op: str, index: int, frame: ServiceFrame) -> float:
    return frame.slow_share(1000.0, op) * frame.ops[op].rps * SLOW_LOG_SAMPLING


def _slow_values(op: str, index: int, frame: ServiceFrame, rng: random.Random) -> dict[str, str]:
    ops = frame.ops[op]
    # A draw from the slow tail: above the 1 s threshold, distributed like the requests.
    floor = max(1000.0, ops.p50_ms)
    return {"ms": str(round(floor * math.exp(abs(rng.gauss(0, ops.sigma)))))}


def _base_error_rate(error_ratio: float, index: int, frame: ServiceFrame) -> float:
    return frame.rps * error_ratio * 0.5


def _disconnect_rate(index: int, frame: ServiceFrame) -> float:
    return frame.rps * 0.0004


def _restart_rate(index: int, frame: ServiceFrame) -> float:
    return 1.0 / 60.0 if frame.restarted else 0.0


def _restart_values(
    limit_mb: float, index: int, frame: ServiceFrame, rng: random.Random
) -> dict[str, str]:
    return {"mem": str(int(limit_mb) + rng.randint(1, 40)), "n": str(frame.restarts_total)}


def _pool_rate(index: int, frame: ServiceFrame) -> float:
    return frame.pool_timeouts


def _pool_values(index: int, frame: ServiceFrame, rng: random.Random) -> dict[str, str]:
    return {"n": str(max(1, round(frame.pool_pending)))}


def _throttle_rate(index: int, frame: ServiceFrame) -> float:
    return frame.throttled * 0.2


def _steady_rate(start: int, per_second: float, index: int, frame: ServiceFrame) -> float:
    return per_second if index >= start else 0.0


def _completed_rate(op: str, index: int, frame: ServiceFrame) -> float:
    ops = frame.ops[op]
    return ops.rps * (1.0 - ops.error_ratio) * PATH_LOG_SAMPLING


# A usual step of an operation, as its service logs it (`code_faults`): one per operation, the
# phrase chosen by the service and operation, ``{thing}`` what the operation works on.
STEP_PHRASES = (
    "loaded {thing} {{id}} from the store",
    "validated {thing} request {{id}}",
    "applied rules to {thing} {{id}}",
    "wrote {thing} {{id}} to the outbox",
    "resolved {thing} {{id}} from the cache",
    "enriched {thing} {{id}} with defaults",
)


def step_pattern(service: str, operation: str) -> str:
    """The line ``service`` logs at the usual step of ``operation``."""
    words = [w for w in re.split(r"[^a-z]+", operation.lower()) if w]
    thing = words[-1] if words else "request"
    phrase = STEP_PHRASES[int(content_hash(f"{service}:{operation}")[:8], 16) % len(STEP_PHRASES)]
    return phrase.format(thing=thing)


def carries_trace_context(topology: Topology) -> bool:
    """Whether this system's services log with their trace context: a property of the system
    (its instrumentation), the same in every incident of it."""
    system = "|".join(sorted(node.name for node in topology.services))
    return stream(system, "trace-context").random() < TRACE_CONTEXT_SHARE


class Telemetry:
    def __init__(
        self,
        scenario: Scenario,
        topology: Topology,
        run: Run,
        *,
        onset: datetime,
        reported_start: datetime,
        seed: str,
        noise: float,
        source: str,
        style: Style | None = None,
    ) -> None:
        self.scenario = scenario
        self.style = style or native_style(topology)
        self.topology = topology
        self.run = run
        self.onset = onset
        self.reported_start = reported_start
        self.seed = seed
        self.noise = noise
        self.source = source
        self.culprit = scenario.culprit
        self.red_herrings: list[str] = []
        # A system whose steps are logged (`code_faults`) logs them with its trace context.
        self.trace_context = carries_trace_context(topology) or scenario.steps
        # What `logs` wrote, per source: lines per minute and one message (for `statements`).
        self._written: list[tuple[_LogSource, list[int], str]] = []
        self._traces: JoinedTraces | None = None

    # -- helpers ---------------------------------------------------------------------------

    def _minutes_since_onset(self, index: int) -> float:
        return (self.run.minutes[index] - self.onset).total_seconds() / 60

    def _fill(self, pattern: str, rng: random.Random, values: dict[str, str]) -> str:
        def replace(match: re.Match[str]) -> str:
            name, argument = match.group(1), match.group(2)
            if name == "svc" and argument:
                return self.topology.name(argument)
            if name in values:
                return values[name]
            if name == "n":
                return str(rng.randint(2, 950))
            if name == "ms":
                return str(rng.randint(120, 4000))
            if name == "id":
                return str(rng.randint(10_000, 99_999_999))
            if name == "uuid":
                raw = f"{rng.getrandbits(128):032x}"
                return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
            if name == "hex":
                return f"0x{rng.getrandbits(32):08x}"
            if name == "ip":
                return f"10.{rng.randint(0, 40)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
            return match.group(0)

        return _PLACEHOLDER.sub(replace, pattern)

    def _app_services(self) -> list[ServiceNode]:
        return [n for n in self.topology.services if n.kind in APP_KINDS]

    def _bystanders(self) -> list[ServiceNode]:
        """Services a red herring may be pinned on: neither the culprit nor the reported one."""
        return [
            n
            for n in self._app_services()
            if n.key not in (self.scenario.culprit, self.scenario.reported)
        ]

    # -- metrics ---------------------------------------------------------------------------

    def metrics(self) -> list[MetricSeries]:
        rng = stream(self.seed, "metrics")
        spread = 0.01 + 0.05 * self.noise
        spikes = self._benign_spikes(rng)
        artifacts: list[MetricSeries] = []
        for node in self.topology.services:
            if node.kind == "external":
                continue
            frames = [frames[node.key] for frames in self.run.frames]
            series: dict[Signal, list[float]] = {}

            def jitter(value: float) -> float:
                return value * max(0.0, 1.0 + rng.gauss(0.0, spread))

            # No requests, no latency or error ratio: the series has a gap, as a real one would.
            latency = [
                jitter(f.p95_ms) * spikes.get((node.key, i), 1.0) if f.rps > IDLE_RPS else math.nan
                for i, f in enumerate(frames)
            ]
            series["latency"] = [round(v, 1) for v in latency]
            errors = []
            for i, f in enumerate(frames):
                value = f.error_ratio + abs(
                    rng.gauss(0.0, max(1e-4, f.error_ratio * 0.08 * self.noise))
                )
                if (node.key, i) in spikes:
                    value += rng.uniform(0.0, 0.008)
                errors.append(round(min(value, 1.0), 5) if f.rps > IDLE_RPS else math.nan)
            series["errors"] = errors
            series["traffic"] = [round(jitter(f.rps), 2) for f in frames]
            if node.kind != "dns":
                series["cpu"] = [round(min(jitter(f.cpu), 1.0), 3) for f in frames]
                # Only exporters in cores name a limit (`conventions.INFRA_DIALECTS`).
                series["cpu_limit"] = [CPU_LIMIT_CORES] * len(frames)
            if node.kind in APP_KINDS:
                series["memory"] = [
                    round(f.memory_mb * (1 + rng.gauss(0.0, 0.005)), 1) for f in frames
                ]
                series["restarts"] = [float(f.restarts_total) for f in frames]
            if node.pool_size > 0:
                series["pool_in_use"] = [round(f.pool_in_use, 1) for f in frames]
                series["pool_pending"] = [round(f.pool_pending, 1) for f in frames]
            if node.cache_hit is not None:
                series["cache_hit"] = [
                    round(min(1.0, max(0.0, (f.cache_hit or 0.0) + rng.gauss(0.0, 0.005))), 4)
                    for f in frames
                ]
            if node.kind == "database":
                series["db_connections"] = [
                    round(jitter(f.rps * f.p50_ms / 1000.0) + 3, 1) for f in frames
                ]
            if node.cert_days is not None:
                series["cert_expiry"] = [round(f.cert_days or 0.0, 4) for f in frames]
            if not self.style.native and node.kind in APP_KINDS:
                # Requests in flight, by Little's law: what thread pools and event loops show.
                series["busy_threads"] = [round(f.rps * f.p50_ms / 1000.0, 2) for f in frames]
            self._add_forms(series, frames)
            artifacts += self._named_series(node, series)
            artifacts += self._bucket_series(node, series, frames)
            artifacts += self._summary_series(node, series, frames)
            artifacts += self._breaker_series(node)
        return artifacts

    def _add_forms(self, series: dict[Signal, list[float]], frames: list[ServiceFrame]) -> None:
        """The values the style's exporter forms (`conventions.FORM_SHARES`) send, from the
        signals already drawn (no new random draws, so the rest of the incident is unchanged)."""
        forms = self.style.forms
        if "histogram" in forms and "latency" in series:
            # A latency's mean over its p95, for the lognormal a frame's requests take:
            # median·exp(σ²/2) against the p95 the frame reports.
            series["latency_sum"] = [
                p95 * f.p50_ms * math.exp(f.sigma**2 / 2) / f.p95_ms if f.p95_ms > 0 else p95
                for p95, f in zip(series["latency"], frames, strict=True)
            ]
            series["latency_count"] = series["traffic"]
        if "outcomes" in forms or "successes" in forms:
            series["successes"] = series["errors"]
        if "cgroup" in forms and "cpu_limit" in series:
            series["cpu_quota"] = series["cpu_limit"]
            series["cpu_period"] = [1.0] * len(frames)

    def _named_series(
        self, node: ServiceNode, series: dict[Signal, list[float]]
    ) -> list[MetricSeries]:
        """The signals of ``node`` under the names (units, labels) its exporter gives them."""
        _, names = self.style.names(node)
        rates = series["traffic"]
        cpus = series.get("cpu", [0.0] * len(rates))
        built_all: list[MetricSeries] = []
        for signal, values in series.items():
            metric = names.get(signal)
            if metric is None:
                continue
            exported = derive(metric, values, rates, cpus)
            if not self.style.native:
                exported = [round(v, 6) for v in exported]
            built = self._exported(node, metric, exported, self.style.labels(node, metric))
            if built is not None:
                built_all.append(built)
        return built_all

    def _exported(
        self,
        node: ServiceNode,
        metric: MetricName,
        values: list[float],
        labels: dict[str, str] | None = None,
    ) -> MetricSeries | None:
        """One series as the node's exporter sends it: as a cumulative counter where the style
        scrapes (`conventions.scraped`), labelled by ``labels`` or by the style for the metric
        sent."""
        if self.style.scraped:
            counter = scraped(metric, values, start=float(1000 + hash_text(node.name) % 9000))
            if counter is not None:
                metric, values = counter
        return metric_series(
            id_prefix="metric",
            name=metric.name,
            points=zip(self.run.minutes, values, strict=True),
            source=self.source,
            labels=labels if labels is not None else self.style.labels(node, metric),
            service=node.name,
            unit=metric.unit or None,
            synthetic=True,
        )

    def _bucket_series(
        self, node: ServiceNode, series: dict[Signal, list[float]], frames: list[ServiceFrame]
    ) -> list[MetricSeries]:
        """The latency as a histogram's buckets (`conventions.BUCKET_FORMS`), from the signals
        already drawn: each minute's requests spread over the bounds by the log-normal the frame
        takes (its sigma), placed so that its p95 is the p95 the gauge would have sent."""
        form = self.style.buckets(node)
        if form is None or "latency" not in series:
            return []
        metric, bounds = form
        shares: list[list[float]] = []
        for p95_ms, frame in zip(series["latency"], frames, strict=True):
            p95 = frame.p95_ms if math.isnan(p95_ms) else p95_ms
            sigma = max(frame.sigma, 1e-6)
            median = max(p95, 1e-3) / math.exp(P95_Z * sigma)
            shares.append(
                [
                    0.5 * math.erfc(-(math.log(b * 1000.0) - math.log(median)) / sigma / SQRT2)
                    for b in bounds
                ]
            )
        found: list[MetricSeries] = []
        for index, bound in enumerate((*bounds, math.inf)):
            le = "+Inf" if math.isinf(bound) else f"{bound:g}"
            named = MetricName(
                metric.name, metric.unit, labels=tuple(sorted((*metric.labels, ("le", le))))
            )
            values = [
                round(rps * (1.0 if math.isinf(bound) else share[index]), 6)
                for rps, share in zip(series["traffic"], shares, strict=True)
            ]
            built = self._exported(node, named, values)
            if built is not None:
                found.append(built)
        return found

    def _summary_series(
        self, node: ServiceNode, series: dict[Signal, list[float]], frames: list[ServiceFrame]
    ) -> list[MetricSeries]:
        """The latency as a summary's quantiles (`conventions.SUMMARY_FORMS`), from the signals
        already drawn: each minute's quantiles of the log-normal the frame takes (its sigma),
        placed so that its p95 is the p95 the gauge would have sent; the max as the slowest of
        the minute's requests (the quantile one request in the minute's count exceeds)."""
        form = self.style.summary(node)
        if form is None or "latency" not in series:
            return []
        metric, quantiles, slowest = form
        spread = [
            (p95_ms / math.exp(P95_Z * max(frame.sigma, 1e-6)), max(frame.sigma, 1e-6))
            for p95_ms, frame in zip(series["latency"], frames, strict=True)
        ]
        sent: list[tuple[MetricName, list[float]]] = [
            (
                _quantile_name(metric, q),
                [median * math.exp(NormalDist().inv_cdf(q) * sigma) for median, sigma in spread],
            )
            for q in quantiles
        ]
        if slowest is not None:
            # The slowest of n requests sits near the quantile 1 - 1/n.
            counts = [max(2.0, rps * 60.0) for rps in series["traffic"]]
            sent.append(
                (
                    slowest,
                    [
                        median * math.exp(NormalDist().inv_cdf(1.0 - 1.0 / n) * sigma)
                        for (median, sigma), n in zip(spread, counts, strict=True)
                    ],
                )
            )
        found: list[MetricSeries] = []
        for named, values in sent:
            built = self._exported(node, named, [round(v * named.scale, 6) for v in values])
            if built is not None:
                found.append(built)
        return found

    def _breaker_series(self, node: ServiceNode) -> list[MetricSeries]:
        """resilience4j's breaker state, on Micrometer services calling a third party."""
        if self.style.native or self.style.app_dialects.get(node.key) != "micrometer":
            return []
        found: list[MetricSeries] = []
        for target in self.topology.dependencies(node.key):
            peer = self.topology.node(target)
            if peer.kind != "external":
                continue
            values = []
            for frames in self.run.frames:
                calls = [
                    c
                    for op in frames[node.key].ops.values()
                    for c in op.calls
                    if c.target == target
                ]
                failing = max((c.error_ratio for c in calls), default=0.0)
                values.append(1.0 if failing >= 0.5 else 0.0)
            built = metric_series(
                id_prefix="metric",
                name=BREAKER.name,
                points=zip(self.run.minutes, values, strict=True),
                source=self.source,
                labels={"application": node.name, "name": peer.name, **dict(BREAKER.labels)},
                service=node.name,
                unit=BREAKER.unit,
                synthetic=True,
            )
            if built is not None:
                found.append(built)
        return found

    def _benign_spikes(self, rng: random.Random) -> dict[tuple[str, int], float]:
        """Short latency blips on innocent services: the noise every real dashboard has."""
        if self.noise <= 0:
            return {}
        spikes: dict[tuple[str, int], float] = {}
        chance = 0.004 + 0.025 * self.noise
        for node in self._bystanders():
            for index in range(len(self.run.minutes)):
                if rng.random() < chance:
                    spikes[(node.key, index)] = rng.uniform(1.4, 2.4)
        return spikes

    # -- logs ------------------------------------------------------------------------------

    def logs(self) -> list[LogTemplate]:
        rng = stream(self.seed, "logs")
        templates: dict[str, _TemplateAccumulator] = {}
        for source in self._log_sources(rng):
            self._emit(source, rng, templates)
        if self.trace_context:
            # Their own stream: the other lines stay as they were.
            paths = stream(self.seed, "paths")
            for source in self._path_sources():
                self._emit(source, paths, templates)
        if self.scenario.steps:
            steps = stream(self.seed, "paths/steps")
            for source in self._step_sources():
                self._emit(source, steps, templates)
        artifacts: list[LogTemplate] = []
        for template, acc in sorted(templates.items()):
            count = sum(acc.per_minute.values())
            if count == 0:
                continue
            minutes = sorted(m for m, n in acc.per_minute.items() if n > 0)
            errors = sum(n for level, n in acc.levels.items() if level in ("ERROR", "CRITICAL"))
            examples = sorted(acc.examples, key=lambda e: (e.ts, e.message))[:EXAMPLES_PER_TEMPLATE]
            artifacts.append(
                LogTemplate(
                    artifact_id=f"log:{content_hash(template)[:16]}",
                    title=template[:200],
                    summary=(
                        f"{count} line{'s' if count != 1 else ''} ({errors} error), "
                        f"{format_instant(minutes[0])} to {format_instant(minutes[-1])}"
                    ),
                    source=self.source,
                    synthetic=True,
                    template=template,
                    count=count,
                    levels=dict(sorted(acc.levels.items())),
                    services=sorted(acc.services),
                    first_seen=minutes[0],
                    last_seen=minutes[-1] + timedelta(seconds=59),
                    examples=examples,
                    histogram=[SeriesPoint(ts=m, value=acc.per_minute[m]) for m in minutes],
                )
            )
        return artifacts

    def _emit(
        self, source: _LogSource, rng: random.Random, templates: dict[str, _TemplateAccumulator]
    ) -> None:
        counts: list[int] = []
        for index, frames in enumerate(self.run.frames):
            rate = source.rate(index, frames[source.service])
            counts.append(stochastic_round(max(rate, 0.0) * 60.0, rng) if rate > 0 else 0)
        if not any(counts):
            return
        node = self.topology.node(source.service)
        level = normalise_level(source.level)
        busy = [i for i, count in enumerate(counts) if count]
        # The first minute, the peak and the last: how it started, how bad it got, how it ended.
        chosen = {busy[0], max(busy, key=counts.__getitem__), busy[-1]}
        examples: list[LogExample] = []
        template = None
        for index in sorted(chosen):
            frame = self.run.frames[index][source.service]
            message = self._fill(source.pattern, rng, source.values(index, frame, rng))
            template = template or log_template(message)
            examples.append(
                LogExample(
                    ts=self.run.minutes[index] + timedelta(seconds=rng.randint(0, 59)),
                    level=level,
                    message=message,
                    service=node.name,
                )
            )
        assert template is not None
        self._written.append((source, counts, examples[0].message))
        acc = templates.setdefault(template, _TemplateAccumulator(template))
        acc.services.add(node.name)
        for index, count in enumerate(counts):
            if count:
                acc.per_minute[self.run.minutes[index]] += count
                acc.levels[level] += count
        acc.examples.extend(e for e in examples if log_template(e.message) == template)

    def _scaled(self, rule: LogRule, index: int, rate: float) -> float:
        shape: Shape | None = rule.shape
        return rate * (shape.level(self._minutes_since_onset(index)) if shape else 1.0)

    def _driver_rate(self, rule: LogRule, index: int, frame: ServiceFrame) -> float:
        driver: LogDriver = rule.driver
        if driver == "own_errors":
            value = frame.own_errors
            if rule.operation and rule.operation in frame.ops:
                op = frame.ops[rule.operation]
                value = op.rps * max(
                    0.0, op.error_ratio - self.topology.node(frame.key).error_ratio
                )
        elif driver == "requests":
            value = frame.ops[rule.operation].rps if rule.operation in frame.ops else frame.rps
        elif driver == "cache_misses":
            value = frame.cache_misses
        elif driver == "restarts":
            value = 1.0 / 60.0 if frame.restarted else 0.0
        elif driver == "throttled":
            value = frame.throttled
        elif driver == "pool_timeouts":
            value = frame.pool_timeouts
        elif driver == "slow":
            share = frame.slow_share(rule.threshold_ms, rule.operation)
            value = share * (
                frame.ops[rule.operation].rps if rule.operation in frame.ops else frame.rps
            )
        else:  # after_onset
            value = 1.0 / 60.0 if self._minutes_since_onset(index) >= 0 else 0.0
        return self._scaled(rule, index, value * rule.per_event)

    def _log_sources(self, rng: random.Random) -> list[_LogSource]:
        sources: list[_LogSource] = []
        for rule in self.scenario.logs:
            level, pattern = self._phrase(rule)
            sources.append(
                _LogSource(
                    service=rule.service,
                    level=level,
                    pattern=pattern,
                    rate=partial(self._driver_rate, rule),
                    values=partial(self._rule_values, rule),
                    operation=rule.operation or "",
                )
            )
        sources += self._generic_sources() if self.style.native else self._styled_sources()
        sources += self._distractors(rng)
        return sources

    def _phrase(self, rule: LogRule) -> tuple[str, str]:
        """A rule's level and pattern; ``@event`` or ``@event:key`` is phrased in the
        service's language (see `phrasebook.OWN`), ``key`` naming the service it concerns."""
        if not rule.pattern.startswith("@"):
            return rule.level, rule.pattern
        event, _, key = rule.pattern[1:].partition(":")
        peer = self.topology.name(key) if key else ""
        return own(event, self.style.language(rule.service), peer)

    def _styled_sources(self) -> list[_LogSource]:
        """`_generic_sources` in each service's own language."""
        sources: list[_LogSource] = []
        for node in self.topology.services:
            key = node.key
            if node.kind not in APP_KINDS:
                continue
            language = self.style.language(key)
            for op in node.operations:
                for call in op.calls:
                    if self.topology.node(call.target).kind == "dns":
                        continue
                    sources += self._call_failure_sources(
                        node, op.name, call.target, call.operation
                    )
                level, pattern = own("slow", language)
                method, _, path = op.name.partition(" ")
                sources.append(
                    _LogSource(
                        service=key,
                        level=level,
                        pattern=pattern.replace("{op}", op.name)
                        .replace("{method}", method)
                        .replace("{path}", path or "/"),
                        rate=partial(_slow_rate, op.name),
                        values=partial(_slow_values, op.name),
                        operation=op.name,
                    )
                )
            for event, rate, values in (
                ("server_error", partial(_base_error_rate, node.error_ratio), _no_values),
                ("client_gone", _disconnect_rate, _no_values),
                ("oom_kill", _restart_rate, partial(_restart_values, node.memory_limit_mb)),
            ):
                level, pattern = own(event, language)
                sources.append(
                    _LogSource(service=key, level=level, pattern=pattern, rate=rate, values=values)
                )
            if node.pool_size > 0:
                level, pattern = own("pool_timeout", language)
                sources.append(
                    _LogSource(
                        service=key,
                        level=level,
                        pattern=pattern,
                        rate=_pool_rate,
                        values=_pool_values,
                    )
                )
            if node.rate_limit_rps is not None:
                level, pattern = own("throttling", language)
                sources.append(
                    _LogSource(service=key, level=level, pattern=pattern, rate=_throttle_rate)
                )
        return sources

    def _rule_values(
        self, rule: LogRule, index: int, frame: ServiceFrame, rng: random.Random
    ) -> dict[str, str]:
        op = frame.ops.get(rule.operation or "")
        p50 = op.p50_ms if op else frame.p50_ms
        sigma = op.sigma if op else frame.sigma
        duration = p50 * math.exp(rng.gauss(0.0, sigma))
        if rule.driver == "slow":
            duration = max(duration, rule.threshold_ms * rng.uniform(1.0, 1.6))
        return {"ms": f"{duration:.1f}" if duration < 100 else str(round(duration))}

    def _generic_sources(self) -> list[_LogSource]:
        sources: list[_LogSource] = []
        for node in self.topology.services:
            key = node.key
            if node.kind in ("external", "cache"):
                continue
            if node.kind in APP_KINDS:
                for op in node.operations:
                    for call in op.calls:
                        if self.topology.node(call.target).kind == "dns":
                            continue
                        sources += self._call_failure_sources(
                            node, op.name, call.target, call.operation
                        )
                    sources.append(
                        _LogSource(
                            service=key,
                            level="WARN",
                            pattern=f"slow request: {op.name} took {{ms}}ms",
                            rate=partial(_slow_rate, op.name),
                            values=partial(_slow_values, op.name),
                            operation=op.name,
                        )
                    )
                sources.append(
                    _LogSource(
                        service=key,
                        level="ERROR",
                        pattern="request failed with status 500: internal error (request id {uuid})",
                        rate=partial(_base_error_rate, node.error_ratio),
                    )
                )
                sources.append(
                    _LogSource(
                        service=key,
                        level="WARN",
                        pattern="client closed the connection before the response was sent",
                        rate=_disconnect_rate,
                    )
                )
                sources.append(
                    _LogSource(
                        service=key,
                        level="ERROR",
                        pattern=(
                            f"container {node.name} OOMKilled: memory usage {{mem}}Mi exceeded the "
                            f"limit of {int(node.memory_limit_mb)}Mi; restarting (restart count {{n}})"
                        ),
                        rate=_restart_rate,
                        values=partial(_restart_values, node.memory_limit_mb),
                    )
                )
            if node.pool_size > 0:
                sources.append(
                    _LogSource(
                        service=key,
                        level="ERROR",
                        pattern=(
                            "could not obtain a database connection within 5000ms "
                            f"(pool size {node.pool_size}, active {node.pool_size}, waiting {{n}})"
                        ),
                        rate=_pool_rate,
                        values=_pool_values,
                    )
                )
            if node.rate_limit_rps is not None and node.kind != "external":
                sources.append(
                    _LogSource(
                        service=key,
                        level="WARN",
                        pattern=(
                            "rate limit exceeded for client {hex}: {n} requests/s over the limit "
                            f"of {int(node.rate_limit_rps)}"
                        ),
                        rate=_throttle_rate,
                    )
                )
        return sources

    def _call_failure_sources(
        self, node: ServiceNode, op_name: str, target_key: str, target_op: str
    ) -> list[_LogSource]:
        target = self.topology.node(target_key)
        dns = next((n for n in self.topology.services if n.kind == "dns"), None)
        patterns: dict[FailureMode, tuple[str, str]] = (
            self._native_call_patterns(target, target_op, dns)
            if self.style.native
            else self._styled_call_patterns(node, target, target_op, dns)
        )
        sources = []
        for mode, (level, pattern) in patterns.items():

            def rate(i: int, f: ServiceFrame, mode: FailureMode = mode) -> float:
                for call in f.ops[op_name].calls:
                    if (
                        call.target == target_key
                        and call.operation == target_op
                        and call.mode == mode
                    ):
                        return call.rps * call.error_ratio
                return 0.0

            def values(i: int, f: ServiceFrame, r: random.Random) -> dict[str, str]:
                call = self._call(f, op_name, target_key, target_op)
                timeout = call.timeout_ms if call else 2000.0
                return {
                    "timeout": str(int(timeout)),
                    "secs": f"{timeout / 1000:g}",
                    "n": str(r.randint(1, 8)),
                }

            sources.append(
                _LogSource(
                    service=node.key,
                    level=level,
                    pattern=pattern,
                    rate=rate,
                    values=values,
                    operation=op_name,
                    peer=target_key,
                )
            )
        return sources

    def _styled_call_patterns(
        self, node: ServiceNode, target: ServiceNode, target_op: str, dns: ServiceNode | None
    ) -> dict[FailureMode, tuple[str, str]]:
        peer = Peer(
            name=target.name,
            address=target.address,
            port=target.port,
            operation=target_op,
            database=target.kind == "database",
            external=target.kind == "external",
        )
        language = self.style.language(node.key)
        modes: tuple[FailureMode, ...] = (
            "error",
            "pool",
            "unavailable",
            "refused",
            "timeout",
            "unreachable",
            "tls",
            "dns",
            "throttled",
            "unauthorized",
        )
        dns_address = dns.address if dns else "10.96.0.10"
        return {mode: call_failure(language, mode, peer, dns_address) for mode in modes}

    def _native_call_patterns(
        self, target: ServiceNode, target_op: str, dns: ServiceNode | None
    ) -> dict[FailureMode, tuple[str, str]]:
        patterns: dict[FailureMode, tuple[str, str]] = {
            "error": (
                "ERROR",
                f"upstream {target.name} responded 500 Internal Server Error to {target_op}",
            ),
            "pool": (
                "ERROR",
                f"upstream {target.name} responded 503 Service Unavailable to {target_op}",
            ),
            "unavailable": (
                "ERROR",
                f"upstream {target.name} responded 503 Service Unavailable to {target_op}",
            ),
            "refused": (
                "ERROR",
                f"connect ECONNREFUSED {target.address}:{target.port} (calling {target.name})",
            ),
            "timeout": (
                "ERROR",
                f"{target.name} {target_op} timed out after {{timeout}}ms: context deadline exceeded",
            ),
            "unreachable": (
                "ERROR",
                f"dial tcp {target.address}:{target.port}: i/o timeout (calling {target.name})",
            ),
            "tls": (
                "ERROR",
                f"tls: failed to verify certificate for {target.name}:{target.port}: x509: certificate has expired or is not yet valid",
            ),
            "dns": (
                "ERROR",
                f"dial tcp: lookup {target.name}.prod.svc.cluster.local on {dns.address if dns else '10.96.0.10'}:53: no such host",
            ),
            "throttled": (
                "WARN",
                f"{target.name} answered 429 Too Many Requests to {target_op}; retrying in {{n}}s",
            ),
        }
        if target.kind == "database":
            patterns["error"] = (
                "ERROR",
                f"query on {target.name} failed: ERROR: canceling statement due to statement timeout",
            )
            patterns["timeout"] = (
                "ERROR",
                f"query on {target.name} timed out after {{timeout}}ms: {target_op}",
            )
        return patterns

    @staticmethod
    def _call(frame: ServiceFrame, op: str, target: str, target_op: str) -> CallFrame | None:
        for call in frame.ops[op].calls:
            if call.target == target and call.operation == target_op:
                return call
        return None

    def _distractors(self, rng: random.Random) -> list[_LogSource]:
        """Unrelated errors that happen to be in the window: what makes real incidents hard."""
        candidates = self._bystanders()
        if self.noise < 0.3 or not candidates:
            return []
        found: list[_LogSource] = []
        node = rng.choice(candidates)
        start = rng.randrange(len(self.run.minutes))
        level, pattern = (
            "ERROR",
            "failed to refresh feature flag snapshot: context canceled after {n}ms",
        )
        if not self.style.native:
            level, pattern = own("flag_refresh", self.style.language(node.key))
        found.append(
            _LogSource(
                service=node.key,
                level=level,
                pattern=pattern,
                rate=partial(_steady_rate, start, 0.05),
            )
        )
        self.red_herrings.append(f"unrelated errors on {node.name} (feature flag refresh)")
        if self.noise >= 0.6:
            other = rng.choice(candidates)
            level, pattern = "WARN", "GC pause of {ms}ms exceeded the 200ms target"
            if not self.style.native:
                level, pattern = own("gc_pressure", self.style.language(other.key))
            found.append(
                _LogSource(
                    service=other.key,
                    level=level,
                    pattern=pattern,
                    rate=partial(_steady_rate, 0, 0.02),
                )
            )
        return found

    def _path_sources(self) -> list[_LogSource]:
        """An info line per completed call of each operation (sampled): the step a request
        reaches when it succeeds, which a failed call skips."""
        return [
            _LogSource(
                service=node.key,
                level="INFO",
                pattern=f"completed {op.name} in {{ms}}ms",
                rate=partial(_completed_rate, op.name),
                operation=op.name,
            )
            for node in self._app_services()
            for op in node.operations
        ]

    def _step_rate(self, key: str, op: str, index: int, frame: ServiceFrame) -> float:
        """Completed calls reach the step, but none from the fault's start on where it skips it."""
        skipped = self.scenario.skipped
        if (
            skipped is not None
            and (skipped.service, skipped.operation) == (key, op)
            and self._minutes_since_onset(index) >= skipped.since
        ):
            return 0.0
        return _completed_rate(op, index, frame)

    def _step_sources(self) -> list[_LogSource]:
        """An info line at a usual step of each operation, sampled as the completion lines are."""
        return [
            _LogSource(
                service=node.key,
                level="INFO",
                pattern=step_pattern(node.name, op.name),
                rate=partial(self._step_rate, node.key, op.name),
                operation=op.name,
                path=True,
            )
            for node in self._app_services()
            for op in node.operations
        ]

    def statements(self) -> list[LogStatement]:
        """The lines `logs` wrote, read as log statements placed in the operations that logged
        them, when this system logs with its trace context (none otherwise): what
        `core.log_statements` makes of records carrying their span's ids, as evidence sent with
        an incident does. Each line is written in its own call of its source's operation (a
        service-wide line: one operation of the service, the same every time), so a statement's
        spans are its lines; built from the counts, not line by line (a suite writes millions)."""
        if not self.trace_context:
            return []
        if "joined" in self.style.forms:
            return self._joined_statements()
        found: dict[tuple[str, str], tuple[str, dict[datetime, int], dict[str, int]]] = {}
        for source, counts, message in self._written:
            node = self.topology.node(source.service)
            if node.kind not in APP_KINDS or not node.operations:
                continue
            operation = source.operation or self._operation_of(node, source.pattern)
            statement = redact_text(statement_of(message))
            _, per_minute, levels = found.setdefault(
                (node.name, statement), (operation, defaultdict(int), defaultdict(int))
            )
            for index, count in enumerate(counts):
                if count:
                    per_minute[self.run.minutes[index]] += count
            levels[normalise_level(source.level)] += sum(counts)
        artifacts: list[LogStatement] = []
        for (service, statement), (operation, per_minute, levels) in sorted(found.items()):
            spans = sum(per_minute.values())
            artifacts.append(
                LogStatement(
                    artifact_id=bounded_id(
                        "statement", f"{service}:{operation}:{statement}", [service, statement]
                    ),
                    title=f"{service} {operation}: {statement}"[:200],
                    summary=f"logged by {spans} spans of {operation} ({spans} lines)",
                    source=self.source,
                    synthetic=True,
                    service=service,
                    operation=operation,
                    statement=statement,
                    levels=dict(sorted(levels.items())),
                    spans=spans,
                    histogram=[SeriesPoint(ts=m, value=n) for m, n in sorted(per_minute.items())],
                )
            )
        return artifacts

    def _joined_statements(self) -> list[LogStatement]:
        """In the joined-traces form: the lines the sampled requests wrote, each carrying the
        ids of the span that wrote it, read as `core.log_statements` reads such records. A
        source writes in a sampled call of its operation with the chance its rate gives each
        call of the kind it concerns (a failed call to the peer it names, a call that failed
        of its own for its other errors, a completed call for the completion line, any call
        otherwise); the lines of requests no trace sampled are in the templates only, as a
        collector that reads the lines of the traces it has would find them."""
        traces = self._joined_traces()
        rng = stream(self.seed, "joined/lines")
        by_op: dict[tuple[str, str, int], list[RawSpan]] = defaultdict(list)
        first = self.run.minutes[0]
        for span in traces.server_spans:
            index = int((minute_of(span.ts) - first).total_seconds() // 60)
            by_op[(span.service, span.operation, index)].append(span)
        lines: list[RawLogLine] = []
        # Where steps are logged (`code_faults`), a sampled call that keeps its usual-path lines
        # keeps them all: its step and its completion line are in the same span, as one
        # request's logging is kept or not (one draw per span, from a stream of their own).
        kept = stream(self.seed, "joined/paths") if self.scenario.steps else None
        draws: dict[str, float] = {}
        for source, counts, message in self._written:
            node = self.topology.node(source.service)
            if node.kind not in APP_KINDS or not node.operations:
                continue
            operation = source.operation or self._operation_of(node, source.pattern)
            level = normalise_level(source.level)
            usual = kept is not None and (source.path or source.pattern.startswith("completed "))
            for index, count in enumerate(counts):
                spans = by_op.get((node.name, operation, index))
                if not count or not spans:
                    continue
                op = self.run.frames[index][node.key].ops[operation]
                kind, share = self._line_kind(source, level, node.key, op, traces)
                chance = min(1.0, count / max(op.rps * 60.0 * share, 1.0))
                for span in spans:
                    if not kind(span):
                        continue
                    if usual and kept is not None:
                        key = span.span_id or ""
                        if key not in draws:
                            draws[key] = kept.random()
                        if draws[key] >= chance:
                            continue
                    elif rng.random() >= chance:
                        continue
                    lines.append(
                        RawLogLine(
                            ts=span.ts
                            + timedelta(milliseconds=(span.duration_ms or 0.0) * rng.random()),
                            message=message,
                            level=level,
                            service=node.name,
                            trace_id=span.trace_id,
                            span_id=span.span_id,
                        )
                    )
        return [
            statement.model_copy(update={"synthetic": True})
            for statement in log_statements(
                lines,
                span_operations(traces.server_spans),
                id_prefix="statement",
                source=self.source,
            )
        ]

    def _line_kind(
        self, source: _LogSource, level: str, key: str, op: OpFrame, traces: JoinedTraces
    ) -> tuple[Callable[[RawSpan], bool], float]:
        """Which sampled calls of its operation a source's lines belong in, and the share of
        the operation's calls that are of that kind."""
        if source.peer:
            call = next((c for c in op.calls if c.target == source.peer), None)
            share = call.rps / op.rps * call.error_ratio if call and op.rps > 0 else 0.0
            return (
                lambda span: source.peer in traces.failed_calls.get(span.span_id or "", ()),
                share,
            )
        if level in ("ERROR", "CRITICAL"):
            return (
                lambda span: (span.span_id or "") in traces.own_failures,
                traces.own_share(key, op),
            )
        if source.path or source.pattern.startswith("completed "):
            return (lambda span: not span.is_error), 1.0 - op.error_ratio
        return (lambda span: True), 1.0

    def _operation_of(self, node: ServiceNode, pattern: str) -> str:
        # A service-wide line: one operation of the service, the same every time.
        return node.operations[int(content_hash(pattern)[:8], 16) % len(node.operations)].name

    # -- spans -----------------------------------------------------------------------------

    def joined_spans(self) -> list[RawSpan]:
        """The sampled requests of the joined-traces form, followed through the call graph
        (`joined_traces`; drawn once, from a stream of their own)."""
        return self._joined_traces().spans()

    def _joined_traces(self) -> JoinedTraces:
        if self._traces is None:
            self._traces = JoinedTraces(
                self.topology, self.run, stream(self.seed, "joined"), self._client_span_name
            )
        return self._traces

    def spans(self) -> list[SpanGroup]:
        if "joined" in self.style.forms:
            # Read as spans sent with an incident are (`core.call_graph`): the same groups.
            return call_groups(
                self.joined_spans(),
                id_prefix="span",
                source=self.source,
                onset=self.reported_start,
                synthetic=True,
            )
        rng = stream(self.seed, "spans")
        raw: list[RawSpan] = []
        first = self.run.frames[0]
        for node in self._app_services():
            for op in node.operations:
                base = max(first[node.key].ops[op.name].rps, 1e-3)
                sampling = min(1.0, SPANS_PER_MINUTE / (base * 60.0))
                for index, frames in enumerate(self.run.frames):
                    frame = frames[node.key].ops[op.name]
                    raw += self._sample(
                        rng,
                        index,
                        service=node.name,
                        operation=op.name,
                        rps=frame.rps,
                        error_ratio=frame.error_ratio,
                        p50_ms=frame.p50_ms,
                        sigma=frame.sigma,
                        mode=frame.mode,
                        timeout_ms=None,
                        sampling=sampling,
                    )
                    for call in frame.calls:
                        target = self.topology.node(call.target)
                        if target.kind == "dns":
                            continue
                        operation, peer = self._client_span_name(target, call.operation)
                        raw += self._sample(
                            rng,
                            index,
                            service=node.name,
                            operation=operation,
                            rps=call.rps,
                            error_ratio=call.error_ratio,
                            p50_ms=call.p50_ms,
                            sigma=call.sigma,
                            mode=call.mode,
                            timeout_ms=call.timeout_ms,
                            sampling=sampling,
                            peer_service=peer,
                        )
        return span_groups(
            raw, id_prefix="span", source=self.source, onset=self.reported_start, synthetic=True
        )

    def _client_span_name(self, target: ServiceNode, operation: str) -> tuple[str, str | None]:
        """A client span's name and peer.service, as the incident's instrumentation sets them."""
        if self.style.spans == "peer":
            return f"{target.name} {operation}", target.name
        if self.style.spans == "otel":
            return operation, target.name
        peer = Peer(
            target.name,
            target.address,
            target.port,
            operation,
            database=target.kind == "database",
            external=target.kind == "external",
        )
        if peer.database:
            return f"{operation} {target.name}", None
        return f"{peer.method} {peer.url('python')}", None

    def _sample(
        self,
        rng: random.Random,
        index: int,
        *,
        service: str,
        operation: str,
        rps: float,
        error_ratio: float,
        p50_ms: float,
        sigma: float,
        mode: FailureMode | None,
        timeout_ms: float | None,
        sampling: float,
        peer_service: str | None = None,
    ) -> list[RawSpan]:
        minute = self.run.minutes[index]
        ok = min(MAX_OK_SPANS, stochastic_round(rps * (1 - error_ratio) * 60 * sampling, rng))
        # Tail sampling keeps failures at a higher rate: the traces people open.
        failed = min(
            MAX_ERROR_SPANS, stochastic_round(rps * error_ratio * 60 * min(1.0, sampling * 4), rng)
        )
        spans: list[RawSpan] = []
        for n in range(ok + failed):
            is_error = n >= ok
            duration = p50_ms * math.exp(rng.gauss(0.0, sigma))
            if timeout_ms is not None:
                duration = min(duration, timeout_ms)
            if is_error:
                if mode in ("timeout", "unreachable") and timeout_ms is not None:
                    duration = timeout_ms * rng.uniform(1.0, 1.02)
                elif mode in ("refused", "tls", "dns", "throttled", "unauthorized"):
                    duration = rng.uniform(1.0, 12.0)
                elif mode == "pool":
                    duration = 5000.0 * rng.uniform(1.0, 1.01)
            spans.append(
                RawSpan(
                    ts=minute + timedelta(seconds=rng.uniform(0, 59.999)),
                    service=service,
                    operation=operation,
                    duration_ms=round(duration, 2),
                    is_error=is_error,
                    trace_id=f"{rng.getrandbits(128):032x}",
                    peer_service=peer_service,
                )
            )
        return spans

    # -- changes ---------------------------------------------------------------------------

    def changes(self, *, window_end: datetime, environment: str) -> list[ChangeEvent]:
        rng = stream(self.seed, "changes")
        events: list[ChangeEvent] = []
        earliest = self.run.minutes[0] - CHANGE_LOOKBACK
        specs = list(self.scenario.changes)
        for spec in specs:
            if spec.innocent:
                self.red_herrings.append(
                    f"{spec.change_type} on {self.topology.name(spec.service)} "
                    f"{spec.minutes:+.0f} min from the onset (innocent)"
                )
        if self.noise > 0:
            candidates = self._bystanders() or [
                n for n in self._app_services() if n.key != self.scenario.culprit
            ]
            extra = int(rng.random() < self.noise) + int(rng.random() < self.noise / 2)
            for _ in range(extra if candidates else 0):
                node = rng.choice(candidates)
                minor = rng.randint(0, 40)
                minutes = rng.uniform(-150.0, 8.0)
                from_version, to_version = f"1.{minor}.{rng.randint(0, 9)}", f"1.{minor + 1}.0"
                spec = ChangeSpec(
                    service=node.key,
                    change_type="deploy",
                    minutes=minutes,
                    summary=rng.choice(
                        (
                            "Bump logging library",
                            "Update translations",
                            "Refactor request validation (no behaviour change)",
                            "Add dashboard links to the README",
                        )
                    ),
                    version_from=from_version,
                    version_to=to_version,
                    author=rng.choice(("ci-bot", "renovate[bot]", "deploy-pipeline")),
                    innocent=True,
                )
                specs.append(spec)
                self.red_herrings.append(
                    f"deploy of {node.name} {to_version} {minutes:+.0f} min from the onset (innocent)"
                )
        for spec in specs:
            at = (self.onset + timedelta(minutes=spec.minutes)).replace(microsecond=0)
            if not earliest <= at <= window_end:
                continue
            name = self.topology.name(spec.service)
            versions = f" {spec.version_from or '?'} → {spec.version_to}" if spec.version_to else ""
            events.append(
                ChangeEvent(
                    artifact_id=f"change:{name}:{spec.change_type}:{format_instant(at)}",
                    title=f"{spec.change_type} on {name}: {spec.summary}"[:200],
                    summary=f"{spec.change_type}{versions} at {format_instant(at)}",
                    source=self.source,
                    synthetic=True,
                    change_type=spec.change_type,
                    timestamp=at,
                    description=spec.summary,
                    service=name,
                    environment=environment,
                    version_from=spec.version_from,
                    version_to=spec.version_to,
                    author=spec.author,
                    link=None,
                )
            )
        return sorted(events, key=lambda e: (e.timestamp, e.artifact_id))
