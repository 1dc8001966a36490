"""Which services changed most at the onset, whatever their metrics are called.

A ranking of every service by how far its own signals moved, BARO-style (median and MAD of
the baseline, the median after the onset, per-kind unit floors so a zero or flat baseline
never reads as infinitely far off), with the lessons of the RCA literature:

- direction-aware: latency, errors, CPU up; availability down; traffic either way, weakly;
- support: a latency series of a near-idle service (well under a request a second) says
  little, so it is weighed by its traffic; fewer than four baseline points say nothing;
- edge metrics (labelled with a peer) belong to the callee as much as the caller;
- logs: error lines in excess of the baseline and templates that vanished, per service,
  normalised by the total volume (sampling changes the volume, not the mix);
- callee over caller: where a call graph is known (edges from span peers, edge metrics,
  topology events), an anomalous service whose callee is as anomalous steps aside for it;
- a call measured from both ends is read on the gap between them, minute by minute, and a
  service's calls per direction (a slow network slows the calls through it one way at least);
- code faults without logs: calls each request made that stopped while the requests kept
  coming, and operations cut to a fraction of their time, are the service's own code path.

The ranking names a culprit and a cause family when the rules that read specific mechanisms
(`hypotheses`) have nothing decisive; it is also what the culprits after the first come from.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chronosops.analysis.code_paths import StoppedPath, stopped_paths
from chronosops.analysis.models import IncidentContext
from chronosops.analysis.quantiles import is_median
from chronosops.analysis.signals import (
    DEFAULT_TABLE,
    KIND_DIRECTION,
    SOURCE_LABELS,
    SignalTable,
    peer_of,
    unit_floor,
)
from chronosops.analysis.statistics import MAD_SCALE, mad, median
from chronosops.core.artifacts import (
    ERROR_LEVELS,
    Artifact,
    LogTemplate,
    MetricSeries,
    OtherEvent,
    SpanBucket,
    SpanGroup,
)

MIN_BASELINE = 4
MIN_WEAK_BASELINE = 2  # two or three points: a relative change, weighed down
WEAK_SUPPORT = 0.7
# Requests per second under which a service's latency percentiles are mostly noise.
LOW_TRAFFIC_RPS = 0.5
# How much each kind of evidence says about the service it is on (relative weights).
KIND_WEIGHT: dict[str, float] = {
    "cpu": 1.0,
    "memory": 0.6,
    "latency": 0.8,
    "edge_latency": 0.9,
    "span_latency": 0.8,
    "error_ratio": 1.0,
    "errors": 0.8,
    "availability": 1.0,
    "saturation": 0.7,
    "restarts": 1.0,
    "gc": 0.5,
    "circuit_open": 0.7,
    "network": 0.25,
    "traffic": 0.2,
    "cache_hit": 0.6,
    "log_errors": 0.9,
    "log_vanished": 0.5,
    "log_new_errors": 1.0,
    "calls_vanished": 1.0,
    # A statement that followed another in the same spans stopped part-way through the window
    # while the other went on (`code_paths.stopped_paths`): like a call every request made that
    # stopped, the service's own code took another path.
    "statement_stopped": 1.0,
    "span_cut_short": 0.9,
    "log_errors_persistent": 0.6,
}
# Lines an error template needs after the onset, with none before it, to count as new (Nezha:
# a pattern needs support; one stray line is noise).
NEW_ERROR_SUPPORT = 2
# How far before the fault's start the logs must reach for a template to count as new rather
# than merely the first the window shows. Logs are read up to the fault's start, not to the
# metrics' baseline end a minute earlier: that guard gap keeps a slow metric's lag out of its
# baseline, and asking logs to reach past it dropped this reading from bundles whose logs begin
# 50–59 s before the fault (6 of 21 tuned Nezha TrainTicket cases; any value from 0 to 45 s
# gives the same results there).
NEW_ERROR_BASELINE = timedelta(seconds=30)

_VOLATILE = re.compile(
    r"\b[0-9a-f]{6,}\b|\b\S*\d\S*\b|\[[^\]]*[:=][^\]]*\]|\"[^\"]*\"|'[^']*'", re.IGNORECASE
)


@dataclass
class Suspect:
    service: str
    kinds: dict[str, float] = field(default_factory=dict)  # kind → strength 0–1
    # How much anomaly of its callers its own anomaly explains (CIRCA: a caller's latency and
    # errors follow from its callee's), summed over anomalous callers.
    explains: float = 0.0
    # Its spans measure its own time and it did not get slower (see `_read_against_load`).
    own_time_calm: bool = False
    # Its typical call (a median latency of its own) is as fast as before while its tail moved:
    # some of its requests take a slower path, not all of them queueing (see `_median_calm`).
    median_calm: bool = False
    refs: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def note(self, kind: str, strength: float, ref: str) -> None:
        if strength <= 0:
            return
        if strength > self.kinds.get(kind, 0.0):
            self.kinds[kind] = strength
            self.refs[kind].insert(0, ref)
        elif ref not in self.refs[kind]:
            self.refs[kind].append(ref)

    @property
    def score(self) -> float:
        """The strongest kind, plus a little for every other one that agrees."""
        weighted = sorted(
            (KIND_WEIGHT.get(k, 0.5) * s for k, s in self.kinds.items()), reverse=True
        )
        if not weighted:
            return 0.0
        return weighted[0] + 0.25 * sum(weighted[1:3])

    def leading_kind(self) -> str | None:
        if not self.kinds:
            return None
        return max(self.kinds, key=lambda k: (KIND_WEIGHT.get(k, 0.5) * self.kinds[k], k))

    def citations(self, limit: int = 6) -> list[str]:
        found: list[str] = []
        for kind in sorted(self.kinds, key=lambda k: -self.kinds[k]):
            for ref in self.refs.get(kind, []):
                if ref not in found:
                    found.append(ref)
        return found[:limit]


def strength_of(z: float) -> float:
    """Robust z to 0–1: 3 spreads is a hint (0.29), 30 spreads is certain."""
    if z <= 0:
        return 0.0
    return min(1.0, math.log1p(z / 3) / math.log1p(10))


def deviation(
    baseline: Sequence[float], after: Sequence[float], *, floor: float, relative: float
) -> float:
    """(median after − median before) / max(1.4826·MAD, relative·|median|, floor)."""
    centre = median(baseline)
    scale = max(MAD_SCALE * mad(baseline), relative * abs(centre), floor)
    return (median(after) - centre) / scale


@dataclass(frozen=True)
class Cut:
    """Baseline ends a guard gap before the reported start; the fault is read from a minute
    before it on (alerts lag the fault they report)."""

    baseline_end: datetime
    fault_start: datetime

    @classmethod
    def around(cls, onset: datetime) -> Cut:
        return cls(
            baseline_end=onset - timedelta(minutes=2), fault_start=onset - timedelta(minutes=1)
        )

    def sides(self, series: MetricSeries) -> tuple[list[float], list[float]]:
        """The series' values before the baseline's end and from the fault's start; the guard
        gap between them belongs to neither (its points may hold the fault or not)."""
        before = [p.value for p in series.points if p.ts < self.baseline_end]
        after = [p.value for p in series.points if p.ts >= self.fault_start]
        return before, after


def _own_sides(
    series: Sequence[MetricSeries], table: SignalTable, cut: Cut, kind: str
) -> Iterator[tuple[str, MetricSeries, list[float], list[float]]]:
    """A service's own series of one signal kind (not a call edge's, which a peer label marks),
    by service, with both sides of the cut, where both have the support a robust reading
    needs."""
    for item in series:
        if item.service is None or peer_of(item.labels):
            continue
        if table.kind_of(item.name, item.labels) != kind:
            continue
        before, after = cut.sides(item)
        if len(before) >= MIN_BASELINE and len(after) >= 2:
            yield item.service, item, before, after


def _series_evidence(
    series: MetricSeries, table: SignalTable, cut: Cut
) -> tuple[str, float, float] | None:
    """(kind, signed deviation, weight) of one series, or None.

    Four baseline points or more: the robust deviation. Two or three (a window cut short by
    the previous incident): a relative change against a wider floor, weighed down (weak
    support). Fewer: nothing.
    """
    kind = table.kind_of(series.name, series.labels)
    if kind is None:
        return None
    before, after = cut.sides(series)
    if len(before) < MIN_WEAK_BASELINE or len(after) < 2:
        return None
    relative = 0.2 if kind == "latency" else 0.05
    floor = unit_floor(series.name, kind, series.unit)
    if kind == "memory":
        # A container's footprint is flat between collections: a step of a point from a flat
        # baseline is the process changing (new code running, a leak), not noise.
        relative, floor = FOOTPRINT_RELATIVE, FOOTPRINT_FLOOR * floor
    before = latest_regime(before, floor=floor, relative=relative)
    weight = 1.0
    if len(before) < MIN_BASELINE:
        relative, floor, weight = max(relative, 0.25), 2 * floor, WEAK_SUPPORT
    z = deviation(before, after, floor=floor, relative=relative)
    return kind, z, weight


# Memory is read against a fiftieth of its level and a tenth of the kind's unit floor.
FOOTPRINT_RELATIVE = 0.02
FOOTPRINT_FLOOR = 0.1


# How many of the later stretch's spreads an earlier stretch of the baseline must sit away to be
# another regime (an earlier fault, its recovery), and the points each side needs.
REGIME_SHIFT = 5.0
REGIME_MIN_HEAD = 2


def latest_regime(before: list[float], *, floor: float, relative: float) -> list[float]:
    """The baseline since its own last level shift: a window reaching back into an earlier
    fault (or its recovery) compares the incident with that fault, and its spread drowns the
    incident. Split where the earlier part's median sits furthest from the later part's, in
    the later part's spreads; at REGIME_SHIFT or more, only the later part is the baseline
    (it keeps MIN_BASELINE points at least)."""
    if len(before) < MIN_BASELINE + REGIME_MIN_HEAD:
        return before
    best, split = 0.0, 0
    for k in range(REGIME_MIN_HEAD, len(before) - MIN_BASELINE + 1):
        tail = before[k:]
        centre = median(tail)
        scale = max(MAD_SCALE * mad(tail), relative * abs(centre), floor)
        shift = abs(median(before[:k]) - centre) / scale
        if shift > best:
            best, split = shift, k
    return before[split:] if best >= REGIME_SHIFT else before


def _directional(kind: str, z: float) -> float:
    direction = KIND_DIRECTION.get(kind, "up")
    if direction == "up":
        return max(0.0, z)
    if direction == "down":
        return max(0.0, -z)
    return abs(z)


def _traffic_of(
    series: Sequence[MetricSeries], spans: Sequence[SpanGroup], table: SignalTable, cut: Cut
) -> dict[str, float]:
    """Baseline requests per second per service: from a rate series, else from its spans."""
    found: dict[str, float] = {}
    for item in series:
        if (
            item.service is None
            or table.kind_of(item.name, item.labels) != "traffic"
            or peer_of(item.labels)
        ):
            continue
        before = [p.value for p in item.points if p.ts < cut.baseline_end]
        if before and ("per_second" in item.name or "rps" in item.name.lower()):
            found[item.service] = max(found.get(item.service, 0.0), median(before))
    counted: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # spans, minutes
    for group in spans:
        if group.peer_service or group.service in found:
            continue
        buckets = [b for b in group.histogram if b.ts < cut.fault_start]
        counted[group.service][0] += sum(b.count for b in buckets)
        counted[group.service][1] = max(counted[group.service][1], float(len(buckets)))
    for service, (count, minutes) in counted.items():
        if minutes:
            found[service] = count / (60 * minutes)  # sampled spans: a lower bound
    return found


def support(service: str, traffic: dict[str, float]) -> float:
    """How far a service's percentiles can be trusted (0.2–1): a near-idle one's swing on a
    handful of calls. A service with no traffic figure, where others have one, counts as idle."""
    if not traffic:
        return 1.0
    rate = traffic.get(service, 0.0)
    return max(0.2, min(1.0, math.sqrt(rate / LOW_TRAFFIC_RPS)))


def log_key(template: str) -> str:
    """A coarser template: ids, numbers and bracketed or quoted values masked away."""
    return _VOLATILE.sub("<v>", template.lower())[:160]


def _log_evidence(templates: Sequence[LogTemplate], cut: Cut, suspects: dict[str, Suspect]) -> None:
    groups: dict[tuple[str, str, bool], list[float]] = defaultdict(lambda: [0.0, 0.0])
    refs: dict[tuple[str, str, bool], list[str]] = defaultdict(list)
    total = [0.0, 0.0]
    half = timedelta(seconds=30)
    for template in templates:
        error = template.error_count * 2 >= template.count or any(
            level in ("WARN", "WARNING") for level in template.levels
        )
        for service in template.services or []:
            key = (service, log_key(template.template), error)
            refs[key].append(template.artifact_id)
            for point in template.histogram:
                side = 0 if point.ts + half < cut.fault_start else 1
                groups[key][side] += point.value
                total[side] += point.value
    if total[0] <= 0 or total[1] <= 0:
        return
    scale = total[1] / total[0]
    excess: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # extra errors, expected
    vanished: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # missing, expected
    for (service, _, error), (before, after) in groups.items():
        expected = before * scale
        if error:
            excess[service][0] += max(0.0, after - expected)
            excess[service][1] += expected
        elif expected >= 4 and after == 0:
            vanished[service][0] += expected
        if not error:
            vanished[service][1] += expected
    for service, (extra, expected) in excess.items():
        z = extra / math.sqrt(expected + 1.0)
        if extra >= 3:
            key_refs = [r for (s, _, e), rs in refs.items() if s == service and e for r in rs]
            suspects.setdefault(service, Suspect(service)).note(
                "log_errors", strength_of(z), key_refs[0] if key_refs else f"logs:{service}"
            )
    for service, (missing, expected) in vanished.items():
        z = missing / math.sqrt(max(expected - missing, 0.0) + 1.0)
        if missing >= 4:
            key_refs = [r for (s, _, e), rs in refs.items() if s == service and not e for r in rs]
            suspects.setdefault(service, Suspect(service)).note(
                "log_vanished", strength_of(z), key_refs[0] if key_refs else f"logs:{service}"
            )


def first_error_seen(template: LogTemplate) -> datetime:
    """When the template first logged at an error level. Its examples keep the error lines
    first, in time order; a template without error examples falls back to its first line."""
    return min(
        (e.ts for e in template.examples if e.level in ERROR_LEVELS), default=template.first_seen
    )


# How many lines, at the rate an error template has logged since its first, its silence before
# that must have held for the silence to be telling: P(none) = exp(-expected) <= 0.01. On the
# tuned Nezha TrainTicket cases any value from 3 to 6 gives the same rows (2 names wrong
# services: chronic errors of two or three lines that happen to begin in the gap; 10 loses one).
GUARD_SILENCE_EXPECTED = -math.log(0.01)


def _began_in_guard_gap(
    template: LogTemplate, first: datetime, earliest: datetime, latest: datetime, cut: Cut
) -> bool:
    """An error template that began in the guard gap (between the baseline's end and the fault's
    start, where the fault may already be: code faults act before the moment they are reported
    or labelled), after a stretch of logs it was silent in that its own rate since makes
    telling, and that still logs after the fault's start. A change point read from the template
    itself, not from the cut: a template that merely shows its first lines early, or a blip that
    stopped before the fault, stays out."""
    if first < cut.baseline_end or template.last_seen < cut.fault_start:
        return False
    since = (latest - first).total_seconds()
    silence = (first - earliest).total_seconds()
    if since <= 0:
        return False
    return template.error_count / since * silence >= GUARD_SILENCE_EXPECTED


def _new_error_templates(
    templates: Sequence[LogTemplate], cut: Cut, suspects: dict[str, Suspect]
) -> None:
    """Error-level templates a service never logged before the fault and logs after it (Nezha's
    new patterns): a code path that started failing. Only when the logs reach at least
    ``NEW_ERROR_BASELINE`` before the fault's start, so a template is new rather than merely the
    first the window shows; warnings stay out (business warnings come and go with the traffic
    mix). Newness is read at the error level: a statement logged at a lower level before and at
    error level after (a code path now treated as failing) is new as an error. A template that
    began in the guard gap counts when its silence before is telling (``_began_in_guard_gap``)."""
    if not templates or min(t.first_seen for t in templates) > cut.fault_start - NEW_ERROR_BASELINE:
        return
    known = {service.lower() for t in templates for service in t.services or []}
    earliest = min(t.first_seen for t in templates)
    latest = max(t.last_seen for t in templates)
    found: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # lines, templates
    refs: dict[str, list[str]] = defaultdict(list)
    for template in templates:
        errors = template.error_count
        if errors < NEW_ERROR_SUPPORT:
            continue
        first = first_error_seen(template)
        if first < cut.fault_start and not _began_in_guard_gap(
            template, first, earliest, latest, cut
        ):
            continue
        # Drain masks a name that varies ("no instances available for <*>"): the examples
        # keep it.
        text = " ".join([template.template, *(e.message for e in template.examples)]).lower()
        for service in template.services or []:
            if any(peer in text for peer in known if peer != service.lower()):
                # "no instances available for ts-basic-service": a call that failed on a
                # peer is the peer's trouble as much as this service's, not its own code path.
                continue
            found[service][0] += errors
            found[service][1] += 1
            refs[service].append(template.artifact_id)
    for service, (lines, count) in found.items():
        # Distinct new failures say more than one failure repeated.
        z = 3.0 * lines * math.sqrt(count)
        suspect = suspects.setdefault(service, Suspect(service))
        for ref in refs[service]:
            suspect.note("log_new_errors", strength_of(z), ref)


# A service's own errors on both sides of the fault, at least this many lines a side, and at
# least this share of the bundle's own error lines (lines naming another service left out).
PERSISTENT_ERROR_LINES = 2
PERSISTENT_ERROR_SHARE = 0.5
# Its rate after the fault between these multiples of its rate before (scaled by the bundle's
# other lines): below, an earlier failure fading; above, a change the readings of change see.
# On the tuned Nezha TrainTicket cases a ceiling of 3 to 10 gives the same rows (2 loses one).
PERSISTENT_HOLD = 0.5
PERSISTENT_SURGE = 4.0


def _persistent_errors(
    templates: Sequence[LogTemplate], cut: Cut, suspects: dict[str, Suspect]
) -> None:
    """A service that logs its own errors before the fault and after it, and logs most of the
    errors there are: a failure already under way when the window opens (a bad release or a
    broken input minutes earlier, an earlier fault at the same service still in force) shows as
    a state, not a change, so the readings of change above cannot see it. A lead, not a proof:
    business errors ("not found", a rejected request) look the same, so it weighs less than
    errors that rose, and it never fires where the baseline is clean."""
    known = {service.lower() for t in templates for service in t.services or []}
    half = timedelta(seconds=30)
    own: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    refs: dict[str, list[str]] = defaultdict(list)
    volume = [0.0, 0.0]
    for template in templates:
        if template.error_count * 2 < template.count:
            # The bundle's other lines measure its volume (a flood of errors would not).
            for point in template.histogram:
                volume[0 if point.ts + half < cut.fault_start else 1] += point.value
            continue
        # Drain masks a name that varies ("no instances available for <*>"): the examples
        # keep it.
        text = " ".join([template.template, *(e.message for e in template.examples)]).lower()
        for service in template.services or []:
            if any(peer in text for peer in known if peer != service.lower()):
                continue  # a call that failed on a peer, not this service's own failure
            for point in template.histogram:
                own[service][0 if point.ts + half < cut.fault_start else 1] += point.value
            refs[service].append(template.artifact_id)
    if volume[0] <= 0 or volume[1] <= 0:
        return
    scale = volume[1] / volume[0]  # sampling changes the volume, not the mix
    total = sum(before + after for before, after in own.values())
    for service, (before, after) in own.items():
        share = (before + after) / total if total else 0.0
        if min(before, after) < PERSISTENT_ERROR_LINES or share < PERSISTENT_ERROR_SHARE:
            continue
        if after < PERSISTENT_HOLD * before * scale:
            continue  # fading: an earlier failure ending, not one in force
        if after > PERSISTENT_SURGE * before * scale:
            continue  # surging: a change, read by the readings of change
        suspect = suspects.setdefault(service, Suspect(service))
        for ref in refs[service]:
            suspect.note("log_errors_persistent", share, ref)


# --- Saturation read against load (engine 3.6) ----------------------------------------------
# A service is saturated when its CPU rises beyond what its own request rate explains and its
# own time gets slower. CPU that rises in proportion to its requests is load; a latency
# percentile its own operations do not show is its callees' time or a tail of a few calls.

# Spans (on the thinner side, summed over its operations) a service's own time needs to speak.
CALM_OWN_SUPPORT = 10
# An operation's own time moved by less than this (in a quarter of its baseline or 1 ms) is
# unmoved.
CALM_OWN_Z = 1.0
# What is left of a service's latency percentiles when its own operations serve as fast as
# before: the percentile still says its callers waited, not that it is the cause.
UNSHOWN_LATENCY_SHARE = 0.5


def _read_against_load(
    series: Sequence[MetricSeries],
    spans: Sequence[SpanGroup],
    table: SignalTable,
    cut: Cut,
    suspects: dict[str, Suspect],
) -> None:
    """CPU strength becomes the CPU beyond the load the service's requests explain; latency
    percentiles of a service whose measured own time did not move count for less, and the
    service is marked so its family is not read as saturation from them."""
    for service, strength in cpu_beyond_load(series, table, cut).items():
        suspect = suspects.get(service)
        if suspect is not None and "cpu" in suspect.kinds:
            suspect.kinds["cpu"] = min(suspect.kinds["cpu"], strength)
    for service in own_time_calm(spans, cut):
        suspect = suspects.get(service)
        if suspect is None:
            continue
        suspect.own_time_calm = True
        if "latency" in suspect.kinds:
            suspect.kinds["latency"] *= UNSHOWN_LATENCY_SHARE


def own_time_calm(spans: Sequence[SpanGroup], cut: Cut) -> set[str]:
    """Services whose spans measure their own time (well-supported operations, parents known)
    and whose every such operation serves as fast as before the fault."""
    moves: dict[str, list[GroupMove]] = defaultdict(list)
    for group in spans:
        if group.peer_service:
            continue
        move = group_move(group, cut, own=True)
        if move is not None:
            moves[group.service].append(move)
    return {
        service
        for service, found in moves.items()
        if sum(m.support for m in found) >= CALM_OWN_SUPPORT
        and max(m.z() for m in found) < CALM_OWN_Z
    }


def cpu_beyond_load(
    series: Sequence[MetricSeries], table: SignalTable, cut: Cut
) -> dict[str, float]:
    """Per service whose request rate rose: the strength (0-1) of its CPU rise beyond the CPU
    its baseline spends per request would spend on the requests after the fault's start."""
    rates: dict[str, float] = {}
    for item in series:
        if (
            item.service is None
            or peer_of(item.labels)
            or table.kind_of(item.name, item.labels) != "traffic"
        ):
            continue
        before, after = cut.sides(item)
        if len(before) >= MIN_BASELINE and after and median(before) > 0:
            rates[item.service] = max(rates.get(item.service, 0.0), median(after) / median(before))
    found: dict[str, float] = {}
    for service, item, before, after in _own_sides(series, table, cut, "cpu"):
        ratio = rates.get(service)
        if ratio is None or ratio <= 1.0:
            continue
        centre = median(before)
        scale = max(
            MAD_SCALE * mad(before), 0.05 * abs(centre), unit_floor(item.name, "cpu", item.unit)
        )
        beyond = (median(after) - centre * ratio) / scale
        found[service] = max(found.get(service, 0.0), strength_of(beyond))
    return found


