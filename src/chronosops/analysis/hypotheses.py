"""From observations to candidate causes: where the fault is, and what kind of fault it is.

Two questions, answered in order:

1. **Where.** Symptoms travel up the call graph: a caller fails because its callee fails. A
   service's errors or latency are *explained* by a callee when its calls to that callee fail
   or slow down about as much. Following explanations down from every affected service ends at
   the services (or call edges) where the fault lives — the deepest failing point. The first
   to move is usually the cause, and the loudest rarely is.
2. **What.** At each such point the evidence that is specific to one mechanism decides: an
   exhausted connection pool, a leak ending in OOM kills, a falling cache hit ratio, 429s,
   x509 failures, failed name lookups, a deploy or config change just before the onset paired
   with a regression of the changed service's own …

Each rule yields `Candidate`s (hypothesis, culprit service, score, reasons with evidence ids).
Scores add evidence strengths (0–1) times how specific that evidence is to the mechanism.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from chronosops.analysis.observations import Change, LogFinding, Observations, Shift, SpanTotals

# Changes this close before the onset (minutes) are suspects; a little after counts too, since
# clocks drift and reported starts lag.
CHANGE_LOOKBACK_MINUTES = 45.0
CHANGE_GRACE_MINUTES = 5.0
AFFECTED = 0.3
_DATABASE_NAME = re.compile(
    r"(^|[-_.])(db|database|postgres|postgresql|mysql|mariadb|mongo|mongodb|sql|redis|cassandra|dynamo)([-_.]|$|\d)"
)
_DNS_NAME = re.compile(r"(^|[-_.])(dns|coredns|kube-dns|resolver|bind)([-_.]|$)")


@dataclass
class Reason:
    text: str
    refs: list[str] = field(default_factory=list)
    weight: float = 0.0


@dataclass
class Candidate:
    hypothesis_id: str
    culprit: str | None
    reasons: list[Reason] = field(default_factory=list)
    change: Change | None = None

    @property
    def score(self) -> float:
        return sum(reason.weight for reason in self.reasons)

    def add(self, weight: float, text: str, refs: Iterable[str] = ()) -> None:
        if weight > 0:
            self.reasons.append(Reason(text=text, refs=list(refs), weight=round(weight, 4)))

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


def _log2_strength(factor: float, full_at: float = 4.0) -> float:
    if not math.isfinite(factor):
        return 1.0
    if factor <= 1:
        return 0.0
    return min(1.0, math.log2(factor) / math.log2(full_at))


def error_strength(shift: Shift | None) -> float:
    if shift is None:
        return 0.0
    level = min(1.0, max(0.0, shift.delta) / 0.1) if shift.delta >= 0.01 and shift.z >= 4 else 0.0
    # Bursts (crash loops, failovers) barely move a median but are plain in the peak.
    burst = (
        0.6 * min(1.0, (shift.peak - shift.before) / 0.2)
        if shift.peak - shift.before >= 0.05
        else 0.0
    )
    return max(level, burst)


def latency_strength(shift: Shift | None) -> float:
    if shift is None or shift.z < 4:
        return 0.0
    return _log2_strength(shift.factor) if shift.factor >= 1.3 else 0.0


def span_error_strength(spans: SpanTotals | None) -> float:
    if spans is None or spans.inc_count < 5:
        return 0.0
    rise = spans.error_rise
    return min(1.0, rise / 0.1) if rise >= 0.02 else 0.0


def span_latency_strength(spans: SpanTotals | None) -> float:
    if spans is None or spans.inc_count < 5 or spans.base_p95 <= 0:
        return 0.0
    factor = spans.latency_factor
    return _log2_strength(factor) if factor >= 1.5 and spans.latency_added_ms >= 20 else 0.0


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


def health_of(obs: Observations, service: str) -> Health:
    shifts = obs.shifts.get(service, {})
    server = obs.server.get(service)
    errors = max(error_strength(shifts.get("errors")), span_error_strength(server))
    latency = max(latency_strength(shifts.get("latency")), span_latency_strength(server))
    refs: list[str] = []
    for family in ("errors", "latency"):
        shift = shifts.get(family)
        if (
            shift is not None
            and (error_strength(shift) if family == "errors" else latency_strength(shift)) > 0
        ):
            refs.append(shift.artifact_id)
    if server is not None and (span_error_strength(server) or span_latency_strength(server)):
        refs.extend(server.artifact_ids[:3])
    own_logs = [f for f in obs.logs_of(service) if not f.mentions]
    if service not in obs.exports:
        # No telemetry of its own: only its logs can speak for it.
        logs, log_refs = log_strength(own_logs)
        errors = max(errors, logs)
        refs.extend(log_refs)
    restarts = shifts.get("restarts")
    if restarts is not None and restarts.last - restarts.first >= 1:
        errors = max(errors, 0.6)
        refs.append(restarts.artifact_id)
    traffic = shifts.get("traffic")
    quiet = bool(
        (traffic is not None and traffic.after <= traffic.before * 0.2 and traffic.z < -4)
        or (server is not None and server.went_quiet)
    )
    return Health(errors=errors, latency=latency, refs=tuple(refs), quiet=quiet)


@dataclass(frozen=True)
class EdgeFault:
    caller: str
    callee: str
    errors: float
    latency: float
    categories: frozenset[str]
    refs: tuple[str, ...]

    @property
    def strength(self) -> float:
        return max(self.errors, self.latency)


def edge_fault(obs: Observations, caller: str, callee: str) -> EdgeFault:
    spans = obs.edges.get((caller, callee))
    errors = span_error_strength(spans)
    latency = span_latency_strength(spans)
    refs = list(spans.artifact_ids) if spans is not None and (errors or latency) else []
    mentioned = [f for f in obs.logs_of(caller) if callee in f.mentions]
    logs, log_refs = log_strength(mentioned)
    categories: set[str] = set()
    for finding in mentioned:
        if finding.grew and (finding.is_error or finding.warnings):
            categories |= finding.categories
    if spans is None:
        errors = max(errors, logs)  # without traces, the caller's words are the evidence
    refs.extend(log_refs)
    return EdgeFault(caller, callee, errors, latency, frozenset(categories), tuple(refs))


def is_database(obs: Observations, service: str) -> bool:
    if _DATABASE_NAME.search(service.lower()):
        return True
    if obs.shift(service, "db_connections") is not None:
        return True
    return any("db_slow" in f.categories for f in obs.logs_of(service))


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


@dataclass
class Localization:
    health: dict[str, Health]
    faults: dict[tuple[str, str], EdgeFault]
    origins: dict[
        str, float
    ]  # service → how strongly it looks like the point where the fault lives
    broken_edges: list[
        EdgeFault
    ]  # failing edges whose callee is healthy: the connection is the fault


def localize(obs: Observations) -> Localization:
    services = sorted(obs.services)
    health = {service: health_of(obs, service) for service in services}
    edges = sorted(set(obs.edges) | obs.log_edges)
    faults = {edge: edge_fault(obs, *edge) for edge in edges}

    def incoming(service: str) -> float:
        return max((f.strength for (c, t), f in faults.items() if t == service), default=0.0)

    def failing(service: str) -> float:
        own = health[service].strength
        if service not in obs.exports:
            own = max(own, incoming(service))
        return own

    origins: dict[str, float] = {}
    broken: list[EdgeFault] = []
    for service in services:
        strength = failing(service)
        if strength < AFFECTED:
            continue
        explained_by = [
            faults[(service, callee)]
            for callee in obs.callees(service)
            if (service, callee) in faults
            and faults[(service, callee)].strength >= max(AFFECTED, 0.5 * strength)
        ]
        deeper = [
            f for f in explained_by if failing(f.callee) >= AFFECTED or f.callee not in obs.exports
        ]
        healthy_callees = [f for f in explained_by if f not in deeper]
        if deeper and not any(amplifies(obs, service, f.callee) for f in deeper):
            continue  # the fault is further down
        if healthy_callees:
            broken.extend(healthy_callees)
            continue  # the callee is fine: the calls themselves fail
        origins[service] = strength
    return Localization(health=health, faults=faults, origins=origins, broken_edges=broken)


def traffic_growth(obs: Observations, service: str) -> float | None:
    """How many times more requests the service received after the onset (metrics or spans)."""
    traffic = obs.shift(service, "traffic")
    if traffic is not None and traffic.before > 0:
        return traffic.after / traffic.before
    server = obs.server.get(service)
    return server.ok_growth() if server is not None else None


def amplifies(obs: Observations, caller: str, callee: str) -> bool:
    """The caller sends its callee far more work than it receives itself (cache misses, retries,
    N+1 queries): the callee's trouble is the caller's doing."""
    cache = obs.shift(caller, "cache_hit")
    if cache is not None and cache.z <= -4 and cache.delta <= -0.1:
        return True  # every miss is a call the callee did not get before
    callee_growth = traffic_growth(obs, callee)
    edge = obs.edges.get((caller, callee))
    edge_growth = edge.ok_growth() if edge is not None else None
    if edge_growth is not None:
        callee_growth = max(callee_growth or 0.0, edge_growth)
    if callee_growth is None or callee_growth < 1.8:
        return False
    caller_growth = traffic_growth(obs, caller) or 1.0
    return callee_growth >= 1.8 * caller_growth


def _refs(*groups: Iterable[str]) -> list[str]:
    found: list[str] = []
    for group in groups:
        for ref in group:
            if ref not in found:
                found.append(ref)
    return found


def _logs_with(
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


def _logs_present(
    obs: Observations, service: str, category: str, *, warnings: bool = False
) -> list[LogFinding]:
    """Own lines of a kind that is abnormal whenever it appears (OOM kills, leaks, x509 …)."""
    return [
        f
        for f in obs.logs_of(service)
        if category in f.categories and (f.is_error or (warnings and f.warnings)) and not f.mentions
    ]


def _dns_service(obs: Observations) -> str | None:
    named = sorted(s for s in obs.services if _DNS_NAME.search(s.lower()))
    return named[0] if named else None


# How much of a surge's saturation score the rate-limit alternative gets when no logs can tell
# them apart (see `_mechanisms`): enough to be a real second, not enough to take first place.
LIMITER_SHARE = 0.8

MECHANISMS = frozenset(
    {"CAPACITY_SATURATION", "CACHE_MISS_STORM", "RATE_LIMIT_THROTTLING", "AUTH_OIDC_ISSUE"}
)
# Reasons that show the code itself failing (as opposed to a mechanism the deploy set off).
CODE_EVIDENCE = ("code errors:", "CPU regression:")

SPECIFIC_TO_A_SERVICE = frozenset(
    {
        "CAPACITY_SATURATION",
        "CACHE_MISS_STORM",
        "RATE_LIMIT_THROTTLING",
        "AUTH_OIDC_ISSUE",
        "DEPLOY_BUG",
        "CONFIG_REGRESSION",
        "DB_QUERY_REGRESSION",
    }
)


def candidates(obs: Observations, where: Localization) -> list[Candidate]:
    found: list[Candidate] = []
    found += _edge_candidates(obs, where)
    for service in sorted(obs.services):
        if service in where.origins or (not where.origins and service == obs.context.service):
            found += _service_candidates(obs, where, service, 1.0)
        elif where.health.get(service) is not None:
            # Not where the symptoms point, but its own evidence still counts, for less.
            found += _service_candidates(obs, where, service, 0.6)
    found += _change_candidates(obs, where)
    found += _database_candidates(obs, where)
    found += _certificate_candidates(obs, where)
    found += _provider_candidates(obs, where)
    # "A dependency is down" is what remains when nothing more specific explains its failure.
    specific: dict[str | None, float] = {}
    for candidate in found:
        if candidate.hypothesis_id in SPECIFIC_TO_A_SERVICE:
            specific[candidate.culprit] = max(specific.get(candidate.culprit, 0.0), candidate.score)
    for candidate in found:
        if candidate.hypothesis_id == "DOWNSTREAM_OUTAGE" and specific.get(candidate.culprit):
            candidate.discount(
                0.6 * specific[candidate.culprit],
                f"{candidate.culprit} shows a more specific failure of its own",
            )
    for candidate in found:
        if (
            candidate.hypothesis_id == "DOWNSTREAM_OUTAGE"
            and candidate.culprit == obs.context.service
        ):
            candidate.discount(
                0.5 * candidate.score, "it is the reported service itself, not a dependency"
            )
    # A change that triggered a specific mechanism (a cache flush, a pool leak) is the trigger,
    # not a bug in the code, unless the code itself is seen failing.
    mechanism: dict[str | None, float] = {}
    for candidate in found:
        if candidate.hypothesis_id in MECHANISMS:
            mechanism[candidate.culprit] = max(
                mechanism.get(candidate.culprit, 0.0), candidate.score
            )
    for candidate in found:
        if (
            candidate.hypothesis_id == "DEPLOY_BUG"
            and mechanism.get(candidate.culprit)
            and not any(reason.text.startswith(CODE_EVIDENCE) for reason in candidate.reasons)
        ):
            candidate.discount(
                0.5 * mechanism[candidate.culprit],
                f"{candidate.culprit}'s failure has a specific mechanism the deploy only triggered",
            )
        if candidate.hypothesis_id == "CAPACITY_SATURATION" and any(
            other.hypothesis_id == "CACHE_MISS_STORM" and other.culprit == candidate.culprit
            for other in found
        ):
            candidate.discount(0.8, "the pressure follows from cache misses")
    # Keep the best candidate per (hypothesis, culprit).
    best: dict[tuple[str, str | None], Candidate] = {}
    for candidate in found:
        key = (candidate.hypothesis_id, candidate.culprit)
        if key not in best or candidate.score > best[key].score:
            best[key] = candidate
    return sorted(best.values(), key=lambda c: (-c.score, c.hypothesis_id, c.culprit or ""))


def _edge_candidates(obs: Observations, where: Localization) -> list[Candidate]:
    """Failing calls: how they fail names the mechanism, and whose fault it is."""
    found: list[Candidate] = []
    for fault in where.faults.values():
        if fault.strength < AFFECTED:
            continue
        caller, callee, cats = fault.caller, fault.callee, fault.categories
        callee_health = where.health.get(callee)
        callee_exports = callee in obs.exports
        callee_failing = callee_health is not None and callee_health.strength >= AFFECTED
        text = f"calls from {caller} to {callee} fail or slow down"
        if "tls" in cats or "auth" in cats:
            candidate = Candidate("AUTH_OIDC_ISSUE", callee)
            candidate.add(
                2.0 * fault.strength,
                f"{text} with certificate or authentication errors",
                fault.refs,
            )
            expiry = obs.shift(callee, "cert_expiry")
            if expiry is not None and min(expiry.trough, expiry.last) <= 0:
                candidate.add(
                    1.0, f"{callee}'s serving certificate has expired", [expiry.artifact_id]
                )
            found.append(candidate)
        if "dns" in cats:
            dns = _dns_service(obs)
            candidate = Candidate("NETWORK_DNS_ISSUE", dns or caller)
            candidate.add(2.2 * fault.strength, f"{caller} cannot resolve {callee}", fault.refs)
            if (
                dns is not None
                and where.health.get(dns, Health(0, 0, (), False)).errors >= AFFECTED
            ):
                candidate.add(0.8, f"the resolver {dns} itself fails", where.health[dns].refs)
            found.append(candidate)
        if "rate_limited" in cats:
            # An internal limiter is the culprit; a third party's quota is spent by its caller.
            culprit = callee if callee_exports else caller
            candidate = Candidate("RATE_LIMIT_THROTTLING", culprit)
            candidate.add(
                2.2 * fault.strength, f"{callee} answers {caller} with 429 / throttling", fault.refs
            )
            traffic = obs.shift(caller, "traffic")
            if traffic is not None and traffic.factor >= 1.5 and traffic.z >= 4:
                candidate.add(
                    0.5, f"{caller}'s traffic rose {traffic.factor:.1f}×", [traffic.artifact_id]
                )
            found.append(candidate)
        quiet_callee = (callee_health is not None and callee_health.quiet) or _traffic_dropped(
            obs, callee
        )
        if (
            not cats
            and callee_exports
            and not callee_failing
            and (quiet_callee or fault.latency >= 0.5)
        ):
            # Calls fail or hang while the callee is healthy and hears less: the path between them.
            candidate = Candidate("NETWORK_DNS_ISSUE", caller)
            candidate.add(
                1.5 * fault.strength,
                f"{caller}'s calls to a healthy {callee} fail or hang",
                fault.refs,
            )
            if quiet_callee:
                candidate.add(0.4, f"{callee} receives fewer requests than before", [])
            found.append(candidate)
        if (
            cats & {"timeout", "refused"}
            and callee_exports
            and not callee_failing
            and not cats & {"dns", "tls", "auth", "rate_limited"}
        ):
            candidate = Candidate("NETWORK_DNS_ISSUE", caller)
            weight = (
                2.0
                if (callee_health is not None and callee_health.quiet)
                or _traffic_dropped(obs, callee)
                else 1.4
            )
            candidate.add(
                weight * fault.strength,
                f"{caller} cannot reach a healthy {callee} (connect timeouts / refused)",
                fault.refs,
            )
            found.append(candidate)
        caller_growth = traffic_growth(obs, caller) or 1.0
        if (
            not callee_exports
            and caller_growth >= 1.8
            and not cats & {"dns", "tls", "auth", "rate_limited"}
        ):
            # A third party failing just as our calls to it multiplied: we spent its quota.
            candidate = Candidate("RATE_LIMIT_THROTTLING", caller)
            candidate.add(
                1.9 * fault.strength,
                f"{caller}'s traffic rose {caller_growth:.1f}× and its calls to {callee} began to fail",
                fault.refs,
            )
            found.append(candidate)
        if (
            not cats & {"dns", "tls", "auth", "rate_limited"}
            and (callee_failing or not callee_exports)
            and (callee in where.origins or not callee_exports)
        ):
            candidate = Candidate("DOWNSTREAM_OUTAGE", callee)
            weight = 1.3 if callee_exports else 1.7
            candidate.add(
                weight * fault.strength,
                f"{text} ({', '.join(sorted(cats)) or 'errors'})",
                fault.refs,
            )
            if callee_health is not None and callee_health.refs:
                candidate.add(
                    0.3 * callee_health.strength,
                    f"{callee} itself degrades",
                    callee_health.refs,
                )
            found.append(candidate)
    return found


def _traffic_dropped(obs: Observations, service: str) -> bool:
    traffic = obs.shift(service, "traffic")
    if traffic is not None:
        return traffic.factor <= 0.85 and traffic.z <= -4
    growth = traffic_growth(obs, service)  # from spans, when there are no metrics
    return growth is not None and growth <= 0.7


def _service_candidates(
    obs: Observations, where: Localization, service: str, factor: float
) -> list[Candidate]:
    """What a service's own evidence says happened to it; ``factor`` < 1 off the fault's path."""
    found = _mechanisms(obs, where, service)
    for candidate in found:
        for reason in candidate.reasons:
            reason.weight = round(reason.weight * factor, 4)
    return found


def _mechanisms(obs: Observations, where: Localization, service: str) -> list[Candidate]:
    found: list[Candidate] = []
    health = where.health[service]
    shifts = obs.shifts.get(service, {})

    # Connection pool exhaustion, unless the pool drains because a callee holds it (see edges).
    pool = shifts.get("pool_in_use")
    pending = shifts.get("pool_pending")
    pool_logs = _logs_present(obs, service, "pool_exhausted")
    leak_logs = _logs_present(obs, service, "connection_leak", warnings=True)
    pool_evidence = 0.0
    pool_refs: list[str] = []
    if pool is not None and pool.z >= 4 and pool.factor >= 2:
        pool_evidence += 0.6
        pool_refs.append(pool.artifact_id)
    elif pool is not None and pool.trend >= 6 and pool.last >= 1.25 * max(pool.first, 1e-9):
        pool_evidence += 0.5  # in use creeping up across the window: a leak
        pool_refs.append(pool.artifact_id)
    if pending is not None and pending.after >= 1 and pending.z >= 4:
        pool_evidence += 0.5
        pool_refs.append(pending.artifact_id)
    if pool_logs:
        pool_evidence += 0.8
        pool_refs += [f.artifact_id for f in pool_logs]
    if leak_logs:
        pool_evidence += 0.6
        pool_refs += [f.artifact_id for f in leak_logs]
    slow_callees = [
        where.faults[(service, callee)]
        for callee in obs.callees(service)
        if (service, callee) in where.faults and where.faults[(service, callee)].latency >= 0.5
    ]
    if pool_evidence and not slow_callees:
        candidate = Candidate("CAPACITY_SATURATION", service)
        candidate.add(
            1.6 * min(pool_evidence, 1.5),
            f"{service}'s database connection pool is exhausted",
            pool_refs,
        )
        found.append(candidate)

    # Memory growing into OOM kills and restarts.
    memory = shifts.get("memory")
    restarts = shifts.get("restarts")
    oom_logs = _logs_present(obs, service, "oom")
    memory_refs: list[str] = []
    memory_evidence = 0.0
    if (
        memory is not None
        and memory.z >= 4
        and (memory.factor >= 1.2 or (memory.first > 0 and memory.peak / memory.first >= 1.3))
    ):
        memory_evidence += 0.6
        memory_refs.append(memory.artifact_id)
    elif (
        memory is not None
        and memory.resets >= 1
        and restarts is not None
        and restarts.last > restarts.first
    ):
        memory_evidence += 0.6  # a sawtooth: grows, is killed, starts over
        memory_refs.append(memory.artifact_id)
    if restarts is not None and restarts.last - restarts.first >= 1:
        memory_evidence += 0.6
        memory_refs.append(restarts.artifact_id)
    if oom_logs:
        memory_evidence += 0.9
        memory_refs += [f.artifact_id for f in oom_logs]
    if memory_evidence >= 0.6:
        candidate = Candidate("CAPACITY_SATURATION", service)
        candidate.add(
            1.6 * min(memory_evidence, 1.5),
            f"{service}'s memory grows into OOM kills and restarts",
            memory_refs,
        )
        found.append(candidate)

    # CPU saturation: from more traffic (capacity) or from a change (see _change_candidates).
    cpu = shifts.get("cpu")
    traffic = shifts.get("traffic")
    worker_logs = _logs_with(obs, service, "worker_saturation")
    cpu_hot = cpu is not None and cpu.z >= 4 and (cpu.after >= 0.75 or cpu.delta >= 0.3)
    traffic_up = traffic is not None and traffic.z >= 4 and traffic.factor >= 1.5
    if (cpu_hot or worker_logs) and traffic_up:
        candidate = Candidate("CAPACITY_SATURATION", _most_saturated(obs, service))
        refs = _refs(
            [cpu.artifact_id] if cpu else [],
            [traffic.artifact_id] if traffic else [],
            [f.artifact_id for f in worker_logs],
        )
        hot = cpu.after if cpu is not None else 0.0
        saturation = 1.6 + (0.4 if worker_logs else 0.0) + (0.4 if hot >= 0.85 else 0.0)
        candidate.add(
            saturation,
            f"traffic rose {traffic.factor:.1f}× and saturated {service}" if traffic else "",
            refs,
        )
        found.append(candidate)
        errors = shifts.get("errors")
        if (
            not obs.logs
            and traffic is not None
            and errors is not None
            and errors.z >= 4
            and errors.delta >= 0.05
        ):
            # Without logs, a limiter rejecting the surge (429s) and an overload failing under
            # it look the same in the metrics: keep the limiter as a live alternative.
            limiter = Candidate("RATE_LIMIT_THROTTLING", service)
            limiter.add(
                LIMITER_SHARE * saturation,
                f"{service}'s errors rose with its traffic ({traffic.factor:.1f}×); with no logs "
                "to show 429s or timeouts, a rate limiter is as likely as overload",
                _refs([errors.artifact_id], [traffic.artifact_id]),
            )
            found.append(limiter)
    elif worker_logs:
        candidate = Candidate("CAPACITY_SATURATION", service)
        candidate.add(
            1.2, f"{service}'s workers are saturated", [f.artifact_id for f in worker_logs]
        )
        found.append(candidate)

    # Cache hit ratio falling, pushing reads onto what sits behind the cache.
    cache = shifts.get("cache_hit")
    cache_logs = _logs_with(obs, service, "cache_miss")
    if (cache is not None and cache.z <= -4 and cache.delta <= -0.1) or cache_logs:
        candidate = Candidate("CACHE_MISS_STORM", service)
        if cache is not None and cache.delta <= -0.1:
            candidate.add(
                2.0,
                f"{service}'s cache hit ratio fell from {cache.before:.0%} to {cache.after:.0%}",
                [cache.artifact_id],
            )
        if cache_logs:
            candidate.add(0.8, f"{service} logs cache misses", [f.artifact_id for f in cache_logs])
        found.append(candidate)

    # The service's own lookups failing (the name it looked up is not a known service).
    lookup_logs = _logs_with(obs, service, "dns")
    if lookup_logs:
        strength, refs = log_strength(lookup_logs)
        candidate = Candidate("NETWORK_DNS_ISSUE", _dns_service(obs) or service)
        candidate.add(1.8 * strength, f"{service} cannot resolve the names it calls", refs)
        found.append(candidate)

    # The cluster's resolver failing: every lookup through it fails.
    if _DNS_NAME.search(service.lower()) and health.errors >= AFFECTED:
        candidate = Candidate("NETWORK_DNS_ISSUE", service)
        candidate.add(1.8 * health.errors, f"the resolver {service} fails lookups", health.refs)
        found.append(candidate)

    # Rejecting a surge cheaply: errors and traffic up together, CPU cool. A limiter at work.
    if (
        traffic_up
        and health.errors >= 0.5
        and not cpu_hot
        and not worker_logs
        and traffic is not None
    ):
        candidate = Candidate("RATE_LIMIT_THROTTLING", service)
        candidate.add(
            1.2 * health.errors,
            f"{service} fails {traffic.factor:.1f}× more requests without running hotter",
            _refs(health.refs, [traffic.artifact_id]),
        )
        found.append(candidate)

    # Throttling by the service's own limiter.
    limiter_logs = _logs_with(obs, service, "rate_limited")
    throttled = shifts.get("throttled")
    if limiter_logs or (throttled is not None and throttled.z >= 4 and throttled.delta > 0):
        candidate = Candidate("RATE_LIMIT_THROTTLING", service)
        candidate.add(
            2.0,
            f"{service} is rejecting requests with 429",
            [f.artifact_id for f in limiter_logs] + ([throttled.artifact_id] if throttled else []),
        )
        if traffic_up and traffic is not None:
            candidate.add(
                0.5, f"{service}'s traffic rose {traffic.factor:.1f}×", [traffic.artifact_id]
            )
        found.append(candidate)

    # Certificates and credentials of the service itself.
    tls_logs = _logs_with(obs, service, "tls") + _logs_with(obs, service, "auth")
    expiry = shifts.get("cert_expiry")
    if tls_logs or (expiry is not None and min(expiry.trough, expiry.last) <= 0):
        candidate = Candidate("AUTH_OIDC_ISSUE", service)
        if tls_logs:
            candidate.add(
                1.6,
                f"{service} fails certificate or authentication checks",
                [f.artifact_id for f in tls_logs],
            )
        if expiry is not None and min(expiry.trough, expiry.last) <= 0:
            candidate.add(1.2, f"{service}'s serving certificate has expired", [expiry.artifact_id])
        found.append(candidate)

    # A dependency of the reported service failing on its own, with no more specific mechanism.
    unavailable = _logs_with(obs, service, "unavailable") + _logs_with(obs, service, "refused")
    if service != obs.context.service and health.errors >= AFFECTED:
        candidate = Candidate("DOWNSTREAM_OUTAGE", service)
        candidate.add(
            1.0 * health.errors, f"{service}, a dependency, fails on its own", health.refs
        )
        if unavailable:
            candidate.add(
                0.5, f"{service} reports itself unavailable", [f.artifact_id for f in unavailable]
            )
        found.append(candidate)
    return found


def _most_saturated(obs: Observations, service: str) -> str:
    """Along the service and its callees, the one whose CPU ran hottest."""
    best, best_cpu = service, -1.0
    for name in [service, *obs.callees(service)]:
        cpu = obs.shift(name, "cpu")
        if cpu is not None and cpu.after > best_cpu and cpu.z >= 4:
            best, best_cpu = name, cpu.after
    return best


def _change_candidates(obs: Observations, where: Localization) -> list[Candidate]:
    """A deploy or config change on a service where the fault lives, just before the onset."""
    found: list[Candidate] = []
    loudest = max((f.errors for f in obs.logs if f.grew), default=0)

    def share(findings: list[LogFinding]) -> float:
        """How loud these lines are next to the loudest new error: background noise says little."""
        return max((f.errors for f in findings), default=0) / loudest if loudest else 0.0

    for service in sorted(where.origins):
        health = where.health[service]
        own_bug_logs = _logs_with(obs, service, "code_bug")
        own_config_logs = _logs_with(obs, service, "config_error")
        if not recent_changes(obs, service, ("deploy", "config", "feature_flag")):
            # No recorded change, yet the service's own code or config fails loudly from the onset.
            if own_bug_logs and share(own_bug_logs) >= 0.2:
                candidate = Candidate("DEPLOY_BUG", service)
                candidate.add(
                    1.5 * min(1.0, 5 * share(own_bug_logs)),
                    f"code errors: {service} throws new errors in its own code (no deploy on record)",
                    [f.artifact_id for f in own_bug_logs],
                )
                found.append(candidate)
            if own_config_logs and share(own_config_logs) >= 0.2:
                candidate = Candidate("CONFIG_REGRESSION", service)
                candidate.add(
                    1.5 * min(1.0, 5 * share(own_config_logs)),
                    f"{service} rejects its own configuration (no change on record)",
                    [f.artifact_id for f in own_config_logs],
                )
                found.append(candidate)
        cpu = obs.shift(service, "cpu")
        traffic = obs.shift(service, "traffic")
        traffic_up = traffic is not None and traffic.z >= 4 and traffic.factor >= 1.5
        cpu_regression = cpu is not None and cpu.z >= 4 and cpu.delta >= 0.2 and not traffic_up
        own_errors, own_refs = log_strength(f for f in obs.logs_of(service) if not f.mentions)
        regression = max(health.strength, own_errors)
        for change in recent_changes(obs, service, ("config", "feature_flag")):
            candidate = Candidate("CONFIG_REGRESSION", service, change=change)
            when = change.lead_minutes(obs.onset)
            candidate.add(
                2.0 * change_weight(change, obs.onset) * max(regression, 0.5),
                f"{change.change_type.replace('_', ' ')} change on {service} {when:.0f} min before the onset: {change.description}",
                [change.artifact_id],
            )
            candidate.add(
                0.6 * regression,
                f"{service} regressed right after it",
                health.refs or tuple(own_refs),
            )
            if own_config_logs:
                candidate.add(
                    0.6,
                    f"{service} logs configuration errors",
                    [f.artifact_id for f in own_config_logs],
                )
            found.append(candidate)
        for change in recent_changes(obs, service, ("deploy",)):
            candidate = Candidate("DEPLOY_BUG", service, change=change)
            when = change.lead_minutes(obs.onset)
            candidate.add(
                1.3 * change_weight(change, obs.onset) * max(regression, 0.4),
                f"deploy {change.version_from or '?'} → {change.version_to or '?'} of {service} {when:.0f} min before the onset",
                [change.artifact_id],
            )
            if own_bug_logs:
                candidate.add(
                    0.9,
                    f"code errors: {service} throws new errors in its own code",
                    [f.artifact_id for f in own_bug_logs],
                )
            if cpu_regression and cpu is not None:
                candidate.add(
                    0.9,
                    f"CPU regression: {service}'s CPU rose from {cpu.before:.0%} to {cpu.after:.0%} without more traffic",
                    [cpu.artifact_id],
                )
            candidate.add(
                0.5 * regression,
                f"{service} regressed right after it",
                health.refs or tuple(own_refs),
            )
            found.append(candidate)
    return found


def _provider_candidates(obs: Observations, where: Localization) -> list[Candidate]:
    """A cloud provider's own incident, in our region, while our services fail."""
    found: list[Candidate] = []
    context = obs.context
    region = (context.region or "").lower()
    affected = any(h.strength >= AFFECTED for h in where.health.values())
    for incident in obs.provider_incidents:
        ended = incident.ended_at or context.window_end
        if incident.began_at > context.window_end or ended < context.window_start:
            continue
        locations = [location.lower() for location in incident.locations]
        in_region = (
            not locations or not region or any(region in loc or loc in region for loc in locations)
        )
        if not in_region:
            continue
        product = incident.products[0] if incident.products else "a product"
        candidate = Candidate("DOWNSTREAM_OUTAGE", f"{incident.provider}: {product}")
        candidate.add(
            1.3 if affected else 0.9,
            f"{incident.provider} reports an incident on {product}"
            + (f" in {', '.join(incident.locations[:3])}" if incident.locations else "")
            + f" ({incident.status})",
            [incident.artifact_id],
        )
        if region and locations:
            candidate.add(
                0.3, f"the incident's region {context.region} is among the affected locations", []
            )
        found.append(candidate)
    return found


