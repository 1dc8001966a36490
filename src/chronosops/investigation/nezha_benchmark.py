"""Scoring the built-in engine on real incidents: the Nezha fault-injection dataset.

Each case is the body an integration would `POST /v1/incidents/ingest` when the alert fires;
it goes through the same path an ingest takes (evidenceLite → artifacts → engine) and the
answer is scored against the injected fault the way Nezha (FSE'23) scores itself: AS@k is the
share of incidents whose true culprit is among the first k distinct culprits ranked. An
`UNKNOWN` ranked first takes a place and names nobody, so it is a miss at 1.

A quarter of the cases, chosen by a hash of their `sourceRef`, is held out: tuning never looks
at them one by one, and the report keeps them apart.

``perturb`` also analyses seeded variants of each body (`investigation.perturbations`: traces
sampled, logs thinned or lagging, the onset moved, a shorter baseline, a metric kind missing) and
reports how the scores hold over them, and which tuned cases a transform turns from right to
wrong.

``evidence`` keeps only some kinds of each case's evidence (``metrics`` alone: what an alert
whose collectors fetch only metrics hands the engine), removing the others from
``evidenceLite`` before the artifacts are built; the statement history remembered for later
cases is then also built from what was kept.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chronosops.analysis import AnalysisInput, AnalysisResult, IncidentContext, analyze
from chronosops.analysis.code_paths import ServiceStatements, history_of
from chronosops.analysis.models import OperationHistory, StatementHistory
from chronosops.analysis.operation_mix import operation_history_of, remembered_records
from chronosops.core.evidence_kinds import EVIDENCE_KINDS, ReadKind, evidence_label
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.core.windows import incident_window
from chronosops.evidence.lite import artifacts_from_lite
from chronosops.evidence.service import DEFAULT_HISTORY_INCIDENTS
from chronosops.investigation.calibration import NOT_NAMED, Stated, calibration, stated
from chronosops.investigation.perturbations import TRANSFORMS, variants

# Nezha's own service-level figures (paper Table 3): AS@1, AS@3.
PUBLISHED = {"TrainTicket": (0.8667, 0.9778), "OnlineBoutique": (0.9286, 0.9643)}
DATASET_ENV_HINT = "pass --dataset DIR (the folder holding expected.jsonl and cases/)"


class DatasetMissingError(Exception):
    """The Nezha folder is not where it was looked for."""


def is_held_out(source_ref: str) -> bool:
    return int(hashlib.sha256(source_ref.encode()).hexdigest(), 16) % 4 == 0


def find_dataset(start: Path | None = None) -> Path:
    """``shared/datasets/nezha`` beside the repository (or any folder above it, or the cwd)."""
    repository = Path(__file__).resolve().parents[3]
    places = [repository, *repository.parents]
    if start is not None:
        places = [start.resolve(), *start.resolve().parents, *places]
    for place in places:
        candidate = place / "shared" / "datasets" / "nezha"
        if (candidate / "expected.jsonl").is_file():
            return candidate
    raise DatasetMissingError(
        "the Nezha dataset was not found in shared/datasets/nezha beside the repository; "
        + DATASET_ENV_HINT
    )


@dataclass(frozen=True)
class NezhaCase:
    path: Path
    system: str
    source_ref: str
    culprit: str
    fault_type: str
    hypothesis: str
    acceptable: tuple[str, ...]

    @property
    def held_out(self) -> bool:
        return is_held_out(self.source_ref)

    def body(self) -> bytes:
        with gzip.open(self.path, "rb") as handle:
            return handle.read()


def load_cases(dataset: Path) -> list[NezhaCase]:
    expected = dataset / "expected.jsonl"
    if not expected.is_file():
        raise DatasetMissingError(f"{expected} does not exist; " + DATASET_ENV_HINT)
    cases: list[NezhaCase] = []
    for line in expected.read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        cases.append(
            NezhaCase(
                path=dataset / row["file"],
                system=row["system"],
                source_ref=row["sourceRef"],
                culprit=row["culprit_service"],
                fault_type=row["fault_type"],
                hypothesis=row["hypothesis"],
                acceptable=tuple(row.get("acceptable") or ()),
            )
        )
    return cases


def request_of(body: bytes, evidence: frozenset[str] = frozenset(EVIDENCE_KINDS)) -> AnalysisInput:
    """What an ingest of this body hands the engine (no collectors: the evidence is attached),
    with only the ``evidence`` kinds kept."""
    request = IngestIncidentRequest.model_validate_json(body)
    dropped = {kind: None for kind in EVIDENCE_KINDS if kind not in evidence}
    if dropped and request.evidence_lite is not None:
        request = request.model_copy(
            update={"evidence_lite": request.evidence_lite.model_copy(update=dropped)}
        )
    metadata = request.metadata
    service = metadata.service if metadata else None
    window = incident_window(
        start=request.timeline.start,
        end=request.timeline.end,
        minutes_before=request.collection.window_minutes_before,
        minutes_after=request.collection.window_minutes_after,
    )
    artifacts = (
        artifacts_from_lite(request.evidence_lite, default_service=service)
        if request.evidence_lite is not None
        else []
    )
    return AnalysisInput(
        context=IncidentContext(
            source_type=request.source_type,
            title=request.title,
            service=service,
            region=metadata.region if metadata else None,
            environment=metadata.environment if metadata else None,
            onset=request.timeline.start,
            window_start=window.start,
            window_end=window.end,
        ),
        artifacts=artifacts,
    )


def ranked_culprits(result: AnalysisResult) -> list[str | None]:
    """Distinct culprits in rank order: the one named (an UNKNOWN first takes the place and names
    nobody), then the engine's ranking of suspects."""
    found: list[str | None] = [result.culprit_service]  # None: UNKNOWN came first
    ranked: list[str | None] = list(result.suspects) or [
        h.culprit_service for h in result.hypotheses
    ]
    for culprit in ranked:
        if culprit and culprit not in found:
            found.append(culprit)
    return found


