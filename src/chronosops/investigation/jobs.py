"""Running jobs: one job by id (what a Procrastinate worker calls), or every due job in a loop
(the in-process runner of the embedded SQLite default, and `chronosops worker` on SQLite).

Both paths claim the job row first; the claim is the only way to run a job, so a job runs at
most once at a time whoever asks, and a job whose runner died (its heartbeat went stale) is
taken over by the next runner that looks.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.auth import Principal
from chronosops.core.metrics import OperatorMetrics
from chronosops.incidents import IncidentNotFoundError, IncidentRead
from chronosops.investigation.ingest import (
    ANALYZE_JOB,
    REANALYZE_JOB,
    IngestPipeline,
    JobLostError,
    StoredEvidence,
)
from chronosops.investigation.loop import INVESTIGATE_JOB, Investigations
from chronosops.investigation.notify import NOTIFY_JOB, Notifier
from chronosops.investigation.webhooks import DELIVERY_JOB, SourceIntake
from chronosops.jobs import JobRead, JobService
from chronosops.storage import Database, postgres

log = structlog.get_logger(__name__)


class JobBusyError(Exception):
    """The job is running in a live process; ask again later (a Procrastinate retry)."""


class _ReadsFailedError(Exception):
    """The database failed the reads made with a claim, which are rolled back with it."""


@dataclass(frozen=True)
class Ready:
    """An analyze job's incident and its stored evidence (or why either could not be read)."""

    incident: IncidentRead | IncidentNotFoundError
    stored: StoredEvidence | Exception | None


@dataclass(frozen=True)
class RunResult:
    job_id: str
    state: str


