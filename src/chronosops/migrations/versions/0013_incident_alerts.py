"""alert grouping: the alerts each incident holds (the opener and the ones that joined)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronosops.storage.base import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_alert",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("source_ref", sa.String(length=512), nullable=False),
        sa.Column("group_key", sa.String(length=512), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("joined_by", sa.String(length=16), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("start_at", UtcDateTime(), nullable=False),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_alert_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_alert")),
        sa.UniqueConstraint(
            "incident_id",
            "source_type",
            "source_ref",
            name=op.f("uq_incident_alert_incident_id_source_type_source_ref"),
        ),
    )
    op.create_index(
        op.f("ix_incident_alert_incident_id"), "incident_alert", ["incident_id"], unique=False
    )
    op.create_index(
        op.f("ix_incident_alert_source_type_source_ref"),
        "incident_alert",
        ["source_type", "source_ref"],
        unique=False,
    )
    op.create_index(
        op.f("ix_incident_alert_source_type_group_key"),
        "incident_alert",
        ["source_type", "group_key"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("incident_alert")
