"""Rules on call edges: a dependency failing its callers, a connection failing between two
healthy services, lookups of one name failing (DNS)."""

from __future__ import annotations

from chronosops.analysis.catalog import HypothesisId
from chronosops.analysis.localisation import (
    Localization,
    dns_service,
    starved_of_cpu,
    traffic_dropped,
    traffic_growth,
)
from chronosops.analysis.observations import Observations
from chronosops.analysis.scoring import (
    AFFECTED,
    Candidate,
    Health,
    span_error_strength,
)


def edge_candidates(obs: Observations, where: Localization) -> list[Candidate]:
    """Failing calls: how they fail names the mechanism, and whose fault it is."""
    found: list[Candidate] = []
    unreachable = _unreachable_from(obs, where)
    for fault in where.faults.values():
        if fault.strength < AFFECTED:
            continue
        caller, callee, cats = fault.caller, fault.callee, fault.categories
        callee_health = where.health.get(callee)
        callee_exports = callee in obs.exports
        callee_failing = (
            callee_health is not None
            and callee_health.strength >= AFFECTED
            and not (
                fault.errors < AFFECTED and not cats and not _own_time_explains(obs, caller, callee)
            )
        )
        text = f"calls from {caller} to {callee} fail or slow down"
        if "db_credentials" in cats:
            # A database refusing its caller's login is a credential out of step (a rotated
            # password), configuration rather than an identity provider failing.
            candidate = Candidate(HypothesisId.CONFIG_REGRESSION, callee)
            candidate.add(
                2.0 * fault.strength,
                f"{callee} refuses {caller}'s credentials (a rotated or wrong secret)",
                fault.refs,
            )
            found.append(candidate)
        elif "tls" in cats or "auth" in cats:
            candidate = Candidate(HypothesisId.AUTH_OIDC_ISSUE, callee)
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
            dns = dns_service(obs)
            candidate = Candidate(HypothesisId.NETWORK_DNS_ISSUE, dns or caller)
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
            candidate = Candidate(HypothesisId.RATE_LIMIT_THROTTLING, culprit)
            candidate.add(
                2.2 * fault.strength, f"{callee} answers {caller} with 429 / throttling", fault.refs
            )
            traffic = obs.shift(caller, "traffic")
            if traffic is not None and traffic.factor >= 1.5 and traffic.z >= 4:
                candidate.add(
                    0.5, f"{caller}'s traffic rose {traffic.factor:.1f}×", [traffic.artifact_id]
                )
            found.append(candidate)
        quiet_callee = (callee_health is not None and callee_health.quiet) or traffic_dropped(
            obs, callee
        )
        if (
            not cats
            and callee_exports
            and not callee_failing
            and (quiet_callee or fault.latency >= 0.5)
        ):
            # Calls fail or hang while the callee is healthy and hears less: the path between them.
            end = _path_end(caller, callee, unreachable)
            starved = end == caller and starved_of_cpu(obs, caller)
            candidate = Candidate(
                HypothesisId.CAPACITY_SATURATION if starved else HypothesisId.NETWORK_DNS_ISSUE,
                end,
            )
            candidate.add(
                1.5 * fault.strength,
                f"{caller}'s calls to a healthy {callee} fail or hang"
                + (f" while {caller}'s CPU runs hot beyond its load" if starved else ""),
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
            candidate = Candidate(
                HypothesisId.NETWORK_DNS_ISSUE, _path_end(caller, callee, unreachable)
            )
            weight = (
                2.0
                if (callee_health is not None and callee_health.quiet)
                or traffic_dropped(obs, callee)
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
            candidate = Candidate(HypothesisId.RATE_LIMIT_THROTTLING, caller)
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
            if callee_exports and starved_of_cpu(obs, callee):
                # The callee ran far hotter than its load at the onset: it serves its callers
                # slowly because it is starved, a saturation at the callee, not an outage.
                candidate = Candidate(HypothesisId.CAPACITY_SATURATION, callee)
            else:
                candidate = Candidate(HypothesisId.DOWNSTREAM_OUTAGE, callee)
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


# The share of the time a caller's calls gained that the callee's own server spans must have
# gained too for the callee to be where the time went ("about as much", as localisation reads
# a callee explaining its caller).
OWN_TIME_SHARE = 0.5


def _own_time_explains(obs: Observations, caller: str, callee: str) -> bool:
    """Whether the callee's own server spans, read on enough calls on both sides of the onset,
    gained about as much time as the caller's calls to it (or failed more): the time its caller
    waits longer is spent in the callee. Where they gained far less, it was spent outside it,
    on the caller's side or on the path, whatever else its metrics say. Without such spans,
    nothing says otherwise."""
    server = obs.server.get(callee)
    edge = obs.edges.get((caller, callee))
    if server is None or server.base_p95 <= 0 or edge is None or edge.base_p95 <= 0:
        return True
    if span_error_strength(server) >= AFFECTED:
        return True
    return server.latency_added_ms >= OWN_TIME_SHARE * edge.latency_added_ms


def _network_fault(cats: frozenset[str] | set[str]) -> bool:
    return not cats or (
        bool(cats & {"timeout", "refused"}) and not cats & {"dns", "tls", "auth", "rate_limited"}
    )


def _unreachable_from(obs: Observations, where: Localization) -> dict[str, set[str]]:
    """Per healthy callee, the callers whose calls to it fail the way a lost network path does."""
    found: dict[str, set[str]] = {}
    for fault in where.faults.values():
        if fault.strength < AFFECTED or not _network_fault(fault.categories):
            continue
        health = where.health.get(fault.callee)
        if fault.callee in obs.exports and not (health is not None and health.strength >= AFFECTED):
            found.setdefault(fault.callee, set()).add(fault.caller)
    return found


def _path_end(caller: str, callee: str, unreachable: dict[str, set[str]]) -> str:
    """Whose side of a lost path to name: the callee when several callers lose it at once (the
    common factor is its network: its nodes, its zone), else the caller, whose own path it is."""
    return callee if len(unreachable.get(callee, ())) >= 2 else caller