@dataclass(frozen=True)
class CaseOutcome:
    source_ref: str
    system: str
    fault_type: str
    held_out: bool
    culprit_top1: bool
    culprit_top3: bool
    hypothesis_top1: bool
    hypothesis_top3: bool
    answered: str  # "HYPOTHESIS@culprit" of the first rank, for reading tuned cases
    expected: str  # the same for the truth
    milliseconds: float  # evidenceLite → artifacts → analysis, CPU time
    body_bytes: int
    stated: Stated = NOT_NAMED


def score(case: NezhaCase, result: AnalysisResult, milliseconds: float, size: int) -> CaseOutcome:
    culprits = ranked_culprits(result)
    right = {case.hypothesis, *case.acceptable}
    top = result.hypotheses[0]
    culprit_top1 = bool(culprits) and culprits[0] == case.culprit
    return CaseOutcome(
        source_ref=case.source_ref,
        system=case.system,
        fault_type=case.fault_type,
        held_out=case.held_out,
        culprit_top1=culprit_top1,
        culprit_top3=case.culprit in culprits[:3],
        hypothesis_top1=top.id in right,
        hypothesis_top3=any(h.id in right for h in result.hypotheses[:3]),
        answered=f"{top.id}@{top.culprit_service or '-'}",
        expected=f"{case.hypothesis}@{case.culprit}",
        milliseconds=milliseconds,
        body_bytes=size,
        stated=stated(result, culprit_top1 and top.id in right),
    )


def analyse(
    case: NezhaCase,
    history: Sequence[StatementHistory] = (),
    evidence: frozenset[str] = frozenset(EVIDENCE_KINDS),
    read_empty: Sequence[ReadKind] = (),
    operations: Sequence[OperationHistory] = (),
    body: bytes | None = None,
) -> tuple[CaseOutcome, dict[str, ServiceStatements]]:
    """The case scored, and what the service keeps of it for later incidents (its log
    statements and its operations' calls, `analysis.operation_mix.remembered_records`, as
    stored in the ``statement_history`` table); ``operations``: the operation mix history.
    ``read_empty``: kinds the bundle says were read over the window (its ``coverage``), as a
    sender's ``evidenceLite.readEmpty`` or a collector that asked would record them. ``body``:
    another body for the case (a variant of its own), scored against the case's truth."""
    if body is None:
        body = case.body()
    # CPU time of this process: what one core spends, whatever else the machine is running.
    started = time.process_time()
    request = request_of(body, evidence)
    if history:
        request = request.model_copy(update={"statement_history": list(history)})
    if operations:
        request = request.model_copy(update={"operation_history": list(operations)})
    if read_empty:
        request = request.model_copy(update={"coverage": list(read_empty)})
    result = analyze(request)
    outcome = score(case, result, (time.process_time() - started) * 1000, len(body))
    return outcome, remembered_records(request.artifacts)


def _latest(
    earlier: Sequence[dict[str, ServiceStatements]], limit: int
) -> list[tuple[str, ServiceStatements]]:
    """Per service, the records of its latest ``limit`` incidents (``earlier`` in time order),
    as `EvidenceService.statement_history` reads them from the table."""
    taken: dict[str, int] = defaultdict(int)
    rows: list[tuple[str, ServiceStatements]] = []
    for records in reversed(earlier):
        for service, record in records.items():
            if taken[service] < limit:
                taken[service] += 1
                rows.append((service, record))
    return rows


