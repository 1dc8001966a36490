"""incident lifecycle and ownership: triggered / acknowledged / resolved, who and when, assignee

Revision ID: 0011
Revises: 0009 (0006 before the jobs branch was merged)
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronosops.storage.base import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lifecycle", sa.String(length=16), nullable=False, server_default="triggered")
        )
        batch_op.add_column(sa.Column("lifecycle_changed_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_by", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("assignee", sa.String(length=256), nullable=True))
    # Incidents that already ended (a vendor resolve, or a full record with an end) are resolved.
    op.execute(
        "UPDATE incident SET lifecycle = 'resolved', "
        "lifecycle_changed_at = COALESCE(resolved_at, end_at) "
        "WHERE end_at IS NOT NULL OR resolved_at IS NOT NULL"
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.alter_column("lifecycle", server_default=None)
        batch_op.create_index(
            batch_op.f("ix_incident_lifecycle_created_at_id"),
            ["lifecycle", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_incident_assignee_created_at_id"),
            ["assignee", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_assignee_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_incident_lifecycle_created_at_id"))
        batch_op.drop_column("assignee")
        batch_op.drop_column("resolved_by")
        batch_op.drop_column("acknowledged_by")
        batch_op.drop_column("acknowledged_at")
        batch_op.drop_column("lifecycle_changed_at")
        batch_op.drop_column("lifecycle")
