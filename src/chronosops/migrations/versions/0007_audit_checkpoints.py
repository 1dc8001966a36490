"""signed checkpoints of the audit chain's head

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronosops.storage.base import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("chain_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
    )
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_checkpoint_chain_id_seq"), ["chain_id", "seq"], unique=False
        )
    op.create_table(
        "audit_checkpoint_incident",
        sa.Column("checkpoint_id", sa.String(length=32), nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("incident_seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint(
            "checkpoint_id", "incident_id", name=op.f("pk_audit_checkpoint_incident")
        ),
    )
    with op.batch_alter_table("audit_checkpoint_incident", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_checkpoint_incident_incident_id_incident_seq"),
            ["incident_id", "incident_seq"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_checkpoint_incident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_checkpoint_incident_incident_id_incident_seq"))
    op.drop_table("audit_checkpoint_incident")
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_checkpoint_chain_id_seq"))
    op.drop_table("audit_checkpoint")
