"""Where the fault lives: symptoms travel up the call graph, so follow explanations down.

A service's errors or latency are *explained* by a callee when its calls to that callee fail
or slow down about as much; following explanations down from every affected service ends at
the services (or call edges) where the fault lives — the deepest failing point.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from chronosops.analysis.observations import Observations
from chronosops.analysis.scoring import (
    AFFECTED,
    Health,
    error_strength,
    latency_strength,
    log_strength,
    span_error_strength,
    span_latency_strength,
)

DATABASE_NAME = re.compile(
    r"(^|[-_.])(db|database|postgres|postgresql|pg|aurora|rds|mysql|mariadb|mssql|sqlserver|oracle"
    r"|cockroachdb|clickhouse|mongo|mongodb|sql|redis|cassandra|dynamo)([-_.]|$|\d)"
)

DNS_NAME = re.compile(r"(^|[-_.])(dns|coredns|kube-dns|resolver|bind)([-_.]|$)")


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


# How much a new error line naming a callee counts where spans of the calls show nothing.
NEW_ERROR_EDGE_SHARE = 0.8
# Log categories of a connection that never opened.
UNOPENED_CATEGORIES = frozenset({"db_credentials", "auth", "tls", "dns", "refused"})


def edge_fault(obs: Observations, caller: str, callee: str) -> EdgeFault:
    spans = obs.edges.get((caller, callee))
    errors = span_error_strength(spans)
    latency = span_latency_strength(spans)
    if spans is not None and spans.typical_calm:
        # The calls' p95 rose while their typical one took no longer: a share of the calls (a
        # retry, a pause, another branch), not the path or the callee slowing every call.
        latency = 0.0
    refs = list(spans.artifact_ids) if spans is not None and (errors or latency) else []
    mentioned = [f for f in obs.logs_of(caller) if callee in f.mentions]
    logs, log_refs = log_strength(mentioned)
    categories: set[str] = set()
    for finding in mentioned:
        if finding.grew and (finding.is_error or finding.warnings):
            categories |= finding.categories
    if spans is None:
        errors = max(errors, logs)  # without traces, the caller's words are the evidence
    else:
        # Spans measure the calls that were made; a new error naming the callee that says a
        # connection was never made (a refused login, a failed handshake or lookup) is calls
        # that never became a span.
        fresh, _ = log_strength(
            f for f in mentioned if f.is_new and f.is_error and f.categories & UNOPENED_CATEGORIES
        )
        errors = max(errors, NEW_ERROR_EDGE_SHARE * fresh)
    refs.extend(log_refs)
    return EdgeFault(caller, callee, errors, latency, frozenset(categories), tuple(refs))


def is_database(obs: Observations, service: str) -> bool:
    if DATABASE_NAME.search(service.lower()):
        return True
    if obs.shift(service, "db_connections") is not None:
        return True
    # Its own slow-statement lines; an application's ORM logging a slow query names the
    # database it asked, and that does not make the application a database.
    if any("db_slow" in f.categories and not f.mentions for f in obs.logs_of(service)):
        return True
    return any("db_slow" in f.categories and service in f.mentions for f in obs.logs)


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
    edges = sorted(set(obs.edges) | obs.log_edges | obs.change_edges)
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


# How many times its baseline a caller's CPU must run, beyond its own traffic's change, for its
# slow calls to read as the caller starved rather than its network.
STARVED_CPU_FACTOR = 1.5


def starved_of_cpu(obs: Observations, caller: str) -> bool:
    """A service whose CPU ran far hotter at the onset while its own traffic did not grow as
    much is starved (a CPU hog, contention on its node): every call it makes takes longer to
    send and to read, whatever the path to its callee, and it picks its own requests up late.
    Its calls hang because it does. The one reading of a starved service: the edge rules' and
    the span call gaps' (`suspects.spans`)."""
    cpu = obs.shift(caller, "cpu")
    if cpu is None or cpu.z < 4 or not math.isfinite(cpu.factor):
        return False
    traffic = obs.shift(caller, "traffic")
    load = traffic.factor if traffic is not None and math.isfinite(traffic.factor) else 1.0
    return cpu.factor >= STARVED_CPU_FACTOR * max(1.0, load)


def dns_service(obs: Observations) -> str | None:
    named = sorted(s for s in obs.services if DNS_NAME.search(s.lower()))
    return named[0] if named else None


def traffic_dropped(obs: Observations, service: str) -> bool:
    traffic = obs.shift(service, "traffic")
    if traffic is not None:
        return traffic.factor <= 0.85 and traffic.z <= -4
    growth = traffic_growth(obs, service)  # from spans, when there are no metrics
    return growth is not None and growth <= 0.7
