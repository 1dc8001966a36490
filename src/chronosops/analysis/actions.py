"""Recommended actions: concrete next steps for a hypothesis, filled in from its evidence."""

from __future__ import annotations

from collections.abc import Sequence

from chronosops.analysis.models import Priority, RecommendedAction, Signal
from chronosops.core.artifacts import Artifact, ChangeEvent


def _change(
    signals: Sequence[Signal], artifacts: dict[str, Artifact], kind: str
) -> ChangeEvent | None:
    for signal in signals:
        if signal.kind == kind:
            for ref in signal.evidence_refs:
                artifact = artifacts.get(ref)
                if isinstance(artifact, ChangeEvent):
                    return artifact
    return None


def _refs(signals: Sequence[Signal]) -> list[str]:
    seen: list[str] = []
    for signal in signals:
        for ref in signal.evidence_refs:
            if ref not in seen:
                seen.append(ref)
    return seen


def actions_for(
    hypothesis_id: str,
    *,
    culprit: str | None,
    support: Sequence[Signal],
    artifacts: dict[str, Artifact],
) -> list[RecommendedAction]:
    service = culprit or "the affected service"
    refs = _refs(support)

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
        deploy = _change(support, artifacts, "recent_deploy")
        if deploy is not None and deploy.version_to:
            target = deploy.service or service
            back_to = deploy.version_from or "the previous version"
            title = f"Roll back {target} from {deploy.version_to} to {back_to}"
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
        change = _change(support, artifacts, "config_changed")
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
                    "Check for connection or memory leaks and long-held connections.",
                    "Compare resource use per request before and after the onset.",
                ],
                "P1",
            ),
        ]
    if hypothesis_id == "DOWNSTREAM_OUTAGE":
        return [
            action(
                "isolate",
                f"Contain the failing dependency of {service}",
                [
                    "Check the dependency's health and status page; page its owners.",
                    "Open circuit breakers or serve fallbacks so callers fail fast.",
                ],
                "P0",
            ),
        ]
    if hypothesis_id == "DB_QUERY_REGRESSION":
        return [
            action(
                "queries",
                f"Find the slow queries behind {service}",
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
                "dns",
                f"Check name resolution and routes from {service}",
                [
                    "Resolve the failing hostnames from an affected host; compare resolvers.",
                    "Check recent DNS, network policy or load-balancer changes.",
                ],
                "P0",
            ),
        ]
    if hypothesis_id == "CACHE_MISS_STORM":
        return [
            action(
                "cache",
                f"Warm or protect the cache in front of {service}",
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
                    "Raise the limit or back off and retry with jitter.",
                ],
                "P0",
            ),
        ]
    if hypothesis_id == "AUTH_OIDC_ISSUE":
        return [
            action(
                "auth",
                f"Check credentials and certificates used by {service}",
                [
                    "Check certificate expiry, rotated secrets and the identity provider's status.",
                    "Compare failing requests' 401/403 reasons before and after the onset.",
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
                "Include recent deploys and config changes as evidenceLite events.",
            ],
            "P1",
        ),
    ]