def client_spans(spans: Sequence[SpanGroup]) -> set[str]:
    """Span groups (by artifact id) that are a caller's client spans although nothing marks
    them so: operations that never had any own time (none, or none left after their calls)
    while another operation of the same service did. Where the traces give parents (sent, or
    inferred from time enclosure), a span wrapping calls to one other service only gets no own
    time (`core.call_graph`): its duration is the wait on that callee, network included, read
    on the caller→callee edge group. Counted as the caller's own operation, a slow callee reads
    as a slow caller, and a callee answering sooner as the caller's code path cut short."""
    timed: set[str] = set()  # services with an operation that took time of its own
    untimed: dict[str, list[str]] = defaultdict(list)
    for group in spans:
        if group.peer_service or not group.histogram:
            continue
        if any((bucket.own_p50_ms or 0.0) > 0 for bucket in group.histogram):
            timed.add(group.service)
        else:
            untimed[group.service].append(group.artifact_id)
    return {ref for service, refs in untimed.items() if service in timed for ref in refs}


def _span_evidence(spans: Sequence[SpanGroup], cut: Cut, suspects: dict[str, Suspect]) -> None:
    """Per service: the typical minute's p95 after the cut against before, and failures."""
    minutes: dict[str, dict[datetime, list[float]]] = defaultdict(lambda: defaultdict(list))
    errors: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    refs: dict[str, list[str]] = defaultdict(list)
    waits = client_spans(spans)
    for group in spans:
        if group.peer_service:
            continue
        refs[group.service].append(group.artifact_id)
        # A client span's time is what it waited on its callee: read on the call's edge.
        own = group.artifact_id not in waits
        for bucket in group.histogram:
            if own and bucket.p95_ms is not None and bucket.count >= 2:
                minutes[group.service][bucket.ts].append(bucket.p95_ms)
            side = 0 if bucket.ts < cut.baseline_end else 2 if bucket.ts >= cut.fault_start else -1
            if side >= 0:
                errors[group.service][side] += bucket.count
                errors[group.service][side + 1] += bucket.error_count
    for service, per_minute in minutes.items():
        before = [max(v) for ts, v in per_minute.items() if ts < cut.baseline_end]
        after = [max(v) for ts, v in per_minute.items() if ts >= cut.fault_start]
        if len(before) >= 2 and len(after) >= 1:
            z = deviation(before, after if len(after) > 1 else after * 2, floor=5.0, relative=0.2)
            suspects.setdefault(service, Suspect(service)).note(
                "span_latency", strength_of(z), refs[service][0]
            )
    _operation_latency(spans, cut, suspects)
    _operations_cut_short(spans, cut, suspects)
    _call_waits(spans, cut, suspects)
    _call_gaps(spans, cut, suspects)
    for service, (n0, e0, n1, e1) in errors.items():
        if n1 >= 5 and e1 / n1 - (e0 / n0 if n0 else 0.0) >= 0.02:
            # Wilson-style: a rise that could be two unlucky requests is not a rise.
            rise = e1 / n1 - (e0 / n0 if n0 else 0.0)
            spread = math.sqrt(max(rise * (1 - rise), 0.01) / n1)
            suspects.setdefault(service, Suspect(service)).note(
                "error_ratio", strength_of(rise / spread), refs[service][0]
            )


