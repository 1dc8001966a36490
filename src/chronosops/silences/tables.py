from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chronosops.storage import JSONValue, TableBase, UtcDateTime


class Silence(TableBase):
    """A window in which matching alerts are stored and audited but not analysed or notified."""

    __tablename__ = "silence"
    __table_args__ = (Index(None, "ends_at", "starts_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # {service?, environment?, source?, labels?: {name: value}}; every one given must match.
    matchers: Mapped[dict[str, Any]] = mapped_column(JSONValue)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    comment: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    expired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expired_by: Mapped[str | None] = mapped_column(String(256))
