"""The built-in reasoner's engine: evidence in, ranked and explained hypotheses out.

Pure and deterministic: no I/O, no clock, no randomness. The same artifacts and context give
the same result, so a stored analysis can always be replayed and compared.

The steps: `observations.observe` (what changed, where, when) → `localisation.localize` (where
the fault lives in the call graph) → `hypotheses.candidates` (what kind of fault, whose: the
rules in `analysis.rules`) → when no rule is decisive, `suspects.rank_suspects` (which
services' own signals moved most) → a ranking whose confidences are a softmax over candidate
scores against UNKNOWN, whose weight grows as evidence shrinks, stated at a temperature that
rises as the kinds that tell a cause apart go missing (`completeness.reach`). The cause family is decided
apart from the culprit: a family that clearly holds the probability summed over its services
ranks first without a culprit when no one service is clear (`decided_family`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from chronosops.analysis.actions import actions_for
from chronosops.analysis.catalog import BY_ID, UNKNOWN
from chronosops.analysis.code_paths import MissingPath, StoppedPath, VanishedPath, stopped_paths
from chronosops.analysis.completeness import completeness, reach
from chronosops.analysis.hypotheses import (
    AFFECTED,
    Candidate,
    Localization,
    candidates,
    change_weight,
    error_strength,
    latency_strength,
    localize,
)
from chronosops.analysis.localisation import amplifies, starved_of_cpu
from chronosops.analysis.models import (
    AnalysisInput,
    AnalysisResult,
    Completeness,
    Explainability,
    Factor,
    PrimarySignal,
    RankedHypothesis,
    Signal,
)
from chronosops.analysis.observations import LogFinding, Observations, observe
from chronosops.analysis.onset import anchored_onset
from chronosops.analysis.operation_mix import FallenOperation, fallen_operations
from chronosops.analysis.signals import DEFAULT_TABLE, SignalRule, SignalTable
from chronosops.analysis.suspects import Suspect, rank_suspects
from chronosops.analysis.units import normalise

ENGINE = "builtin"
# Stored with every analysis, so a re-run on another engine says so; what each version
# changed is listed in docs/analysis.md, "Engine versions" (newest first).
ENGINE_VERSION = "3.52"
MAX_HYPOTHESES = 6

# Calibration: confidences are softmax(score / TEMPERATURE) over the candidates and UNKNOWN.
# Chosen on benchmark suite seed 0 for the lowest expected calibration error (stated confidence
# matching accuracy), checked on seed 1: see docs/benchmarks.md.
TEMPERATURE = 0.25
# The temperature the confidences are stated at rises as the kinds of evidence that tell a cause
# apart go missing (`completeness.reach`): TEMPERATURE / reach, so the metrics alone state them
# at three times the temperature. A reading from the metrics alone (saturation, a slow path) is
# the visible face of several causes (a deploy, a slow query, a throttled partner, lost
# packets) that only the missing logs or change events tell apart; its stated confidence must
# say so. Which answer leads, and whether one is named, are decided at TEMPERATURE: the
# ranking reads the evidence there is, the stated confidence what it could not see. A kind read
# and found empty (the change feed read, nothing deployed: `AnalysisInput.coverage`) was seen
# (engine 3.34). That temperature acts on the cause family only: a named answer's confidence is
# its family's times its culprit's share of that family at TEMPERATURE (`culprit_shares`, 3.37),
# where its callers whose anomaly its own explains are no rivals (`explained_by`, 3.39).
UNKNOWN_SCORE = 0.5  # what "none of these" scores with complete evidence
UNKNOWN_PER_MISSING = 0.6  # added as completeness falls to zero
DECISIVE_SCORE = 1.2  # a cause needs at least this much evidence to be named


def _primary_signal(obs: Observations, where: Localization) -> PrimarySignal:
    """Latency or errors, as the reported service (else the most affected one) shows them."""
    service = obs.context.service
    health = where.health.get(service) if service else None
    if health is None or health.strength < AFFECTED:
        affected = [h for h in where.health.values() if h.strength >= AFFECTED]
        health = max(affected, key=lambda h: h.strength, default=None)
    if health is not None and health.strength >= AFFECTED:
        return "LATENCY" if health.latency > health.errors else "ERRORS"
    if any(f.is_error and f.grew for f in obs.logs):
        return "ERRORS"
    return "UNKNOWN"


def _factor(obs: Observations, family: str) -> float:
    shifts = [
        s
        for s in obs.all_shifts
        if s.family == family and abs(s.z) >= 4 and math.isfinite(s.factor)
    ]
    if not shifts:
        return 1.0
    return round(max(s.factor for s in shifts), 2)


def _signals(
    obs: Observations,
    where: Localization,
    stopped: Sequence[StoppedPath] = (),
    fallen: Sequence[FallenOperation] = (),
) -> list[Signal]:
    """What the evidence shows, strongest first, for people to read (and cite); ``fallen``:
    the operation-mix shifts the suspects ranking kept as their service's own."""
    found: list[Signal] = []
    # Code paths that stopped: the only trace some code faults leave, so people must see them.
    paths: list[tuple[str, VanishedPath | MissingPath | StoppedPath | FallenOperation]] = [
        *(("code_path_vanished", p) for p in obs.code_paths),
        *(("code_path_missing", p) for p in obs.missing_paths),
        *(("code_path_stopped", p) for p in stopped),
        *(("operation_mix_fell", p) for p in fallen),
    ]
    for kind, path in paths:
        if path.strength >= AFFECTED:
            found.append(
                Signal(
                    kind=kind,
                    description=path.describe(),
                    strength=round(path.strength, 4),
                    service=path.service,
                    at=path.stopped_at if isinstance(path, StoppedPath | VanishedPath) else None,
                    evidence_refs=list(path.refs),
                )
            )
    for shift in obs.all_shifts:
        strength = (
            error_strength(shift)
            if shift.family == "errors"
            else latency_strength(shift)
            if shift.family == "latency"
            else 0.0
        )
        if shift.family not in ("errors", "latency"):
            if abs(shift.z) < 6 or not math.isfinite(shift.factor) or 0.67 < shift.factor < 1.5:
                continue
            strength = min(1.0, abs(math.log2(max(shift.factor, 1e-6))) / 2)
        if strength < AFFECTED:
            continue
        direction = "rose" if shift.delta > 0 else "fell"
        found.append(
            Signal(
                kind=f"{shift.family}_{'up' if shift.delta > 0 else 'down'}",
                description=f"{shift.name} on {shift.service} {direction}: {shift.before:.4g} → {shift.after:.4g}",
                strength=round(strength, 4),
                service=shift.service,
                at=shift.changed_at,
                factor=round(shift.factor, 4) if math.isfinite(shift.factor) else None,
                evidence_refs=[shift.artifact_id],
            )
        )
    for fault in where.faults.values():
        if fault.strength >= AFFECTED:
            found.append(
                Signal(
                    kind="failing_calls",
                    description=f"calls {fault.caller} → {fault.callee} fail or slow down"
                    + (f" ({', '.join(sorted(fault.categories))})" if fault.categories else ""),
                    strength=round(fault.strength, 4),
                    service=fault.callee,
                    evidence_refs=list(fault.refs),
                )
            )
    for finding in obs.logs:
        if finding.grew and finding.is_error:
            found.append(
                Signal(
                    kind="new_error_logs" if finding.is_new else "error_logs_burst",
                    description=f"'{finding.template[:100]}' ×{finding.count} on {', '.join(finding.services)}",
                    strength=round(min(1.0, 0.3 + 0.1 * math.log2(1 + finding.errors)), 4),
                    service=finding.services[0] if finding.services else None,
                    at=finding.first_seen,
                    evidence_refs=[finding.artifact_id],
                )
            )
    for change in obs.changes:
        lead = change.lead_minutes(obs.onset)
        if -5 <= lead <= 60:
            found.append(
                Signal(
                    kind=f"recent_{change.change_type}",
                    description=f"{change.change_type} on {change.service or 'unknown service'} {lead:.0f} min before the onset: {change.description}",
                    strength=round(change_weight(change, obs.onset), 4),
                    service=change.service,
                    at=change.at,
                    evidence_refs=[change.artifact_id],
                )
            )
    return sorted(found, key=lambda s: (-s.strength, s.kind, s.evidence_refs))[:40]


