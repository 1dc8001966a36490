"""responders' notes on incidents; silences (maintenance windows) and the incidents they
silenced; the notification delivery log (outbox)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronosops.storage.base import JSONValue, UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_delivery",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("receiver", sa.String(length=64), nullable=False),
        sa.Column("receiver_type", sa.String(length=16), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("message", JSONValue, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_notification_delivery_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_delivery")),
    )
    with op.batch_alter_table("notification_delivery", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_delivery_incident_id_created_at_id"),
            ["incident_id", "created_at", "id"],
            unique=False,
        )
    op.create_table(
        "silence",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("matchers", JSONValue, nullable=False),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("ends_at", UtcDateTime(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expired_at", UtcDateTime(), nullable=True),
        sa.Column("expired_by", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silence")),
    )
    with op.batch_alter_table("silence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_silence_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_silence_ends_at_starts_at"), ["ends_at", "starts_at"], unique=False
        )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("silence_id", sa.String(length=32), nullable=True))
    op.create_table(
        "incident_note",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=256), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_note_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_note")),
    )
    with op.batch_alter_table("incident_note", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_note_incident_id_created_at_id"),
            ["incident_id", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("notification_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_delivery_incident_id_created_at_id"))
    op.drop_table("notification_delivery")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("silence_id")
    with op.batch_alter_table("silence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_silence_ends_at_starts_at"))
        batch_op.drop_index(batch_op.f("ix_silence_created_at"))
    op.drop_table("silence")
    with op.batch_alter_table("incident_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_note_incident_id_created_at_id"))
    op.drop_table("incident_note")
