"""Rules on one service's own evidence: saturation, leaks, cache misses, limiters, DNS,
certificates and credentials, a dependency failing on its own."""

from __future__ import annotations

from datetime import timedelta

from chronosops.analysis.catalog import HypothesisId
from chronosops.analysis.localisation import (
    DNS_NAME,
    Localization,
    dns_service,
)
from chronosops.analysis.observations import Observations, Shift
from chronosops.analysis.scoring import (
    AFFECTED,
    Candidate,
    log_strength,
    logs_present,
    logs_with,
    merged_refs,
)

# How much of a surge's saturation score the rate-limit alternative gets when no logs can tell
# them apart (see `mechanisms`): enough to be a real second, not enough to take first place.
LIMITER_SHARE = 0.8
# ... and when the service's latency held through the surge (below this factor), more than it.
LIMITER_HELD_SHARE = 1.25
LATENCY_HELD_FACTOR = 1.3
# A CPU this close to its limit is running at it (the surge rule's own "hot" bar for its extra
# weight): a service there that does not fail shows what running at the limit does to a request.
AT_LIMIT = 0.85
# What saturation that explains none of the incident's failures keeps of its weight when the
# alert is about failures: what a service off the fault's path keeps (see `hypotheses`).
BYSTANDER_SHARE = 0.6


def service_candidates(
    obs: Observations, where: Localization, service: str, factor: float
) -> list[Candidate]:
    """What a service's own evidence says happened to it; ``factor`` < 1 off the fault's path."""
    found = mechanisms(obs, where, service)
    for candidate in found:
        for reason in candidate.reasons:
            reason.weight = round(reason.weight * factor, 4)
    return found