# Minute buckets a span group needs on each side of the fault's start to compare operations.
OPERATION_MIN_SPANS = 3
OPERATION_FLOOR_MS = 1.0
OPERATION_RELATIVE = 0.25
MINUTE = timedelta(minutes=1)
# One call more than a service takes part in divides its slowed calls: one slowed call of one is
# weaker evidence than three of three, and a leaf sharing the culprit's one call ties with it.
CALL_SHARE_PRIOR = 1.0


@dataclass(frozen=True)
class GroupMove:
    """A span group's typical minute (the minutes' median durations) before the fault's start
    and after it."""

    before_ms: float
    after_ms: float
    support: int  # spans on the thinner side

    @property
    def added_ms(self) -> float:
        return self.after_ms - self.before_ms

    def z(self, added_ms: float | None = None) -> float:
        added = self.added_ms if added_ms is None else added_ms
        return added / max(OPERATION_RELATIVE * self.before_ms, OPERATION_FLOOR_MS)

    @property
    def weight(self) -> float:
        return min(1.0, math.sqrt(self.support / 10))


def group_move(group: SpanGroup, cut: Cut, *, own: bool = False) -> GroupMove | None:
    """Whole minutes before the fault's start against the minutes from it on, with no guard gap:
    traces are often kept for only a minute or two either side of an alert. The minutes'
    medians: a typical call, not the tail one slow call makes in a minute."""
    before = [b for b in group.histogram if b.ts + MINUTE <= cut.fault_start and b.count]
    after = [b for b in group.histogram if b.ts >= cut.fault_start and b.count]
    n0, n1 = sum(b.count for b in before), sum(b.count for b in after)
    if n0 < OPERATION_MIN_SPANS or n1 < OPERATION_MIN_SPANS:
        return None
    if own:
        # Own time, where the spans' parents were known: what the operation's own code took.
        if any(b.own_p50_ms is None for b in before + after):
            return None
        return GroupMove(
            before_ms=median([b.own_p50_ms or 0.0 for b in before]),
            after_ms=median([b.own_p50_ms or 0.0 for b in after]),
            support=min(n0, n1),
        )
    return GroupMove(
        before_ms=median([b.p50_ms or b.p95_ms or 0.0 for b in before]),
        after_ms=median([b.p50_ms or b.p95_ms or 0.0 for b in after]),
        support=min(n0, n1),
    )