# The cause family a service's leading kind of signal points to.
FAMILY_OF_KIND = {
    "cpu": "CAPACITY_SATURATION",
    "memory": "CAPACITY_SATURATION",
    "saturation": "CAPACITY_SATURATION",
    "gc": "CAPACITY_SATURATION",
    "restarts": "CAPACITY_SATURATION",
    "edge_latency": "NETWORK_DNS_ISSUE",
    "network": "NETWORK_DNS_ISSUE",
    "latency": "NETWORK_DNS_ISSUE",
    "span_latency": "NETWORK_DNS_ISSUE",
    "error_ratio": "DEPLOY_BUG",
    "errors": "DEPLOY_BUG",
    "availability": "DEPLOY_BUG",
    "log_errors": "DEPLOY_BUG",
    "log_vanished": "DEPLOY_BUG",
    "log_new_errors": "DEPLOY_BUG",
    "calls_vanished": "DEPLOY_BUG",
    "statement_stopped": "DEPLOY_BUG",
    "operation_mix": "DEPLOY_BUG",
    "span_cut_short": "DEPLOY_BUG",
    "requests_cut_short": "DEPLOY_BUG",
    "circuit_open": "DOWNSTREAM_OUTAGE",
    "cache_hit": "CACHE_MISS_STORM",
    "traffic": "CAPACITY_SATURATION",
}
SUSPECT_WEIGHT = 1.6  # a clear leader's own strength
SUSPECT_MARGIN_WEIGHT = 1.0  # how far ahead of the runner-up it stands
SUSPECT_EXPLAINS_WEIGHT = 0.5  # how much of its callers' anomaly it explains
SUSPECT_COMPRESSION = 2 / 3  # the share of a suspect's score above the bar that is discounted
SUSPECT_LEAD = "suspect_lead"  # reason tag: the service's own signals moved most
# A suspect-ranking leader below the bar is still named when it holds most of the probability
# and several times what is left for "none of these": the evidence names one service clearly,
# and an UNKNOWN first would hide it (issue 11). Rules' candidates keep the bar.
CLEAR_LEAD_PROBABILITY = 0.5
CLEAR_LEAD_RATIO = 4.0


