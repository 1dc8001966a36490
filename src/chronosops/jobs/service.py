"""The jobs service: enqueue in the caller's transaction, claim once, finish or retry with backoff.

Every method takes the caller's session and only flushes: enqueueing a job in the same
transaction as the incident is what makes "stored but never analysed" impossible. A claim is
one conditional UPDATE, so two runners can never both win the same job; finishing is guarded
by the owner, so a runner that was presumed dead and lost its job cannot store its work too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.core.clock import Clock
from chronosops.core.ids import IdFactory
from chronosops.jobs.errors import JobNotFoundError, JobNotRetryableError
from chronosops.jobs.schemas import JobRead
from chronosops.jobs.tables import Job
from chronosops.storage import Liveness, insert_row, postgres, run_prepared

PROCRASTINATE_TASK = "chronosops.run_job"
PROCRASTINATE_QUEUE = "chronosops"
# Procrastinate's own SQL entry point (the one `Task.defer_async` calls), run on the caller's
# connection so the wake-up commits or rolls back with the job row and the incident.
# Procrastinate lives in its own schema (migration 0009), its functions pinned to it.
_DEFER = text(
    "SELECT unnest(procrastinate.procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, :lock, "
    "NULL, CAST(:args AS jsonb), :scheduled_at)::procrastinate.procrastinate_job_to_defer_v1])) "
    "AS id"
)
ERROR_MAX = 4000

# The statements every job runs, built once against the table (Core, not the ORM's bulk
# UPDATE, which evaluates its WHERE against the session's objects on every call): on the
# SQLite writer they run straight on its connection, compiled once (`run_prepared`).
_JOBS = cast(Table, Job.__table__)
_CLAIM = (
    update(_JOBS)
    .where(
        _JOBS.c.id == bindparam("job_id"),
        or_(
            _JOBS.c.state == "queued",
            and_(_JOBS.c.state == "running", _JOBS.c.heartbeat_at < bindparam("stale_before")),
        ),
    )
    .values(
        state="running",
        owner=bindparam("runner"),
        heartbeat_at=bindparam("at"),
        attempts=_JOBS.c.attempts + 1,
        updated_at=bindparam("at"),
    )
    .returning(*_JOBS.c)
)
# Due now: queued and due, or running with a stale heartbeat; none of an incident that has a
# job running in a live runner (one at a time per incident); oldest first.
_DUE = (
    select(_JOBS.c.id, _JOBS.c.incident_id)
    .where(
        or_(
            and_(_JOBS.c.state == "queued", _JOBS.c.run_after <= bindparam("at")),
            and_(_JOBS.c.state == "running", _JOBS.c.heartbeat_at < bindparam("stale_before")),
        ),
        or_(
            _JOBS.c.incident_id.is_(None),
            _JOBS.c.incident_id.not_in(
                select(_JOBS.c.incident_id)
                .where(
                    _JOBS.c.state == "running",
                    _JOBS.c.heartbeat_at >= bindparam("stale_before"),
                    _JOBS.c.incident_id.is_not(None),
                )
                .scalar_subquery()
            ),
        ),
    )
    .order_by(_JOBS.c.run_after, _JOBS.c.created_at, _JOBS.c.id)
    .limit(bindparam("rows"))
)
_JOB_KEYS = tuple(column.key for column in _JOBS.c)
# Running jobs of other runners, oldest first: those whose runner is known dead are orphans.
_RUNNING_ELSEWHERE = (
    select(_JOBS.c.id, _JOBS.c.owner)
    .where(_JOBS.c.state == "running", _JOBS.c.owner != bindparam("runner"))
    .order_by(_JOBS.c.run_after, _JOBS.c.id)
    .limit(bindparam("rows"))
)
_OWNED = and_(
    _JOBS.c.id == bindparam("job_id"),
    _JOBS.c.owner == bindparam("runner"),
    _JOBS.c.state == "running",
)
_HEARTBEAT = update(_JOBS).where(_OWNED).values(heartbeat_at=bindparam("at")).returning(_JOBS.c.id)
_SUCCEED = (
    update(_JOBS)
    .where(_OWNED)
    .values(
        state="succeeded",
        finished_at=bindparam("at"),
        updated_at=bindparam("at"),
        last_error=None,
    )
    .returning(_JOBS.c.id)
)


def to_read(row: Job) -> JobRead:
    return JobRead.model_validate(row, from_attributes=True)


@dataclass(frozen=True)
class JobPolicy:
    max_attempts: int = 3
    backoff_seconds: float = 5.0
    # A running job whose heartbeat is older than this belongs to a dead process.
    stale_after: timedelta = timedelta(seconds=30)

    def backoff(self, attempts: int) -> timedelta:
        """Exponential: base, 4×base, 16×base … capped at an hour."""
        return timedelta(seconds=min(3600.0, self.backoff_seconds * 4 ** max(0, attempts - 1)))


class JobService:
    def __init__(
        self,
        *,
        clock: Clock,
        ids: IdFactory,
        owner: str,
        policy: JobPolicy,
        procrastinate: bool = False,
        liveness: Liveness | None = None,
    ) -> None:
        # Tells at once that a job's runner died (else its heartbeat going stale tells it).
        self.liveness = liveness
        self.clock = clock
        self.ids = ids
        # This process's name on the jobs it runs ("host:pid:boot").
        self.owner = owner
        self.policy = policy
        # On PostgreSQL with `chronosops worker`: also defer a Procrastinate job to wake a worker.
        self.procrastinate = procrastinate

    async def enqueue(
        self,
        session: AsyncSession,
        *,
        kind: str,
        incident_id: str | None,
        payload: dict[str, Any],
        by: str,
        hold: bool = False,
        done: bool = False,
        delay: timedelta | None = None,
    ) -> JobRead:
        """Add a job; with ``hold`` it is already running here (the caller runs it at once);
        with ``done`` its work is being stored in this same transaction."""
        if hold:
            await self._alive()
        now = self.clock.now()
        values: dict[str, Any] = {
            "id": self.ids.new(),
            "kind": kind,
            "incident_id": incident_id,
            "payload": payload,
            "state": "succeeded" if done else "running" if hold else "queued",
            "attempts": 1 if hold or done else 0,
            "max_attempts": self.policy.max_attempts,
            # A delayed job (a debounced re-analysis) is not due before its time.
            "run_after": now + delay if delay and not hold and not done else now,
            "owner": self.owner if hold else None,
            "heartbeat_at": now if hold else None,
            "last_error": None,
            "created_by": by,
            "created_at": now,
            "updated_at": now,
            "finished_at": now if done else None,
        }
        await insert_row(session, Job, values)
        if not hold and not done:
            await self._wake(session, values["id"], incident_id, values["run_after"])
        return JobRead.model_validate(values)

    async def _wake(
        self, session: AsyncSession, job_id: str, incident_id: str | None, at: datetime
    ) -> None:
        if not self.procrastinate:
            return
        values = {
            "queue": PROCRASTINATE_QUEUE,
            "task": PROCRASTINATE_TASK,
            # One job at a time per incident: Procrastinate runs jobs sharing a lock in order.
            "lock": f"incident:{incident_id}" if incident_id else None,
            "args": json.dumps(
                {"job_id": job_id, "incident_id": incident_id}
                if incident_id
                else {"job_id": job_id}
            ),
            "scheduled_at": at,
        }
        # Its id is not read: on PostgreSQL it goes out with the transaction's next statement.
        if not (postgres.is_postgres(session) and await postgres.defer(session, _DEFER, [values])):
            await session.execute(_DEFER, values)

    async def _alive(self) -> None:
        """Before holding a job: make this process known alive to the others."""
        if self.liveness is not None:
            await self.liveness.ensure_started()

    async def _dead(self, session: AsyncSession, owner: str | None) -> bool:
        if self.liveness is None or owner is None or owner == self.owner:
            return False
        return await self.liveness.is_dead(session, owner)

    async def claim(self, session: AsyncSession, job_id: str) -> JobRead | None:
        """Take the job for this process, if it is queued or its runner died; else None."""
        await self._alive()
        now = self.clock.now()
        taken = await run_prepared(
            session,
            _CLAIM,
            {
                "job_id": job_id,
                "stale_before": now - self.policy.stale_after,
                "runner": self.owner,
                "at": now,
            },
        )
        if taken.rows:
            # The row as the claim left it: no second read.
            return JobRead.model_validate(dict(zip(_JOB_KEYS, taken.rows[0], strict=True)))
        taking = update(Job).values(
            state="running",
            owner=self.owner,
            heartbeat_at=now,
            attempts=Job.attempts + 1,
            updated_at=now,
        )
        holder = await session.scalar(
            select(Job.owner).where(Job.id == job_id, Job.state == "running")
        )
        if holder is None or not await self._dead(session, holder):
            return None
        # Its runner is gone (known at once, not after the stale limit): take it over.
        result = await session.execute(
            taking.where(Job.id == job_id, Job.state == "running", Job.owner == holder).returning(
                Job.id
            )
        )
        if result.first() is None:
            return None
        return await self.get(session, job_id)

    async def _orphans(self, session: AsyncSession, *, limit: int) -> list[str]:
        """Running jobs whose runner is known dead (before their heartbeat goes stale)."""
        if self.liveness is None:
            return []
        rows = await run_prepared(
            session, _RUNNING_ELSEWHERE, {"runner": self.owner, "rows": limit * 10}
        )
        verdicts: dict[str | None, bool] = {}
        found = []
        for job_id, owner in rows.rows:
            if owner not in verdicts:
                verdicts[owner] = await self._dead(session, owner)
            if verdicts[owner]:
                found.append(job_id)
        return found[:limit]

    async def due(self, session: AsyncSession, *, limit: int) -> Sequence[str]:
        """Ids of jobs to run now, oldest first: queued and due, or running with a dead runner.

        A job is left out while another job of the same incident is running (one at a time).
        """
        now = self.clock.now()
        rows = await run_prepared(
            session,
            _DUE,
            {"at": now, "stale_before": now - self.policy.stale_after, "rows": limit * 4},
        )
        due: list[str] = []
        taken: set[str] = set()
        for job_id, incident_id in rows.rows:
            # Two due jobs of one incident would run side by side (a "new incident" message
            # racing its "diagnosis ready"); the later one waits for the next poll.
            if incident_id is not None:
                if incident_id in taken:
                    continue
                taken.add(incident_id)
            due.append(job_id)
            if len(due) == limit:
                break
        if len(due) == limit:
            # Full: an orphan could only take a free place (while a backlog lasts, its job
            # waits for a round with one, or for its heartbeat to go stale, as it did before
            # this look was skipped). The look cost a read and a liveness check every round,
            # ~1.4 ms of CPU a job for a runner of one job at a time (docs/benchmarks.md).
            return due
        for orphan in await self._orphans(session, limit=limit):
            if orphan not in due and len(due) < limit:
                due.append(orphan)
        return due

    async def requeue_stale(self, session: AsyncSession) -> Sequence[str]:
        """Queue again the running jobs whose runner died (and wake a worker for each)."""
        now = self.clock.now()
        result = await session.execute(
            update(Job)
            .where(Job.state == "running", Job.heartbeat_at < now - self.policy.stale_after)
            .values(state="queued", owner=None, run_after=now, updated_at=now)
            .returning(Job.id, Job.incident_id)
        )
        rows = list(result.all())
        for orphan in await self._orphans(session, limit=100):
            taken = await session.execute(
                update(Job)
                .where(Job.id == orphan, Job.state == "running")
                .values(state="queued", owner=None, run_after=now, updated_at=now)
                .returning(Job.id, Job.incident_id)
            )
            rows.extend(taken.all())
        for job_id, incident_id in rows:
            await self._wake(session, job_id, incident_id, now)
        return [job_id for job_id, _ in rows]

    async def heartbeat(self, session: AsyncSession, job_id: str) -> bool:
        values = {"job_id": job_id, "runner": self.owner, "at": self.clock.now()}
        return bool((await run_prepared(session, _HEARTBEAT, values)).rows)

    async def succeed(self, session: AsyncSession, job_id: str) -> bool:
        """Mark the job done, if this process still owns it (False: another runner took it)."""
        values = {"job_id": job_id, "runner": self.owner, "at": self.clock.now()}
        return bool((await run_prepared(session, _SUCCEED, values)).rows)

    async def fail(self, session: AsyncSession, job_id: str, error: str) -> JobRead | None:
        """Record a failed attempt: queued again after a backoff, or failed for good.

        None when this process no longer owns the job (another runner took it over).
        """
        row = await session.get(Job, job_id, with_for_update=True)
        if row is None or row.owner != self.owner or row.state != "running":
            return None
        now = self.clock.now()
        row.last_error = error[:ERROR_MAX]
        row.updated_at = now
        row.owner = None
        if row.attempts >= row.max_attempts:
            row.state = "failed"
            row.finished_at = now
        else:
            row.state = "queued"
            row.run_after = now + self.policy.backoff(row.attempts)
            await self._wake(session, row.id, row.incident_id, row.run_after)
        await session.flush()
        return to_read(row)

    async def retry(self, session: AsyncSession, job_id: str) -> JobRead:
        """An admin's retry of a failed job: queued now with its attempts counted afresh."""
        row = await session.get(Job, job_id, with_for_update=True)
        if row is None:
            raise JobNotFoundError(job_id)
        if row.state != "failed":
            raise JobNotRetryableError(job_id, row.state)
        await self._requeue(session, row)
        return to_read(row)

    async def _requeue(self, session: AsyncSession, row: Job) -> None:
        now = self.clock.now()
        row.state = "queued"
        row.attempts = 0
        row.run_after = now
        row.owner = None
        row.finished_at = None
        row.updated_at = now
        await session.flush()
        await self._wake(session, row.id, row.incident_id, now)

    async def rerun_for_incident(
        self, session: AsyncSession, incident_id: str, *, kind: str, by: str
    ) -> JobRead | None:
        """A client's retry of an incident that is not analysed: its job runs again.

        A failed job is queued afresh; a queued or running one is left alone (it is coming;
        a dead runner's job is taken over by the stale check); an incident with no job at all
        (stored before jobs existed) gets one. None when its job already succeeded.
        """
        row = await self.latest_row(session, incident_id, kind=kind)
        if row is None:
            return await self.enqueue(
                session, kind=kind, incident_id=incident_id, payload={}, by=by
            )
        if row.state == "failed":
            await self._requeue(session, row)
            return to_read(row)
        if row.state in ("queued", "running"):
            return to_read(row)
        return None

    async def latest_row(
        self, session: AsyncSession, incident_id: str, *, kind: str | None = None
    ) -> Job | None:
        query = select(Job).where(Job.incident_id == incident_id)
        if kind is not None:
            query = query.where(Job.kind == kind)
        rows = await session.execute(query.order_by(Job.created_at.desc(), Job.id.desc()).limit(1))
        return rows.scalar_one_or_none()

    async def pending(
        self,
        session: AsyncSession,
        incident_id: str,
        *,
        kinds: Sequence[str] = (),
        states: Sequence[str] = ("queued", "running"),
    ) -> JobRead | None:
        """The incident's oldest job still to finish (queued or running), if any."""
        query = select(Job).where(Job.incident_id == incident_id, Job.state.in_(states))
        if kinds:
            query = query.where(Job.kind.in_(kinds))
        rows = await session.execute(query.order_by(Job.created_at, Job.id).limit(1))
        row = rows.scalar_one_or_none()
        return to_read(row) if row is not None else None

    async def latest(self, session: AsyncSession, incident_id: str) -> JobRead | None:
        row = await self.latest_row(session, incident_id)
        return to_read(row) if row is not None else None

    async def find(self, session: AsyncSession, job_id: str) -> JobRead | None:
        row = await session.get(Job, job_id, populate_existing=True)
        return to_read(row) if row is not None else None

    async def get(self, session: AsyncSession, job_id: str) -> JobRead:
        row = await session.get(Job, job_id, populate_existing=True)
        if row is None:
            raise JobNotFoundError(job_id)
        return to_read(row)

    async def list(
        self,
        session: AsyncSession,
        *,
        state: str | None = None,
        incident_id: str | None = None,
        limit: int = 50,
    ) -> Sequence[JobRead]:
        query = select(Job)
        if state is not None:
            query = query.where(Job.state == state)
        if incident_id is not None:
            query = query.where(Job.incident_id == incident_id)
        rows = await session.execute(
            query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
        )
        return [to_read(row) for row in rows.scalars()]

    async def counts(self, session: AsyncSession) -> dict[str, int]:
        rows = await session.execute(select(Job.state, func.count()).group_by(Job.state))
        return {state: int(count) for state, count in rows.all()}
