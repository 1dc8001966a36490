"""Recommended actions: concrete next steps for a cause, filled in from its evidence.

A table, one row per hypothesis: each step template names its key, priority, title and steps,
with ``{service}`` (the culprit) and, where a change is the cause, ``{changed}``, ``{version_to}``,
``{version_from}`` and ``{change}`` (its description) filled in. A row may hold a title for when
a change with a version is on record (``title_with_change``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chronosops.analysis.catalog import HypothesisId
from chronosops.analysis.models import Priority, RecommendedAction
from chronosops.analysis.observations import Change


@dataclass(frozen=True)
class ActionTemplate:
    key: str
    title: str
    steps: tuple[str, ...]
    priority: Priority
    title_with_change: str | None = None  # used when the cause's change names its versions
    # Whether the step acts on the culprit: left out when the cause family is known and the
    # service at fault is not (a rollback of "the affected service" would guess one).
    needs_culprit: bool = True


ACTIONS: dict[str, tuple[ActionTemplate, ...]] = {
    HypothesisId.DEPLOY_BUG: (
        ActionTemplate(
            "rollback",
            "Roll back the most recent deploy of {service}",
            (
                "Roll back, then watch the error rate and latency return to their baseline.",
                "Keep the bad build for the post-incident review; do not redeploy it.",
            ),
            "P0",
            title_with_change="Roll back {changed} from {version_to} to {version_from}",
        ),
        ActionTemplate(
            "diff",
            "Review the change set of the deploy",
            (
                "Diff the deployed versions, starting with code on the failing paths.",
                "Add a test that reproduces the failure before re-shipping.",
            ),
            "P1",
            needs_culprit=False,
        ),
    ),
    HypothesisId.CONFIG_REGRESSION: (
        ActionTemplate(
            "revert",
            "Revert {change} on {changed}",
            (
                "Revert the change or switch the flag off, then confirm errors fall.",
                "Validate the config against its schema before re-applying it.",
            ),
            "P0",
        ),
    ),
    HypothesisId.CAPACITY_SATURATION: (
        ActionTemplate(
            "scale",
            "Add capacity to {service}",
            (
                "Scale out (or raise the connection pool / memory limit) to relieve pressure.",
                "Shed or queue non-critical load while it recovers.",
            ),
            "P0",
        ),
        ActionTemplate(
            "leak",
            "Find what consumes the resource",
            (
                "Check for connection or memory leaks, long-held connections and runaway jobs.",
                "Compare resource use per request before and after the onset.",
            ),
            "P1",
            needs_culprit=False,
        ),
    ),
    HypothesisId.DOWNSTREAM_OUTAGE: (
        ActionTemplate(
            "isolate",
            "Contain the failing dependency {service}",
            (
                "Check {service}'s health and status page; page its owners.",
                "Open circuit breakers, shorten timeouts or serve fallbacks so callers fail fast.",
            ),
            "P0",
        ),
    ),
    HypothesisId.DB_QUERY_REGRESSION: (
        ActionTemplate(
            "queries",
            "Find the slow queries issued by {service}",
            (
                "Inspect slow-query logs and plans for the incident window.",
                "Roll back the query change or add the missing index.",
            ),
            "P0",
            title_with_change="Roll back {changed} from {version_to} to {version_from} (slow queries)",
        ),
    ),
    HypothesisId.NETWORK_DNS_ISSUE: (
        ActionTemplate(
            "network",
            "Check name resolution and connectivity at {service}",
            (
                "Resolve the failing hostnames and open connections from an affected host.",
                "Check recent DNS, network policy, security group or load-balancer changes.",
            ),
            "P0",
        ),
    ),
    HypothesisId.CACHE_MISS_STORM: (
        ActionTemplate(
            "cache",
            "Warm or protect the cache of {service}",
            (
                "Restore the cache (warm it, or roll back the TTL / key change).",
                "Add request coalescing so misses do not stampede the backend.",
            ),
            "P0",
        ),
    ),
    HypothesisId.RATE_LIMIT_THROTTLING: (
        ActionTemplate(
            "limits",
            "Relieve the rate limit hit by {service}",
            (
                "Identify which limit answers 429 and who is consuming the quota.",
                "Raise the limit, or back off and retry with jitter; spread bulk sends out.",
            ),
            "P0",
        ),
    ),
    HypothesisId.AUTH_OIDC_ISSUE: (
        ActionTemplate(
            "auth",
            "Renew or fix the credentials of {service}",
            (
                "Check certificate expiry, rotated secrets and the identity provider's status.",
                "Renew the certificate (or restore the credential) and reload the service.",
            ),
            "P0",
        ),
    ),
    HypothesisId.UNKNOWN: (
        ActionTemplate(
            "evidence",
            "Gather more evidence before acting",
            (
                "Attach metrics, logs and traces of the incident window (or configure collectors).",
                "Record recent deploys and config changes (POST /v1/changes or evidenceLite events).",
            ),
            "P1",
        ),
    ),
}


# When the family is known and the culprit is not, the first step is finding it among the
# candidates the evidence left.
LOCATE = ActionTemplate(
    "locate",
    "Find which of {candidates} is at fault",
    (
        "Compare each candidate's own errors, latency and resource use with its baseline at the onset;"
        " the one that moved first and explains its callers is the place to act.",
        "List what changed on each (deploys, config, scaling, network) in the hour before the onset.",
    ),
    "P0",
)


def actions_for(
    hypothesis_id: str,
    *,
    culprit: str | None,
    change: Change | None,
    refs: list[str],
    candidates: Sequence[tuple[str, float]] | None = None,
) -> list[RecommendedAction]:
    """The family's steps for its culprit. With ``candidates`` (the family is decided but not the
    service), a step to find the culprit among them and the steps that need no culprit."""
    service = culprit or "the affected service"
    values = {
        "service": service,
        "changed": (change.service if change and change.service else None) or service,
        "version_to": change.version_to if change else "",
        "version_from": (change.version_from if change else None) or "the previous version",
        "change": f"'{change.description}'" if change else "the latest config or flag change",
        "candidates": ", ".join(name for name, _ in candidates or ()) or "the affected services",
    }
    templates = ACTIONS.get(hypothesis_id, ACTIONS[HypothesisId.UNKNOWN])
    if candidates is not None and hypothesis_id != HypothesisId.UNKNOWN:
        templates = (LOCATE, *(t for t in templates if not t.needs_culprit))
    return [
        RecommendedAction(
            id=f"{hypothesis_id.lower()}-{template.key}",
            title=(
                template.title_with_change
                if template.title_with_change and change is not None and change.version_to
                else template.title
            ).format(**values),
            steps=[step.format(**values) for step in template.steps],
            priority=template.priority,
            hypothesis_id=hypothesis_id,
            evidence_refs=refs,
        )
        for template in templates
    ]