# Error lines that say a connection was never made (refused, reset, no route, a name that did
# not resolve): the service's calls fail on the way out, not in its code. Read line by line: a
# Java `NoRouteToHostException` is an exception too, and still a connection never made.
UNOPENED_LOG_CATEGORIES = frozenset({"refused", "dns"})
NO_LOG_CATEGORIES: Mapping[str, frozenset[str]] = MappingProxyType({})


def _what_a_line_says(categories: frozenset[str]) -> str:
    if categories & UNOPENED_LOG_CATEGORIES:
        return "unopened"
    if categories == {"timeout"}:
        return "timeout"
    return "other"


def rising_error_categories(logs: Sequence[LogFinding]) -> dict[str, frozenset[str]]:
    """Per service, what each of its error lines that began or rose at the onset says
    happened: a connection never made (``unopened``), a call out of time, or anything else."""
    said: dict[str, set[str]] = defaultdict(set)
    for finding in logs:
        if not finding.is_error or not (finding.is_new or finding.burst >= 2):
            continue
        for service in finding.services:
            said[service].add(_what_a_line_says(finding.categories))
    return {service: frozenset(found) for service, found in said.items()}


def _logs_say_unopened(said: frozenset[str]) -> bool:
    return "unopened" in said and said <= {"unopened", "timeout"}


def _family(
    suspect: Suspect, error_log_categories: Mapping[str, frozenset[str]] = NO_LOG_CATEGORIES
) -> str:
    """The cause family a suspect's own signals point to."""
    kinds = suspect.kinds
    heat = max(kinds.get("cpu", 0.0), kinds.get("saturation", 0.0))
    footprint = kinds.get("memory", 0.0)
    code = max(
        kinds.get("log_errors", 0.0),
        kinds.get("log_new_errors", 0.0),
        kinds.get("log_errors_persistent", 0.0),
        kinds.get("error_ratio", 0.0),
        kinds.get("availability", 0.0),
        kinds.get("errors", 0.0),
        kinds.get("calls_vanished", 0.0),
        kinds.get("statement_stopped", 0.0),
        kinds.get("operation_mix", 0.0),
        kinds.get("span_cut_short", 0.0),
        kinds.get("requests_cut_short", 0.0),
    )
    own_latency = kinds.get("latency", 0.0)
    edge_latency = kinds.get("edge_latency", 0.0)
    if heat >= 0.5 and heat >= code:
        return "CAPACITY_SATURATION"
    if footprint >= 0.5 and footprint >= code and own_latency >= 0.25:
        # Memory grew and the service got slower: memory pressure.
        return "CAPACITY_SATURATION"
    if code >= max(0.3, own_latency, edge_latency):
        # Failures its own logs put on the way out ("no route to host", "connection refused")
        # are its network path, not its code; a callee that is down is the edge rules' to name.
        said = error_log_categories.get(suspect.service, frozenset())
        return "NETWORK_DNS_ISSUE" if _logs_say_unopened(said) else "DEPLOY_BUG"
    if edge_latency >= 0.3 and own_latency < 0.25 * edge_latency:
        # Its callers wait longer while the service itself serves as fast as before: the path
        # between them is slow.
        return "NETWORK_DNS_ISSUE"
    if own_latency >= 0.25 and suspect.median_calm and heat < CALM_HEAT:
        # Its tail got slower while its typical request is as fast as before: a share of its
        # requests takes another, slower path (a code path), not every request queueing.
        return "DEPLOY_BUG"
    if own_latency >= 0.25 and not suspect.own_time_calm:
        # The service itself got slower to serve, with nothing failing: starved of CPU or
        # workers. Not where its spans show its own operations serving as fast as before: the
        # percentile then carries its callees' time or a tail of a few calls.
        return "CAPACITY_SATURATION"
    if footprint >= FOOTPRINT_CHANGE:
        # Its memory stepped while it ran no hotter and no slower: something new runs in it (a
        # code path, a leak starting), not a resource running out.
        return "DEPLOY_BUG"
    leading = suspect.leading_kind()
    return FAMILY_OF_KIND.get(leading or "", "DEPLOY_BUG")


