"""How strongly evidence speaks: candidates, their reasons and weights, and strength scales.

A candidate's score is the sum of its reasons' weights; a weight is an evidence strength (0–1)
times how specific that evidence is to the mechanism. Reasons carry a `tag` for what they show
(`code`: the code itself failing), so no score depends on the wording of the text people read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from chronosops.analysis.observations import Change, LogFinding, Observations, Shift, SpanTotals

# Changes this close before the onset (minutes) are suspects; a little after counts too, since
# clocks drift and reported starts lag.
CHANGE_LOOKBACK_MINUTES = 45.0

CHANGE_GRACE_MINUTES = 5.0

AFFECTED = 0.3


# Reason tags.
CODE = (
    "code"  # the code itself seen failing (its own errors, a CPU regression with no more traffic)
)


@dataclass
class Reason:
    text: str
    refs: list[str] = field(default_factory=list)
    weight: float = 0.0
    tag: str = ""  # what the reason shows, for rules to read (never the text): "code" …


@dataclass
class Candidate:
    hypothesis_id: str
    culprit: str | None
    reasons: list[Reason] = field(default_factory=list)
    change: Change | None = None

    @property
    def score(self) -> float:
        return sum(reason.weight for reason in self.reasons)

    def add(self, weight: float, text: str, refs: Iterable[str] = (), *, tag: str = "") -> None:
        if weight > 0:
            self.reasons.append(
                Reason(text=text, refs=list(refs), weight=round(weight, 4), tag=tag)
            )

    def shows(self, tag: str) -> bool:
        return any(reason.tag == tag for reason in self.reasons)

    def discount(self, weight: float, text: str) -> None:
        """Evidence against: recorded with a negative weight (and no citations)."""
        if weight > 0:
            self.reasons.append(Reason(text=text, weight=-round(weight, 4)))

    @property
    def refs(self) -> list[str]:
        seen: list[str] = []
        for reason in sorted(self.reasons, key=lambda r: -r.weight):
            for ref in reason.refs:
                if ref not in seen:
                    seen.append(ref)
        return seen


@dataclass(frozen=True)
class Health:
    """How much a service itself got worse: error and latency strengths (0–1) with evidence."""

    errors: float
    latency: float
    refs: tuple[str, ...]
    quiet: bool  # stopped receiving traffic

    @property
    def strength(self) -> float:
        return max(self.errors, self.latency)


def log2_strength(factor: float, full_at: float = 4.0) -> float:
    if not math.isfinite(factor):
        return 1.0
    if factor <= 1:
        return 0.0
    return min(1.0, math.log2(factor) / math.log2(full_at))


def error_strength(shift: Shift | None) -> float:
    if shift is None:
        return 0.0
    if shift.counts:
        return _error_count_strength(shift)
    level = min(1.0, max(0.0, shift.delta) / 0.1) if shift.delta >= 0.01 and shift.z >= 4 else 0.0
    # Bursts (crash loops, failovers) barely move a median but are plain in the peak.
    burst = (
        0.6 * min(1.0, (shift.peak - shift.before) / 0.2)
        if shift.peak - shift.before >= 0.05
        else 0.0
    )
    return max(level, burst)


# A count of failures rising by half again is a change; fourfold is decisive, as for latency.
ERROR_COUNT_MIN_FACTOR = 1.5
# A burst of failures: the peak at three times the baseline and three floors above it.
ERROR_COUNT_BURST_FACTOR = 3.0


def _error_count_strength(shift: Shift) -> float:
    """A count of failures read by how many times it multiplied, as latency is: a share's
    points (a rise of 0.01, full at 0.1) mean nothing for 0.36 -> 0.37 errors a second."""
    floor = max(shift.floor, 1e-9)
    level = (
        log2_strength(shift.factor)
        if shift.factor >= ERROR_COUNT_MIN_FACTOR and shift.delta >= floor and shift.z >= 4
        else 0.0
    )
    rise = shift.peak - shift.before
    burst_factor = shift.peak / shift.before if shift.before > 0 else math.inf
    burst = (
        0.6 * log2_strength(burst_factor, full_at=8.0)
        if burst_factor >= ERROR_COUNT_BURST_FACTOR and rise >= 3 * floor
        else 0.0
    )
    return max(level, burst)


def latency_strength(shift: Shift | None) -> float:
    if shift is None or shift.z < 4:
        return 0.0
    return log2_strength(shift.factor) if shift.factor >= 1.3 else 0.0


def span_error_strength(spans: SpanTotals | None) -> float:
    if spans is None or spans.inc_count < 5:
        return 0.0
    rise = spans.error_rise
    return min(1.0, rise / 0.1) if rise >= 0.02 else 0.0


def span_latency_strength(spans: SpanTotals | None) -> float:
    if spans is None or spans.inc_count < 5 or spans.base_p95 <= 0:
        return 0.0
    factor = spans.latency_factor
    return log2_strength(factor) if factor >= 1.5 and spans.latency_added_ms >= 20 else 0.0


def log_strength(findings: Iterable[LogFinding]) -> tuple[float, list[str]]:
    """Error or warning logs that appeared or burst at the onset."""
    best, refs = 0.0, []
    for finding in findings:
        if not (finding.is_error or finding.warnings) or not finding.grew:
            continue
        volume = finding.errors + 0.3 * finding.warnings
        strength = min(1.0, 0.3 + 0.12 * math.log2(1 + volume))
        if not finding.is_error:
            strength = min(strength, 0.5)  # warnings alone (a breaker opening) say less
        refs.append(finding.artifact_id)
        best = max(best, strength)
    return best, refs


def recent_changes(obs: Observations, service: str, types: tuple[str, ...]) -> list[Change]:
    found = [
        change
        for change in obs.changes
        if change.service == service
        and change.change_type in types
        and -CHANGE_GRACE_MINUTES <= change.lead_minutes(obs.onset) <= CHANGE_LOOKBACK_MINUTES
    ]
    return sorted(found, key=lambda c: abs(c.lead_minutes(obs.onset)))


def change_weight(change: Change, onset: object) -> float:
    """Closer to the onset, more suspicious: 1.0 right before it, 0.4 at the edge of the lookback."""
    lead = change.lead_minutes(onset)  # type: ignore[arg-type]
    if lead < 0:
        return 0.7
    return 1.0 - 0.6 * min(lead, CHANGE_LOOKBACK_MINUTES) / CHANGE_LOOKBACK_MINUTES


def merged_refs(*groups: Iterable[str]) -> list[str]:
    found: list[str] = []
    for group in groups:
        for ref in group:
            if ref not in found:
                found.append(ref)
    return found


def logs_with(
    obs: Observations, service: str, category: str, *, own: bool = True
) -> list[LogFinding]:
    return [
        f
        for f in obs.logs_of(service)
        if category in f.categories
        and f.grew
        and (f.is_error or f.warnings)
        and (not own or not f.mentions)
    ]


def logs_present(
    obs: Observations, service: str, category: str, *, warnings: bool = False
) -> list[LogFinding]:
    """Own lines of a kind that is abnormal whenever it appears (OOM kills, leaks, x509 …)."""
    return [
        f
        for f in obs.logs_of(service)
        if category in f.categories and (f.is_error or (warnings and f.warnings)) and not f.mentions
    ]
