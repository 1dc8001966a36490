"""The investigation loop: go back for the evidence a weak diagnosis lacks, until it is strong
enough or nothing more can be had.

Each iteration: completeness → the reasoner's requests for missing evidence (kind, service,
window, why) → the policy gate (an allowed collector must provide the kind, the window is
bounded, items are capped, at most two kinds per iteration; every rejection keeps its reason) →
collection → a new content-addressed bundle (the previous artifacts plus the new ones) →
re-analysis → an iteration record. It stops when the target is reached, at the last iteration,
when nothing new came back, when every request was refused, on cancel, or on failure; the best
analysis so far is always named. It runs as a job; a job whose process died is taken over by the
next runner and the session goes on from its last recorded iteration.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.audit import AuditLog, EntityType, EventType
from chronosops.auth import Principal
from chronosops.collectors import CollectorQuery
from chronosops.core.artifacts import Artifact
from chronosops.core.clock import Clock
from chronosops.core.errors import ConflictError, NotFoundError
from chronosops.core.evidence_kinds import ReadKind, read_kinds
from chronosops.core.ids import IdFactory
from chronosops.core.timestamps import Instant, format_instant
from chronosops.core.windows import TimeWindow
from chronosops.evidence import CollectionNote, EvidenceService
from chronosops.incidents import IncidentRead, IncidentService
from chronosops.investigation.ingest import IngestPipeline, window_of
from chronosops.investigation.sessions import RUNNING, InvestigationIteration, InvestigationSession
from chronosops.jobs import JobRead, JobService
from chronosops.reasoning import AnalysisRead, ReasoningService
from chronosops.storage import (
    Database,
    DatabaseUnavailableError,
    insert_row,
    is_unique_violation,
)

log = structlog.get_logger(__name__)

INVESTIGATE_JOB = "investigate"
SESSION_PREFIX = "inv-"
MAX_KINDS_PER_ITERATION = 2
PRIORITY_ORDER = {"P0": 0, "P1": 1, "P2": 2}
# Which collector backends can answer a request for each kind of evidence.
NEED_BACKENDS: dict[str, frozenset[str]] = {
    "METRICS": frozenset({"prometheus", "datadog", "newrelic", "google-cloud"}),
    "LOGS": frozenset({"loki", "datadog", "newrelic", "google-cloud"}),
    "TRACES": frozenset({"datadog", "newrelic", "google-cloud"}),
    "GOOGLE_STATUS": frozenset({"google-cloud-status"}),
    "DEPLOYS": frozenset(),
    "CONFIG": frozenset(),
}
NEED_ARTIFACT = {
    "METRICS": "metric_series",
    "LOGS": "log_template",
    "TRACES": "span_group",
    "GOOGLE_STATUS": "provider_status",
    "DEPLOYS": "change_event",
    "CONFIG": "change_event",
}
# The kind of evidence a request reads (a bundle's coverage): only the artifacts of the kind
# asked for are kept, so a collector's note says it read that kind and no other.
NEED_READ: dict[str, ReadKind] = {
    "METRICS": "metrics",
    "LOGS": "logs",
    "TRACES": "traces",
    "DEPLOYS": "deploys",
    "CONFIG": "config",
}


class CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, serialize_by_alias=True, validate_by_name=True, frozen=True
    )


class InvestigateRequest(CamelModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, frozen=True, extra="forbid"
    )

    # Strict, as the ingest request is: `true` or "3" is a wrong type, not 1 or 3.
    max_iterations: int = Field(default=5, ge=1, le=10, strict=True)
    confidence_target: float = Field(default=0.8, ge=0.5, le=0.99, strict=True)


class IterationRead(CamelModel):
    iteration: int
    requests: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    collection: list[dict[str, Any]]
    bundle_id: str | None
    analysis_id: str | None
    confidence_before: float | None
    confidence_after: float | None
    completeness_before: int | None
    completeness_after: int | None
    outcome: str
    created_at: Instant


class InvestigationRead(CamelModel):
    session_id: str
    incident_id: str
    status: str
    stop_code: str | None
    reason: str | None
    max_iterations: int
    confidence_target: float
    current_iteration: int
    cancel_requested: bool
    job_id: str | None
    initial_analysis_id: str | None
    initial_confidence: float | None
    best_analysis_id: str | None
    best_confidence: float | None
    created_by: str | None
    created_at: Instant
    updated_at: Instant
    finished_at: Instant | None
    iterations: list[IterationRead] = Field(default_factory=list)


class InvestigationNotFoundError(NotFoundError):
    code = "investigation-not-found"

    def __init__(self, session_id: str) -> None:
        super().__init__(f"Investigation not found: {session_id}")


class InvestigationRunningError(ConflictError):
    code = "investigation-running"

    def __init__(self, incident_id: str, session_id: str) -> None:
        super().__init__(
            f"An investigation of incident {incident_id} is already running: {session_id}; "
            f"wait for it, or POST /v1/investigations/{session_id}/cancel"
        )
        self.session_id = session_id


@dataclass(frozen=True)
class Gate:
    """What the policy allows an iteration to fetch."""

    max_window: timedelta
    max_kinds: int = MAX_KINDS_PER_ITERATION


def evidence_requests(
    analysis: AnalysisRead, incident: IncidentRead, window: TimeWindow
) -> list[dict[str, Any]]:
    """The reasoner's requests: one per kind of evidence its completeness says is missing."""
    service = analysis.culprit_service or incident.metadata.service
    missing = analysis.result.get("completeness", {}).get("missing", [])
    ordered = sorted(missing, key=lambda m: (PRIORITY_ORDER.get(m["priority"], 9), m["need"]))
    return [
        {
            "kind": m["need"],
            "priority": m["priority"],
            "service": service,
            "window": window.to_json(),
            "why": m["reason"],
        }
        for m in ordered
    ]


