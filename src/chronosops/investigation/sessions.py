"""Investigation sessions and their iterations: what the loop asked for, what the gate decided,
what it found, and how the confidence moved. One running session per incident, held by a partial
unique index so two starts can never both win."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from chronosops.storage import JSONValue, TableBase, UtcDateTime

RUNNING = "running"


class InvestigationSession(TableBase):
    __tablename__ = "investigation_session"
    __table_args__ = (
        Index(None, "incident_id", "created_at"),
        Index(
            "uq_investigation_session_running",
            "incident_id",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # inv-<cuid>
    incident_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("incident.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16))
    stop_code: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    max_iterations: Mapped[int] = mapped_column(Integer)
    confidence_target: Mapped[float] = mapped_column(Float)
    current_iteration: Mapped[int] = mapped_column(Integer)
    cancel_requested: Mapped[bool] = mapped_column(Boolean)
    job_id: Mapped[str | None] = mapped_column(String(40))
    initial_analysis_id: Mapped[str | None] = mapped_column(String(40))
    initial_confidence: Mapped[float | None] = mapped_column(Float)
    best_analysis_id: Mapped[str | None] = mapped_column(String(40))
    best_confidence: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class InvestigationIteration(TableBase):
    __tablename__ = "investigation_iteration"
    __table_args__ = (UniqueConstraint("session_id", "iteration"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    session_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("investigation_session.id", ondelete="CASCADE")
    )
    iteration: Mapped[int] = mapped_column(Integer)
    requests: Mapped[list[dict[str, Any]]] = mapped_column(JSONValue)
    decisions: Mapped[list[dict[str, Any]]] = mapped_column(JSONValue)
    collection: Mapped[list[dict[str, Any]]] = mapped_column(JSONValue)
    bundle_id: Mapped[str | None] = mapped_column(String(80))
    analysis_id: Mapped[str | None] = mapped_column(String(40))
    confidence_before: Mapped[float | None] = mapped_column(Float)
    confidence_after: Mapped[float | None] = mapped_column(Float)
    completeness_before: Mapped[int | None] = mapped_column(Integer)
    completeness_after: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
