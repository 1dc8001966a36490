"""The hypothesis catalog (reference spec §6.1): ids and meanings are kept stable."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class HypothesisId(StrEnum):
    """The catalog's ids. A StrEnum, so each is also the plain string stored and served."""

    DB_QUERY_REGRESSION = "DB_QUERY_REGRESSION"
    CONFIG_REGRESSION = "CONFIG_REGRESSION"
    DEPLOY_BUG = "DEPLOY_BUG"
    DOWNSTREAM_OUTAGE = "DOWNSTREAM_OUTAGE"
    CAPACITY_SATURATION = "CAPACITY_SATURATION"
    NETWORK_DNS_ISSUE = "NETWORK_DNS_ISSUE"
    CACHE_MISS_STORM = "CACHE_MISS_STORM"
    RATE_LIMIT_THROTTLING = "RATE_LIMIT_THROTTLING"
    AUTH_OIDC_ISSUE = "AUTH_OIDC_ISSUE"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class Hypothesis:
    id: str
    title: str
    description: str


CATALOG: tuple[Hypothesis, ...] = (
    Hypothesis(
        HypothesisId.DB_QUERY_REGRESSION.value,
        "Database query regression",
        "A plan change, missing index or N+1 pattern slows or fails requests on the DB path.",
    ),
    Hypothesis(
        HypothesisId.CONFIG_REGRESSION.value,
        "Configuration regression",
        "A runtime config, feature flag or environment change broke or degraded the service.",
    ),
    Hypothesis(
        HypothesisId.DEPLOY_BUG.value,
        "Deployment introduced a bug",
        "A code change shipped by a deploy causes new errors or latency.",
    ),
    Hypothesis(
        HypothesisId.DOWNSTREAM_OUTAGE.value,
        "Downstream dependency outage",
        "A dependency is degraded and its failures cascade into the callers.",
    ),
    Hypothesis(
        HypothesisId.CAPACITY_SATURATION.value,
        "Capacity saturation / resource exhaustion",
        "CPU, memory or connections are saturated, causing queueing, latency and errors.",
    ),
    Hypothesis(
        HypothesisId.NETWORK_DNS_ISSUE.value,
        "Network or DNS issue",
        "Connectivity, name resolution or routing problems cause timeouts and errors.",
    ),
    Hypothesis(
        HypothesisId.CACHE_MISS_STORM.value,
        "Cache miss storm",
        "An invalidation or miss storm overloads what sits behind the cache.",
    ),
    Hypothesis(
        HypothesisId.RATE_LIMIT_THROTTLING.value,
        "Rate limit or throttling",
        "Limits or throttling were hit, rejecting requests and degrading the service.",
    ),
    Hypothesis(
        HypothesisId.AUTH_OIDC_ISSUE.value,
        "Authentication or OIDC issue",
        "Identity provider, credential or certificate problems cause 401/403 failures.",
    ),
    Hypothesis(
        HypothesisId.UNKNOWN.value,
        "Unknown / insufficient evidence",
        "The evidence is incomplete or conflicting; no cause is supported well enough.",
    ),
)

BY_ID: dict[str, Hypothesis] = {h.id: h for h in CATALOG}
assert set(BY_ID) == {member.value for member in HypothesisId}
UNKNOWN = HypothesisId.UNKNOWN.value
