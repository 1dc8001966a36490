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


class PromptTrace(TableBase):
    """One call to a language model, verbatim, with the hashes that make it tamper-evident."""

    __tablename__ = "prompt_trace"
    __table_args__ = (Index(None, "incident_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    analysis_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("analysis.id", ondelete="CASCADE"), index=True
    )
    incident_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("incident.id", ondelete="CASCADE")
    )
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    prompt_version: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    system_prompt: Mapped[str] = mapped_column(Text)
    user_prompt: Mapped[str] = mapped_column(Text)
    request_json: Mapped[dict[str, Any]] = mapped_column(JSONValue)
    response_json: Mapped[Any | None] = mapped_column(JSONValue)
    response_text: Mapped[str | None] = mapped_column(Text)
    prompt_hash: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_hash: Mapped[str | None] = mapped_column(String(64))
    input_tokens: Mapped[int] = mapped_column(Integer)
    output_tokens: Mapped[int] = mapped_column(Integer)
    cost_usd: Mapped[float] = mapped_column(Float)
    latency_ms: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
