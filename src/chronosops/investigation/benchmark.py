"""Scoring the built-in engine on demo incidents whose answers are known.

`run_benchmark` analyses every incident of a scenario suite and scores it: top-1 and top-3
accuracy for the hypothesis and for the culprit service, how often it declined to answer (and
how right it would have been), calibration (multi-class Brier score) and analysis time. The
suite is a pure function of its size and seed, so a result names what it was measured on.

``evidence`` keeps only some kinds of each incident's evidence (`core.evidence_kinds`, the
grammar of ``bench nezha --evidence``): the incidents carry their artifacts already built, so
the others are removed from them, and from the fault-free days read as their history, before
the analysis.
"""

from __future__ import annotations

import math
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Literal

from chronosops.analysis import (
    CATALOG,
    UNKNOWN,
    AnalysisInput,
    AnalysisResult,
    IncidentContext,
    analyze,
)
from chronosops.analysis.code_paths import (
    missing_paths,
    statement_history,
    stopped_paths,
    vanished_paths,
)
from chronosops.analysis.models import StatementHistory
from chronosops.core.aggregation import RawLogLine, log_templates, metric_series
from chronosops.core.artifacts import Artifact, LogStatement, LogTemplate, MetricSeries
from chronosops.core.evidence_kinds import ALL_EVIDENCE, ReadKind, evidence_label, keep_evidence
from chronosops.investigation.calibration import NOT_NAMED, Stated, calibration, stated
from chronosops.scenarios import (
    Conventions,
    GeneratedIncident,
    SuiteName,
    benchmark_suite,
    generate,
    is_held_out,
)

CATALOG_IDS = tuple(h.id for h in CATALOG)


@dataclass(frozen=True)
class Outcome:
    scenario_id: str
    hypothesis_top1: bool
    hypothesis_top3: bool
    culprit_top1: bool
    culprit_top3: bool
    inconclusive: bool
    would_have_been_right: bool  # when inconclusive: was the leading candidate the truth?
    brier: float
    milliseconds: float
    held_out: bool = False  # in the part of the suite nobody tunes on
    # The code-path readings (`analysis.code_paths`), where the incident has log statements:
    # a path that vanished inside the window, one missing against the history, or one that
    # stopped following another part-way through; at the culprit service, or at another.
    statements: bool = False
    vanished_right: bool = False
    vanished_wrong: bool = False
    missing_right: bool = False
    missing_wrong: bool = False
    stopped_right: bool = False
    stopped_wrong: bool = False
    stated: Stated = NOT_NAMED


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)

    def share(
        self, pick: Callable[[Outcome], bool], among: Callable[[Outcome], bool] = lambda o: True
    ) -> float | None:
        chosen = [o for o in self.outcomes if among(o)]
        return sum(pick(o) for o in chosen) / len(chosen) if chosen else None

    def quantile(self, q: float) -> float:
        ordered = sorted(o.milliseconds for o in self.outcomes)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    def row(self) -> dict[str, float | int | None]:
        if not self.outcomes:
            return {"incidents": 0}
        return {
            "incidents": len(self.outcomes),
            "hypothesis_top1": self.share(lambda o: o.hypothesis_top1),
            "hypothesis_top3": self.share(lambda o: o.hypothesis_top3),
            "culprit_top1": self.share(lambda o: o.culprit_top1),
            "culprit_top3": self.share(lambda o: o.culprit_top3),
            "inconclusive": self.share(lambda o: o.inconclusive),
            "inconclusive_right_had_it_answered": self.share(
                lambda o: o.would_have_been_right, among=lambda o: o.inconclusive
            ),
            "brier": sum(o.brier for o in self.outcomes) / len(self.outcomes),
            "p50_ms": self.quantile(0.5),
            "p99_ms": self.quantile(0.99),
            "with_statements": sum(o.statements for o in self.outcomes),
            "vanished_right": sum(o.vanished_right for o in self.outcomes),
            "vanished_wrong": sum(o.vanished_wrong for o in self.outcomes),
            "missing_right": sum(o.missing_right for o in self.outcomes),
            "missing_wrong": sum(o.missing_wrong for o in self.outcomes),
            "stopped_right": sum(o.stopped_right for o in self.outcomes),
            "stopped_wrong": sum(o.stopped_wrong for o in self.outcomes),
        }