def _operation_latency(spans: Sequence[SpanGroup], cut: Cut, suspects: dict[str, Suspect]) -> None:
    """Per operation: its typical minute after the fault's start against before it, weighed by
    how many spans back it. An operation (not the service's mix of fast and slow ones) is
    compared with itself, where the per-service reading above finds no baseline. Time the
    service spent waiting longer on its own calls is taken off first (CIRCA: a caller's latency
    that its callees explain is not its own)."""
    waited: dict[str, float] = defaultdict(float)  # service → most time a call of it added
    for group in spans:
        if group.peer_service and group.peer_service != group.service:
            move = group_move(group, cut)
            if move is not None:
                waited[group.service] = max(waited[group.service], move.added_ms)
    for group in spans:
        if group.peer_service:
            continue
        own_move = group_move(group, cut, own=True)
        move = own_move or group_move(group, cut)
        if move is not None:
            # Own time where parents are known; else the duration less the most a call of the
            # service added.
            own = move.added_ms if own_move else move.added_ms - waited.get(group.service, 0.0)
            suspects.setdefault(group.service, Suspect(group.service)).note(
                "span_latency", move.weight * strength_of(move.z(own)), group.artifact_id
            )


# An operation that took this long at least before the fault can be cut short measurably; one
# that now takes this share of its time or less was.
CUT_SHORT_FLOOR_MS = 5.0
CUT_SHORT_SHARE = 0.25


