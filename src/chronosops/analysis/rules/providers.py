"""Rules on provider status: a cloud provider's own incident, in our region."""

from __future__ import annotations

from chronosops.analysis.catalog import HypothesisId
from chronosops.analysis.localisation import (
    Localization,
)
from chronosops.analysis.observations import Observations
from chronosops.analysis.scoring import (
    AFFECTED,
    Candidate,
)


def provider_candidates(obs: Observations, where: Localization) -> list[Candidate]:
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
        candidate = Candidate(HypothesisId.DOWNSTREAM_OUTAGE, f"{incident.provider}: {product}")
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
