"""Signal detection: what each kind of evidence shows about the incident.

Each detector reads typed artifacts and returns `Signal`s with a strength in 0–1. Detectors
never decide the cause; `scoring` weighs their signals for each hypothesis.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from chronosops.analysis.models import IncidentContext, Signal
from chronosops.analysis.statistics import median, ratio, robust_z
from chronosops.core.artifacts import (
    ERROR_LEVELS,
    Artifact,
    ChangeEvent,
    LogTemplate,
    MetricSeries,
    SpanGroup,
)
from chronosops.core.timestamps import format_instant

# Metric families, recognised by name. Order matters: the first family that matches wins, so
# "error_latency" counts as latency and "cache_miss_ratio" as cache, not as errors.
METRIC_FAMILIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("cache", re.compile(r"cache.*(hit|miss)|hit_?ratio|(hit|miss)_?rate")),
    ("latency", re.compile(r"latenc|duration|response_?time|p9[059]|p50|elapsed|_ms$|seconds")),
    ("errors", re.compile(r"error|5xx|fail|exception|fault|status_5")),
    ("restarts", re.compile(r"restart|oom|crash")),
    (
        "saturation",
        re.compile(
            r"cpu|memory|mem_|heap|pool|connection|thread|queue|saturat|utili[sz]|load|disk|fd"
        ),
    ),
    ("traffic", re.compile(r"rps|qps|request|throughput|traffic|rate$")),
)

# Log signatures, matched on the template and on example messages (lower-cased).
LOG_CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "pool_exhausted",
        re.compile(
            r"pool (is )?exhaust|exhausted.*pool|too many connections|remaining connection slots|could not (obtain|acquire) (a )?connection|connection pool.*(timeout|full|exhaust)"
        ),
    ),
    (
        "oom",
        re.compile(
            r"out of memory|outofmemory|\boom\b|oomkill|killed process|memory limit|heap space|cannot allocate memory"
        ),
    ),
    (
        "dns",
        re.compile(
            r"nxdomain|servfail|no such host|name resolution|could not resolve|getaddrinfo|\bdns\b|unknown host"
        ),
    ),
    ("tls", re.compile(r"certificate|x509|\btls\b|\bssl\b|handshake")),
    (
        "auth",
        re.compile(
            r"\b401\b|\b403\b|unauthori[sz]ed|forbidden|invalid token|token (is )?expired|authentication fail|auth fail|invalid credentials|\bjwt\b|\boidc\b|permission denied"
        ),
    ),
    ("rate_limited", re.compile(r"\b429\b|too many requests|rate.?limit|throttl|quota exceeded")),
    (
        "cache_miss",
        re.compile(
            r"cache miss|cache_miss|missed cache|cache (evict|invalidat|flush|stampede)|cold cache"
        ),
    ),
    (
        "db",
        re.compile(
            r"slow query|deadlock|lock wait|query took|\bsql\b|database|\bdb\b|seq scan|full table scan|statement timeout"
        ),
    ),
    (
        "config",
        re.compile(
            r"\bconfig|configuration|invalid (value|setting|option)|missing (env|environment|variable|key|setting)|feature flag"
        ),
    ),
    (
        "code_bug",
        re.compile(
            r"exception|traceback|null ?pointer|typeerror|attributeerror|keyerror|panic|segfault|is not a function|undefined is not|stack ?trace|index out of range|nil pointer"
        ),
    ),
    (
        "upstream_5xx",
        re.compile(r"\b50[234]\b|bad gateway|service unavailable|gateway timeout|upstream"),
    ),
    ("circuit_open", re.compile(r"circuit (breaker )?(is )?open")),
    (
        "connection_refused",
        re.compile(
            r"connection refused|econnrefused|connection reset|econnreset|broken pipe|no route to host|unreachable"
        ),
    ),
    ("timeout", re.compile(r"timed? ?out|timeout|deadline exceeded")),
)

RISING_KINDS = {
    "latency": "latency_up",
    "errors": "errors_up",
    "saturation": "saturation_up",
    "traffic": "traffic_up",
    "restarts": "restarts_up",
}

CHANGE_LOOKBACK = timedelta(minutes=60)
CHANGE_GRACE_AFTER_ONSET = timedelta(minutes=5)
# A template first seen no earlier than this before the onset counts as new with the incident.
NEW_TEMPLATE_SLACK = timedelta(minutes=1)


def metric_family(name: str) -> str | None:
    lowered = name.lower()
    for family, pattern in METRIC_FAMILIES:
        if pattern.search(lowered):
            return family
    return None


def log_categories(template: LogTemplate) -> list[str]:
    texts = [template.template] + [example.message.lower() for example in template.examples]
    found: list[str] = []
    for category, pattern in LOG_CATEGORIES:
        if any(pattern.search(text) for text in texts):
            found.append(category)
    return found


def _strength_from_factor(factor: float) -> float:
    """×1.5 → 0.29, ×2 → 0.5, ×4 → 1.0 (log scale, capped)."""
    if factor <= 1 or math.isnan(factor):
        return 0.0
    if math.isinf(factor):
        return 1.0
    return min(1.0, math.log2(factor) / 2)


@dataclass(frozen=True)
class Shift:
    """A metric's move from baseline to incident window."""

    before: float
    after: float
    factor: float
    z: float
    changed_at: datetime | None


