from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chronosops.storage import JSONValue, TableBase, UtcDateTime


class ChangeRecord(TableBase):
    """A deploy, rollback, config, feature-flag or infrastructure change reported by CI/CD.

    ``change_id`` is the sender's own id (optional); when given, it is unique, so a retried
    report is stored once. ``content_hash`` covers the reported fields, so a retry with other
    content under the same id is told apart from an honest retry.
    """

    __tablename__ = "change_event"
    __table_args__ = (
        Index(None, "service", "occurred_at"),
        Index(None, "occurred_at", "id"),
        # Whether a feed of a kind ever reported (`ChangeRepository.kinds_recorded`): a probe.
        Index(None, "change_type"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    change_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    change_type: Mapped[str] = mapped_column(String(32))
    service: Mapped[str] = mapped_column(String(256))
    environment: Mapped[str | None] = mapped_column(String(256), index=True)
    version_from: Mapped[str | None] = mapped_column(String(256))
    version_to: Mapped[str | None] = mapped_column(String(256))
    summary: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(256))
    link: Mapped[str | None] = mapped_column(String(2048))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONValue)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str | None] = mapped_column(Text)
