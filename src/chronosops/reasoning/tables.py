from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chronosops.storage import JSONValue, TableBase, UtcDateTime


class Analysis(TableBase):
    """One analysis of one bundle: the request (for replay) and the result, both as stored JSON."""

    __tablename__ = "analysis"
    __table_args__ = (Index(None, "incident_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # anl-<cuid>
    incident_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("incident.id", ondelete="CASCADE")
    )
    bundle_id: Mapped[str | None] = mapped_column(
        String(80), ForeignKey("evidence_bundle.id"), index=True
    )
    reasoner: Mapped[str] = mapped_column(String(32))
    engine_version: Mapped[str] = mapped_column(String(16))
    request: Mapped[dict[str, Any]] = mapped_column(JSONValue)
    result: Mapped[dict[str, Any]] = mapped_column(JSONValue)
    overall_confidence: Mapped[float] = mapped_column(Float)
    inconclusive: Mapped[bool] = mapped_column(Boolean)
    top_hypothesis_id: Mapped[str] = mapped_column(String(64))
    culprit_service: Mapped[str | None] = mapped_column(String(256))
    primary_signal: Mapped[str] = mapped_column(String(16))
    completeness_score: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str | None] = mapped_column(Text)
