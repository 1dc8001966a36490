"""postmortems and investigations

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronosops.storage.base import JSONValue, UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "postmortem",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("analysis_id", sa.String(length=40), nullable=False),
        sa.Column("bundle_id", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("generator_version", sa.String(length=16), nullable=False),
        sa.Column("content", JSONValue, nullable=False),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("headline", sa.String(length=300), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["analysis.id"],
            name=op.f("fk_postmortem_analysis_id_analysis"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["bundle_id"],
            ["evidence_bundle.id"],
            name=op.f("fk_postmortem_bundle_id_evidence_bundle"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_postmortem_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortem")),
        sa.UniqueConstraint("analysis_id", name=op.f("uq_postmortem_analysis_id")),
        sa.UniqueConstraint(
            "incident_id", "version", name=op.f("uq_postmortem_incident_id_version")
        ),
    )
    op.create_table(
        "investigation_session",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stop_code", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("max_iterations", sa.Integer(), nullable=False),
        sa.Column("confidence_target", sa.Float(), nullable=False),
        sa.Column("current_iteration", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=True),
        sa.Column("initial_analysis_id", sa.String(length=40), nullable=True),
        sa.Column("initial_confidence", sa.Float(), nullable=True),
        sa.Column("best_analysis_id", sa.String(length=40), nullable=True),
        sa.Column("best_confidence", sa.Float(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_investigation_session_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_investigation_session")),
    )
    with op.batch_alter_table("investigation_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_investigation_session_incident_id_created_at"),
            ["incident_id", "created_at"],
            unique=False,
        )
        # The database, not the code, keeps one running session per incident.
        batch_op.create_index(
            "uq_investigation_session_running",
            ["incident_id"],
            unique=True,
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        )
    op.create_table(
        "investigation_iteration",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("iteration", sa.Integer(), nullable=False),
        sa.Column("requests", JSONValue, nullable=False),
        sa.Column("decisions", JSONValue, nullable=False),
        sa.Column("collection", JSONValue, nullable=False),
        sa.Column("bundle_id", sa.String(length=80), nullable=True),
        sa.Column("analysis_id", sa.String(length=40), nullable=True),
        sa.Column("confidence_before", sa.Float(), nullable=True),
        sa.Column("confidence_after", sa.Float(), nullable=True),
        sa.Column("completeness_before", sa.Integer(), nullable=True),
        sa.Column("completeness_after", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["investigation_session.id"],
            name=op.f("fk_investigation_iteration_session_id_investigation_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_investigation_iteration")),
        sa.UniqueConstraint(
            "session_id", "iteration", name=op.f("uq_investigation_iteration_session_id_iteration")
        ),
    )


def downgrade() -> None:
    op.drop_table("investigation_iteration")
    with op.batch_alter_table("investigation_session", schema=None) as batch_op:
        batch_op.drop_index("uq_investigation_session_running")
        batch_op.drop_index(batch_op.f("ix_investigation_session_incident_id_created_at"))
    op.drop_table("investigation_session")
    op.drop_table("postmortem")
