"""statement history: each analysed incident's log statements per service, for the next ones

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

Engine 3.13 reads a code path that stopped against the same services' earlier incidents. One
row per (incident, service that logged enough lines in its spans) keeps what that reading needs:
the service's lines and, per usual-path statement, its lines per operation. Incidents analysed
before this revision have no rows; the history grows from the next analyses on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronosops.storage.base import JSONValue, UtcDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "statement_history",
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=256), nullable=False),
        sa.Column("onset", UtcDateTime(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("statements", JSONValue, nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_statement_history_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "service", name=op.f("pk_statement_history")),
    )
    with op.batch_alter_table("statement_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_statement_history_service_onset"), ["service", "onset"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("statement_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statement_history_service_onset"))
    op.drop_table("statement_history")
