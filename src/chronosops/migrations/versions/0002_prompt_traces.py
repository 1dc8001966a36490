"""prompt traces

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronosops.storage.base import JSONValue, UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prompt_trace",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("analysis_id", sa.String(length=40), nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("prompt_version", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("system_prompt", sa.Text(), nullable=False),
        sa.Column("user_prompt", sa.Text(), nullable=False),
        sa.Column("request_json", JSONValue, nullable=False),
        sa.Column("response_json", JSONValue, nullable=True),
        sa.Column("response_text", sa.Text(), nullable=True),
        sa.Column("prompt_hash", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response_hash", sa.String(length=64), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["analysis.id"],
            name=op.f("fk_prompt_trace_analysis_id_analysis"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_prompt_trace_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompt_trace")),
    )
    with op.batch_alter_table("prompt_trace", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_prompt_trace_analysis_id"), ["analysis_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_prompt_trace_incident_id_created_at"),
            ["incident_id", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("prompt_trace", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prompt_trace_incident_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_prompt_trace_analysis_id"))

    op.drop_table("prompt_trace")