def _certificate_candidates(obs: Observations, where: Localization) -> list[Candidate]:
    """An expired certificate is wrong wherever it is; its callers failing confirm it matters."""
    found: list[Candidate] = []
    for service in sorted(obs.services):
        expiry = obs.shift(service, "cert_expiry")
        if expiry is None or min(expiry.trough, expiry.last) > 0:
            continue
        candidate = Candidate("AUTH_OIDC_ISSUE", service)
        candidate.add(
            1.5, f"{service}'s serving certificate expired during the window", [expiry.artifact_id]
        )
        failing_callers = [
            where.faults[(caller, service)]
            for caller in obs.callers(service)
            if (caller, service) in where.faults
            and where.faults[(caller, service)].strength >= AFFECTED
        ]
        if failing_callers:
            candidate.add(
                0.8 * max(f.strength for f in failing_callers),
                f"calls to {service} from {', '.join(f.caller for f in failing_callers)} fail",
                _refs(*(f.refs for f in failing_callers)),
            )
        found.append(candidate)
    return found


def _database_candidates(obs: Observations, where: Localization) -> list[Candidate]:
    """Slow queries: the database slows down, and the caller whose queries changed is to blame."""
    found: list[Candidate] = []
    for database in sorted(s for s in obs.services if is_database(obs, s)):
        slow_logs = _logs_with(obs, database, "db_slow")
        latency = obs.shift(database, "latency")
        db_slow = latency_strength(latency)
        slow_edges = [
            fault
            for (caller, callee), fault in where.faults.items()
            if callee == database and fault.latency >= 0.5
        ]
        if not (slow_logs or db_slow >= 0.5 or slow_edges):
            continue
        callers = sorted({f.caller for f in slow_edges} or set(obs.callers(database)))
        if not callers:
            # No traces say who queries it: the affected services that changed, else the reported one.
            callers = sorted(
                s
                for s in obs.services
                if s != database
                and where.health.get(s) is not None
                and where.health[s].strength >= AFFECTED
                and recent_changes(obs, s, ("deploy", "config", "feature_flag"))
            ) or (
                [obs.context.service]
                if obs.context.service and obs.context.service != database
                else []
            )
        # The caller that changed just before is the one whose queries changed.
        changed = [
            c for c in callers if recent_changes(obs, c, ("deploy", "config", "feature_flag"))
        ]
        ranked = changed or sorted(
            callers,
            key=lambda c: (
                -where.faults.get(
                    (c, database), EdgeFault(c, database, 0, 0, frozenset(), ())
                ).latency
            ),
        )
        culprit = ranked[0] if ranked else database
        candidate = Candidate("DB_QUERY_REGRESSION", culprit)
        refs = _refs(
            [f.artifact_id for f in slow_logs],
            [latency.artifact_id] if latency and db_slow else [],
            *(f.refs for f in slow_edges),
        )
        candidate.add(
            1.0 * max(db_slow, max((f.latency for f in slow_edges), default=0.0)),
            f"queries to {database} slowed down",
            refs,
        )
        if slow_logs:
            candidate.add(
                0.8, f"{database} logs slow statements", [f.artifact_id for f in slow_logs]
            )
        if changed:
            change = recent_changes(obs, culprit, ("deploy", "config", "feature_flag"))[0]
            candidate.change = change
            candidate.add(
                0.8 * change_weight(change, obs.onset),
                f"{culprit} changed {change.lead_minutes(obs.onset):.0f} min before: {change.description}",
                [change.artifact_id],
            )
        found.append(candidate)
    return found