def remembered(
    earlier: Sequence[dict[str, ServiceStatements]], limit: int
) -> list[StatementHistory]:
    """The statement history the service reads for the next incident."""
    return history_of(_latest(earlier, limit))


def remembered_operations(
    earlier: Sequence[dict[str, ServiceStatements]], limit: int
) -> list[OperationHistory]:
    """The operation mix history the service reads for the next incident."""
    return operation_history_of(_latest(earlier, limit))


@dataclass
class Tally:
    outcomes: list[CaseOutcome] = field(default_factory=list)

    def share(self, pick: Callable[[CaseOutcome], bool]) -> float | None:
        if not self.outcomes:
            return None
        return sum(pick(o) for o in self.outcomes) / len(self.outcomes)

    def row(self) -> dict[str, float | int | None]:
        return {
            "incidents": len(self.outcomes),
            "culprit_top1": self.share(lambda o: o.culprit_top1),
            "culprit_top3": self.share(lambda o: o.culprit_top3),
            "hypothesis_top1": self.share(lambda o: o.hypothesis_top1),
            "hypothesis_top3": self.share(lambda o: o.hypothesis_top3),
        }


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass(frozen=True)
class NezhaReport:
    dataset: str
    rows: list[dict[str, Any]]  # system, part (tuned / held-out / all), fault type, scores
    p50_ms: float
    p99_ms: float
    max_ms: float
    largest_bytes: int
    largest_ms: float
    tuned_cases: list[CaseOutcome]  # per case, tuned part only: held-out cases stay aggregate
    evidence: str = "all"  # the kinds of evidence kept (`evidence_label`)
    # Named answers' stated confidence against how often they were right
    # (`investigation.calibration`), per "system part" (tuned, held-out).
    calibration: dict[str, dict[str, float | int | None]] = field(default_factory=dict)
    read_empty: str = ""  # the kinds each bundle said it read and found empty, if any
    perturbation: PerturbationReport | None = None  # with ``perturb``: scores over the variants


@dataclass(frozen=True)
class Broken:
    """A tuned case right on its own body (culprit and family first) and wrong on a variant."""

    source_ref: str
    system: str
    fault_type: str
    transform: str
    detail: str  # what the variant's draw did
    expected: str
    answered: str  # on the variant; on the original it was `expected`


@dataclass(frozen=True)
class PerturbationReport:
    per_case: int  # variants per case
    transforms: list[str]
    # system, part (tuned / held-out), variant ("original", "perturbed": every variant, or one
    # transform), incidents (analyses), the scores, and "held": of the variants of cases right
    # on their own body, the share still right.
    rows: list[dict[str, Any]]
    broken: list[Broken]  # tuned cases only; held-out cases stay aggregate


@dataclass
class _Variants:
    outcomes: list[tuple[str, str, CaseOutcome, CaseOutcome]] = field(default_factory=list)

    def add(self, transform: str, detail: str, original: CaseOutcome, outcome: CaseOutcome) -> None:
        self.outcomes.append((transform, detail, original, outcome))


def _right(outcome: CaseOutcome) -> bool:
    return outcome.culprit_top1 and outcome.hypothesis_top1


def _perturbation_report(
    originals: Sequence[CaseOutcome], found: _Variants, per_case: int, transforms: Sequence[str]
) -> PerturbationReport:
    groups: dict[tuple[str, str, str], list[tuple[CaseOutcome, CaseOutcome]]] = defaultdict(list)
    for outcome in originals:
        part = "held-out" if outcome.held_out else "tuned"
        groups[(outcome.system, part, "original")].append((outcome, outcome))
    for transform, _, original, outcome in found.outcomes:
        part = "held-out" if original.held_out else "tuned"
        groups[(original.system, part, "perturbed")].append((original, outcome))
        groups[(original.system, part, transform)].append((original, outcome))
    order = {name: n for n, name in enumerate(("original", "perturbed", *TRANSFORMS))}
    rows: list[dict[str, Any]] = []
    for (system, part, variant), pairs in sorted(
        groups.items(), key=lambda item: (item[0][0], item[0][1] != "tuned", order[item[0][2]])
    ):
        tally = Tally([outcome for _, outcome in pairs])
        stable = [_right(outcome) for original, outcome in pairs if _right(original)]
        row = tally.row()
        del row["hypothesis_top3"]
        rows.append(
            {
                "system": system,
                "part": part,
                "variant": variant,
                **row,
                "held": sum(stable) / len(stable) if stable else None,
            }
        )
    broken = [
        Broken(
            source_ref=original.source_ref,
            system=original.system,
            fault_type=original.fault_type,
            transform=transform,
            detail=detail,
            expected=original.expected,
            answered=outcome.answered,
        )
        for transform, detail, original, outcome in found.outcomes
        if not original.held_out and _right(original) and not _right(outcome)
    ]
    return PerturbationReport(per_case, list(transforms), rows, broken)


