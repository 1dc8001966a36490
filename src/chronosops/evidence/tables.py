from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chronosops.storage import JSONValue, TableBase, UtcDateTime


class EvidenceBundle(TableBase):
    """A frozen set of artifacts, named by the SHA-256 of its canonical content."""

    __tablename__ = "evidence_bundle"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)  # bundle-<sha256 hex>
    hash_algo: Mapped[str] = mapped_column(String(16))
    hash_input_version: Mapped[str] = mapped_column(String(8))
    content: Mapped[dict[str, Any]] = mapped_column(JSONValue)
    sources: Mapped[list[str]] = mapped_column(JSONValue)
    artifact_count: Mapped[int] = mapped_column(Integer)
    synthetic: Mapped[bool] = mapped_column(Boolean)
    # Outside the hash: who first stored it, and when.
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str | None] = mapped_column(Text)


class IncidentEvidence(TableBase):
    """Which bundles an incident cites, and the window each was gathered for."""

    __tablename__ = "incident_evidence"

    incident_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True
    )
    bundle_id: Mapped[str] = mapped_column(
        String(80), ForeignKey("evidence_bundle.id"), primary_key=True, index=True
    )
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime)
    attached_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    attached_by: Mapped[str | None] = mapped_column(Text)


class LogTemplateState(TableBase):
    """A service's mined log templates, fed first on its next evidence so ids carry over.

    Baselines and incidents of the same service then share templates even where Drain would
    have widened them differently from a single batch of lines.
    """

    __tablename__ = "log_template_state"

    service: Mapped[str] = mapped_column(String(256), primary_key=True)
    templates: Mapped[list[str]] = mapped_column(JSONValue)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StatementHistoryRow(TableBase):
    """What the next incidents of a service read of this one's logging (engine 3.13's missing
    code paths): per analysed incident and service that logged enough lines in its spans, the
    lines of each usual-path statement per operation (`analysis.code_paths.statement_lines`).
    An incident's rows are replaced when it is analysed again, so it counts once."""

    __tablename__ = "statement_history"

    incident_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True
    )
    service: Mapped[str] = mapped_column(String(256), primary_key=True)
    # The incident's onset: "earlier incidents" are those that began before it.
    onset: Mapped[datetime] = mapped_column(UtcDateTime)
    lines: Mapped[int] = mapped_column(Integer)
    statements: Mapped[dict[str, Any]] = mapped_column(JSONValue)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index(None, "service", "onset"),)