def _operations_cut_short(
    spans: Sequence[SpanGroup], cut: Cut, suspects: dict[str, Suspect]
) -> None:
    """An operation whose typical call became many times shorter no longer does what it did:
    it returns or throws before the work and the calls it used to make (a wrong early return,
    an exception). Read on the service's own operations (not its client spans), as a ratio so a
    call four times shorter says as much as one four times longer (in the latency reading's
    spreads of a quarter of the baseline), weighed by the spans that back it. A caller that
    gives up after a failing call is cut short too; the callee cut short as well is deeper on
    the graph and stays ahead of it. A client span (`client_spans`) is not the service's own
    code: a call that became shorter is its callee answering sooner."""
    waits = client_spans(spans)
    for group in spans:
        if group.peer_service or group.artifact_id in waits:
            continue
        move = group_move(group, cut)
        if move is None or move.before_ms < CUT_SHORT_FLOOR_MS:
            continue
        if move.after_ms > CUT_SHORT_SHARE * move.before_ms:
            continue
        factor = move.before_ms / max(move.after_ms, OPERATION_FLOOR_MS / 10)
        z = (factor - 1) / OPERATION_RELATIVE
        suspects.setdefault(group.service, Suspect(group.service)).note(
            "span_cut_short", move.weight * strength_of(z), group.artifact_id
        )


def _call_waits(spans: Sequence[SpanGroup], cut: Cut, suspects: dict[str, Suspect]) -> None:
    """Calls whose callers wait longer while the callee serves as fast as before: the time is
    lost between them (the network, a proxy, a queue). A service at one end of every such call
    it takes part in is where the path is slow: its score is the sum over its slowed calls over
    one more than the calls it takes part in, so a service sharing one slow call with the
    culprit among many calm ones stays behind it."""
    served: dict[str, float] = defaultdict(float)  # service → most time its own ops added
    for group in spans:
        if not group.peer_service:
            move = group_move(group, cut)
            if move is not None and move.weight >= 0.5:
                served[group.service] = max(served[group.service], move.added_ms)
    waits: dict[str, list[float]] = defaultdict(list)
    refs: dict[str, list[str]] = defaultdict(list)
    for group in spans:
        callee = group.peer_service
        if not callee or callee == group.service:
            continue
        move = group_move(group, cut)
        if move is None:
            continue
        lost = move.added_ms - max(0.0, served.get(callee, 0.0))
        strength = move.weight * strength_of(move.z(lost))
        for service in (group.service, callee):
            waits[service].append(strength)
            if strength > 0:
                refs[service].append(group.artifact_id)
    for service, strengths in waits.items():
        share = sum(strengths) / (len(strengths) + CALL_SHARE_PRIOR)
        if share > 0 and refs[service]:
            suspects.setdefault(service, Suspect(service)).note(
                "edge_latency", share, refs[service][0]
            )


# Calls an edge needs on a side for its time outside the callee to be read there, and the
# least time that counts as one spread of it (a few milliseconds of serialisation and the
# mesh's proxies are every call's).
GAP_MIN_CALLS = 5
GAP_FLOOR_MS = 5.0
# Spreads a gap must grow by to be read: the mesh's own jitter moves a few milliseconds.
GAP_MIN_Z = 3.0
# A caller whose CPU moved this much (0-1, the family rule's heat bar) is starved.
HOT_CALLER = 0.5


def _outside_sides(group: SpanGroup, cut: Cut) -> tuple[float | None, float, int] | None:
    """An edge group's typical time outside the callee (the minutes' medians of the per-call
    gap) before the fault's start, where it has the calls, and from it on; and the calls after."""
    before = [
        b
        for b in group.histogram
        if b.ts + MINUTE <= cut.fault_start and b.count and b.own_p50_ms is not None
    ]
    after = [
        b
        for b in group.histogram
        if b.ts >= cut.fault_start and b.count and b.own_p50_ms is not None
    ]
    calls = sum(b.count for b in after)
    if calls < GAP_MIN_CALLS:
        return None
    was = _typical_call(before) if sum(b.count for b in before) >= GAP_MIN_CALLS else None
    return was, _typical_call(after), calls


def _typical_call(buckets: Sequence[SpanBucket]) -> float:
    """The minutes' medians weighed by their calls: a minute of one slow call is one call."""
    ordered = sorted(buckets, key=lambda b: b.own_p50_ms or 0.0)
    half, seen = sum(b.count for b in ordered) / 2, 0
    for bucket in ordered:
        seen += bucket.count
        if seen >= half:
            return bucket.own_p50_ms or 0.0
    return 0.0


def _call_gaps(spans: Sequence[SpanGroup], cut: Cut, suspects: dict[str, Suspect]) -> None:
    """The time a call spends outside its callee's own span — the caller's wait less what the
    callee took, call by call — is the path between them: the network, the proxies, the
    callee's accept queue. It is a few milliseconds on every edge of a healthy mesh, and grows
    on the edges of a slow network (a delayed pod's every call) or of a callee too starved to
    pick its requests up (its span starts late). Read per edge against the edge's own calls
    before the fault where the traces reach back, else against the other edges' calls in the
    same minutes (traces are often kept only from an alert on), in spreads of the reference
    itself (a call twice as long outside the callee is one spread), weighed by the calls that
    back it. Each slowed edge counts at the end its other edges agree with
    (`_edge_attribution`), as the edge metrics do; whether it is the network or the callee's
    CPU is for that service's own signals to say (a hot CPU names saturation first)."""
    sides: dict[tuple[str, str], tuple[float | None, float, int, str]] = {}
    for group in spans:
        callee = group.peer_service
        if not callee or callee == group.service:
            continue
        found = _outside_sides(group, cut)
        if found is not None:
            sides[(group.service, callee)] = (*found, group.artifact_id)
    moves: dict[tuple[str, str], float] = {}
    for edge, (was, now, _, _) in sides.items():
        others = [other[1] for key, other in sides.items() if key != edge]
        reference = was if was is not None else median(others) if others else None
        if reference is None:
            continue
        moves[edge] = (now - reference) / max(reference, GAP_FLOOR_MS)
    shares = _edge_attribution(moves)
    for edge, z in moves.items():
        if z < GAP_MIN_Z:
            continue
        calls, ref = sides[edge][2], sides[edge][3]
        strength = min(1.0, math.sqrt(calls / 10)) * strength_of(z)
        kept_by_caller, kept_by_callee = shares.get(edge, (1.0, 1.0))
        caller = suspects.get(edge[0])
        if caller is not None and caller.kinds.get("cpu", 0.0) >= HOT_CALLER:
            # A caller starved of CPU reads its replies late whatever the path: the time is its.
            kept_by_caller, kept_by_callee = 1.0, 0.0
        suspects.setdefault(edge[1], Suspect(edge[1])).note(
            "edge_latency", kept_by_callee * strength, ref
        )
        suspects.setdefault(edge[0], Suspect(edge[0])).note(
            "edge_latency", kept_by_caller * strength, ref
        )


