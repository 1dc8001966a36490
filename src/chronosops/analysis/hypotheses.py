"""From observations to candidate causes: where the fault is, and what kind of fault it is.

The rules live in `analysis.rules` (one module per family), the scoring vocabulary in
`analysis.scoring` and the call-graph reading in `analysis.localisation`; `candidates` runs
every rule and settles how their candidates weigh against each other.
"""

from __future__ import annotations

from chronosops.analysis.catalog import HypothesisId
from chronosops.analysis.localisation import (
    EdgeFault,
    Localization,
    localize,
)
from chronosops.analysis.observations import Observations
from chronosops.analysis.rules.certificates import certificate_candidates
from chronosops.analysis.rules.changes import change_candidates, neighbour_change_candidates
from chronosops.analysis.rules.code_paths import code_path_candidates
from chronosops.analysis.rules.database import database_candidates
from chronosops.analysis.rules.edges import edge_candidates
from chronosops.analysis.rules.providers import provider_candidates
from chronosops.analysis.rules.service import service_candidates, throttled_by
from chronosops.analysis.scoring import (
    AFFECTED,
    CODE,
    Candidate,
    Health,
    Reason,
    change_weight,
    error_strength,
    latency_strength,
)

MECHANISMS = frozenset(
    {
        HypothesisId.CAPACITY_SATURATION,
        HypothesisId.CACHE_MISS_STORM,
        HypothesisId.RATE_LIMIT_THROTTLING,
        HypothesisId.AUTH_OIDC_ISSUE,
    }
)

# Reasons that show the code itself failing (as opposed to a mechanism the deploy set off).

SPECIFIC_TO_A_SERVICE = frozenset(
    {
        HypothesisId.CAPACITY_SATURATION,
        HypothesisId.CACHE_MISS_STORM,
        HypothesisId.RATE_LIMIT_THROTTLING,
        HypothesisId.AUTH_OIDC_ISSUE,
        HypothesisId.DEPLOY_BUG,
        HypothesisId.CONFIG_REGRESSION,
        HypothesisId.DB_QUERY_REGRESSION,
    }
)


def candidates(obs: Observations, where: Localization) -> list[Candidate]:
    found: list[Candidate] = []
    found += edge_candidates(obs, where)
    for service in sorted(obs.services):
        if service in where.origins or (not where.origins and service == obs.context.service):
            found += service_candidates(obs, where, service, 1.0)
        elif where.health.get(service) is not None:
            # Not where the symptoms point, but its own evidence still counts, for less.
            found += service_candidates(obs, where, service, 0.6)
    found += change_candidates(obs, where)
    found += neighbour_change_candidates(obs, where)
    found += database_candidates(obs, where)
    found += certificate_candidates(obs, where)
    found += provider_candidates(obs, where)
    found += code_path_candidates(obs, where)
    # "A dependency is down" is what remains when nothing more specific explains its failure.
    specific: dict[str | None, float] = {}
    for candidate in found:
        if candidate.hypothesis_id in SPECIFIC_TO_A_SERVICE:
            specific[candidate.culprit] = max(specific.get(candidate.culprit, 0.0), candidate.score)
    for candidate in found:
        if candidate.hypothesis_id == HypothesisId.DOWNSTREAM_OUTAGE and specific.get(
            candidate.culprit
        ):
            candidate.discount(
                0.6 * specific[candidate.culprit],
                f"{candidate.culprit} shows a more specific failure of its own",
            )
    for candidate in found:
        if (
            candidate.hypothesis_id == HypothesisId.DOWNSTREAM_OUTAGE
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
            candidate.hypothesis_id == HypothesisId.DEPLOY_BUG
            and mechanism.get(candidate.culprit)
            and not candidate.shows(CODE)
        ):
            candidate.discount(
                0.5 * mechanism[candidate.culprit],
                f"{candidate.culprit}'s failure has a specific mechanism the deploy only triggered",
            )
        if candidate.hypothesis_id == HypothesisId.CAPACITY_SATURATION and any(
            other.hypothesis_id == HypothesisId.CACHE_MISS_STORM
            and other.culprit == candidate.culprit
            for other in found
        ):
            candidate.discount(0.8, "the pressure follows from cache misses")
    settle_throttled_senders(obs, where, found)
    # Keep the best candidate per (hypothesis, culprit).
    best: dict[tuple[str, str | None], Candidate] = {}
    for candidate in found:
        key = (candidate.hypothesis_id, candidate.culprit)
        if key not in best or candidate.score > best[key].score:
            best[key] = candidate
    return sorted(best.values(), key=lambda c: (-c.score, c.hypothesis_id, c.culprit or ""))


# What saturation read at a throttled sender, or at a callee of it that fails none of its
# calls, keeps of its weight (see `settle_throttled_senders`).
THROTTLED_SHARE = 0.5


def settle_throttled_senders(
    obs: Observations, where: Localization, found: list[Candidate]
) -> None:
    """A service that fails while a peer answers its calls with 429 / throttling is over a
    quota: the refusals are what fails its requests. A sender over a quota also runs hot (it
    sends more, retries, queues the refused work), and so do the callees its surge reaches; that
    heat is a consequence, not the mechanism of the failures. Saturation at the sender, or at a
    callee that fails none of its calls, keeps THROTTLED_SHARE of its weight."""
    for sender in sorted(obs.services):
        health = where.health.get(sender)
        peer = throttled_by(where, sender)
        if not peer or health is None or health.errors < AFFECTED:
            continue
        consequences = {sender} | {
            callee for callee in obs.callees(sender) if not _fails_calls(where, sender, callee)
        }
        for candidate in found:
            if (
                candidate.hypothesis_id == HypothesisId.CAPACITY_SATURATION
                and candidate.culprit in consequences
                and candidate.score > 0
            ):
                candidate.discount(
                    (1 - THROTTLED_SHARE) * candidate.score,
                    f"{peer} answers {sender} with 429 / throttling: {sender} is over a quota, "
                    f"and {candidate.culprit}'s heat follows from its sends",
                )


def _fails_calls(where: Localization, caller: str, callee: str) -> bool:
    """Whether the callee fails: its own errors rose, or its caller's calls to it fail."""
    own = where.health.get(callee)
    fault = where.faults.get((caller, callee))
    return (own is not None and own.errors >= AFFECTED) or (
        fault is not None and fault.errors >= AFFECTED
    )


__all__ = [
    "AFFECTED",
    "Candidate",
    "EdgeFault",
    "Health",
    "Localization",
    "Reason",
    "candidates",
    "change_weight",
    "error_strength",
    "latency_strength",
    "localize",
]