# CPU or saturation strength below which a service ran no hotter.
CALM_HEAT = 0.2


# A memory step (0–1 strength) that, with no heat or slowdown beside it, reads as a change inside
# the service rather than saturation.
FOOTPRINT_CHANGE = 0.3


# How much a family read from generic signals can be trusted: a hot CPU names saturation; a
# slower path with a service serving as fast as before names the network; errors alone say the
# service fails, not why.
FAMILY_SPECIFICITY = {
    "CAPACITY_SATURATION": 1.0,
    "NETWORK_DNS_ISSUE": 0.9,
    "DEPLOY_BUG": 0.6,
}
# Errors the service never logged before the onset, with support, are a code path that started
# failing (Nezha's new log patterns): more telling of a code fault than errors rising.
NEW_ERRORS_SPECIFICITY = 0.9
NEW_ERRORS_MIN = 0.4
# Evidence that the service's own code path changed: new error templates, calls every request
# made that stopped, requests that now stop at the service.
OWN_CODE_PATH_KINDS = (
    "log_new_errors",
    "calls_vanished",
    "statement_stopped",
    "operation_mix",
    "requests_cut_short",
)


def _specificity(family: str, suspect: Suspect) -> float:
    if (
        family == "DEPLOY_BUG"
        and max(suspect.kinds.get(kind, 0.0) for kind in OWN_CODE_PATH_KINDS) >= NEW_ERRORS_MIN
    ):
        # New error templates, or calls every request made that stopped while the requests
        # kept coming: the service's own code path changed.
        return NEW_ERRORS_SPECIFICITY
    return FAMILY_SPECIFICITY.get(family, 0.6)


def suspect_candidates(
    suspects: Sequence[Suspect],
    error_log_categories: Mapping[str, frozenset[str]] = NO_LOG_CATEGORIES,
) -> list[Candidate]:
    """Candidates from the ranking of services by how much their own signals moved
    (``error_log_categories``: `rising_error_categories`)."""
    found: list[Candidate] = []
    # Standing clear of the others only means something when there are others.
    contenders = [s for s in suspects if s.score >= 0.1]
    for index, suspect in enumerate(suspects[:3]):
        runner_up = suspects[index + 1].score if index + 1 < len(suspects) else 0.0
        margin = max(0.0, suspect.score - runner_up) if index == 0 and len(contenders) >= 2 else 0.0
        family = _family(suspect, error_log_categories)
        specificity = _specificity(family, suspect)
        candidate = Candidate(family, suspect.service)
        kinds = ", ".join(sorted(suspect.kinds, key=lambda k: -suspect.kinds[k])[:3])
        candidate.add(
            SUSPECT_WEIGHT * specificity * suspect.score * (1.0 if index == 0 else 0.6),
            f"{suspect.service}'s own signals moved most at the onset ({kinds})",
            suspect.citations(),
            tag=SUSPECT_LEAD if index == 0 else "",
        )
        candidate.add(
            SUSPECT_MARGIN_WEIGHT * specificity * margin,
            f"{suspect.service} stands clear of the next service",
            suspect.citations(2),
        )
        if index == 0:
            candidate.add(
                SUSPECT_EXPLAINS_WEIGHT * specificity * min(1.0, suspect.explains),
                f"its callers' symptoms follow from {suspect.service}'s",
                suspect.citations(2),
            )
        if candidate.score > DECISIVE_SCORE:
            # A ranking of generic signals is less sure than a mechanism's own evidence: the
            # score above the bar counts for a third (measured on the tuned Nezha cases, named
            # answers at 0.99 confidence were right 83% of the time, at 0.86 44%).
            candidate.discount(
                SUSPECT_COMPRESSION * (candidate.score - DECISIVE_SCORE),
                "read from which signals moved, not from a mechanism's own evidence",
            )
        found.append(candidate)
    return found


