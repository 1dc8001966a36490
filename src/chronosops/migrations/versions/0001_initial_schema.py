"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronosops.storage.base import JSONValue, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("chain_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=True),
        sa.Column("incident_seq", sa.Integer(), nullable=True),
        sa.Column("incident_prev_hash", sa.String(length=64), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("entity_ref", sa.Text(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("payload", JSONValue, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
        sa.UniqueConstraint("chain_id", "seq", name=op.f("uq_audit_event_chain_id_seq")),
        sa.UniqueConstraint(
            "incident_id", "incident_seq", name=op.f("uq_audit_event_incident_id_incident_seq")
        ),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_event_entity_type_entity_id"),
            ["entity_type", "entity_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_audit_event_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "evidence_bundle",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("hash_algo", sa.String(length=16), nullable=False),
        sa.Column("hash_input_version", sa.String(length=8), nullable=False),
        sa.Column("content", JSONValue, nullable=False),
        sa.Column("sources", JSONValue, nullable=False),
        sa.Column("artifact_count", sa.Integer(), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_bundle")),
    )
    op.create_table(
        "idempotency_record",
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", JSONValue, nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("subject_hash", "key", name=op.f("pk_idempotency_record")),
    )
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_record_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "incident",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("source_ref", sa.String(length=512), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("start_at", UtcDateTime(), nullable=False),
        sa.Column("end_at", UtcDateTime(), nullable=True),
        sa.Column("detected_at", UtcDateTime(), nullable=True),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("service", sa.String(length=256), nullable=True),
        sa.Column("region", sa.String(length=256), nullable=True),
        sa.Column("environment", sa.String(length=256), nullable=True),
        sa.Column("team", sa.String(length=256), nullable=True),
        sa.Column("tags", JSONValue, nullable=True),
        sa.Column("custom_fields", JSONValue, nullable=True),
        sa.Column("window_minutes_before", sa.Integer(), nullable=False),
        sa.Column("window_minutes_after", sa.Integer(), nullable=False),
        sa.Column("force_collect", sa.Boolean(), nullable=False),
        sa.Column("request", JSONValue, nullable=False),
        sa.Column("source_payload", JSONValue, nullable=True),
        sa.Column("latest_bundle_id", sa.String(length=80), nullable=True),
        sa.Column("latest_analysis_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
        sa.UniqueConstraint(
            "source_type",
            "source_ref",
            "occurrence",
            name=op.f("uq_incident_source_type_source_ref_occurrence"),
        ),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_created_at_id"), ["created_at", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_incident_service"), ["service"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_severity"), ["severity"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_source_type"), ["source_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_start_at"), ["start_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_status"), ["status"], unique=False)

    op.create_table(
        "analysis",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("bundle_id", sa.String(length=80), nullable=True),
        sa.Column("reasoner", sa.String(length=32), nullable=False),
        sa.Column("engine_version", sa.String(length=16), nullable=False),
        sa.Column("request", JSONValue, nullable=False),
        sa.Column("result", JSONValue, nullable=False),
        sa.Column("overall_confidence", sa.Float(), nullable=False),
        sa.Column("inconclusive", sa.Boolean(), nullable=False),
        sa.Column("top_hypothesis_id", sa.String(length=64), nullable=False),
        sa.Column("culprit_service", sa.String(length=256), nullable=True),
        sa.Column("primary_signal", sa.String(length=16), nullable=False),
        sa.Column("completeness_score", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["bundle_id"],
            ["evidence_bundle.id"],
            name=op.f("fk_analysis_bundle_id_evidence_bundle"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_analysis_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis")),
    )
    with op.batch_alter_table("analysis", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_analysis_bundle_id"), ["bundle_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_analysis_incident_id_created_at"),
            ["incident_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "incident_evidence",
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("bundle_id", sa.String(length=80), nullable=False),
        sa.Column("window_start", UtcDateTime(), nullable=False),
        sa.Column("window_end", UtcDateTime(), nullable=False),
        sa.Column("attached_at", UtcDateTime(), nullable=False),
        sa.Column("attached_by", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["bundle_id"],
            ["evidence_bundle.id"],
            name=op.f("fk_incident_evidence_bundle_id_evidence_bundle"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_evidence_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "bundle_id", name=op.f("pk_incident_evidence")),
    )
    with op.batch_alter_table("incident_evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_evidence_attached_at"), ["attached_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incident_evidence_bundle_id"), ["bundle_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("incident_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_evidence_bundle_id"))
        batch_op.drop_index(batch_op.f("ix_incident_evidence_attached_at"))

    op.drop_table("incident_evidence")
    with op.batch_alter_table("analysis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analysis_incident_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_analysis_bundle_id"))

    op.drop_table("analysis")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_status"))
        batch_op.drop_index(batch_op.f("ix_incident_start_at"))
        batch_op.drop_index(batch_op.f("ix_incident_source_type"))
        batch_op.drop_index(batch_op.f("ix_incident_severity"))
        batch_op.drop_index(batch_op.f("ix_incident_service"))
        batch_op.drop_index(batch_op.f("ix_incident_created_at_id"))

    op.drop_table("incident")
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_record_created_at"))

    op.drop_table("idempotency_record")
    op.drop_table("evidence_bundle")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_incident_id"))
        batch_op.drop_index(batch_op.f("ix_audit_event_entity_type_entity_id"))

    op.drop_table("audit_event")
