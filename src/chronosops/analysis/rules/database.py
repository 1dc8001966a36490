"""Rules on databases: queries slow down, and the caller whose queries changed is to blame."""

from __future__ import annotations

from chronosops.analysis.catalog import HypothesisId
from chronosops.analysis.localisation import (
    EdgeFault,
    Localization,
    is_database,
)
from chronosops.analysis.observations import Observations
from chronosops.analysis.scoring import (
    AFFECTED,
    Candidate,
    change_weight,
    latency_strength,
    logs_with,
    merged_refs,
    recent_changes,
)


def database_candidates(obs: Observations, where: Localization) -> list[Candidate]:
    """Slow queries: the database slows down, and the caller whose queries changed is to blame."""
    found: list[Candidate] = []
    for database in sorted(s for s in obs.services if is_database(obs, s)):
        slow_logs = logs_with(obs, database, "db_slow")
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
        candidate = Candidate(HypothesisId.DB_QUERY_REGRESSION, culprit)
        refs = merged_refs(
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
