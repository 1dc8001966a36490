from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chronosops.storage import JSONValue, TableBase, UtcDateTime


class AuditEvent(TableBase):
    """One link of the hash chain. Insert-only: nothing updates or deletes these rows."""

    __tablename__ = "audit_event"
    __table_args__ = (
        UniqueConstraint("chain_id", "seq"),
        UniqueConstraint("incident_id", "incident_seq"),
        Index(None, "entity_type", "entity_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    chain_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    # The incident's own sub-chain, so one incident verifies without walking every event.
    incident_id: Mapped[str | None] = mapped_column(String(32), index=True)
    incident_seq: Mapped[int | None] = mapped_column(Integer)
    incident_prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(128))
    entity_ref: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONValue)