def mechanisms(obs: Observations, where: Localization, service: str) -> list[Candidate]:
    found: list[Candidate] = []
    health = where.health[service]
    shifts = obs.shifts.get(service, {})

    # Connection pool exhaustion, unless the pool drains because a callee holds it (see edges).
    pool = shifts.get("pool_in_use")
    pending = shifts.get("pool_pending")
    pool_logs = logs_present(obs, service, "pool_exhausted")
    leak_logs = logs_present(obs, service, "connection_leak", warnings=True)
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
        candidate = Candidate(HypothesisId.CAPACITY_SATURATION, service)
        candidate.add(
            1.6 * min(pool_evidence, 1.5),
            f"{service}'s database connection pool is exhausted",
            pool_refs,
        )
        found.append(candidate)

    # Memory growing into OOM kills and restarts.
    memory = shifts.get("memory")
    restarts = shifts.get("restarts")
    oom_logs = logs_present(obs, service, "oom")
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
        candidate = Candidate(HypothesisId.CAPACITY_SATURATION, service)
        candidate.add(
            1.6 * min(memory_evidence, 1.5),
            f"{service}'s memory grows into OOM kills and restarts",
            memory_refs,
        )
        found.append(candidate)

    # CPU saturation: from more traffic (capacity) or from a change (see change_candidates).
    cpu = shifts.get("cpu")
    traffic = shifts.get("traffic")
    worker_logs = logs_with(obs, service, "worker_saturation")
    cpu_hot = cpu is not None and cpu.z >= 4 and (cpu.after >= 0.75 or cpu.delta >= 0.3)
    traffic_up = traffic is not None and traffic.z >= 4 and traffic.factor >= 1.5
    # A CPU that was hot before the traffic rose was not heated by it (an earlier fault's tail,
    # a recovery surge after it): the surge cannot be read as the saturation's cause.
    heated = cpu_hot and moved_with(cpu, traffic)
    if (heated or worker_logs) and traffic_up:
        candidate = Candidate(HypothesisId.CAPACITY_SATURATION, most_saturated(obs, service))
        refs = merged_refs(
            [cpu.artifact_id] if cpu else [],
            [traffic.artifact_id] if traffic else [],
            [f.artifact_id for f in worker_logs],
        )
        hot = cpu.after if cpu is not None else 0.0
        saturation = 1.6 + (0.4 if worker_logs else 0.0) + (0.4 if hot >= AT_LIMIT else 0.0)
        candidate.add(
            saturation,
            f"traffic rose {traffic.factor:.1f}× and saturated {service}" if traffic else "",
            refs,
        )
        if explains_no_failure(obs, where, candidate.culprit or service):
            candidate.discount(
                (1 - BYSTANDER_SHARE) * saturation,
                f"the alert is about failures, and {candidate.culprit} neither fails nor is "
                "called by a service that does",
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
            # it look alike in the metrics: keep the limiter as a live alternative. An overload
            # slows before it fails (requests queue for the CPU); a limiter answers at once, so
            # failing faster while the latency holds puts the limiter first.
            # Where another service ran at its limit under the same surge without failing,
            # running at the limit is not what fails requests here: the failures are a refusal.
            latency = shifts.get("latency")
            held = latency is not None and latency.factor < LATENCY_HELD_FACTOR
            calm_peer = peer_at_limit_without_failing(obs, where, service)
            limiter = Candidate(HypothesisId.RATE_LIMIT_THROTTLING, service)
            limiter.add(
                (LIMITER_HELD_SHARE if held or calm_peer else LIMITER_SHARE) * saturation,
                f"{service}'s errors rose with its traffic ({traffic.factor:.1f}×); with no logs "
                "to show 429s or timeouts, a rate limiter is as likely as overload"
                + (
                    f", and {calm_peer} ran at its CPU limit under the same surge without failing"
                    if calm_peer
                    else ""
                ),
                merged_refs([errors.artifact_id], [traffic.artifact_id]),
            )
            found.append(limiter)
    elif worker_logs:
        candidate = Candidate(HypothesisId.CAPACITY_SATURATION, service)
        candidate.add(
            1.2, f"{service}'s workers are saturated", [f.artifact_id for f in worker_logs]
        )
        found.append(candidate)

    # Cache hit ratio falling, pushing reads onto what sits behind the cache.
    cache = shifts.get("cache_hit")
    cache_logs = logs_with(obs, service, "cache_miss")
    if (cache is not None and cache.z <= -4 and cache.delta <= -0.1) or cache_logs:
        candidate = Candidate(HypothesisId.CACHE_MISS_STORM, service)
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
    lookup_logs = logs_with(obs, service, "dns")
    if lookup_logs:
        strength, refs = log_strength(lookup_logs)
        candidate = Candidate(HypothesisId.NETWORK_DNS_ISSUE, dns_service(obs) or service)
        candidate.add(1.8 * strength, f"{service} cannot resolve the names it calls", refs)
        found.append(candidate)

    # The cluster's resolver failing: every lookup through it fails.
    if DNS_NAME.search(service.lower()) and health.errors >= AFFECTED:
        candidate = Candidate(HypothesisId.NETWORK_DNS_ISSUE, service)
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
        candidate = Candidate(HypothesisId.RATE_LIMIT_THROTTLING, service)
        candidate.add(
            1.2 * health.errors,
            f"{service} fails {traffic.factor:.1f}× more requests without running hotter",
            merged_refs(health.refs, [traffic.artifact_id]),
        )
        found.append(candidate)

    # Throttling by the service's own limiter.
    limiter_logs = logs_with(obs, service, "rate_limited")
    throttled = shifts.get("throttled")
    if limiter_logs or (throttled is not None and throttled.z >= 4 and throttled.delta > 0):
        candidate = Candidate(HypothesisId.RATE_LIMIT_THROTTLING, service)
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
    # The database refusing the service's own credentials (a rotated or mistyped password) is
    # configuration the service carries, not an identity provider failing.
    credential_logs = logs_with(obs, service, "db_credentials")
    if credential_logs:
        strength, refs = log_strength(credential_logs)
        candidate = Candidate(HypothesisId.CONFIG_REGRESSION, service)
        candidate.add(
            1.2 + 0.6 * strength,
            f"the database refuses {service}'s credentials (a rotated or wrong secret)",
            refs,
        )
        found.append(candidate)
    tls_logs = [
        f
        for f in logs_with(obs, service, "tls") + logs_with(obs, service, "auth")
        if "db_credentials" not in f.categories
    ]
    expiry = shifts.get("cert_expiry")
    if tls_logs or (expiry is not None and min(expiry.trough, expiry.last) <= 0):
        candidate = Candidate(HypothesisId.AUTH_OIDC_ISSUE, service)
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
    unavailable = logs_with(obs, service, "unavailable") + logs_with(obs, service, "refused")
    if service != obs.context.service and health.errors >= AFFECTED:
        candidate = Candidate(HypothesisId.DOWNSTREAM_OUTAGE, service)
        candidate.add(
            1.0 * health.errors, f"{service}, a dependency, fails on its own", health.refs
        )
        if unavailable:
            candidate.add(
                0.5, f"{service} reports itself unavailable", [f.artifact_id for f in unavailable]
            )
        found.append(candidate)
    return found


# How long before the traffic rose a resource may be seen moving and still count as moved by
# it: change points on one-minute series land a point or so apart.
CAUSE_SLACK = timedelta(minutes=1)


# How long after the traffic rose a resource may be seen moving and still count as moved by it:
# more requests load a process from the minute they arrive, so a CPU that heats minutes after a
# surge it had been serving at its old level was heated by something else.
CAUSE_LAG = timedelta(minutes=2)


def moved_with(resource: Shift | None, traffic: Shift | None) -> bool:
    """Whether a resource moved together with the traffic or just after it (a cause comes first,
    and more requests load a process from the minute they arrive)."""
    if resource is None or traffic is None:
        return True
    if resource.changed_at is None or traffic.changed_at is None:
        return True
    return traffic.changed_at - CAUSE_SLACK <= resource.changed_at <= traffic.changed_at + CAUSE_LAG


def throttled_by(where: Localization, service: str) -> str:
    """A peer that answers the service's calls with 429 / throttling, if any."""
    for (caller, callee), fault in sorted(where.faults.items()):
        if caller == service and "rate_limited" in fault.categories and fault.strength >= AFFECTED:
            return callee
    return ""


def surged_at_limit(obs: Observations, service: str) -> bool:
    """Whether the surge reached the service and its CPU ran at its limit with it."""
    traffic = obs.shift(service, "traffic")
    cpu = obs.shift(service, "cpu")
    return (
        traffic is not None
        and traffic.z >= 4
        and traffic.factor >= 1.5
        and cpu is not None
        and cpu.z >= 4
        and cpu.after >= AT_LIMIT
        and moved_with(cpu, traffic)
    )


def alert_about_failures(obs: Observations, where: Localization) -> bool:
    """Whether the reported service's own symptom is failing requests more than slow ones (as
    `engine._primary_signal` reads it): where the alert reports slowness, a saturated service
    is what it reports."""
    reported = where.health.get(obs.context.service or "")
    return reported is not None and reported.errors >= max(AFFECTED, reported.latency)


def peer_at_limit_without_failing(obs: Observations, where: Localization, service: str) -> str:
    """Another service the surge drove to its CPU limit whose own errors held, if any, where the
    alert is about failures. A callee of the service is no peer: its slowness may be what fails
    the service's requests (timeouts)."""
    if not alert_about_failures(obs, where):
        return ""
    callees = set(obs.callees(service))
    for name in sorted(obs.services):
        if name in callees:
            continue
        health = where.health.get(name)
        if (
            name != service
            and health is not None
            and health.errors < AFFECTED
            and surged_at_limit(obs, name)
        ):
            return name
    return ""


def explains_no_failure(obs: Observations, where: Localization, service: str) -> bool:
    """Whether the alert reports failures that a saturated ``service`` cannot explain: it does
    not fail itself, and no failing service calls it (a slow callee fails its callers by their
    timeouts, a service no failing one calls fails nobody)."""
    own = where.health.get(service)
    if not alert_about_failures(obs, where) or own is None or own.errors >= AFFECTED:
        return False
    return not any(failing_through(where, caller, service) for caller in obs.callers(service))


def failing_through(where: Localization, caller: str, callee: str) -> bool:
    """Whether a failing caller's failures may come from its calls to ``callee``: its calls
    there failed or slowed, or they are not measured (a call known from logs or changes)."""
    health = where.health.get(caller)
    if health is None or health.errors < AFFECTED:
        return False
    fault = where.faults.get((caller, callee))
    return fault is None or fault.errors >= AFFECTED or fault.latency >= AFFECTED


# The signal table's saturation kinds, as the observations' families: work waiting for the
# runtime (threads, executors, event loop, request backlog) and for a connection from a pool.
WAITING_FAMILIES = ("saturation", "pool_pending")
# How much waiting work (queued requests, tasks, pending connection requests) reads as half
# saturated: a level of Q waiting items reads Q / (Q + QUEUE_HALF), so a few stragglers stay
# low and a queue of hundreds reads as a service at its limit, on the same 0-1 scale as a CPU's
# share of its limit.
QUEUE_HALF = 10.0


def saturation_level(obs: Observations, service: str) -> float:
    """How saturated a service ran, 0-1, from every saturation kind it reports: its CPU's share
    of its limit, and the work waiting for it (runtime backlog, pool pending) read on the same
    scale. A kind counts where it moved (z >= 4); the level is the highest of them, so a service
    that saturates on its queue or pool while its CPU stays cool reads as saturated too."""
    level = -1.0
    cpu = obs.shift(service, "cpu")
    if cpu is not None and cpu.z >= 4:
        level = max(level, cpu.after)
    for family in WAITING_FAMILIES:
        waiting = obs.shift(service, family)
        if waiting is not None and waiting.z >= 4 and waiting.delta > 0:
            level = max(level, waiting.delta / (waiting.delta + QUEUE_HALF))
    return level


def most_saturated(obs: Observations, service: str) -> str:
    """Along the service and its callees, the one that ran most saturated (`saturation_level`);
    the service itself where none moved."""
    best, best_level = service, -1.0
    for name in [service, *obs.callees(service)]:
        level = saturation_level(obs, name)
        if level >= 0 and level > best_level:
            best, best_level = name, level
    return best
