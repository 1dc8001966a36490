"""Rules on certificates: an expired certificate is wrong wherever it is."""

from __future__ import annotations

from chronosops.analysis.catalog import HypothesisId
from chronosops.analysis.localisation import (
    Localization,
)
from chronosops.analysis.observations import Observations
from chronosops.analysis.scoring import (
    AFFECTED,
    Candidate,
    merged_refs,
)


def certificate_candidates(obs: Observations, where: Localization) -> list[Candidate]:
    """An expired certificate is wrong wherever it is; its callers failing confirm it matters."""
    found: list[Candidate] = []
    for service in sorted(obs.services):
        expiry = obs.shift(service, "cert_expiry")
        if expiry is None or min(expiry.trough, expiry.last) > 0:
            continue
        candidate = Candidate(HypothesisId.AUTH_OIDC_ISSUE, service)
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
                merged_refs(*(f.refs for f in failing_callers)),
            )
        found.append(candidate)
    return found
