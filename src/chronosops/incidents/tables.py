from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from chronosops.storage import JSONValue, TableBase, UtcDateTime

OPEN_GROUP_INDEX = "uq_incident_open_group_key"
OPEN_GROUP_WHERE = text("group_key IS NOT NULL AND lifecycle <> 'resolved'")
OPEN_WINDOW_INDEX = "uq_incident_open_window_key"
OPEN_WINDOW_WHERE = text("window_key IS NOT NULL AND lifecycle <> 'resolved'")


class Incident(TableBase):
    """One incident, stored exactly once per (sourceType, sourceRef, occurrence).

    ``occurrence`` counts how many times the same source reference has opened an incident: a
    report for a reference whose latest incident is still open (or is a retry of it) maps onto
    that incident; a report that starts after the latest one resolved opens occurrence + 1. The
    unique constraint is what makes concurrent duplicates impossible, not a check in code.
    """

    __tablename__ = "incident"
    __table_args__ = (
        UniqueConstraint("source_type", "source_ref", "occurrence"),
        Index(None, "created_at", "id"),
        Index(None, "start_at"),
        # The list filters on one of these and shows newest first: with the order inside the
        # index, a page reads 51 index entries instead of sorting every match (100k rows on
        # SQLite: 70 ms to under 1 ms for a severity filter).
        Index(None, "severity", "created_at", "id"),
        Index(None, "status", "created_at", "id"),
        Index(None, "source_type", "created_at", "id"),
        Index(None, "service", "created_at", "id"),
        Index(None, "lifecycle", "created_at", "id"),
        Index(None, "assignee", "created_at", "id"),
        # One open incident per vendor group: of concurrent deliveries of one group, only one
        # can open an incident; the others meet this index and join the one that did.
        Index(
            OPEN_GROUP_INDEX,
            "source_type",
            "group_key",
            unique=True,
            sqlite_where=OPEN_GROUP_WHERE,
            postgresql_where=OPEN_GROUP_WHERE,
        ),
        # One open incident per service and environment opened under a source's window rule:
        # of alerts arriving at once, only one opens; the others join it (the same mechanism).
        Index(
            OPEN_WINDOW_INDEX,
            "window_key",
            unique=True,
            sqlite_where=OPEN_WINDOW_WHERE,
            postgresql_where=OPEN_WINDOW_WHERE,
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source_type: Mapped[str] = mapped_column(String(32))
    source_ref: Mapped[str] = mapped_column(String(512))
    occurrence: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text)

    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    detected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    service: Mapped[str | None] = mapped_column(String(256))
    region: Mapped[str | None] = mapped_column(String(256))
    environment: Mapped[str | None] = mapped_column(String(256))
    team: Mapped[str | None] = mapped_column(String(256))
    tags: Mapped[dict[str, str] | None] = mapped_column(JSONValue)
    custom_fields: Mapped[dict[str, Any] | None] = mapped_column(JSONValue)

    window_minutes_before: Mapped[int] = mapped_column(Integer)
    window_minutes_after: Mapped[int] = mapped_column(Integer)
    force_collect: Mapped[bool] = mapped_column(Boolean)
    # The validated request without its raw payload: what a replay re-runs.
    request: Mapped[dict[str, Any]] = mapped_column(JSONValue)
    source_payload: Mapped[Any | None] = mapped_column(JSONValue)

    # Where people are with the incident, apart from where the pipeline is (``status``):
    # triggered -> acknowledged -> resolved, and reopened back to triggered.
    lifecycle: Mapped[str] = mapped_column(String(16), default="triggered")
    lifecycle_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(256))
    resolved_by: Mapped[str | None] = mapped_column(String(256))
    assignee: Mapped[str | None] = mapped_column(String(256))
    # The silence that matched when the incident opened: stored and audited, not analysed.
    silence_id: Mapped[str | None] = mapped_column(String(32))
    # The vendor group (Alertmanager / Grafana groupKey) this incident was opened for; while it
    # is open no other incident can hold the same group (OPEN_GROUP_INDEX).
    group_key: Mapped[str | None] = mapped_column(String(512))
    # The service and environment this incident holds for the window rule (set when a source
    # with a window opened it); while it is open no other incident holds them (OPEN_WINDOW_INDEX).
    window_key: Mapped[str | None] = mapped_column(String(600))

    latest_bundle_id: Mapped[str | None] = mapped_column(String(80))
    latest_analysis_id: Mapped[str | None] = mapped_column(String(40))

    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str | None] = mapped_column(Text)


class IdempotencyRecord(TableBase):
    """The first response to an ``Idempotency-Key``, replayed for a repeat of the same request."""

    __tablename__ = "idempotency_record"

    # SHA-256 of the principal's subject: subjects have no length limit, keys must.
    subject_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # processing | completed
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONValue)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The process handling it ("host:pid:token"); a claim held by a dead one is taken over.
    owner: Mapped[str | None] = mapped_column(String(128))


class WebhookDelivery(TableBase):
    """A vendor delivery seen within the replay window, and the answer it got.

    A retry carries the same delivery id (``X-Webhook-Id``) or, for vendors without one, the
    same body; either unique constraint stops a second ingest, even for concurrent retries.
    """

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("source", "delivery_id"),
        UniqueConstraint("source", "body_sha256"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    # NULL when the vendor sends no delivery id (NULLs never collide in a unique constraint).
    delivery_id: Mapped[str | None] = mapped_column(String(256))
    body_sha256: Mapped[str] = mapped_column(String(64))
    shape: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # processing | completed
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONValue)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    owner: Mapped[str | None] = mapped_column(String(128))


class IncidentNote(TableBase):
    """A responder's note on an incident, kept as the Markdown they typed (rendered on read)."""

    __tablename__ = "incident_note"
    __table_args__ = (Index(None, "incident_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    incident_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("incident.id", ondelete="CASCADE")
    )
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class IncidentAlert(TableBase):
    """One alert an incident holds: the one that opened it, and every one that joined it.

    Each alert keeps its own (source_type, source_ref), so a repeat of a joined alert is found
    as that alert again, never as a new incident; ``group_key`` is the vendor's group
    (Alertmanager / Grafana ``groupKey``) that later alerts of the same group join by.
    """

    __tablename__ = "incident_alert"
    __table_args__ = (
        UniqueConstraint("incident_id", "source_type", "source_ref"),
        Index(None, "source_type", "source_ref"),
        Index(None, "source_type", "group_key"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # No index of its own: the unique (incident_id, source_type, source_ref) one serves the
    # lookups by incident and the cascade, and a second index cost each ingest (migration 0018).
    incident_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("incident.id", ondelete="CASCADE")
    )
    source_type: Mapped[str] = mapped_column(String(32))
    source_ref: Mapped[str] = mapped_column(String(512))
    group_key: Mapped[str | None] = mapped_column(String(512))
    role: Mapped[str] = mapped_column(String(16))  # opened | joined
    # Why it joined: "groupKey" or "window" (same service and environment); None for the opener.
    joined_by: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500))
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # A joined alert's validated request (without its raw payload): its evidenceLite, labels,
    # annotations and service go into the incident's next analysis. None for the opener, whose
    # request the incident itself keeps.
    request: Mapped[dict[str, Any] | None] = mapped_column(JSONValue)
    # The silence the alert matched when it arrived: stored and shown, never analysed.
    silence_id: Mapped[str | None] = mapped_column(String(32))