def topology_of(artifacts: Sequence[Artifact]) -> set[tuple[str, str]]:
    """Caller→callee edges sent with the incident as ``topology`` events."""
    found: set[tuple[str, str]] = set()
    for item in artifacts:
        if not isinstance(item, OtherEvent) or item.event_type.strip().lower() != "topology":
            continue
        caller = item.metadata.get("service")
        callee = item.metadata.get("peerService") or item.metadata.get("peer_service")
        if isinstance(caller, str) and isinstance(callee, str) and caller and callee:
            found.add((caller, callee))
    return found


# An edge whose latency moved less than this many spreads is calm.
CALM_EDGE_Z = 1.0


def _caller_waits(
    series: Sequence[MetricSeries], table: SignalTable, cut: Cut
) -> dict[tuple[str, str], float]:
    """(caller, callee) → the move (robust z) of the caller's own view of its wait on the
    callee (an edge metric labelled with the callee), on edges measured with a full baseline."""
    found: dict[tuple[str, str], float] = {}
    for item in series:
        peer = peer_of(item.labels)
        if not peer or item.service is None:
            continue
        evidence = _series_evidence(item, table, cut)
        if evidence is None or evidence[0] != "latency" or evidence[2] < 1.0:
            continue
        edge = (item.service, peer)
        found[edge] = max(found.get(edge, -math.inf), evidence[1])
    return found


# How much better supported the calm at the callee's end must be than the calm at the caller's.
CALM_MARGIN = 1.0


def _caller_side(
    waited: dict[tuple[str, str], float],
    calm: dict[str, set[str]],
    traffic: dict[str, float],
    caller: str,
    callee: str,
) -> bool:
    """Whether a slowed call edge is the caller's side of the path: another caller reaches the
    callee as fast as before, on more calls than the caller's other calls that kept their pace
    (if any). Both ends can look calm elsewhere — the callee to its other callers, the caller on
    its other calls — and a calm edge says as much as the calls it carries: an edge is as busy
    as its quieter end allows, so the better-supported calm wins (a handful of calls a minute
    whose median did not move is weak evidence that the callee is fine)."""

    def carried(source: str, target: str) -> float:
        return min(support(source, traffic), support(target, traffic))

    at_callee = max((carried(c, callee) for c in calm.get(callee, set()) - {caller}), default=0.0)
    if at_callee <= 0:
        return False
    at_caller = max(
        (
            carried(caller, target)
            for (source, target), z in waited.items()
            if source == caller and target != callee and z < CALM_EDGE_Z
        ),
        default=0.0,
    )
    return at_callee > CALM_MARGIN * at_caller


def _calm_callers(waited: dict[tuple[str, str], float]) -> dict[str, set[str]]:
    """Callee → callers whose edge latency to it did not move (measured, well supported)."""
    found: dict[str, set[str]] = defaultdict(set)
    for (caller, callee), z in waited.items():
        if z < CALM_EDGE_Z:
            found[callee].add(caller)
    return found


# Spreads at which one edge's move stops adding to the combined evidence (strength_of is
# certain at 30): one wildly slow edge must not stand for all of a service's calls.
EDGE_Z_CAP = 30.0


def _edge_gaps(
    series: Sequence[MetricSeries], table: SignalTable, cut: Cut
) -> dict[tuple[str, str], float]:
    """Per call edge measured from both ends (the caller's view labelled with the callee, the
    callee's labelled with the caller): the robust move of the time lost between them, minute
    by minute (MicroRank / ε-Diagnosis's client-against-server reading). The caller's wait less
    the callee's own time in the same minute cancels whatever both ends saw alike — the callee
    serving slower or faster, an earlier fault's tail in the baseline — and leaves the network,
    the proxies and the queues between them. Scaled by the gap's own spread, a fifth of the
    callee's level (a proxy's share of a slow call) or the kind's unit floor."""
    caller_views: dict[tuple[str, str], dict[datetime, float]] = {}
    callee_views: dict[tuple[str, str], tuple[dict[datetime, float], float]] = {}
    for item in series:
        if item.service is None or table.kind_of(item.name, item.labels) != "latency":
            continue
        callee = peer_of(item.labels)
        caller = next((item.labels[k] for k in SOURCE_LABELS if item.labels.get(k)), None)
        values = {p.ts: p.value for p in item.points if p.value > 0}
        if callee:
            caller_views[(item.service, callee)] = values
        elif caller:
            callee_views[(caller, item.service)] = (
                values,
                unit_floor(item.name, "latency", item.unit),
            )
    found: dict[tuple[str, str], float] = {}
    for edge, waited in caller_views.items():
        if edge not in callee_views or edge[0] == edge[1]:
            continue
        served, floor = callee_views[edge]
        minutes = sorted(set(waited) & set(served))
        before = [waited[t] - served[t] for t in minutes if t < cut.baseline_end]
        after = [waited[t] - served[t] for t in minutes if t >= cut.fault_start]
        if len(before) < MIN_BASELINE - 1 or len(after) < 2:
            continue
        level = median([served[t] for t in minutes if t < cut.baseline_end])
        scale = max(MAD_SCALE * mad(before), EDGE_GAP_RELATIVE * level, floor)
        found[edge] = (median(after) - median(before)) / scale
    return found


# A gap between the two ends' views of a call moves by this share of the callee's own time
# before it counts as one spread (the proxies' and the network's part of a call).
EDGE_GAP_RELATIVE = 0.2


def _path_latency(
    edge_moves: dict[tuple[str, str], list[tuple[float, float, str, bool]]],
    gaps: dict[tuple[str, str], float],
    traffic: dict[str, float],
    suspects: dict[str, Suspect],
) -> dict[tuple[str, str], tuple[float, float]]:
    """A slow network at a service slows the calls through it in one direction at least — all
    the calls into it, or all the calls out of it — and no other call. Per service and per
    direction, the latency moves of its call edges (edge metrics labelled with a peer) are
    combined as independent evidence (Stouffer: the weighted sum of their z over the root of
    the summed squared weights, signed, so calm edges count against), and the service keeps its
    stronger direction. A callee whose every caller waits longer outscores a caller that waits
    longer on that one callee and as before on all the others; two callers agreeing count more
    than one. Where both ends measure a call, its move is the gap between them, minute by
    minute (`_edge_gaps`); else the one view there is; an edge whose series never saw a call
    says nothing. Each slowed edge counts at the end its other edges agree with
    (`_edge_attribution`); the shares are returned for the edge metrics' own readings."""
    per_edge: dict[tuple[str, str], tuple[float, float, str]] = {}
    for (caller, callee), views in edge_moves.items():
        if not caller or caller == callee:
            continue
        caller_view = [min(EDGE_Z_CAP, v[0]) for v in views if v[3]]
        callee_view = [min(EDGE_Z_CAP, v[0]) for v in views if not v[3]]
        if (caller, callee) in gaps:
            z = min(EDGE_Z_CAP, gaps[(caller, callee)])
        elif caller_view and callee_view:
            # Both ends measure the call: what the caller waited beyond what the callee took
            # to serve was lost between them.
            z = max(caller_view) - max(0.0, max(callee_view))
        else:
            z = max(caller_view or callee_view)
        z = max(-EDGE_Z_CAP, z)
        weight = min(v[1] for v in views) * support(callee, traffic)
        ref = max(views, key=lambda v: v[0])[2]
        per_edge[(caller, callee)] = (z, weight, ref)
    shares = _edge_attribution({edge: move[0] for edge, move in per_edge.items()})
    ends: dict[tuple[str, bool], list[tuple[float, float, str]]] = defaultdict(list)
    for (caller, callee), (z, weight, ref) in per_edge.items():
        caller_share, callee_share = shares.get((caller, callee), (1.0, 1.0))
        ends[(caller, False)].append((z * caller_share, weight, ref))  # its calls out
        ends[(callee, True)].append((z * callee_share, weight, ref))  # the calls into it
    best: dict[str, tuple[float, str]] = {}
    for (service, _), moves in ends.items():
        total_weight = math.sqrt(sum(w * w for _, w, _ in moves))
        if total_weight <= 0:
            continue
        combined = sum(z * w for z, w, _ in moves) / total_weight
        ref = max(moves, key=lambda m: m[0] * m[1])[2]
        if combined > best.get(service, (0.0, ""))[0]:
            best[service] = (combined, ref)
    for service, (combined, ref) in best.items():
        suspects.setdefault(service, Suspect(service)).note(
            "edge_latency", strength_of(combined), ref
        )
    return shares


