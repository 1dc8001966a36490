"""Failures the jobs service reports (the web edge maps each base class to its status)."""

from __future__ import annotations

from chronosops.core.errors import ConflictError, NotFoundError


class JobNotFoundError(NotFoundError):
    code = "job-not-found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Job not found: {job_id}")


class JobNotRetryableError(ConflictError):
    code = "job-not-retryable"

    def __init__(self, job_id: str, state: str) -> None:
        super().__init__(f"Job {job_id} is {state}; only a failed job can be retried")