def metric_shift(series: MetricSeries, onset: datetime) -> Shift | None:
    """Median before vs after the onset; None without points on both sides."""
    before = [p.value for p in series.points if p.ts < onset]
    after_points = [p for p in series.points if p.ts >= onset]
    if not before or not after_points:
        return None
    after = [p.value for p in after_points]
    before_median, after_median = median(before), median(after)
    z = robust_z(after_median, before) if len(before) >= 3 else 0.0
    threshold = before_median + max(abs(before_median) * 0.2, 1e-9)
    changed_at = next((p.ts for p in after_points if p.value > threshold), None)
    return Shift(
        before=before_median,
        after=after_median,
        factor=ratio(after_median, before_median),
        z=z,
        changed_at=changed_at,
    )


def _fmt_factor(factor: float) -> str:
    return "from zero" if math.isinf(factor) else f"{factor:.1f}×"


def metric_signals(series_list: Iterable[MetricSeries], context: IncidentContext) -> list[Signal]:
    signals: list[Signal] = []
    for series in series_list:
        family = metric_family(series.name)
        if family is None:
            continue
        shift = metric_shift(series, context.onset)
        if shift is None:
            continue
        service = series.service or context.service
        up = shift.factor > 1.0 and (shift.z >= 3 or shift.z == 0.0)
        down = shift.factor < 1.0 and (shift.z <= -3 or shift.z == 0.0)
        if family == "traffic" and down and shift.factor <= 0.5:
            strength = min(1.0, (1 - shift.factor))
            kind = "traffic_down"
        elif family == "cache" and (down or up):
            # A falling hit ratio and a rising miss count both mean "the cache stopped helping".
            is_miss = "miss" in series.name.lower()
            moved = (up and is_miss) or (down and not is_miss)
            if not moved:
                continue
            factor = shift.factor if is_miss else ratio(shift.before, shift.after)
            strength = max(_strength_from_factor(factor), 0.4)
            kind = "cache_degraded"
        elif up:
            strength = _strength_from_factor(shift.factor)
            rising = RISING_KINDS.get(family)
            if rising is None:
                continue
            kind = rising
            if family == "errors" and shift.before < 0.001 and shift.after >= 0.01:
                strength = max(strength, 0.6)
        else:
            continue
        if strength < 0.15:
            continue
        signals.append(
            Signal(
                kind=kind,
                description=(
                    f"{series.name} on {service or 'the service'} moved {_fmt_factor(shift.factor)} "
                    f"({shift.before:g} → {shift.after:g})"
                ),
                strength=round(strength, 4),
                service=service,
                at=shift.changed_at,
                factor=None if math.isinf(shift.factor) else round(shift.factor, 4),
                evidence_refs=[series.artifact_id],
            )
        )
    return signals