class JobRunner:
    def __init__(
        self,
        *,
        database: Database,
        jobs: JobService,
        pipeline: IngestPipeline,
        intake: SourceIntake,
        concurrency: int,
        investigations: Investigations | None = None,
        poll_seconds: float,
        notifier: Notifier | None = None,
        metrics: OperatorMetrics | None = None,
    ) -> None:
        self.database = database
        self.jobs = jobs
        self.pipeline = pipeline
        self.intake = intake
        self.investigations = investigations
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.notifier = notifier
        self.metrics = metrics
        self._started: dict[str, float] = {}
        # The last poll found jobs: look for the next in the unit that claims them.
        self._backlog = False

    async def run(self, job_id: str, *, incident_id: str | None = None) -> RunResult | None:
        """Claim and run one job; None when there was nothing to do (done, or not ours).

        ``incident_id``: the job's incident, when the caller knows it (Procrastinate's job
        carries it): on PostgreSQL its reads are then asked ahead of the claim, and the claim,
        the reads and the COMMIT are one round trip."""
        try:
            job, ready, current = await self._claim_one(job_id, reads=True, incident_id=incident_id)
        except _ReadsFailedError:
            # Rolled back with the claim: claimed again alone, and read apart (where a
            # failure is the analysis's, recorded on the job and the incident).
            job, ready, current = await self._claim_one(job_id, reads=False)
        if job is None:
            if current is not None and current.state == "running":
                raise JobBusyError(job_id)
            return None
        return await self.execute(job, ready=ready)

    async def _claim_one(
        self, job_id: str, *, reads: bool, incident_id: str | None = None
    ) -> tuple[JobRead | None, Ready | None, JobRead | None]:
        """The job as claimed (None: not ours), what it analyses when read with the claim,
        and the job as it stands when the claim failed."""
        ready: Ready | None = None
        async with self.database.unit_of_work() as session:
            ahead = (
                reads and incident_id is not None and await self._ask_ahead(session, incident_id)
            )
            try:
                job = await self.jobs.claim(session, job_id)
            except SQLAlchemyError as error:
                if not ahead:
                    raise
                # The reads asked ahead failed the claim's send: claimed again alone.
                raise _ReadsFailedError(job_id) from error
            if job is not None and ahead:
                ready = await self._answered(session, job, incident_id)
            elif job is not None and reads:
                ready = await self._read_for(session, job, alone=True)
            current = None if job is not None else await self.jobs.find(session, job_id)
        return job, ready, current

    async def _ask_ahead(self, session: AsyncSession, incident_id: str) -> bool:
        """On PostgreSQL: an analyze job's reads (the incident, its joined alerts) asked to
        go out with the claim, and the claim's send to end the transaction. The reads come
        first in that send; nothing the claim writes is theirs to see (the job's row), so
        they read what they would have read after it."""
        if self.database.is_sqlite or not await self.pipeline.incidents.ask_read_only_ahead(
            session, incident_id
        ):
            return False
        await self.pipeline.ask_evidence_ahead(session, incident_id)
        return await postgres.commit_with_next(session)

    async def _answered(
        self, session: AsyncSession, job: JobRead, incident_id: str | None
    ) -> Ready | None:
        """What the reads asked ahead of the claim answered; None (read apart, as after a
        failed read) when the job is not the analysis of that incident, or the reads fail.
        The claim is committed by now: a failure here must not claim it again."""
        if job.kind != ANALYZE_JOB or incident_id is None or job.incident_id != incident_id:
            return None
        try:
            return await self._read(session, incident_id, evidence=True, asked=True)
        except SQLAlchemyError:
            log.info("job.read_apart", job_id=job.id, exc_info=True)
            return None

    async def _read_for(
        self, session: AsyncSession, job: JobRead, *, alone: bool = False
    ) -> Ready | None:
        """What an analyze job analyses, read in the transaction that claimed it: on SQLite
        on the writer's own connection (no read transaction through a thread of its own), on
        PostgreSQL in the claim's transaction. None for other kinds, or when the database
        failed the read (then made apart, as before, so that its failure is the analysis's).
        On PostgreSQL a failed statement aborts the claim too: with ``alone`` (the unit
        claims this one job) `_ReadsFailedError` rolls the unit back, for the caller to claim
        again without the reads; else the reads are made in a savepoint (two round trips)."""
        if job.kind != ANALYZE_JOB or job.incident_id is None:
            return None
        try:
            if self.database.is_sqlite:
                return await self._read(session, job.incident_id, evidence=True)
            if alone:
                try:
                    return await self._read(session, job.incident_id, evidence=True)
                except SQLAlchemyError as error:
                    raise _ReadsFailedError(job.id) from error
            # The savepoint is SQLAlchemy's, sent only on a connection its transaction holds:
            # taken first, since the unit's statements so far may all have been its own sends.
            await session.connection()
            async with session.begin_nested():
                return await self._read(session, job.incident_id, evidence=True)
        except SQLAlchemyError:
            log.info("job.read_apart", job_id=job.id, exc_info=True)
            return None

    async def _read(
        self, session: AsyncSession, incident_id: str, *, evidence: bool, asked: bool = False
    ) -> Ready:
        """The incident (or that it is gone) and, with ``evidence``, its stored request and
        joined alerts (or the error reading them: the analysis's failure, recorded by it);
        ``asked``: both were asked ahead already."""
        if evidence and not asked:
            # With the incident's read: one round trip for both on PostgreSQL.
            await self.pipeline.ask_evidence_ahead(session, incident_id)
        try:
            incident, row = await self.pipeline.incidents.read_only(session, incident_id)
        except IncidentNotFoundError as error:
            return Ready(error, None)
        if not evidence:
            return Ready(incident, None)
        stored: StoredEvidence | Exception
        try:
            stored = await self.pipeline.stored_evidence(session, incident.id, row=row)
        except SQLAlchemyError:
            raise
        except Exception as error:  # noqa: BLE001 — raised again in run_analysis
            stored = error
        return Ready(incident, stored)

    async def _read_apart(self, session: AsyncSession, job: JobRead) -> Ready:
        """The reads of `_read` in a read transaction of their own, failing as they did
        before they joined the claim: the incident's read raises, the evidence's is kept."""
        assert job.incident_id is not None
        if job.kind != ANALYZE_JOB:
            return await self._read(session, job.incident_id, evidence=False)
        incident = await self.pipeline.incidents.get(session, job.incident_id)
        stored: StoredEvidence | Exception
        try:
            stored = await self.pipeline.stored_evidence(session, incident.id)
        except Exception as error:  # noqa: BLE001 — raised again in run_analysis
            stored = error
        return Ready(incident, stored)

    async def execute(self, job: JobRead, *, ready: Ready | None = None) -> RunResult:
        """Run a job this process holds and report the state it ended in; ``ready``: what
        an analyze job analyses, when it was read with the claim."""
        principal = Principal(subject=job.created_by, roles=frozenset(), issuer="system")
        bound = log.bind(job_id=job.id, kind=job.kind, incident_id=job.incident_id)
        bound.info("job.started", attempt=job.attempts)
        self._started[job.id] = time.perf_counter()
        try:
            if job.kind == DELIVERY_JOB:
                await self._deliver(job)
                return await self._finished(job, bound)
            if job.kind == INVESTIGATE_JOB and self.investigations is not None:
                await self.investigations.run(job)
                return await self._finished(job, bound)
            if job.kind == NOTIFY_JOB:
                await self._notify(job)
                return await self._finished(job, bound)
            if job.incident_id is None:
                raise ValueError(f"a {job.kind} job needs an incident")
            if ready is None:
                async with self.database.unit_of_work(write=False) as session:
                    ready = await self._read_apart(session, job)
            if isinstance(ready.incident, IncidentNotFoundError):
                raise ready.incident
            incident, stored = ready.incident, ready.stored
            if job.kind == ANALYZE_JOB:
                await self.pipeline.run_analysis(
                    job, incident, None, principal=principal, stored=stored
                )
                # Stored in the transaction that marked the job succeeded, under its owner.
                return await self._finished(job, bound, state="succeeded")
            elif job.kind == REANALYZE_JOB:
                await self._reanalyze(job, principal)
            else:
                raise ValueError(f"unknown job kind {job.kind!r}")
        except JobLostError:
            self._started.pop(job.id, None)
            return RunResult(job.id, "lost")
        except IncidentNotFoundError as error:
            await self._fail(job, str(error))
        except Exception:  # noqa: BLE001 — recorded on the job (and incident) by the pipeline
            bound.exception("job.failed")
        return await self._finished(job, bound)

    async def _finished(self, job: JobRead, bound: Any, *, state: str | None = None) -> RunResult:
        """The job's outcome; ``state`` when this runner knows it (it committed it), else read."""
        if state is None:
            async with self.database.unit_of_work(write=False) as session:
                state = (await self.jobs.get(session, job.id)).state
        bound.info("job.finished", state=state)
        if self.metrics is not None:
            started = self._started.pop(job.id, None)
            if started is not None:
                self.metrics.job_ran(job.kind, state, time.perf_counter() - started)
        return RunResult(job.id, state)

    async def _deliver(self, job: JobRead) -> None:
        try:
            await self.intake.run_deferred(job)
        except JobLostError:
            raise
        except Exception as error:
            await self._fail(job, f"{type(error).__name__}: {error}")
            raise

    async def _notify(self, job: JobRead) -> None:
        if self.notifier is None:
            raise ValueError("notifications are not configured in this process")
        try:
            await self.notifier.run(job)
        except Exception as error:
            await self._fail(job, f"{type(error).__name__}: {error}")
            raise

    async def _reanalyze(self, job: JobRead, principal: Principal) -> None:
        assert job.incident_id is not None
        try:
            await self.pipeline.reanalyze(job.incident_id, principal=principal, job_id=job.id)
        except JobLostError:
            raise
        except Exception as error:
            await self._fail(job, f"{type(error).__name__}: {error}")
            raise

    async def _fail(self, job: JobRead, reason: str) -> None:
        async with self.database.unit_of_work() as session:
            await self.jobs.fail(session, job.id, reason)

    async def run_due(self) -> int:
        """Run the jobs due now, up to the concurrency at once; how many ran.

        The due jobs are claimed, and an analyze job's evidence read, in one write unit for
        them all (one transaction, not one each). While a backlog lasts the due jobs are
        found in that unit too; an idle runner looks in a read transaction first, so that
        polling an empty queue never takes the write lock."""
        if not self._backlog:
            async with self.database.unit_of_work(write=False) as session:
                if not await self.jobs.due(session, limit=self.concurrency):
                    return 0
        try:
            claimed = await self._claim_due()
        except Exception:  # a database hiccup: look again next round
            self._backlog = False
            raise
        self._backlog = bool(claimed)
        results = await asyncio.gather(
            *(self._execute_quietly(job, ready) for job, ready in claimed),
            return_exceptions=False,
        )
        return sum(1 for result in results if result is not None)

    async def _claim_due(self) -> list[tuple[JobRead, Ready | None]]:
        claimed: list[tuple[JobRead, Ready | None]] = []
        async with self.database.unit_of_work() as session:
            for job_id in await self.jobs.due(session, limit=self.concurrency):
                # Not claimed: another runner took it first (or it is busy in a live one).
                job = await self.jobs.claim(session, job_id)
                if job is not None:
                    claimed.append((job, await self._read_for(session, job)))
        return claimed

    async def _execute_quietly(self, job: JobRead, ready: Ready | None) -> RunResult | None:
        try:
            return await self.execute(job, ready=ready)
        except Exception:  # one broken job must not stop the others
            log.exception("job.run_failed", job_id=job.id)
            return None

    async def drain(self, *, rounds: int = 100) -> int:
        """Run due jobs until none is left (bounded): for tests and one-shot commands."""
        total = 0
        for _ in range(rounds):
            ran = await self.run_due()
            if not ran:
                break
            total += ran
        return total

    async def loop(self, stop: asyncio.Event) -> None:
        """Run due jobs until ``stop`` is set; between rounds wait a poll interval."""
        log.info("jobs.loop_started", owner=self.jobs.owner, concurrency=self.concurrency)
        while not stop.is_set():
            try:
                ran = await self.run_due()
            except Exception:  # a database hiccup: wait and look again
                log.exception("jobs.loop_error")
                ran = 0
            if ran:
                continue
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.poll_seconds)
        log.info("jobs.loop_stopped")