@dataclass(frozen=True)
class BenchmarkReport:
    size: int
    seed: int
    overall: dict[str, float | int | None]
    per_scenario: dict[str, dict[str, float | int | None]]
    suite: str = "default"
    conventions: str = "native"
    # "tuned" and "held-out" rows: the part one may tune on, and the part one must not.
    per_part: dict[str, dict[str, float | int | None]] = field(default_factory=dict)
    history: int = 0  # fault-free days of each system read as its earlier incidents
    evidence: str = "all"  # the kinds of evidence kept (`core.evidence_kinds.evidence_label`)
    # Named answers' stated confidence against how often they were right
    # (`investigation.calibration`), per part (tuned, held-out).
    calibration: dict[str, dict[str, float | int | None]] = field(default_factory=dict)
    read_empty: str = ""  # the kinds said read where they were (`read_coverage`)


def read_coverage(
    incident: GeneratedIncident, evidence: frozenset[str], read_empty: Sequence[ReadKind]
) -> list[ReadKind]:
    """The ``read_empty`` kinds the incident may truthfully say it read over its window: a
    change feed only where its events are kept and the generator did not drop its changes
    (else a deploy that caused the incident could be missing from a feed said to be read);
    metrics, logs and traces only where kept and not dropped."""
    changes = "events" in evidence and "changes" not in incident.options.drop
    return [
        kind
        for kind in read_empty
        if (changes if kind in ("deploys", "config") else kind in evidence)
        and kind not in incident.options.drop
    ]


def request_of(
    incident: GeneratedIncident,
    history: Sequence[StatementHistory] = (),
    coverage: Sequence[ReadKind] = (),
) -> AnalysisInput:
    return AnalysisInput(
        context=IncidentContext(
            source_type="SCENARIO",
            title=incident.title,
            service=incident.service,
            region=incident.region,
            environment=incident.environment,
            onset=incident.start,
            window_start=incident.window.start,
            window_end=incident.window.end,
        ),
        artifacts=list(incident.artifacts),
        statement_history=list(history),
        coverage=list(coverage),
    )


def with_evidence(incident: GeneratedIncident, kept: frozenset[str]) -> GeneratedIncident:
    """The incident with only the artifacts built from the ``kept`` kinds of evidence."""
    if kept == ALL_EVIDENCE:
        return incident
    return replace(incident, artifacts=tuple(keep_evidence(incident.artifacts, kept)))


def earlier_incidents(
    incident: GeneratedIncident, days: int, evidence: frozenset[str] = ALL_EVIDENCE
) -> list[StatementHistory]:
    """The log statements of ``days`` other days of the incident's system without its fault
    (same services, conventions and instrumentation; `scenarios.generate` ``without_fault``),
    as a deployment remembers its earlier incidents, built from the ``evidence`` kept. Empty
    where the system logs without trace context (no statements to remember)."""
    if days <= 0 or not any(isinstance(a, LogStatement) for a in incident.artifacts):
        return []
    return statement_history(
        [
            keep_evidence(
                generate(incident.scenario_id, incident.options, without_fault=day).artifacts,
                evidence,
            )
            for day in range(1, days + 1)
        ]
    )


def _code_paths(
    incident: GeneratedIncident, history: Sequence[StatementHistory]
) -> dict[str, bool]:
    """Where the code-path readings fire in this incident: at its culprit, or elsewhere."""
    culprit = incident.truth.culprit_service
    vanished = {p.service for p in vanished_paths(incident.artifacts, incident.start)}
    missing = {p.service for p in missing_paths(incident.artifacts, history)}
    stopped = {p.service for p in stopped_paths(incident.artifacts, incident.start)}
    return {
        "statements": any(isinstance(a, LogStatement) for a in incident.artifacts),
        "vanished_right": culprit in vanished,
        "vanished_wrong": bool(vanished - {culprit}),
        "missing_right": culprit in missing,
        "missing_wrong": bool(missing - {culprit}),
        "stopped_right": culprit in stopped,
        "stopped_wrong": bool(stopped - {culprit}),
    }


