"""signed-out console sessions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronosops.storage.base import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signed_out_session",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("signed_out_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_signed_out_session")),
    )
    with op.batch_alter_table("signed_out_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signed_out_session_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("signed_out_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signed_out_session_expires_at"))
    op.drop_table("signed_out_session")
