"""The durable jobs table: every piece of background work, written with what it is about."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chronosops.storage import JSONValue, TableBase, UtcDateTime


class Job(TableBase):
    """One job. ``state`` moves queued → running → succeeded | failed (or back to queued to retry).

    The row is the truth on both databases: on SQLite the in-process runner polls it; on
    PostgreSQL a Procrastinate job deferred in the same transaction only wakes a worker up, and
    the worker claims this row before doing anything, so a job runs at most once at a time and
    its outcome is stored in the same transaction as the work it did.
    """

    __tablename__ = "job"
    __table_args__ = (
        Index(None, "state", "run_after"),
        Index(None, "incident_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    incident_id: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[Any] = mapped_column(JSONValue)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    run_after: Mapped[datetime] = mapped_column(UtcDateTime())
    # Who runs it ("host:pid:boot") and when it last said it was alive; a running job whose
    # heartbeat is older than the stale limit belongs to a process that died and is taken over.
    owner: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
