"""console sign-in links; incident list indexes that keep newest-first order

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronosops.storage.base import JSONValue, UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The console's list filters: each gets an index that also holds the newest-first order.
LIST_FILTERS = ("service", "severity", "source_type", "status")


def upgrade() -> None:
    op.create_table(
        "sign_in_link",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("roles", JSONValue, nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("consumed_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_sign_in_link")),
    )
    with op.batch_alter_table("sign_in_link", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sign_in_link_expires_at"), ["expires_at"], unique=False
        )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        for column in LIST_FILTERS:
            batch_op.drop_index(batch_op.f(f"ix_incident_{column}"))
            batch_op.create_index(
                batch_op.f(f"ix_incident_{column}_created_at_id"),
                [column, "created_at", "id"],
                unique=False,
            )


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        for column in LIST_FILTERS:
            batch_op.drop_index(batch_op.f(f"ix_incident_{column}_created_at_id"))
            batch_op.create_index(batch_op.f(f"ix_incident_{column}"), [column], unique=False)
    with op.batch_alter_table("sign_in_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_link_expires_at"))
    op.drop_table("sign_in_link")
