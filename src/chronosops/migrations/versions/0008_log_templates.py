"""mined log templates per service

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronosops.storage.base import JSONValue, UtcDateTime

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_template_state",
        sa.Column("service", sa.String(length=256), nullable=False),
        sa.Column("templates", JSONValue, nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("service", name=op.f("pk_log_template_state")),
    )


def downgrade() -> None:
    op.drop_table("log_template_state")
