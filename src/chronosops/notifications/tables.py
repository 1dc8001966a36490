from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chronosops.storage import JSONValue, TableBase, UtcDateTime


class NotificationDelivery(TableBase):
    """One message to one receiver about one incident event: the outbox and the delivery log.

    Written in the transaction of the event it reports, with the job that sends it, so a
    notification is never lost and never blocks the event.
    """

    __tablename__ = "notification_delivery"
    __table_args__ = (Index(None, "incident_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    incident_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("incident.id", ondelete="CASCADE")
    )
    receiver: Mapped[str] = mapped_column(String(64))
    receiver_type: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(32))
    # The event's facts (incident, diagnosis, lifecycle): rendered per receiver when sent.
    message: Mapped[dict[str, Any]] = mapped_column(JSONValue)
    state: Mapped[str] = mapped_column(String(16))  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
