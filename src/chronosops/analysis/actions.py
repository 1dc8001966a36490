"""Recommended actions: concrete next steps for a cause, filled in from its evidence."""

from __future__ import annotations

from chronosops.analysis.models import Priority, RecommendedAction
from chronosops.analysis.observations import Change


def actions_for(
    hypothesis_id: str,
    *,
    culprit: str | None,
    change: Change | None,
    refs: list[str],
) -> list[RecommendedAction]:
    service = culprit or "the affected service"

    def action(key: str, title: str, steps: list[str], priority: Priority) -> RecommendedAction:
        return RecommendedAction(
            id=f"{hypothesis_id.lower()}-{key}",
            title=title,
            steps=steps,
            priority=priority,
            hypothesis_id=hypothesis_id,
            evidence_refs=refs,
        )

    if hypothesis_id == "DEPLOY_BUG":
        if change is not None and change.version_to:
            back_to = change.version_from or "the previous version"
            title = f"Roll back {change.service or service} from {change.version_to} to {back_to}"
        else:
            title = f"Roll back the most recent deploy of {service}"
        return [
            action(
                "rollback",
                title,
                [
                    "Roll back, then watch the error rate and latency return to their baseline.",
                    "Keep the bad build for the post-incident review; do not redeploy it.",
                ],
                "P0",
            ),
            action(
                "diff",
                "Review the change set of the deploy",
                [
                    "Diff the deployed versions, starting with code on the failing paths.",
                    "Add a test that reproduces the failure before re-shipping.",
                ],
                "P1",
            ),
        ]
    if hypothesis_id == "CONFIG_REGRESSION":
        what = f"'{change.description}'" if change else "the latest config or flag change"
        return [
            action(
                "revert",
                f"Revert {what} on {change.service if change and change.service else service}",
                [
                    "Revert the change or switch the flag off, then confirm errors fall.",
                    "Validate the config against its schema before re-applying it.",
                ],
                "P0",
            ),
        ]
    if hypothesis_id == "CAPACITY_SATURATION":
        return [
            action(
                "scale",
                f"Add capacity to {service}",
                [
                    "Scale out (or raise the connection pool / memory limit) to relieve pressure.",
                    "Shed or queue non-critical load while it recovers.",
                ],
                "P0",
            ),
            action(
                "leak",
                "Find what consumes the resource",
                [
                    "Check for connection or memory leaks, long-held connections and runaway jobs.",
                    "Compare resource use per request before and after the onset.",
                ],
                "P1",
            ),
        ]
    if hypothesis_id == "DOWNSTREAM_OUTAGE":
        return [
            action(
                "isolate",
                f"Contain the failing dependency {service}",
                [
                    f"Check {service}'s health and status page; page its owners.",
                    "Open circuit breakers, shorten timeouts or serve fallbacks so callers fail fast.",
                ],
                "P0",
            ),
        ]
    if hypothesis_id == "DB_QUERY_REGRESSION":
        if change is not None and change.version_to:
            title = f"Roll back {change.service or service} from {change.version_to} to {change.version_from or 'the previous version'} (slow queries)"
        else:
            title = f"Find the slow queries issued by {service}"
        return [
            action(
                "queries",
                title,
                [
                    "Inspect slow-query logs and plans for the incident window.",
                    "Roll back the query change or add the missing index.",
                ],
                "P0",
            ),
        ]
    if hypothesis_id == "NETWORK_DNS_ISSUE":
        return [
            action(
                "network",
                f"Check name resolution and connectivity at {service}",
                [
                    "Resolve the failing hostnames and open connections from an affected host.",
                    "Check recent DNS, network policy, security group or load-balancer changes.",
                ],
                "P0",
            ),
        ]
    if hypothesis_id == "CACHE_MISS_STORM":
        return [
            action(
                "cache",
                f"Warm or protect the cache of {service}",
                [
                    "Restore the cache (warm it, or roll back the TTL / key change).",
                    "Add request coalescing so misses do not stampede the backend.",
                ],
                "P0",
            ),
        ]
    if hypothesis_id == "RATE_LIMIT_THROTTLING":
        return [
            action(
                "limits",
                f"Relieve the rate limit hit by {service}",
                [
                    "Identify which limit answers 429 and who is consuming the quota.",
                    "Raise the limit, or back off and retry with jitter; spread bulk sends out.",
                ],
                "P0",
            ),
        ]
    if hypothesis_id == "AUTH_OIDC_ISSUE":
        return [
            action(
                "auth",
                f"Renew or fix the credentials of {service}",
                [
                    "Check certificate expiry, rotated secrets and the identity provider's status.",
                    "Renew the certificate (or restore the credential) and reload the service.",
                ],
                "P0",
            ),
        ]
    return [
        action(
            "evidence",
            "Gather more evidence before acting",
            [
                "Attach metrics, logs and traces of the incident window (or configure collectors).",
                "Record recent deploys and config changes (POST /v1/changes or evidenceLite events).",
            ],
            "P1",
        ),
    ]