def is_decisive(leader: Candidate, chance: float, unknown_chance: float) -> bool:
    """Whether the leading candidate is named ahead of UNKNOWN: enough evidence and more weight
    than UNKNOWN, or a suspect-ranking leader that clearly holds most of the probability."""
    if leader.score >= DECISIVE_SCORE and chance > unknown_chance:
        return True
    return (
        leader.shows(SUSPECT_LEAD)
        and chance >= CLEAR_LEAD_PROBABILITY
        and chance >= CLEAR_LEAD_RATIO * unknown_chance
    )


# The cause family is decided apart from the culprit (engine 3.10). "A code fault, somewhere among
# these three services" is an answer an on-call engineer can act on (look for the deploy, not the
# network) even when no one service is clear; an UNKNOWN first would hide it. The family's
# probability is the sum over its candidates (marginalised over which service); it is named when
# it holds a majority of the probability, so it outweighs every other family and UNKNOWN
# together, and at least three times what is left for UNKNOWN: odds of 3:1 are where Kass and
# Raftery's scale of evidence starts calling it positive rather than "barely worth a mention".
# The culprit keeps its own, stricter rule (`is_decisive`: four times UNKNOWN), so a family can
# be decided where no service is, never the other way round.
FAMILY_MAJORITY = 0.5
FAMILY_ODDS = 3.0


@dataclass(frozen=True)
class Family:
    """A cause family decided without a culprit, with the marginal probabilities it came from."""

    hypothesis_id: str
    probability: float
    unknown: float
    marginals: dict[str, float]  # every family's summed probability
    services: list[tuple[str, float]]  # the family's candidate services, likeliest first
    refs: list[str]
    lead: Candidate  # the family's likeliest (service) candidate, for its reasons


def _softmax(
    scores: Sequence[float], unknown_score: float, temperature: float = TEMPERATURE
) -> list[float]:
    """Probabilities of the scores and, last, of UNKNOWN."""
    every = [*scores, unknown_score]
    top = max(every)
    weights = [math.exp((s - top) / temperature) for s in every]
    total = sum(weights)
    return [w / total for w in weights]


def explained_by(
    leader: str, suspects: Sequence[Suspect], obs: Observations | None = None
) -> frozenset[str]:
    """The services whose anomaly ``leader``'s explains (engine 3.39): its callers, directly or
    transitively, whose own signals are what its own would propagate up the call graph
    (`Suspect.explained_callers`: anomalous, at most twice as anomalous as the service they call,
    with no trouble of their own that service cannot explain). A caller that sends its callee
    far more work than it receives (`localisation.amplifies`) is the cause of the callee's
    trouble, not its symptom: the path stops there."""
    callers = {s.service: s.explained_callers for s in suspects}
    found: set[str] = set()
    frontier = [leader]
    while frontier:
        service = frontier.pop()
        for caller in sorted(callers.get(service, frozenset())):
            if caller == leader or caller in found:
                continue
            if obs is not None and amplifies(obs, caller, service):
                continue
            found.add(caller)
            frontier.append(caller)
    return frozenset(found)


def culprit_shares(
    ranked: Sequence[Candidate], explained: Mapping[str, frozenset[str]] | None = None
) -> dict[tuple[str, str | None], float]:
    """Each (family, service) candidate's share of its family, at TEMPERATURE (engine 3.37).

    A named answer says two things: which kind of fault, and where. The family's probability
    is stated at the missing evidence's temperature (`completeness.reach`), because what the
    missing kinds could overturn is the *kind* of fault: a change feed read and found empty
    rules out a deploy, and says nothing about which of two services that both read as
    saturated is the one at fault. Where is told by how decisively the evidence there is puts
    the family at this service rather than at another it reads at; the same scores at the
    ranking's own temperature say that, whatever else is missing. A family read at one
    service only has a share of one.

    ``explained``: service → the services whose anomaly its own explains (`explained_by`,
    engine 3.39). Those are not rivals for its share: the family reads at them because the
    fault's symptoms travel up the call graph, and a reading that follows from this service's
    is no evidence that the fault is elsewhere. A rival that is not its caller (its callee, or
    unconnected), a caller with trouble of its own, or one with a change of its own still
    splits the share."""
    best: dict[tuple[str, str | None], float] = {}
    changed: set[tuple[str, str | None]] = set()
    for c in ranked:
        key = (c.hypothesis_id, c.culprit)
        best[key] = max(best.get(key, c.score), c.score)
        if c.change is not None:
            changed.add(key)
    top: dict[str, float] = {}
    for (family, _), score in best.items():
        top[family] = max(top.get(family, score), score)
    weight = {k: math.exp((s - top[k[0]]) / TEMPERATURE) for k, s in best.items()}
    shares: dict[tuple[str, str | None], float] = {}
    for key, w in weight.items():
        family, service = key
        followers = (explained or {}).get(service or "", frozenset())
        total = sum(
            other
            for (f, s), other in weight.items()
            if f == family and ((f, s) == key or s not in followers or (f, s) in changed)
        )
        shares[key] = w / total
    return shares


