"""Code faults read from code paths that stopped running (`analysis.code_paths`).

An operation that keeps being called but no longer reaches a statement it reached on its calls
before the fault runs other code than it did: an exception cut the method short, or a value it
now gets sends it down another branch. That is a code fault of the service the operation runs
in (`DEPLOY_BUG`; in the Nezha data, faults injected into a running method). Where the service
calls another that lost a code path too, the callee's fault explains the caller's changed
branch, so the caller counts for less (the deepest change is where the divergence starts).
A statement the service's earlier incidents always showed and this one never logs while its
operation runs (`code_paths.missing_paths`) is the same evidence for a path broken since before
the window began.
"""

from __future__ import annotations

from collections import defaultdict

from chronosops.analysis.catalog import HypothesisId
from chronosops.analysis.code_paths import MissingPath, VanishedPath
from chronosops.analysis.localisation import Localization
from chronosops.analysis.observations import Observations
from chronosops.analysis.scoring import CODE, Candidate

# Evidence only a changed code path leaves (≈ 2: see docs/analysis.md, "Adding a rule").
CODE_PATH_WEIGHT = 2.0
# Each further vanished statement of the same service adds this share of its own strength.
FURTHER_PATH_SHARE = 0.25
# A caller whose callee lost a code path too keeps this share: the callee's fault explains it.
EXPLAINED_CALLER_SHARE = 0.5


def code_path_candidates(obs: Observations, where: Localization) -> list[Candidate]:
    """A code fault at each service whose operations stopped reaching statements they reached."""
    del where  # the paths are read per service; the call graph comes from the observations
    by_service: dict[str, list[VanishedPath | MissingPath]] = defaultdict(list)
    paths_read: list[VanishedPath | MissingPath] = [*obs.code_paths, *obs.missing_paths]
    for path in paths_read:
        by_service[path.service].append(path)
    found: list[Candidate] = []
    for service, paths in sorted(by_service.items()):
        paths.sort(key=lambda p: (-p.strength, p.statement))
        share = 1.0
        if any(callee in by_service for callee in obs.callees(service) if callee != service):
            share = EXPLAINED_CALLER_SHARE
        candidate = Candidate(HypothesisId.DEPLOY_BUG, service)
        for index, path in enumerate(paths[:3]):
            weight = CODE_PATH_WEIGHT * share * path.strength
            candidate.add(
                weight if index == 0 else FURTHER_PATH_SHARE * weight,
                path.describe(),
                path.refs,
                tag=CODE,
            )
        found.append(candidate)
    return found
