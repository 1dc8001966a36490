"""Rules on changes: a deploy or config change on a service where the fault lives, just
before the onset, paired with a regression of the changed service's own behaviour."""

from __future__ import annotations

from datetime import datetime, timedelta

from chronosops.analysis.catalog import HypothesisId
from chronosops.analysis.localisation import (
    Localization,
)
from chronosops.analysis.observations import Change, LogFinding, Observations
from chronosops.analysis.scoring import (
    AFFECTED,
    CHANGE_GRACE_MINUTES,
    CODE,
    Candidate,
    change_weight,
    error_strength,
    latency_strength,
    log_strength,
    logs_with,
    recent_changes,
)

# Log categories that name a mechanism. A line in one of them is that mechanism's evidence even
# when an exception class carries it (.NET's `InvalidOperationException: Timeout expired …
# obtaining a connection from the pool`, Java's `SocketTimeoutException`), not new code failing.
MECHANISMS = frozenset(
    {
        "pool_exhausted",
        "timeout",
        "refused",
        "dns",
        "tls",
        "auth",
        "db_credentials",
        "rate_limited",
        "circuit_open",
        "oom",
        "worker_saturation",
    }
)


# A change shows once the new version or setting serves: a rolling update replaces pods over
# several minutes (surge and readiness per batch), and a change point read from one-minute
# samples of a ramp lands a minute or two late. A service whose own errors or latency began
# later than that ran the change healthy first. (5 minutes was measured too tight: a release
# that fails 2–6 minutes after its deploy, as the paths suite's do, read as untied.)
ROLLOUT_MINUTES = 10.0
# What is left of a change's weight when nothing ties it to the symptom: its service regressed
# well after it (or before it), and no line of its own code or configuration failing, nor a CPU
# that rose without traffic, says the change is what broke. A change in the window is common
# (several a day per service) and most are innocent; on timing alone it is a weak suspect.
UNTIED_SHARE = 0.5


def regression_start(obs: Observations, service: str) -> datetime | None:
    """When the service's own errors or latency began to move, where its metrics time it."""
    starts = [
        shift.changed_at
        for shift, strength in (
            (obs.shift(service, "errors"), error_strength),
            (obs.shift(service, "latency"), latency_strength),
        )
        if shift is not None and shift.changed_at is not None and strength(shift) >= AFFECTED
    ]
    return min(starts, default=None)


def ran_healthy_after(change: Change, began: datetime | None) -> bool:
    """Whether the changed service's regression began too long after the change (or before it)
    for the change to have caused it; False when no metric times the regression."""
    if began is None:
        return False
    return not (
        change.at - timedelta(minutes=CHANGE_GRACE_MINUTES)
        <= began
        <= change.at + timedelta(minutes=ROLLOUT_MINUTES)
    )


def _untie(candidate: Candidate, change_term: float, service: str, began: datetime) -> None:
    candidate.discount(
        (1 - UNTIED_SHARE) * change_term,
        f"{service}'s own errors or latency began at {began:%H:%M}, not as the change rolled out, "
        "and nothing else ties the change to them",
    )