def brier(result: AnalysisResult, truth: str) -> float:
    """Squared error of the confidences against the one true hypothesis, over the whole catalog."""
    confidence = {h.id: h.confidence for h in result.hypotheses}
    return sum((confidence.get(h, 0.0) - (1.0 if h == truth else 0.0)) ** 2 for h in CATALOG_IDS)


def score(
    incident: GeneratedIncident,
    result: AnalysisResult,
    milliseconds: float,
    history: Sequence[StatementHistory] = (),
) -> Outcome:
    truth = incident.truth
    ranked = [h for h in result.hypotheses if h.id != UNKNOWN]
    top = result.hypotheses[0]
    leading = ranked[0] if ranked else None
    top3_ids = [h.id for h in result.hypotheses[:3]]
    top3_culprits = [h.culprit_service for h in ranked[:3]]
    return Outcome(
        scenario_id=incident.scenario_id,
        hypothesis_top1=top.id == truth.hypothesis_id,
        hypothesis_top3=truth.hypothesis_id in top3_ids,
        culprit_top1=result.culprit_service == truth.culprit_service,
        culprit_top3=truth.culprit_service in top3_culprits,
        inconclusive=result.inconclusive,
        would_have_been_right=(
            leading is not None
            and leading.id == truth.hypothesis_id
            and leading.culprit_service == truth.culprit_service
        ),
        brier=brier(result, truth.hypothesis_id),
        milliseconds=milliseconds,
        held_out=is_held_out(incident.scenario_id, incident.options),
        **_code_paths(incident, history),
        stated=stated(
            result,
            top.id == truth.hypothesis_id and result.culprit_service == truth.culprit_service,
        ),
    )


def run_benchmark(
    size: int,
    *,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    incidents: Sequence[GeneratedIncident] | None = None,
    suite_name: SuiteName = "default",
    conventions: Conventions = "native",
    part: Literal["all", "tuned", "held-out"] = "all",
    history: int = 0,
    evidence: frozenset[str] = ALL_EVIDENCE,
    read_empty: Sequence[ReadKind] = (),
) -> BenchmarkReport:
    """Score the engine on a suite; ``part`` keeps only the tuned or only the held-out cases;
    ``history``: each incident analysed with the log statements of that many fault-free days
    of its system (`earlier_incidents`); ``evidence``: only those kinds of each incident's
    evidence kept (`with_evidence`); ``read_empty``: kinds each incident says it read over its
    window, where it truthfully may (`read_coverage`)."""
    suite = (
        list(incidents)
        if incidents is not None
        else benchmark_suite(size, seed=seed, suite=suite_name, conventions=conventions)
    )
    if part != "all":
        keep = part == "held-out"
        suite = [i for i in suite if is_held_out(i.scenario_id, i.options) == keep]
    overall = Tally()
    per_scenario: dict[str, Tally] = defaultdict(Tally)
    per_part: dict[str, Tally] = defaultdict(Tally)
    for index, generated in enumerate(suite, start=1):
        incident = with_evidence(generated, evidence)
        past = earlier_incidents(incident, history, evidence)
        request = request_of(incident, past, read_coverage(generated, evidence, read_empty))
        started = time.perf_counter()
        result = analyze(request)
        outcome = score(incident, result, (time.perf_counter() - started) * 1000, past)
        overall.outcomes.append(outcome)
        per_scenario[incident.scenario_id].outcomes.append(outcome)
        per_part["held-out" if outcome.held_out else "tuned"].outcomes.append(outcome)
        if progress is not None:
            progress(index, len(suite))
    return BenchmarkReport(
        size=len(suite),
        seed=seed,
        overall=overall.row(),
        per_scenario={k: v.row() for k, v in sorted(per_scenario.items())},
        suite=suite_name,
        conventions="mixed" if suite_name == "field" else conventions,
        per_part={k: per_part[k].row() for k in ("tuned", "held-out") if k in per_part},
        history=history,
        evidence=evidence_label(evidence),
        calibration={
            k: calibration([o.stated for o in per_part[k].outcomes])
            for k in ("tuned", "held-out")
            if k in per_part
        },
        read_empty=",".join(read_empty),
    )