def decide(
    requests: list[dict[str, Any]],
    *,
    gate: Gate,
    backends: frozenset[str],
    window: TimeWindow,
    asked_before: set[str],
    item_cap: dict[str, int],
) -> list[dict[str, Any]]:
    """The gate's decision on every request, in order, each approved or rejected with a reason."""
    decisions: list[dict[str, Any]] = []
    approved = 0
    for request in requests:
        kind = request["kind"]
        providers = sorted(NEED_BACKENDS.get(kind, frozenset()) & backends)
        decision: dict[str, Any] = {"kind": kind, "priority": request["priority"]}
        if not providers:
            allowed = ", ".join(sorted(backends)) or "none"
            decision |= {
                "approved": False,
                "code": "NO_ALLOWED_COLLECTOR",
                "reason": f"no allowed collector provides {kind} (allowed: {allowed})",
            }
        elif window.duration > gate.max_window:
            decision |= {
                "approved": False,
                "code": "WINDOW_TOO_LARGE",
                "reason": (
                    f"window of {window.duration.total_seconds() / 3600:g} h is longer than "
                    f"{gate.max_window.total_seconds() / 3600:g} h"
                ),
            }
        elif kind in asked_before:
            decision |= {
                "approved": False,
                "code": "ALREADY_COLLECTED",
                "reason": f"{kind} for this window was collected in an earlier iteration",
            }
        elif approved >= gate.max_kinds:
            decision |= {
                "approved": False,
                "code": "PER_ITERATION_LIMIT",
                "reason": f"at most {gate.max_kinds} kinds of evidence per iteration",
            }
        else:
            approved += 1
            decision |= {
                "approved": True,
                "code": "APPROVED",
                "reason": f"collect from {', '.join(providers)}",
                "collectors": providers,
                "maxItems": item_cap.get(NEED_ARTIFACT.get(kind, ""), 50),
            }
        decisions.append(decision)
    return decisions