# What a slowed edge's other end must show of its own before it takes the edge from this end: a
# prior for "the other edges say nothing", as a share of full strength.
ATTRIBUTION_PRIOR = 0.1
# What an end with no other measured edge counts as: as likely slowed as not.
ATTRIBUTION_UNSEEN = 0.5


def _edge_attribution(
    moves: dict[tuple[str, str], float],
) -> dict[tuple[str, str], tuple[float, float]]:
    """Per slowed call edge, how much of its move each end keeps (caller, callee), 0–1: the end
    whose other edges moved too is where the trouble is (explaining away, as ε-Diagnosis and
    MicroRank read the node common to the anomalous calls). A callee all of whose callers wait
    longer takes the edge from a caller whose other calls are calm, and the caller keeps little
    of it; with nothing to tell the ends apart, both keep all of it."""
    touching: dict[str, list[tuple[tuple[str, str], float]]] = defaultdict(list)
    for edge, z in moves.items():
        level = strength_of(max(0.0, z))
        touching[edge[0]].append((edge, level))
        touching[edge[1]].append((edge, level))

    def others(service: str, edge: tuple[str, str]) -> float:
        found = [level for other, level in touching[service] if other != edge]
        # Calm edges are evidence against an end; an end with no other edge has none either way.
        return sum(found) / len(found) if found else ATTRIBUTION_UNSEEN

    shares: dict[tuple[str, str], tuple[float, float]] = {}
    for edge, z in moves.items():
        if z <= 0:
            continue
        at_caller = others(edge[0], edge) + ATTRIBUTION_PRIOR
        at_callee = others(edge[1], edge) + ATTRIBUTION_PRIOR
        total = at_caller + at_callee
        shares[edge] = (min(1.0, 2 * at_caller / total), min(1.0, 2 * at_callee / total))
    return shares


# Calls to a callee count as part of every request of its caller when they ran at this share of
# the caller's own rate at least; they vanished when they fell to this share of their rate.
FANOUT_SHARE = 0.25
VANISHED_SHARE = 0.25
# A caller whose own requests kept at least this share of their rate kept being asked.
HELD_SHARE = 0.5


def _request_rates(
    series: Sequence[MetricSeries], table: SignalTable, cut: Cut
) -> dict[str, tuple[list[float], list[float], str]]:
    """Per service, its own request-rate series (not an edge's): baseline and fault values."""
    found: dict[str, tuple[list[float], list[float], str]] = {}
    for item in series:
        if (
            item.service is None
            or table.kind_of(item.name, item.labels) != "traffic"
            or peer_of(item.labels)
        ):
            continue
        if any(item.labels.get(k) for k in SOURCE_LABELS):
            continue
        if "per_second" not in item.name and "rps" not in item.name.lower():
            continue
        before, after = cut.sides(item)
        if len(before) >= MIN_BASELINE and len(after) >= 2 and item.service not in found:
            found[item.service] = (before, after, item.artifact_id)
    return found


def _calls_vanished(
    series: Sequence[MetricSeries],
    table: SignalTable,
    cut: Cut,
    graph: set[tuple[str, str]],
    suspects: dict[str, Suspect],
) -> None:
    """A service that keeps being asked while the calls each of its requests used to make
    stopped runs another code path: an exception that ends the request before its later calls,
    a value its follow-up depends on coming back wrong. Read on callees the service alone calls
    (a callee another service calls too could have lost that one's calls), which were called
    in every baseline minute at a good share of the caller's own rate (a path every request
    takes, not a rare one the traffic mix may skip) and whose calls fell to a small share of
    that. The strength is the calls missing against the ones expected (a Poisson z), combined
    over the vanished callees (Stouffer); a callee that crashed would lose its calls as well,
    but would show it in its own signals, which rank it as they always did."""
    rates = _request_rates(series, table, cut)
    callers: dict[str, set[str]] = defaultdict(set)
    # Sorted: the graph is a set, and the evidence each suspect notes must come out in the same
    # order in every process (string hashing differs between runs).
    for caller, callee in sorted(graph):
        if caller != callee:
            callers[callee].add(caller)
    found: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for callee, by in callers.items():
        if len(by) != 1 or callee not in rates:
            continue
        caller = next(iter(by))
        if caller not in rates:
            continue
        asked_before, asked_after, _ = rates[caller]
        before, after, ref = rates[callee]
        level, asked = median(before), median(asked_before)
        if min(before) <= 0 or asked <= 0 or level < FANOUT_SHARE * asked:
            continue
        if median(asked_after) < HELD_SHARE * asked or median(after) > VANISHED_SHARE * level:
            continue
        expected = level * 60 * len(after)
        missing = expected - sum(after) * 60
        found[caller].append((missing / math.sqrt(expected), ref))
    for service, moves in found.items():
        combined = sum(min(EDGE_Z_CAP, z) for z, _ in moves) / math.sqrt(len(moves))
        suspect = suspects.setdefault(service, Suspect(service))
        for _, ref in moves:
            suspect.note("calls_vanished", strength_of(combined), ref)