def large_bundle(
    incident: GeneratedIncident, *, log_lines: int = 10_000, series: int = 200
) -> list[Artifact]:
    """The incident's evidence grown to ``series`` metric series and ``log_lines`` log lines.

    Extra series are noisy copies of the incident's own (other pods of the same services);
    extra log lines repeat its templates' examples, spread over the window, so the engine faces
    the volume of a busy system without the story changing.
    """
    base = list(incident.artifacts)
    metrics = [a for a in base if isinstance(a, MetricSeries)]
    others = [a for a in base if not isinstance(a, MetricSeries | LogTemplate)]
    grown: list[Artifact] = []
    copy = 0
    while metrics and len(grown) < series:
        for metric in metrics:
            if len(grown) >= series:
                break
            made = metric_series(
                id_prefix="metric",
                name=metric.name,
                points=[
                    (p.ts, p.value * (1 + 0.01 * ((copy * 7 + p.ts.minute) % 5 - 2)))
                    for p in metric.points
                ],
                source=incident.source,
                labels={**metric.labels, "pod": f"pod-{copy}"},
                service=metric.service,
                synthetic=True,
            )
            if made is not None:
                grown.append(made)
        copy += 1
    examples = [e for t in base if isinstance(t, LogTemplate) for e in t.examples]
    lines: list[RawLogLine] = []
    span = (incident.window.end - incident.window.start).total_seconds()
    for i in range(log_lines if examples else 0):
        example = examples[i % len(examples)]
        lines.append(
            RawLogLine(
                ts=incident.window.start + timedelta(seconds=span * i / log_lines),
                message=example.message,
                level=example.level,
                service=example.service,
            )
        )
    templates = log_templates(lines, id_prefix="log", source=incident.source, synthetic=True)
    return [*grown, *templates, *others]


@dataclass(frozen=True)
class LoadReport:
    """Analysis time on bundles the size of a busy incident."""

    bundles: int
    series: int
    log_lines: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    correct: int
    peak_mib: float  # the most memory one analysis allocated at once, over all the bundles


def _peak_allocation_mib(request: AnalysisInput) -> float:
    # A separate, untimed run: tracing allocations slows the engine several times over.
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        analyze(request)
        return (tracemalloc.get_traced_memory()[1] - baseline) / 2**20
    finally:
        tracemalloc.stop()


def run_load(
    *,
    log_lines: int = 10_000,
    series: int = 200,
    runs: int = 5,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> LoadReport:
    """Analyse one large bundle per scenario ``runs`` times each and report the timings."""
    from chronosops.scenarios import SCENARIOS, GenerationOptions, generate

    timings: list[float] = []
    correct = 0
    peak_mib = 0.0
    for index, scenario in enumerate(SCENARIOS, start=1):
        incident = generate(scenario.id, GenerationOptions(seed=seed * 1000 + index))
        request = request_of(incident).model_copy(
            update={"artifacts": large_bundle(incident, log_lines=log_lines, series=series)}
        )
        result = None
        for _ in range(runs):
            # CPU time of this process: one core's work, whatever else the machine is running.
            started = time.process_time()
            result = analyze(request)
            timings.append((time.process_time() - started) * 1000)
        correct += result is not None and result.hypotheses[0].id == incident.truth.hypothesis_id
        peak_mib = max(peak_mib, _peak_allocation_mib(request))
        if progress is not None:
            progress(index, len(SCENARIOS))
    ordered = sorted(timings)
    return LoadReport(
        bundles=len(SCENARIOS),
        series=series,
        log_lines=log_lines,
        p50_ms=ordered[len(ordered) // 2],
        p99_ms=ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)],
        max_ms=ordered[-1],
        correct=correct,
        peak_mib=peak_mib,
    )