def _iteration_read(row: InvestigationIteration) -> IterationRead:
    return IterationRead.model_validate(row, from_attributes=True)


def _session_read(
    row: InvestigationSession, iterations: list[InvestigationIteration]
) -> InvestigationRead:
    return InvestigationRead.model_validate(
        {
            **{c.key: getattr(row, c.key) for c in InvestigationSession.__table__.columns},
            "session_id": row.id,
            "iterations": [_iteration_read(i) for i in iterations],
        }
    )


class Investigations:
    def __init__(
        self,
        *,
        database: Database,
        incidents: IncidentService,
        evidence: EvidenceService,
        reasoning: ReasoningService,
        pipeline: IngestPipeline,
        jobs: JobService,
        audit: AuditLog,
        clock: Clock,
        ids: IdFactory,
        gate: Gate,
    ) -> None:
        self.database = database
        self.incidents = incidents
        self.evidence = evidence
        self.reasoning = reasoning
        self.pipeline = pipeline
        self.jobs = jobs
        self.audit = audit
        self.clock = clock
        self.ids = ids
        self.gate = gate

    # Reading

    async def _iterations(
        self, session: AsyncSession, session_id: str
    ) -> list[InvestigationIteration]:
        rows = await session.scalars(
            select(InvestigationIteration)
            .where(InvestigationIteration.session_id == session_id)
            .order_by(InvestigationIteration.iteration)
        )
        return list(rows)

    async def get(self, session: AsyncSession, session_id: str) -> InvestigationRead:
        row = await session.get(InvestigationSession, session_id, populate_existing=True)
        if row is None:
            raise InvestigationNotFoundError(session_id)
        return _session_read(row, await self._iterations(session, session_id))

    async def for_incident(
        self, session: AsyncSession, incident_id: str
    ) -> list[InvestigationRead]:
        rows = await session.scalars(
            select(InvestigationSession)
            .where(InvestigationSession.incident_id == incident_id)
            .order_by(InvestigationSession.created_at.desc(), InvestigationSession.id.desc())
        )
        return [_session_read(r, await self._iterations(session, r.id)) for r in rows]

    async def export_section(self, session: AsyncSession, incident_id: str) -> list[dict[str, Any]]:
        return [s.model_dump(mode="json") for s in await self.for_incident(session, incident_id)]

    # Starting and cancelling

    async def start(
        self, incident_id: str, body: InvestigateRequest, *, principal: Principal
    ) -> InvestigationRead:
        now = self.clock.now()
        session_id = f"{SESSION_PREFIX}{self.ids.new()}"
        try:
            async with self.database.unit_of_work() as session:
                incident = await self.incidents.get(session, incident_id)
                job = await self.jobs.enqueue(
                    session,
                    kind=INVESTIGATE_JOB,
                    incident_id=incident.id,
                    payload={"sessionId": session_id},
                    by=principal.subject,
                )
                await insert_row(
                    session,
                    InvestigationSession,
                    {
                        "id": session_id,
                        "incident_id": incident.id,
                        "status": RUNNING,
                        "stop_code": None,
                        "reason": None,
                        "max_iterations": body.max_iterations,
                        "confidence_target": body.confidence_target,
                        "current_iteration": 0,
                        "cancel_requested": False,
                        "job_id": job.id,
                        "initial_analysis_id": incident.latest_analysis_id,
                        "initial_confidence": None,
                        "best_analysis_id": None,
                        "best_confidence": None,
                        "created_by": principal.subject,
                        "created_at": now,
                        "updated_at": now,
                        "finished_at": None,
                    },
                )
                await self._audit(
                    session,
                    EventType.INVESTIGATION_STARTED,
                    session_id,
                    incident.id,
                    principal.subject,
                    {
                        "maxIterations": body.max_iterations,
                        "confidenceTarget": body.confidence_target,
                        "jobId": job.id,
                    },
                )
        except IntegrityError as error:
            if not is_unique_violation(error):
                raise
            async with self.database.unit_of_work(write=False) as session:
                running = await session.scalar(
                    select(InvestigationSession.id).where(
                        InvestigationSession.incident_id == incident_id,
                        InvestigationSession.status == RUNNING,
                    )
                )
            raise InvestigationRunningError(incident_id, running or "unknown") from None
        async with self.database.unit_of_work(write=False) as session:
            return await self.get(session, session_id)

    async def cancel(self, session_id: str, *, principal: Principal) -> InvestigationRead:
        async with self.database.unit_of_work() as session:
            row = await session.get(InvestigationSession, session_id, with_for_update=True)
            if row is None:
                raise InvestigationNotFoundError(session_id)
            if row.status == RUNNING and not row.cancel_requested:
                row.cancel_requested = True
                row.updated_at = self.clock.now()
                await session.flush()
                await self._audit(
                    session,
                    EventType.INVESTIGATION_CANCEL_REQUESTED,
                    row.id,
                    row.incident_id,
                    principal.subject,
                    {"iteration": row.current_iteration},
                )
        async with self.database.unit_of_work(write=False) as session:
            return await self.get(session, session_id)

    async def recover(self) -> list[str]:
        """At start: a running session whose job can no longer run (failed for good, or gone)
        is closed as failed, so it does not block new investigations. A session whose job is
        still queued or running is left to the job runner, which takes over dead runners' jobs."""
        closed: list[str] = []
        async with self.database.unit_of_work() as session:
            rows = list(
                await session.scalars(
                    select(InvestigationSession).where(InvestigationSession.status == RUNNING)
                )
            )
            for row in rows:
                job = await self.jobs.find(session, row.job_id) if row.job_id else None
                if job is not None and job.state in ("queued", "running"):
                    continue
                await self._finish(
                    session,
                    row,
                    "failed",
                    "RECOVERED",
                    "the process running it stopped and its job cannot run again",
                    actor="system",
                )
                closed.append(row.id)
        for session_id in closed:
            log.warning("investigation.recovered", session_id=session_id)
        return closed

    # Running

    async def run(self, job: JobRead) -> None:
        session_id = str(job.payload.get("sessionId"))
        principal = Principal(subject=job.created_by, roles=frozenset(), issuer="system")
        heartbeat = asyncio.create_task(self._beat(job.id))
        interrupted: str | None = None
        try:
            await self._run(session_id, principal)
        except DatabaseUnavailableError as error:
            # What the iterations committed stays; the job runs again after its backoff and
            # picks the session up where it stopped, rather than failing it for a blip.
            log.warning("investigation.interrupted", session_id=session_id, error=str(error))
            interrupted = f"{type(error).__name__}: {error}"
        except Exception as error:
            log.exception("investigation.failed", session_id=session_id)
            async with self.database.unit_of_work() as session:
                row = await session.get(InvestigationSession, session_id, with_for_update=True)
                if row is not None and row.status == RUNNING:
                    await self._finish(
                        session,
                        row,
                        "failed",
                        "FAILED",
                        f"{type(error).__name__}: {error}",
                        actor=principal.subject,
                    )
        finally:
            heartbeat.cancel()
            with suppress(asyncio.CancelledError):
                await heartbeat
            async with self.database.unit_of_work() as session:
                if interrupted is None:
                    await self.jobs.succeed(session, job.id)
                else:
                    retried = await self.jobs.fail(session, job.id, interrupted)
                    if retried is not None and retried.state == "failed":
                        row = await session.get(
                            InvestigationSession, session_id, with_for_update=True
                        )
                        if row is not None and row.status == RUNNING:
                            await self._finish(
                                session, row, "failed", "FAILED", interrupted, actor="system"
                            )

    async def _beat(self, job_id: str) -> None:
        interval = self.jobs.policy.stale_after.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            with suppress(Exception):
                async with self.database.unit_of_work() as session:
                    await self.jobs.heartbeat(session, job_id)

    async def _load(self, session_id: str) -> tuple[InvestigationSession, IncidentRead, set[str]]:
        async with self.database.unit_of_work(write=False) as session:
            row = await session.get(InvestigationSession, session_id, populate_existing=True)
            if row is None:
                raise InvestigationNotFoundError(session_id)
            incident = await self.incidents.get(session, row.incident_id)
            asked = {
                d["kind"]
                for it in await self._iterations(session, session_id)
                for d in it.decisions
                if d.get("approved")
            }
            session.expunge(row)
        return row, incident, asked

    async def _run(self, session_id: str, principal: Principal) -> None:
        row, incident, asked = await self._load(session_id)
        if row.status != RUNNING:
            return
        if incident.latest_analysis_id is None:
            await self.pipeline.reanalyze(incident.id, principal=principal)
            row, incident, asked = await self._load(session_id)
        async with self.database.unit_of_work(write=False) as session:
            assert incident.latest_analysis_id is not None
            analysis = await self.reasoning.get(session, incident.latest_analysis_id)
        await self._update(
            session_id,
            initial_analysis_id=row.initial_analysis_id or analysis.analysis_id,
            initial_confidence=row.initial_confidence
            if row.initial_confidence is not None
            else analysis.overall_confidence,
            best_analysis_id=row.best_analysis_id or analysis.analysis_id,
            best_confidence=row.best_confidence
            if row.best_confidence is not None
            else analysis.overall_confidence,
        )
        window = window_of(incident)
        if analysis.overall_confidence >= row.confidence_target:
            return await self._stop(
                session_id,
                "completed",
                "TARGET_REACHED",
                f"confidence {analysis.overall_confidence:.2f} already at the target "
                f"{row.confidence_target:.2f}",
                principal,
            )
        for n in range(row.current_iteration + 1, row.max_iterations + 1):
            row, incident, asked = await self._load(session_id)
            if row.status != RUNNING:
                return
            if row.cancel_requested:
                return await self._stop(
                    session_id, "cancelled", "CANCELLED", "cancelled on request", principal
                )
            outcome = await self._iteration(row, incident, analysis, n, window, asked, principal)
            if outcome.analysis is not None:
                analysis = outcome.analysis
            if outcome.stop is not None:
                status, code, reason = outcome.stop
                return await self._stop(session_id, status, code, reason, principal)
        await self._stop(
            session_id,
            "stopped",
            "MAX_ITERATIONS",
            f"{row.max_iterations} iteration(s) done below the target {row.confidence_target:.2f}",
            principal,
        )

    async def _iteration(
        self,
        row: InvestigationSession,
        incident: IncidentRead,
        analysis: AnalysisRead,
        n: int,
        window: TimeWindow,
        asked: set[str],
        principal: Principal,
    ) -> _Outcome:
        requests = evidence_requests(analysis, incident, window)
        backends = self.evidence.collector_backends()
        caps = {kind: self.evidence.item_cap(kind) for kind in set(NEED_ARTIFACT.values())}
        decisions = decide(
            requests,
            gate=self.gate,
            backends=backends,
            window=window,
            asked_before=asked,
            item_cap=caps,
        )
        approved = [d for d in decisions if d["approved"]]
        notes: list[CollectionNote] = []
        new: list[Artifact] = []
        gatherer = self.pipeline.gatherer
        for decision in approved:
            # The neighbourhood too, as at ingest: a weak diagnosis of the alerting service is
            # most often strengthened by what its callees were doing.
            result = await self.evidence.collect(
                CollectorQuery(
                    window=window,
                    onset=incident.timeline.start,
                    service=analysis.culprit_service or incident.metadata.service,
                    region=incident.metadata.region,
                    environment=incident.metadata.environment,
                    max_items=decision["maxItems"],
                    graph=gatherer.graph,
                    hops=gatherer.neighbour_hops,
                    max_neighbours=gatherer.max_neighbours,
                ),
                backends=frozenset(decision["collectors"]),
            )
            wanted = NEED_ARTIFACT[decision["kind"]]
            new += [a for a in result.artifacts if a.kind == wanted]
            reads = NEED_READ.get(decision["kind"])
            notes += [
                replace(note, read=tuple(k for k in note.read if k == reads))
                for note in result.notes
            ]
        outcome = _Outcome()
        stored: AnalysisRead | None = None
        bundle_id = analysis.bundle_id
        if not requests:
            text, outcome.stop = (
                "nothing missing to ask for",
                ("stopped", "NO_PROGRESS", "the analysis lacks no kind of evidence it can name"),
            )
        elif not approved:
            text, outcome.stop = (
                "every request refused",
                (
                    "stopped",
                    "ALL_REJECTED",
                    "; ".join(f"{d['kind']}: {d['reason']}" for d in decisions),
                ),
            )
        else:
            async with self.database.unit_of_work(write=False) as session:
                previous = (
                    await self.evidence.draft(session, analysis.bundle_id)
                    if analysis.bundle_id
                    else None
                )
            merged: dict[str, Artifact] = {
                a.artifact_id: a for a in (previous.artifacts if previous else ())
            }
            merged |= {a.artifact_id: a for a in new}
            note_map = {note.source: note for note in (previous.collection if previous else [])}
            for note in notes:
                # What the source read before still holds: its artifacts are still merged in.
                before = note_map[note.source].read if note.source in note_map else ()
                note_map[note.source] = replace(note, read=tuple(read_kinds([*before, *note.read])))
            draft = self.evidence.seal(list(merged.values()), collection=list(note_map.values()))
            if not new or (previous is not None and draft.bundle_id == previous.bundle_id):
                text, outcome.stop = (
                    "no new evidence came back",
                    ("stopped", "NO_PROGRESS", "the approved collectors found nothing new"),
                )
            else:
                stored = (
                    await self.pipeline.analyze_bundle(
                        incident, draft, window=window, principal=principal
                    )
                ).analysis
                bundle_id = draft.bundle_id
                outcome.analysis = stored
                text = (
                    f"{len(new)} new artifact(s); confidence {analysis.overall_confidence:.2f} → "
                    f"{stored.overall_confidence:.2f}"
                )
                if stored.overall_confidence >= row.confidence_target:
                    outcome.stop = (
                        "completed",
                        "TARGET_REACHED",
                        f"confidence {stored.overall_confidence:.2f} reached the target "
                        f"{row.confidence_target:.2f}",
                    )
                elif stored.overall_confidence <= analysis.overall_confidence + 1e-9 and (
                    stored.completeness_score <= analysis.completeness_score
                ):
                    outcome.stop = (
                        "stopped",
                        "NO_PROGRESS",
                        "the new evidence raised neither the confidence nor the completeness",
                    )
        async with self.database.unit_of_work() as session:
            await insert_row(
                session,
                InvestigationIteration,
                {
                    "id": self.ids.new(),
                    "session_id": row.id,
                    "iteration": n,
                    "requests": requests,
                    "decisions": decisions,
                    "collection": [note.to_json() for note in notes],
                    "bundle_id": bundle_id,
                    "analysis_id": stored.analysis_id if stored else None,
                    "confidence_before": analysis.overall_confidence,
                    "confidence_after": stored.overall_confidence if stored else None,
                    "completeness_before": analysis.completeness_score,
                    "completeness_after": stored.completeness_score if stored else None,
                    "outcome": text,
                    "created_at": self.clock.now(),
                },
            )
            values: dict[str, Any] = {"current_iteration": n, "updated_at": self.clock.now()}
            best = row.best_confidence if row.best_confidence is not None else -1.0
            if stored is not None and stored.overall_confidence > best:
                values |= {
                    "best_analysis_id": stored.analysis_id,
                    "best_confidence": stored.overall_confidence,
                }
            await session.execute(
                update(InvestigationSession)
                .where(InvestigationSession.id == row.id)
                .values(**values)
            )
            await self._audit(
                session,
                EventType.INVESTIGATION_ITERATION_RECORDED,
                row.id,
                row.incident_id,
                principal.subject,
                {
                    "iteration": n,
                    "requested": [r["kind"] for r in requests],
                    "approved": [d["kind"] for d in approved],
                    "rejected": [
                        {"kind": d["kind"], "code": d["code"], "reason": d["reason"]}
                        for d in decisions
                        if not d["approved"]
                    ],
                    "bundleId": bundle_id,
                    "analysisId": stored.analysis_id if stored else None,
                    "confidenceBefore": analysis.overall_confidence,
                    "confidenceAfter": stored.overall_confidence if stored else None,
                },
            )
        return outcome

    async def _update(self, session_id: str, **values: Any) -> None:
        async with self.database.unit_of_work() as session:
            await session.execute(
                update(InvestigationSession)
                .where(InvestigationSession.id == session_id)
                .values(**values, updated_at=self.clock.now())
            )

    async def _stop(
        self, session_id: str, status: str, code: str, reason: str, principal: Principal
    ) -> None:
        async with self.database.unit_of_work() as session:
            row = await session.get(InvestigationSession, session_id, with_for_update=True)
            if row is None or row.status != RUNNING:
                return
            if row.cancel_requested and status not in ("completed", "failed"):
                # The cancel came while an iteration ran: the person asked to stop, so the
                # session says so, not the reason the iteration would have given.
                status, code, reason = (
                    "cancelled",
                    "CANCELLED",
                    f"cancelled on request (the running iteration ended: {code})",
                )
            await self._finish(session, row, status, code, reason, actor=principal.subject)

    async def _finish(
        self,
        session: AsyncSession,
        row: InvestigationSession,
        status: str,
        code: str,
        reason: str,
        *,
        actor: str | None,
    ) -> None:
        now = self.clock.now()
        row.status = status
        row.stop_code = code
        row.reason = f"{code}: {reason}"[:4000]
        row.finished_at = now
        row.updated_at = now
        await session.flush()
        await self._audit(
            session,
            EventType.INVESTIGATION_FINISHED,
            row.id,
            row.incident_id,
            actor,
            {
                "status": status,
                "stopCode": code,
                "reason": row.reason,
                "iterations": row.current_iteration,
                "initialConfidence": row.initial_confidence,
                "bestAnalysisId": row.best_analysis_id,
                "bestConfidence": row.best_confidence,
                "finishedAt": format_instant(now),
            },
        )
        notifier = self.pipeline.notifier
        if notifier is not None:
            # Sent in the transaction that finishes the session, like every notification.
            incident = await self.incidents.get(session, row.incident_id)
            best = (
                await self.reasoning.get(session, row.best_analysis_id)
                if row.best_analysis_id
                else None
            )
            await notifier.emit(
                session,
                "investigation.finished",
                incident,
                by=actor or "system",
                analysis=best,
                investigation={
                    "sessionId": row.id,
                    "status": status,
                    "stopCode": code,
                    "reason": row.reason,
                    "iterations": row.current_iteration,
                    "initialConfidence": row.initial_confidence,
                    "bestConfidence": row.best_confidence,
                },
            )

    async def _audit(
        self,
        session: AsyncSession,
        event_type: EventType,
        session_id: str,
        incident_id: str,
        actor: str | None,
        payload: dict[str, Any],
    ) -> None:
        await self.audit.record(
            session,
            event_type=event_type,
            entity_type=EntityType.INVESTIGATION_SESSION,
            entity_id=session_id,
            incident_id=incident_id,
            actor=actor,
            payload={"sessionId": session_id, "incidentId": incident_id, **payload},
        )


@dataclass
class _Outcome:
    analysis: AnalysisRead | None = None
    stop: tuple[str, str, str] | None = None
