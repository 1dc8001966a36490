"""The jobs service: one runner wins a claim, a dead runner's job is taken over, and a failed
attempt comes back after a growing backoff until the attempts run out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from chronosops.core.clock import FrozenClock
from chronosops.core.ids import Cuid2Factory
from chronosops.jobs import JobNotRetryableError, JobPolicy, JobService
from chronosops.storage import Database

START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
POLICY = JobPolicy(max_attempts=2, backoff_seconds=10, stale_after=timedelta(seconds=30))


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def runner(clock: FrozenClock, owner: str) -> JobService:
    return JobService(clock=clock, ids=Cuid2Factory(), owner=owner, policy=POLICY)


async def queued(database: Database, jobs: JobService, incident_id: str = "inc-1") -> str:
    async with database.unit_of_work() as session:
        job = await jobs.enqueue(
            session, kind="analyze", incident_id=incident_id, payload={}, by="tester"
        )
    return job.id


async def test_two_runners_claiming_one_job_leave_it_to_the_first(
    database: Database, clock: FrozenClock
) -> None:
    first, second = runner(clock, "a"), runner(clock, "b")
    job_id = await queued(database, first)
    async with database.unit_of_work() as session:
        won = await first.claim(session, job_id)
    async with database.unit_of_work() as session:
        lost = await second.claim(session, job_id)
    assert (won is not None, lost) == (True, None)


async def test_a_job_whose_runner_stopped_beating_is_taken_over_and_the_old_runner_stores_nothing(
    database: Database, clock: FrozenClock
) -> None:
    dead, alive = runner(clock, "dead"), runner(clock, "alive")
    job_id = await queued(database, dead)
    async with database.unit_of_work() as session:
        await dead.claim(session, job_id)
    clock.advance(timedelta(seconds=31))
    async with database.unit_of_work() as session:
        taken = await alive.claim(session, job_id)
    async with database.unit_of_work() as session:
        late = await dead.succeed(session, job_id)
    assert (taken is not None and taken.owner == "alive", late) == (True, False)


async def test_a_live_runner_keeps_its_job(database: Database, clock: FrozenClock) -> None:
    owner, other = runner(clock, "owner"), runner(clock, "other")
    job_id = await queued(database, owner)
    async with database.unit_of_work() as session:
        await owner.claim(session, job_id)
    clock.advance(timedelta(seconds=20))
    async with database.unit_of_work() as session:
        await owner.heartbeat(session, job_id)
    clock.advance(timedelta(seconds=20))
    async with database.unit_of_work() as session:
        assert await other.claim(session, job_id) is None


async def test_a_failed_attempt_is_queued_again_after_the_backoff(
    database: Database, clock: FrozenClock
) -> None:
    jobs = runner(clock, "a")
    job_id = await queued(database, jobs)
    async with database.unit_of_work() as session:
        await jobs.claim(session, job_id)
        after = await jobs.fail(session, job_id, "boom")
    assert after is not None
    assert (after.state, after.run_after, after.last_error) == (
        "queued",
        START + timedelta(seconds=10),
        "boom",
    )


async def test_a_queued_job_is_not_due_before_its_backoff_ends(
    database: Database, clock: FrozenClock
) -> None:
    jobs = runner(clock, "a")
    job_id = await queued(database, jobs)
    async with database.unit_of_work() as session:
        await jobs.claim(session, job_id)
        await jobs.fail(session, job_id, "boom")
    async with database.unit_of_work(write=False) as session:
        early = await jobs.due(session, limit=10)
    clock.advance(timedelta(seconds=10))
    async with database.unit_of_work(write=False) as session:
        later = await jobs.due(session, limit=10)
    assert (list(early), list(later)) == ([], [job_id])


async def test_the_last_failed_attempt_fails_the_job_and_an_admin_retry_queues_it_afresh(
    database: Database, clock: FrozenClock
) -> None:
    jobs = runner(clock, "a")
    job_id = await queued(database, jobs)
    for _ in range(POLICY.max_attempts):
        async with database.unit_of_work() as session:
            await jobs.claim(session, job_id)
            after = await jobs.fail(session, job_id, "boom")
    assert after is not None
    assert after.state == "failed"
    async with database.unit_of_work() as session:
        again = await jobs.retry(session, job_id)
    assert (again.state, again.attempts) == ("queued", 0)


async def test_only_a_failed_job_can_be_retried(database: Database, clock: FrozenClock) -> None:
    jobs = runner(clock, "a")
    job_id = await queued(database, jobs)
    with pytest.raises(JobNotRetryableError):
        async with database.unit_of_work() as session:
            await jobs.retry(session, job_id)


async def test_a_second_job_of_an_incident_waits_while_the_first_runs(
    database: Database, clock: FrozenClock
) -> None:
    jobs = runner(clock, "a")
    first = await queued(database, jobs, "inc-1")
    await queued(database, jobs, "inc-1")
    other = await queued(database, jobs, "inc-2")
    async with database.unit_of_work() as session:
        await jobs.claim(session, first)
    async with database.unit_of_work(write=False) as session:
        due = await jobs.due(session, limit=10)
    assert list(due) == [other]


async def test_of_two_due_jobs_of_one_incident_only_the_older_is_handed_out(
    database: Database, clock: FrozenClock
) -> None:
    jobs = runner(clock, "a")
    older = await queued(database, jobs, "inc-1")
    clock.advance(timedelta(milliseconds=1))
    await queued(database, jobs, "inc-1")
    other = await queued(database, jobs, "inc-2")
    async with database.unit_of_work(write=False) as session:
        due = await jobs.due(session, limit=10)
    assert list(due) == [older, other]