def decided_family(
    ranked: Sequence[Candidate], unknown_score: float, stated_temperature: float = TEMPERATURE
) -> Family | None:
    """The cause family that holds most of the probability over every (family, service)
    candidate and UNKNOWN, when it does so clearly; None otherwise. Decided at TEMPERATURE; its
    probabilities are stated at ``stated_temperature``."""
    distinct: dict[tuple[str, str | None], Candidate] = {}
    for candidate in sorted(ranked, key=lambda c: (-c.score, c.hypothesis_id, c.culprit or "")):
        distinct.setdefault((candidate.hypothesis_id, candidate.culprit), candidate)
    if not distinct:
        return None
    every = list(distinct.values())
    probability = _softmax([c.score for c in every], unknown_score)
    unknown = probability[-1]
    marginals: dict[str, float] = {}
    for candidate, chance in zip(every, probability, strict=False):
        marginals[candidate.hypothesis_id] = marginals.get(candidate.hypothesis_id, 0.0) + chance
    family, mass = max(marginals.items(), key=lambda item: (item[1], item[0]))
    if mass < FAMILY_MAJORITY or mass < FAMILY_ODDS * unknown:
        return None
    if stated_temperature != TEMPERATURE:
        probability = _softmax([c.score for c in every], unknown_score, stated_temperature)
        unknown = probability[-1]
        marginals = {}
        for candidate, chance in zip(every, probability, strict=False):
            marginals[candidate.hypothesis_id] = (
                marginals.get(candidate.hypothesis_id, 0.0) + chance
            )
        mass = marginals[family]
    members = [
        (c, chance)
        for c, chance in zip(every, probability, strict=False)
        if c.hypothesis_id == family
    ]
    refs: list[str] = []
    for candidate, _ in members:
        refs += [ref for ref in candidate.refs[:10] if ref not in refs]
    return Family(
        hypothesis_id=family,
        probability=mass,
        unknown=unknown,
        marginals=marginals,
        services=[(c.culprit, chance) for c, chance in members if c.culprit],
        refs=refs[:20],
        lead=members[0][0],
    )


def _listed(services: Sequence[tuple[str, float]]) -> str:
    return ", ".join(f"{name} ({chance:.2f})" for name, chance in services) or "none named"


def _unknown(rank: int, chance: float, evidence: Completeness, why: str) -> RankedHypothesis:
    missing = ", ".join(m.need for m in evidence.missing)
    return RankedHypothesis(
        id=UNKNOWN,
        rank=rank,
        title=BY_ID[UNKNOWN].title,
        confidence=round(chance, 4),
        rationale=f"Evidence completeness is {evidence.score}/100; {why}"
        + (f" Missing: {missing}." if missing else ""),
    )


def _family_first(
    family: Family, hypotheses: Sequence[RankedHypothesis], evidence: Completeness
) -> list[RankedHypothesis]:
    """The decided family first, with no culprit; then UNKNOWN and the other families (each with
    its best culprit) by probability. Confidences are the families' marginals (summed over their services),
    so they sum to at most one as before."""
    title = BY_ID[family.hypothesis_id].title
    first = RankedHypothesis(
        id=family.hypothesis_id,
        rank=1,
        title=title,
        confidence=round(family.probability, 4),
        rationale=(
            f"{title}: the evidence points to this kind of fault ({family.probability:.2f} summed "
            f"over the services it could be at), but no one service is clear; candidates: "
            f"{_listed(family.services)}. The likeliest: {_rationale(family.lead)}"
        ),
        evidence_refs=family.refs,
    )
    unknown = _unknown(
        0, family.unknown, evidence, "the kind of fault is clear, the service at fault is not."
    )
    others = [
        h.model_copy(update={"confidence": round(family.marginals.get(h.id, 0.0), 4)})
        for h in hypotheses
        if h.id not in (UNKNOWN, family.hypothesis_id)
    ]
    # After the family, the alternatives in the order of their probability, UNKNOWN among them.
    rest = sorted([unknown, *others], key=lambda h: (-h.confidence, h.id == UNKNOWN, h.rank))
    found = [first]
    for rank, hypothesis in enumerate(rest, start=2):
        found.append(hypothesis.model_copy(update={"rank": rank}))
    return found


def _suspect_order(
    culprit: str | None, hypotheses: Sequence[RankedHypothesis], suspects: Sequence[Suspect]
) -> list[str]:
    """Culprits in rank order. With a named cause, its culprit and the other candidates' lead;
    without one, the services whose own signals moved most lead (weak candidates follow)."""
    named = [h.culprit_service for h in hypotheses if h.culprit_service]
    moved = [s.service for s in suspects]
    order: list[str] = []
    for name in ([culprit] if culprit else []) + (named + moved if culprit else moved + named):
        if name and name not in order:
            order.append(name)
    return order[:10]


