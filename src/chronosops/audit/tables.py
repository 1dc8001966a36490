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
    # No index of its own: the unique (incident_id, incident_seq) one serves every lookup by
    # incident, and a second index cost each event's insert (migration 0018).
    incident_id: Mapped[str | None] = mapped_column(String(32))
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


class AuditCheckpoint(TableBase):
    """The chain's head (seq and hash) at one moment, signed with a key the database lacks.

    A rewrite that recomputes every hash, or a deletion of the chain's last events, cannot
    produce a matching signature, so the verifier notices either up to the latest checkpoint.
    """

    __tablename__ = "audit_checkpoint"
    # Not unique: after a key rotation the same head is signed again with the new key.
    __table_args__ = (Index(None, "chain_id", "seq"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    chain_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Which key signed: a changed key reads as "re-key", not as a forgery.
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(64))


class AuditCheckpointIncident(TableBase):
    """An incident's sub-chain head at a checkpoint, for incidents with events since the last.

    Verifying one incident then finds its latest signed head without walking the whole chain.
    """

    __tablename__ = "audit_checkpoint_incident"
    __table_args__ = (Index(None, "incident_id", "incident_seq"),)

    checkpoint_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    incident_seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(64))
