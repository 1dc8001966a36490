"""Change events from CI/CD (POST /v1/changes).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 17:02:44.727841
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronosops.storage.base import JSONValue, UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_event",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("change_id", sa.String(length=200), nullable=True),
        sa.Column("change_type", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=256), nullable=False),
        sa.Column("environment", sa.String(length=256), nullable=True),
        sa.Column("version_from", sa.String(length=256), nullable=True),
        sa.Column("version_to", sa.String(length=256), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=256), nullable=True),
        sa.Column("link", sa.String(length=2048), nullable=True),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("details", JSONValue, nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_event")),
        sa.UniqueConstraint("change_id", name=op.f("uq_change_event_change_id")),
    )
    with op.batch_alter_table("change_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_change_event_environment"), ["environment"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_change_event_occurred_at_id"), ["occurred_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_change_event_service_occurred_at"),
            ["service", "occurred_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("change_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_event_service_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_change_event_occurred_at_id"))
        batch_op.drop_index(batch_op.f("ix_change_event_environment"))

    op.drop_table("change_event")