def log_signals(templates: Iterable[LogTemplate], context: IncidentContext) -> list[Signal]:
    signals: list[Signal] = []
    for template in templates:
        errors = sum(n for level, n in template.levels.items() if level in ERROR_LEVELS)
        warnings = template.levels.get("WARN", 0)
        is_new = template.first_seen >= context.onset - NEW_TEMPLATE_SLACK
        categories = log_categories(template)
        if not categories and errors == 0:
            continue
        weight = errors + 0.3 * warnings + 0.1 * (template.count - errors - warnings)
        base = min(1.0, 0.35 + 0.15 * math.log2(1 + weight))
        if is_new:
            base = min(1.0, base + 0.1)
        service = template.services[0] if template.services else context.service
        for category in categories or ["error_logs"]:
            signals.append(
                Signal(
                    kind=f"log_{category}",
                    description=(
                        f"{'new ' if is_new else ''}log template '{template.template[:120]}' "
                        f"×{template.count} ({errors} errors)"
                    ),
                    strength=round(base, 4),
                    service=service,
                    at=template.first_seen,
                    evidence_refs=[template.artifact_id],
                )
            )
        if is_new and errors > 0:
            signals.append(
                Signal(
                    kind="new_error_signature",
                    description=f"error template first seen at {format_instant(template.first_seen)}",
                    strength=round(min(1.0, base), 4),
                    service=service,
                    at=template.first_seen,
                    evidence_refs=[template.artifact_id],
                )
            )
    return signals


SLOW_SPAN_MS = 1000.0


def span_signals(groups: Sequence[SpanGroup], context: IncidentContext) -> list[Signal]:
    signals: list[Signal] = []
    for group in groups:
        if group.error_count:
            share = group.error_count / max(group.count, 1)
            signals.append(
                Signal(
                    kind="span_errors",
                    description=(
                        f"{group.service} {group.operation}: {group.error_count}/{group.count} spans failed"
                    ),
                    strength=round(min(1.0, 0.3 + share), 4),
                    service=group.service,
                    at=group.first_seen,
                    evidence_refs=[group.artifact_id],
                )
            )
        if group.p95_ms is not None and group.p95_ms >= SLOW_SPAN_MS:
            signals.append(
                Signal(
                    kind="span_slow",
                    description=f"{group.service} {group.operation}: p95 {group.p95_ms:.0f} ms",
                    strength=round(min(1.0, group.p95_ms / (4 * SLOW_SPAN_MS)), 4),
                    service=group.service,
                    at=group.first_seen,
                    evidence_refs=[group.artifact_id],
                )
            )
    return signals


def change_signals(changes: Iterable[ChangeEvent], context: IncidentContext) -> list[Signal]:
    signals: list[Signal] = []
    for change in changes:
        lead = context.onset - change.timestamp
        if lead > CHANGE_LOOKBACK or lead < -CHANGE_GRACE_AFTER_ONSET:
            continue
        # Closer to the onset is more suspicious; a change in the grace period after the onset
        # (clocks drift, alerts lag) still counts, a little less.
        proximity = 1 - max(lead, timedelta(0)) / CHANGE_LOOKBACK
        strength = 0.4 + 0.6 * proximity if lead >= timedelta(0) else 0.5
        kind = {
            "deploy": "recent_deploy",
            "rollback": "recent_deploy",
            "config": "config_changed",
            "feature_flag": "config_changed",
            "infrastructure": "infra_changed",
        }[change.change_type]
        minutes = lead.total_seconds() / 60
        when = (
            f"{minutes:.0f} min before the onset"
            if minutes >= 0
            else f"{-minutes:.0f} min after the onset"
        )
        versions = (
            f" {change.version_from or '?'} → {change.version_to}" if change.version_to else ""
        )
        signals.append(
            Signal(
                kind=kind,
                description=f"{change.change_type}{versions} on {change.service or 'unknown service'}, {when}",
                strength=round(strength, 4),
                service=change.service,
                at=change.timestamp,
                evidence_refs=[change.artifact_id],
            )
        )
    return signals


def detect(artifacts: Sequence[Artifact], context: IncidentContext) -> list[Signal]:
    """All signals, strongest first (ties broken by kind and evidence for determinism)."""
    series = [a for a in artifacts if isinstance(a, MetricSeries)]
    templates = [a for a in artifacts if isinstance(a, LogTemplate)]
    spans = [a for a in artifacts if isinstance(a, SpanGroup)]
    changes = [a for a in artifacts if isinstance(a, ChangeEvent)]
    found = (
        metric_signals(series, context)
        + log_signals(templates, context)
        + span_signals(spans, context)
        + change_signals(changes, context)
    )
    return sorted(found, key=lambda s: (-s.strength, s.kind, s.evidence_refs))