def rank_suspects(
    artifacts: Sequence[Artifact],
    context: IncidentContext,
    *,
    table: SignalTable = DEFAULT_TABLE,
    edges: set[tuple[str, str]] | None = None,
    stopped: Sequence[StoppedPath] | None = None,
) -> list[Suspect]:
    """Services by how much their own signals moved at the onset, strongest first. Metric
    series are read in their kind's unit (`units.normalise`, as `engine.analyze` hands them);
    ``stopped``: the statements that stopped part-way through, when the caller read them."""
    cut = Cut.around(context.onset)
    series = [a for a in artifacts if isinstance(a, MetricSeries)]
    spans = [a for a in artifacts if isinstance(a, SpanGroup)]
    traffic = _traffic_of(series, spans, table, cut)
    suspects: dict[str, Suspect] = {}
    graph: set[tuple[str, str]] = set(edges or ()) | topology_of(artifacts)
    waited = _caller_waits(series, table, cut)
    calm = _calm_callers(waited)
    edge_moves: dict[tuple[str, str], list[tuple[float, float, str, bool]]] = defaultdict(list)
    # Edge latency read from a caller's view, noted once the edges' attribution is known.
    pending: list[tuple[str, str, float, float, float, str]] = []
    for item in series:
        found = _series_evidence(item, table, cut)
        if found is None or item.service is None:
            continue
        kind, z, weight = found
        source = next((item.labels[k] for k in SOURCE_LABELS if item.labels.get(k)), None)
        if kind == "latency" and source and (source, item.service) in waited:
            # A callee cannot serve a call slower than its caller waits for it: where the
            # caller's view of the same edge moved less, the callee's own view is a percentile
            # over too few calls, not a slower service.
            z = min(z, waited[(source, item.service)])
        if kind == "latency":
            callee = peer_of(item.labels)
            caller = next((item.labels[k] for k in SOURCE_LABELS if item.labels.get(k)), None)
            if (callee or caller) and any(p.value for p in item.points):
                # Caller's view (labelled with the callee) or the callee's (with its caller).
                edge = (item.service, callee) if callee else (caller or "", item.service)
                edge_moves[edge].append((z, weight, item.artifact_id, bool(callee)))
        strength = weight * strength_of(_directional(kind, z))
        peer = peer_of(item.labels)
        if kind in ("latency", "errors", "error_ratio"):
            # A near-idle service's percentiles swing on a handful of calls.
            strength *= support(peer or item.service, traffic)
            if kind == "latency" and not peer and "client" in item.name.lower():
                strength *= 0.5  # what it waits for on others: its callees' trouble as much
        if peer:
            graph.add((item.service, peer))
            # An edge metric: the callee's own trouble as much as the caller's.
            edge_kind = "edge_latency" if kind == "latency" else kind
            callee_share, caller_share = 1.0, 0.5
            if kind == "latency" and _caller_side(waited, calm, traffic, item.service, peer):
                # Another caller reaches the callee as fast as before: the slow part is this
                # caller's side of the path (its pod's network), not the callee.
                callee_share, caller_share = 0.5, 1.0
            if kind == "latency":
                pending.append(
                    (item.service, peer, strength, caller_share, callee_share, item.artifact_id)
                )
                continue
            suspects.setdefault(peer, Suspect(peer)).note(
                edge_kind, callee_share * strength, item.artifact_id
            )
            suspects.setdefault(item.service, Suspect(item.service)).note(
                edge_kind, caller_share * strength, item.artifact_id
            )
            continue
        if source:
            graph.add((source, item.service))
            kind = "edge_latency" if kind == "latency" else kind
        suspects.setdefault(item.service, Suspect(item.service)).note(
            kind, strength, item.artifact_id
        )
    shares = _path_latency(edge_moves, _edge_gaps(series, table, cut), traffic, suspects)
    for caller, callee, strength, caller_share, callee_share, ref in pending:
        # Both ends of a slowed call keep the part of it their other calls agree with.
        kept_by_caller, kept_by_callee = shares.get((caller, callee), (1.0, 1.0))
        suspects.setdefault(callee, Suspect(callee)).note(
            "edge_latency", callee_share * kept_by_callee * strength, ref
        )
        suspects.setdefault(caller, Suspect(caller)).note(
            "edge_latency", caller_share * kept_by_caller * strength, ref
        )
    _span_evidence(spans, cut, suspects)
    for group in spans:
        if group.peer_service:
            graph.add((group.service, group.peer_service))
    _calls_vanished(series, table, cut, graph, suspects)
    templates = [a for a in artifacts if isinstance(a, LogTemplate)]
    _log_evidence(templates, cut, suspects)
    _new_error_templates(templates, cut, suspects)
    _persistent_errors(templates, cut, suspects)
    for path in stopped_paths(artifacts, context.onset) if stopped is None else stopped:
        suspects.setdefault(path.service, Suspect(path.service)).note(
            "statement_stopped", path.strength, path.refs[0]
        )
    _read_against_load(series, spans, table, cut, suspects)
    for service in _median_calm(series, table, cut):
        if service in suspects:
            suspects[service].median_calm = True
    ranked = sorted(suspects.values(), key=lambda s: (-s.score, s.service))
    return _callee_first(ranked, graph, _failing(series, table, cut))


def _failing(series: Sequence[MetricSeries], table: SignalTable, cut: Cut) -> dict[str, float]:
    """Per service with a success-rate series: how far its failures (the complement) rose, on
    an error ratio's floor. A success rate read on its own level (a twentieth of it) hides 3%
    of requests failing at a 100% baseline; as the failure share it is a plain rise."""
    found: dict[str, float] = {}
    for service, _item, before, after in _own_sides(series, table, cut, "availability"):
        # A share (`units.normalise` read a success rate in percent as a hundredth).
        floor = unit_floor("ratio", "error_ratio")
        z = deviation(
            [1.0 - v for v in before], [1.0 - v for v in after], floor=floor, relative=0.05
        )
        found[service] = max(found.get(service, 0.0), strength_of(z))
    return found


_MEDIAN = re.compile(r"(?:^|[^a-z0-9])(?:p50|median|quantile_0?\.5)(?:[^0-9]|$)", re.IGNORECASE)


def _median_calm(series: Sequence[MetricSeries], table: SignalTable, cut: Cut) -> set[str]:
    """Services whose own median latency (a p50 series of their own, or their own view of the
    calls into them, labelled with the caller) did not move at the onset, read on every such
    series with a full baseline. Saturation — a CPU, a pool, a queue running out — slows every
    request, the typical one included; a tail that moves while the median holds is a share of
    the requests taking another, slower path (an exception's handling, a retry, a branch)."""
    moved: dict[str, float] = {}
    for item in series:
        if item.service is None or peer_of(item.labels):
            continue
        if not (_MEDIAN.search(item.name) or is_median(item)):
            continue
        found = _series_evidence(item, table, cut)
        if found is None or found[0] != "latency" or found[2] < 1.0:
            continue
        moved[item.service] = max(moved.get(item.service, -math.inf), found[1])
    return {service for service, z in moved.items() if z < CALM_EDGE_Z}


# Kinds a caller's callees cannot explain: its own resources and its own failures.
OWN_KINDS = (
    "cpu",
    "memory",
    "saturation",
    "restarts",
    "gc",
    "log_errors",
    "log_new_errors",
    "log_errors_persistent",
    "calls_vanished",
    "statement_stopped",
    "span_cut_short",
)


def own_resources(suspect: Suspect) -> float:
    return max((suspect.kinds.get(kind, 0.0) for kind in OWN_KINDS), default=0.0)


def _callee_first(
    ranked: list[Suspect], graph: set[tuple[str, str]], failing: dict[str, float] | None = None
) -> list[Suspect]:
    """A caller whose callee is about as anomalous moves behind it (PetShop traversal), unless
    the caller shows trouble of its own the callee cannot explain (a hot CPU, its own errors).
    What a service explains counts its callers' anomaly and their failing requests (`_failing`)
    alike: a caller that fails requests because its callee broke is a symptom of the callee,
    however little its own signals rank it."""
    if not graph:
        return ranked
    failing = failing or {}
    score = {s.service: s.score for s in ranked}
    by_name = {s.service: s for s in ranked}
    for suspect in ranked:
        callers = {caller for caller, callee in graph if callee == suspect.service}
        symptom = {c: max(score.get(c, 0.0), failing.get(c, 0.0)) for c in callers}
        suspect.explains = sum(
            symptom[c]
            for c in sorted(symptom)
            if symptom[c] >= 0.3 and suspect.score >= 0.5 * symptom[c]
        )
    order = list(ranked)
    for _ in range(len(order)):
        moved = False
        for index, suspect in enumerate(order):
            callees = [c for caller, c in sorted(graph) if caller == suspect.service and c in score]
            deeper = [
                c
                for c in callees
                if score[c] >= 0.7 * suspect.score
                and score[c] >= 0.3
                and own_resources(suspect) < max(0.3, own_resources(by_name[c]))
            ]
            ahead = {s.service for s in order[:index]}
            if deeper and not all(c in ahead for c in deeper):
                target = max(order.index(next(s for s in order if s.service == c)) for c in deeper)
                order.insert(target, order.pop(index))
                moved = True
                break
        if not moved:
            break
    return order


__all__ = [
    "Suspect",
    "cpu_beyond_load",
    "log_key",
    "own_time_calm",
    "rank_suspects",
    "strength_of",
]
