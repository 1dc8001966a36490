"""Running the configured collectors for an incident: in parallel, bounded, never fatal.

Policy, applied here and not left to each adapter:

- only allow-listed instances run (``CHRONOSOPS_COLLECTORS_ALLOW``: names or backend kinds);
- the window is at most ``max_window`` long (6 h); a longer one is cut at its end;
- each collector has its own timeout, and all of them together a total budget; a slow one is
  cancelled and noted (``timeout after 10 s``), the others keep what they found;
- each kind of artifact is capped; what is left out is noted;
- log text (templates, examples) and event descriptions are redacted before they are stored;
- the log lines every collector read are placed in the spans every collector read (log
  statements, `core.log_statements.statements_of`, the same code path as evidence sent with the
  incident): a Loki line names the Cloud Trace span that logged it as well as a Cloud Logging
  line does.

Every collector leaves one `CollectionNote` (``ok``, ``empty``, ``timeout``, ``error`` or
``skipped``), and nothing a collector does can fail the ingest. A note of a collector that
answered (``ok``, ``empty``, or ``error`` for some questions only) lists in ``read`` the kinds of
evidence it read over the window, found or not (`Collected.read`); one that timed out, failed
or was skipped reads nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import structlog

from chronosops.collectors import (
    Collected,
    Collector,
    CollectorError,
    CollectorNotApplicableError,
    CollectorQuery,
    CollectorTimeoutError,
)
from chronosops.core.aggregation import RawLogLine, RawSpan
from chronosops.core.artifacts import (
    Artifact,
    ChangeEvent,
    LogExample,
    LogStatement,
    LogTemplate,
    OtherEvent,
    ProviderStatus,
)
from chronosops.core.evidence_kinds import read_kinds
from chronosops.core.log_statements import statements_of
from chronosops.core.redaction import redact_text
from chronosops.core.windows import TimeWindow
from chronosops.evidence.bundle import CollectionNote

log = structlog.get_logger(__name__)

MAX_WINDOW = timedelta(hours=6)
DEFAULT_ITEM_CAPS: Mapping[str, int] = {
    "metric_series": 60,
    "log_template": 50,
    "span_group": 50,
    "change_event": 100,
    "event": 50,
    "provider_status": 20,
    # A statement is one line of code logged inside one operation: a bundle of real traffic
    # holds some dozens per service, and the code-path reading needs each of them.
    "log_statement": 200,
}


@dataclass(frozen=True)
class CollectionPolicy:
    allow: frozenset[str] | None = None  # names or kinds; None lets every configured one run
    timeout_seconds: float = 10.0
    budget_seconds: float = 20.0
    max_window: timedelta = MAX_WINDOW
    item_caps: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_ITEM_CAPS))

    def allows(self, collector: Collector) -> bool:
        return self.allow is None or bool({collector.name, collector.kind} & self.allow)

    def cap(self, kind: str) -> int:
        return self.item_caps.get(kind, DEFAULT_ITEM_CAPS.get(kind, 50))


@dataclass
class CollectionResult:
    artifacts: list[Artifact] = field(default_factory=list)
    notes: list[CollectionNote] = field(default_factory=list)
    window: TimeWindow | None = None


def _seconds(value: float) -> str:
    return f"{value:g} s"


def clamp(window: TimeWindow, limit: timedelta) -> tuple[TimeWindow, bool]:
    if window.duration <= limit:
        return window, False
    return TimeWindow(start=window.start, end=window.start + limit), True


def redact_artifact(artifact: Artifact) -> Artifact:
    """Log text and free-text descriptions with secrets, tokens and e-mail addresses masked."""
    if isinstance(artifact, LogTemplate):
        return artifact.model_copy(
            update={
                "template": redact_text(artifact.template),
                "title": redact_text(artifact.title),
                "examples": [
                    LogExample(
                        ts=example.ts,
                        level=example.level,
                        message=redact_text(example.message),
                        service=example.service,
                    )
                    for example in artifact.examples
                ],
            }
        )
    if isinstance(artifact, ChangeEvent | OtherEvent):
        return artifact.model_copy(
            update={
                "title": redact_text(artifact.title),
                "description": redact_text(artifact.description),
            }
        )
    if isinstance(artifact, ProviderStatus):
        return artifact.model_copy(update={"description": redact_text(artifact.description)})
    return artifact


def _summary(artifacts: Sequence[Artifact]) -> str:
    counts = Counter(a.kind for a in artifacts)
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))


class CollectorRunner:
    def __init__(self, collectors: Sequence[Collector], policy: CollectionPolicy) -> None:
        self.collectors = list(collectors)
        self.policy = policy

    @property
    def configured(self) -> bool:
        return bool(self.collectors)

    def backends(self) -> frozenset[str]:
        """The backend kinds of the configured collectors the policy lets run."""
        return frozenset(c.kind for c in self.collectors if self.policy.allows(c))

    async def run(
        self, query: CollectorQuery, *, backends: frozenset[str] | None = None
    ) -> CollectionResult:
        """Run the allowed collectors (only those of ``backends``, when given)."""
        result = CollectionResult()
        window, clamped = clamp(query.window, self.policy.max_window)
        result.window = window
        if clamped:
            result.notes.append(
                CollectionNote(
                    source="policy",
                    status="ok",
                    detail=(
                        f"window cut to {window.duration.total_seconds() / 3600:g} h "
                        f"(at most {self.policy.max_window.total_seconds() / 3600:g} h); "
                        "collectors queried the first part"
                    ),
                )
            )
        query = dataclasses.replace(query, window=window, deadline=None)
        runnable: list[Collector] = []
        for collector in self.collectors:
            if backends is not None and collector.kind not in backends:
                continue
            if self.policy.allows(collector):
                runnable.append(collector)
            else:
                result.notes.append(
                    CollectionNote(
                        source=collector.name,
                        status="skipped",
                        detail="not in the allow-list (CHRONOSOPS_COLLECTORS_ALLOW)",
                    )
                )
        if not runnable:
            return result
        budget_ends = asyncio.get_running_loop().time() + self.policy.budget_seconds
        read = {collector.name: Collected() for collector in runnable}
        tasks = {
            collector.name: asyncio.create_task(
                self._one(collector, query, budget_ends, read[collector.name])
            )
            for collector in runnable
        }
        _, pending = await asyncio.wait(tasks.values(), timeout=self.policy.budget_seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for collector in runnable:
            task = tasks[collector.name]
            if task in pending:
                result.notes.append(
                    CollectionNote(
                        source=collector.name,
                        status="timeout",
                        detail=(
                            f"timeout: the collection budget of {_seconds(self.policy.budget_seconds)} "
                            "ran out first"
                        ),
                    )
                )
                continue
            artifacts, note = task.result()
            kept = self._capped(artifacts, note)
            result.artifacts.extend(kept[0])
            result.notes.append(kept[1])
        # Only what finished: a collector cancelled over the budget brought nothing.
        finished = [c.name for c in runnable if tasks[c.name] not in pending]
        self._place_lines(
            result,
            {name: read[name].lines for name in finished if read[name].lines},
            [span for name in finished for span in read[name].spans],
        )
        return result

    def _place_lines(
        self,
        result: CollectionResult,
        lines: Mapping[str, Sequence[RawLogLine]],
        spans: Sequence[RawSpan],
    ) -> None:
        """Log statements of each collector's lines, placed in the spans all collectors read;
        the most telling (placed in an operation, then logged by the most spans) kept under the
        cap, counted in the note of the collector whose lines they are."""
        if not spans:
            return
        for name, read in lines.items():
            statements = statements_of(read, spans, id_prefix=f"statement:{name}", source=name)
            if not statements:
                continue
            cap = self.policy.cap("log_statement")
            # Placed in an operation first: those are what the code-path readings compare.
            statements.sort(key=lambda s: (not s.operation, -s.spans, s.artifact_id))
            kept: list[LogStatement] = statements[:cap]
            result.artifacts.extend(kept)
            detail = f"; {len(kept)} log_statement (its lines placed in the spans read)"
            if len(statements) > cap:
                detail += (
                    f"; capped: {len(statements) - cap} more log_statement left out (cap {cap})"
                )
            for index, note in enumerate(result.notes):
                if note.source == name:
                    result.notes[index] = dataclasses.replace(
                        note, detail=note.detail + detail, items=(note.items or 0) + len(kept)
                    )

    async def _one(
        self, collector: Collector, query: CollectorQuery, budget_ends: float, read: Collected
    ) -> tuple[list[Artifact], CollectionNote]:
        """What one collector found (redacted) and its note; the lines and spans it read are
        kept in ``read``."""
        timeout = collector.timeout_seconds or self.policy.timeout_seconds
        bound = log.bind(collector=collector.name, backend=collector.kind)
        # A collector that pages stops before this, so the pages it read are not cancelled.
        deadline = min(asyncio.get_running_loop().time() + timeout, budget_ends)
        query = dataclasses.replace(query, deadline=deadline)
        try:
            async with asyncio.timeout(timeout):
                collected = await collector.collect(query)
        except TimeoutError:
            bound.warning("collector.timeout", timeout_seconds=timeout)
            return [], CollectionNote(
                source=collector.name, status="timeout", detail=f"timeout after {_seconds(timeout)}"
            )
        except CollectorTimeoutError as error:
            bound.warning("collector.timeout", error=error.message)
            return [], CollectionNote(source=collector.name, status="timeout", detail=error.message)
        except CollectorNotApplicableError as error:
            return [], CollectionNote(source=collector.name, status="skipped", detail=error.message)
        except CollectorError as error:
            bound.warning("collector.failed", code=error.code, error=error.message)
            return [], CollectionNote(
                source=collector.name, status="error", detail=f"{error.code}: {error.message}"
            )
        except Exception as error:  # noqa: BLE001 — a broken adapter must not break the ingest
            bound.exception("collector.crashed")
            return [], CollectionNote(
                source=collector.name,
                status="error",
                detail=f"internal error in the {collector.kind} collector ({type(error).__name__})",
            )
        read.lines, read.spans = collected.lines, collected.spans
        kinds = tuple(read_kinds(collected.read))
        artifacts = [redact_artifact(a) for a in collected.artifacts]
        problems = [redact_text(problem) for problem in collected.problems]
        notes = [redact_text(note) for note in collected.notes]
        trouble = ("; some queries failed: " + "; ".join(problems)) if problems else ""
        remarks = "".join(f"; {note}" for note in notes)
        if not artifacts:
            bound.info("collector.empty", problems=len(problems))
            if problems:
                return [], CollectionNote(
                    source=collector.name,
                    status="error",
                    detail="; ".join(problems) + remarks,
                    read=kinds,
                )
            return [], CollectionNote(
                source=collector.name,
                status="empty",
                detail="no data for the window" + remarks,
                read=kinds,
            )
        bound.info("collector.done", items=len(artifacts), problems=len(problems))
        return artifacts, CollectionNote(
            source=collector.name,
            status="ok",
            detail=_summary(artifacts) + remarks + trouble,
            items=len(artifacts),
            read=kinds,
        )

    def _capped(
        self, artifacts: list[Artifact], note: CollectionNote
    ) -> tuple[list[Artifact], CollectionNote]:
        kept: list[Artifact] = []
        seen: Counter[str] = Counter()
        cut: Counter[str] = Counter()
        for artifact in artifacts:
            if seen[artifact.kind] < self.policy.cap(artifact.kind):
                kept.append(artifact)
                seen[artifact.kind] += 1
            else:
                cut[artifact.kind] += 1
        if not cut:
            return kept, note
        detail = (
            note.detail
            + "; capped: "
            + ", ".join(
                f"{n} more {kind} left out (cap {self.policy.cap(kind)})"
                for kind, n in sorted(cut.items())
            )
        )
        return kept, dataclasses.replace(note, detail=detail, items=len(kept))
