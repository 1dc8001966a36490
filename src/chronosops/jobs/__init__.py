"""Jobs: background work stored durably with what it is about, claimed once, retried with backoff."""

from chronosops.jobs.errors import JobNotFoundError, JobNotRetryableError
from chronosops.jobs.schemas import JOB_STATES, JobKind, JobRead, JobState
from chronosops.jobs.service import (
    PROCRASTINATE_QUEUE,
    PROCRASTINATE_TASK,
    JobPolicy,
    JobService,
)

__all__ = [
    "JOB_STATES",
    "PROCRASTINATE_QUEUE",
    "PROCRASTINATE_TASK",
    "JobKind",
    "JobNotFoundError",
    "JobNotRetryableError",
    "JobPolicy",
    "JobRead",
    "JobService",
    "JobState",
]