def _iterate(cases: Sequence[NezhaCase]) -> Iterator[tuple[int, NezhaCase]]:
    yield from enumerate(cases, start=1)


def run_nezha(
    dataset: Path,
    *,
    limit: int | None = None,
    systems: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
    history: bool = False,
    history_incidents: int = DEFAULT_HISTORY_INCIDENTS,
    evidence: frozenset[str] = frozenset(EVIDENCE_KINDS),
    read_empty: Sequence[ReadKind] = (),
    perturb: int = 0,
    transforms: Sequence[str] = tuple(TRANSFORMS),
) -> NezhaReport:
    """Every case analysed on its own; with ``history``, as the service analyses them (its
    statement history on, the default): in time order per system, each read against the log
    statements of the latest ``history_incidents`` *tuned* cases of each of its services before
    it (held-out cases are never remembered, so no held-out bundle reaches another case's
    analysis).

    ``perturb``: also ``perturb`` seeded variants of each case's body (`perturbations.variants`
    over ``transforms``), each read against the same history as the case itself (what earlier
    incidents left in the table does not depend on how this one was collected) and never
    remembered; the scores above stay those of the bodies as given."""
    cases = load_cases(dataset)
    if systems:
        wanted = {s.lower() for s in systems}
        cases = [c for c in cases if c.system.lower() in wanted]
    if limit is not None:
        cases = cases[:limit]
    if history:
        cases = sorted(cases, key=lambda c: (c.system, c.source_ref))
    outcomes: list[CaseOutcome] = []
    earlier: dict[str, list[dict[str, ServiceStatements]]] = defaultdict(list)
    found = _Variants()
    for index, case in _iterate(cases):
        past = remembered(earlier[case.system], history_incidents) if history else []
        mixes = remembered_operations(earlier[case.system], history_incidents) if history else []
        outcome, records = analyse(case, past, evidence, read_empty, mixes)
        outcomes.append(outcome)
        if perturb:
            document = json.loads(case.body())
            for variant in variants(document, case.source_ref, perturb, transforms):
                body = json.dumps(variant.document).encode()
                changed, _ = analyse(case, past, evidence, read_empty, mixes, body=body)
                found.add(variant.transform, variant.detail, outcome, changed)
        if history and not case.held_out:
            earlier[case.system].append(records)
        if progress is not None:
            progress(index, len(cases))
    groups: dict[tuple[str, str, str], Tally] = defaultdict(Tally)
    for outcome in outcomes:
        part = "held-out" if outcome.held_out else "tuned"
        for p in (part, "all"):
            groups[(outcome.system, p, "all faults")].outcomes.append(outcome)
            groups[(outcome.system, p, outcome.fault_type)].outcomes.append(outcome)
    order = {"tuned": 0, "held-out": 1, "all": 2}
    rows = [
        {"system": system, "part": part, "fault_type": fault, **tally.row()}
        for (system, part, fault), tally in sorted(
            groups.items(),
            key=lambda item: (
                item[0][0],
                order[item[0][1]],
                item[0][2] != "all faults",
                item[0][2],
            ),
        )
    ]
    answers: dict[str, list[Stated]] = defaultdict(list)
    for outcome in outcomes:
        part = "held-out" if outcome.held_out else "tuned"
        answers[f"{outcome.system} {part}"].append(outcome.stated)
    times = [o.milliseconds for o in outcomes]
    largest = max(outcomes, key=lambda o: o.body_bytes, default=None)
    return NezhaReport(
        dataset=str(dataset),
        rows=rows,
        p50_ms=_quantile(times, 0.5),
        p99_ms=_quantile(times, 0.99),
        max_ms=max(times, default=0.0),
        largest_bytes=largest.body_bytes if largest else 0,
        largest_ms=largest.milliseconds if largest else 0.0,
        tuned_cases=[o for o in outcomes if not o.held_out],
        evidence=evidence_label(evidence),
        calibration={
            key: calibration(answers[key])
            for key in sorted(answers, key=lambda k: (k.split()[0], k.endswith("held-out")))
        },
        read_empty=",".join(read_empty),
        perturbation=(
            _perturbation_report(outcomes, found, perturb, transforms) if perturb else None
        ),
    )
