"""The hypothesis catalog (reference spec §6.1): ids and meanings are kept stable."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hypothesis:
    id: str
    title: str
    description: str


CATALOG: tuple[Hypothesis, ...] = (
    Hypothesis(
        "DB_QUERY_REGRESSION",
        "Database query regression",
        "A plan change, missing index or N+1 pattern slows or fails requests on the DB path.",
    ),
    Hypothesis(
        "CONFIG_REGRESSION",
        "Configuration regression",
        "A runtime config, feature flag or environment change broke or degraded the service.",
    ),
    Hypothesis(
        "DEPLOY_BUG",
        "Deployment introduced a bug",
        "A code change shipped by a deploy causes new errors or latency.",
    ),
    Hypothesis(
        "DOWNSTREAM_OUTAGE",
        "Downstream dependency outage",
        "A dependency is degraded and its failures cascade into the callers.",
    ),
    Hypothesis(
        "CAPACITY_SATURATION",
        "Capacity saturation / resource exhaustion",
        "CPU, memory or connections are saturated, causing queueing, latency and errors.",
    ),
    Hypothesis(
        "NETWORK_DNS_ISSUE",
        "Network or DNS issue",
        "Connectivity, name resolution or routing problems cause timeouts and errors.",
    ),
    Hypothesis(
        "CACHE_MISS_STORM",
        "Cache miss storm",
        "An invalidation or miss storm overloads what sits behind the cache.",
    ),
    Hypothesis(
        "RATE_LIMIT_THROTTLING",
        "Rate limit or throttling",
        "Limits or throttling were hit, rejecting requests and degrading the service.",
    ),
    Hypothesis(
        "AUTH_OIDC_ISSUE",
        "Authentication or OIDC issue",
        "Identity provider, credential or certificate problems cause 401/403 failures.",
    ),
    Hypothesis(
        "UNKNOWN",
        "Unknown / insufficient evidence",
        "The evidence is incomplete or conflicting; no cause is supported well enough.",
    ),
)

BY_ID: dict[str, Hypothesis] = {h.id: h for h in CATALOG}
UNKNOWN = "UNKNOWN"
