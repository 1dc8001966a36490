"""open alert windows: one open incident per service and environment claimed by the window rule

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

OPEN_WINDOW_WHERE = sa.text("window_key IS NOT NULL AND lifecycle <> 'resolved'")


def upgrade() -> None:
    # Incidents opened before this revision hold no window: the rule's lookup still finds
    # them, only their openers' races are past.
    op.add_column("incident", sa.Column("window_key", sa.String(length=600), nullable=True))
    op.create_index(
        "uq_incident_open_window_key",
        "incident",
        ["window_key"],
        unique=True,
        sqlite_where=OPEN_WINDOW_WHERE,
        postgresql_where=OPEN_WINDOW_WHERE,
    )


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("uq_incident_open_window_key")
        batch_op.drop_column("window_key")