def _rationale(candidate: Candidate) -> str:
    reasons = sorted(candidate.reasons, key=lambda r: -r.weight)
    return (
        f"{BY_ID[candidate.hypothesis_id].title}: "
        + "; ".join(r.text for r in reasons[:4] if r.text)
        + "."
    )


def analyze(request: AnalysisInput) -> AnalysisResult:
    context = request.context
    table = (
        SignalTable([SignalRule(r.pattern, r.kind) for r in request.signal_rules])
        if request.signal_rules
        else DEFAULT_TABLE
    )
    # Units are a property of the signal: every series in its kind's unit before any rule reads
    # a level (`units`).
    artifacts = normalise(request.artifacts, table)
    # The reported start where the evidence agrees with it, else where the fault shows (`onset`).
    onset = anchored_onset(artifacts, context.onset, table)
    if onset != context.onset:
        context = context.model_copy(update={"onset": onset})
    obs = observe(artifacts, context, request.statement_history, table)
    where = localize(obs)
    primary = _primary_signal(obs, where)
    evidence = completeness(
        request.artifacts,
        source_type=context.source_type,
        primary_signal=primary,
        notes=request.collection_notes,
        coverage=request.coverage,
    )
    ranked = candidates(obs, where)
    graph = set(obs.edges) | obs.log_edges | obs.change_edges
    stopped = stopped_paths(artifacts, context.onset)
    fallen = fallen_operations(artifacts, request.operation_history)
    suspects = rank_suspects(
        artifacts,
        context,
        table=table,
        edges=graph,
        stopped=stopped,
        fallen=fallen,
        starved=frozenset(service for service in obs.services if starved_of_cpu(obs, service)),
    )
    if max((c.score for c in ranked), default=0.0) < DECISIVE_SCORE:
        # The rules that read specific mechanisms found nothing decisive: the services whose own
        # signals moved most, and the kind of signal that moved, speak instead.
        ranked = sorted(
            [
                *ranked,
                *suspect_candidates(suspects, rising_error_categories(obs.logs)),
            ],
            key=lambda c: (-c.score, c.hypothesis_id),
        )

    # One entry per hypothesis: its best culprit. Probabilities over those and UNKNOWN.
    best: dict[str, Candidate] = {}
    for candidate in ranked:
        best.setdefault(candidate.hypothesis_id, candidate)
    leaders = sorted(best.values(), key=lambda c: (-c.score, c.hypothesis_id))[: MAX_HYPOTHESES - 1]
    unknown_score = UNKNOWN_SCORE + UNKNOWN_PER_MISSING * (1 - evidence.score / 100)
    probability = _softmax([c.score for c in leaders], unknown_score)
    decided = {c.hypothesis_id: p for c, p in zip(leaders, probability, strict=False)}
    decided[UNKNOWN] = probability[-1]

    leader = leaders[0] if leaders else None
    decisive = leader is not None and is_decisive(
        leader, decided[leader.hypothesis_id], decided[UNKNOWN]
    )
    # Stated: the same scores at the temperature the missing evidence leaves (same order).
    # (Traces alone, or nothing, state no more surely than the metrics alone: one kind of three.)
    stated_temperature = TEMPERATURE / max(reach(evidence), 1 / 3)
    stated = _softmax([c.score for c in leaders], unknown_score, stated_temperature)
    chance = {c.hypothesis_id: p for c, p in zip(leaders, stated, strict=False)}
    chance[UNKNOWN] = stated[-1]
    order: list[Candidate | None] = list(leaders)
    if decisive:
        order.append(None)
    else:
        order.insert(0, None)

    hypotheses: list[RankedHypothesis] = []
    for rank, entry in enumerate(order, start=1):
        if entry is None:
            if leader is None:
                why = "no evidence points at any cause."
            elif decisive:
                why = "kept as the alternative to the causes above."
            else:
                why = (
                    f"the strongest candidate, {BY_ID[leader.hypothesis_id].title.lower()}, scores "
                    f"{leader.score:.2f}; naming a cause needs at least {DECISIVE_SCORE} and more "
                    "weight than the uncertainty left by missing evidence."
                )
            hypotheses.append(_unknown(rank, chance[UNKNOWN], evidence, why))
            continue
        hypotheses.append(
            RankedHypothesis(
                id=entry.hypothesis_id,
                rank=rank,
                title=BY_ID[entry.hypothesis_id].title,
                confidence=round(chance[entry.hypothesis_id], 4),
                rationale=_rationale(entry),
                culprit_service=entry.culprit,
                evidence_refs=entry.refs[:20],
            )
        )
    # The culprits in rank order come from the per-service reading, whichever answer leads.
    suspect_order = _suspect_order(
        leader.culprit if decisive and leader else None, hypotheses, suspects
    )
    family = None if decisive else decided_family(ranked, unknown_score, stated_temperature)

    if decisive and leader is not None:
        culprit_service = leader.culprit
        # A named answer is a family *and* a service: its confidence is the family's (stated
        # at the missing evidence's temperature) times the service's share of that family.
        overall = round(
            chance[leader.hypothesis_id]
            * culprit_shares(
                ranked,
                {leader.culprit: explained_by(leader.culprit, suspects, obs)}
                if leader.culprit
                else None,
            )[(leader.hypothesis_id, leader.culprit)],
            4,
        )
        actions = actions_for(
            leader.hypothesis_id,
            culprit=leader.culprit,
            change=leader.change,
            refs=leader.refs[:10],
        )
        summary = (
            f"Likely {BY_ID[leader.hypothesis_id].title.lower()} at {culprit_service or 'the affected service'} "
            f"(confidence {overall:.2f}). {_rationale(leader)}"
        )
    elif family is not None:
        culprit_service = None
        hypotheses = _family_first(family, hypotheses, evidence)
        # The answer's confidence stays that of its likeliest cause at one place, as for an
        # inconclusive one: a family without a culprit does not finish an investigation.
        overall = round(max((chance[c.hypothesis_id] for c in leaders), default=0.0), 4)
        actions = actions_for(
            family.hypothesis_id,
            culprit=None,
            change=None,
            refs=hypotheses[0].evidence_refs[:10],
            candidates=family.services,
        ) + actions_for(UNKNOWN, culprit=context.service, change=None, refs=[])
        summary = (
            f"Likely {BY_ID[family.hypothesis_id].title.lower()} "
            f"(confidence {hypotheses[0].confidence:.2f}); "
            f"which service is not clear: {_listed(family.services)}."
        )
    else:
        culprit_service = None
        overall = round(max((chance[c.hypothesis_id] for c in leaders), default=0.0), 4)
        actions = actions_for(UNKNOWN, culprit=context.service, change=None, refs=[])
        if leader is not None:
            actions += actions_for(
                leader.hypothesis_id,
                culprit=leader.culprit,
                change=leader.change,
                refs=leader.refs[:10],
            )
        summary = "Inconclusive: the evidence does not support any cause strongly enough" + (
            f"; the leading candidate is {BY_ID[leader.hypothesis_id].title.lower()} at {leader.culprit}."
            if leader is not None
            else "."
        )

    own_mix = {s.service for s in suspects if s.kinds.get("operation_mix")}
    signals = _signals(obs, where, stopped, [f for f in fallen if f.service in own_mix])
    factors = (
        [
            Factor(
                name=reason.text[:120],
                value=reason.weight,
                weight=1.0,
                evidence_refs=reason.refs[:10],
            )
            for reason in sorted(leader.reasons, key=lambda r: -r.weight)[:8]
        ]
        if leader is not None
        else []
    )
    explainability = Explainability(
        primary_signal=primary,
        latency_factor=_factor(obs, "latency"),
        error_factor=_factor(obs, "errors"),
        factors=factors,
        rationale=(
            f"Primary signal {primary.lower()}; "
            + (
                f"the fault localises to {', '.join(sorted(where.origins)) or 'no single service'}"
                if where.origins or where.broken_edges
                else "no anomaly was found in the evidence provided"
            )
            + (
                "; failing connections: "
                + ", ".join(f"{f.caller}→{f.callee}" for f in where.broken_edges)
                if where.broken_edges
                else ""
            )
            + "."
        ),
    )
    return AnalysisResult(
        engine=ENGINE,
        engine_version=ENGINE_VERSION,
        summary=summary,
        inconclusive=not decisive and family is None,
        overall_confidence=overall,
        culprit_service=culprit_service,
        hypotheses=hypotheses,
        recommended_actions=actions,
        explainability=explainability,
        signals=signals,
        completeness=evidence,
        suspects=suspect_order,
    )


def onset_of(request: AnalysisInput) -> str:
    """The onset the engine estimates (for benchmark reports)."""
    artifacts = normalise(request.artifacts, DEFAULT_TABLE)
    onset = anchored_onset(artifacts, request.context.onset)
    context = request.context.model_copy(update={"onset": onset})
    return observe(artifacts, context).onset.isoformat()


__all__: Sequence[str] = ["ENGINE", "ENGINE_VERSION", "analyze", "onset_of"]
