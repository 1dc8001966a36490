from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chronosops.storage import JSONValue, TableBase, UtcDateTime


class Postmortem(TableBase):
    """One version of an incident's postmortem, drafted from one analysis (and only one)."""

    __tablename__ = "postmortem"
    __table_args__ = (UniqueConstraint("incident_id", "version"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # pm-<cuid>
    incident_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("incident.id", ondelete="CASCADE")
    )
    analysis_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("analysis.id", ondelete="CASCADE"), unique=True
    )
    bundle_id: Mapped[str] = mapped_column(String(80), ForeignKey("evidence_bundle.id"))
    version: Mapped[int] = mapped_column(Integer)
    generator_version: Mapped[str] = mapped_column(String(16))
    content: Mapped[dict[str, Any]] = mapped_column(JSONValue)
    markdown: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    headline: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str | None] = mapped_column(Text)