def change_candidates(obs: Observations, where: Localization) -> list[Candidate]:
    """A deploy or config change on a service where the fault lives, just before the onset."""
    found: list[Candidate] = []
    loudest = max((f.errors for f in obs.logs if f.grew), default=0)

    def share(findings: list[LogFinding]) -> float:
        """How loud these lines are next to the loudest new error: background noise says little."""
        return max((f.errors for f in findings), default=0) / loudest if loudest else 0.0

    for service in sorted(where.origins):
        health = where.health[service]
        own_bug_logs = [
            f for f in logs_with(obs, service, "code_bug") if not f.categories & MECHANISMS
        ]
        own_config_logs = logs_with(obs, service, "config_error")
        if not recent_changes(obs, service, ("deploy", "config", "feature_flag")):
            # No recorded change, yet the service's own code or config fails loudly from the onset.
            if own_bug_logs and share(own_bug_logs) >= 0.2:
                candidate = Candidate(HypothesisId.DEPLOY_BUG, service)
                candidate.add(
                    1.5 * min(1.0, 5 * share(own_bug_logs)),
                    f"code errors: {service} throws new errors in its own code (no deploy on record)",
                    [f.artifact_id for f in own_bug_logs],
                    tag=CODE,
                )
                found.append(candidate)
            if own_config_logs and share(own_config_logs) >= 0.2:
                candidate = Candidate(HypothesisId.CONFIG_REGRESSION, service)
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
        began = regression_start(obs, service)
        for change in recent_changes(obs, service, ("config", "feature_flag")):
            candidate = Candidate(HypothesisId.CONFIG_REGRESSION, service, change=change)
            when = change.lead_minutes(obs.onset)
            change_term = 2.0 * change_weight(change, obs.onset) * max(regression, 0.5)
            candidate.add(
                change_term,
                f"{change.change_type.replace('_', ' ')} change on {service} {when:.0f} min before the onset: {change.description}",
                [change.artifact_id],
            )
            if began is not None and not own_config_logs and ran_healthy_after(change, began):
                _untie(candidate, change_term, service, began)
                found.append(candidate)
                continue
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
            candidate = Candidate(HypothesisId.DEPLOY_BUG, service, change=change)
            when = change.lead_minutes(obs.onset)
            change_term = 1.3 * change_weight(change, obs.onset) * max(regression, 0.4)
            candidate.add(
                change_term,
                f"deploy {change.version_from or '?'} → {change.version_to or '?'} of {service} {when:.0f} min before the onset",
                [change.artifact_id],
            )
            if (
                began is not None
                and not own_bug_logs
                and not cpu_regression
                and ran_healthy_after(change, began)
            ):
                _untie(candidate, change_term, service, began)
                found.append(candidate)
                continue
            if own_bug_logs:
                candidate.add(
                    0.9,
                    f"code errors: {service} throws new errors in its own code",
                    [f.artifact_id for f in own_bug_logs],
                    tag=CODE,
                )
            if cpu_regression and cpu is not None:
                candidate.add(
                    0.9,
                    f"CPU regression: {service}'s CPU rose from {cpu.before:.0%} to {cpu.after:.0%} without more traffic",
                    [cpu.artifact_id],
                    tag=CODE,
                )
            candidate.add(
                0.5 * regression,
                f"{service} regressed right after it",
                health.refs or tuple(own_refs),
            )
            found.append(candidate)
    return found


# Log categories of a caller failing the way a changed credential or setting on its peer makes
# it fail: refused logins, bad certificates, a setting it cannot read.
SETTING_CATEGORIES = ("auth", "tls", "config_error")
# How much of a caller's own failure an edge known only from a change event carries: the change
# names the dependency, but no span or log line measures the calls.
NAMED_EDGE_SHARE = 0.8


def neighbour_change_candidates(obs: Observations, where: Localization) -> list[Candidate]:
    """A config change on a callee of a failing service, just before the onset: a rotated
    credential or a pushed setting on a neighbour breaks its callers while the neighbour itself
    may look healthy. The link is the calls' own failure where spans or log lines measure it,
    else (an edge only the change event names) most of the caller's own failure."""
    found: list[Candidate] = []
    for caller in sorted(obs.services):
        own = where.health.get(caller)
        own_strength = own.strength if own is not None else 0.0
        for callee in obs.callees(caller):
            changes = recent_changes(obs, callee, ("config", "feature_flag"))
            if not changes:
                continue
            fault = where.faults.get((caller, callee))
            link = fault.strength if fault is not None else 0.0
            refs = list(fault.refs) if fault is not None else []
            if (caller, callee) in obs.change_edges and own_strength > link:
                link, refs = NAMED_EDGE_SHARE * own_strength, list(own.refs if own else ())
            if link < AFFECTED:
                continue
            words = [
                f
                for category in SETTING_CATEGORIES
                for f in logs_with(obs, caller, category, own=False)
                if not f.mentions or callee in f.mentions
            ]
            for change in changes:
                candidate = Candidate(HypothesisId.CONFIG_REGRESSION, callee, change=change)
                when = change.lead_minutes(obs.onset)
                candidate.add(
                    2.0 * change_weight(change, obs.onset) * link,
                    f"{change.change_type.replace('_', ' ')} change on {callee} {when:.0f} min "
                    f"before the onset: {change.description}",
                    [change.artifact_id],
                )
                candidate.add(0.6 * link, f"{caller}'s calls to {callee} fail right after it", refs)
                if words:
                    candidate.add(
                        0.6 * link,
                        f"{caller} fails as a changed credential or setting on {callee} would "
                        "make it fail",
                        [f.artifact_id for f in words],
                    )
                found.append(candidate)
    return found
