"""incident prefix indexes: drop the indexes a unique constraint already leads with

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

``audit_event.incident_id`` and ``incident_alert.incident_id`` each had an index of their own
beside a unique constraint that begins with the same column ((incident_id, incident_seq) and
(incident_id, source_type, source_ref)). Every lookup by incident, the chain's incident head
and the alerts' cascade on delete are served by the unique one (SQLite and PostgreSQL both
search a composite B-tree by its first column), so the single-column ones only cost each
insert: five of them a synchronous ingest (four audit events, one alert row), two a
`respond-async` one (docs/benchmarks.md, twenty-third pass).
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_incident_id"))
    with op.batch_alter_table("incident_alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_alert_incident_id"))


def downgrade() -> None:
    with op.batch_alter_table("incident_alert", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_alert_incident_id"), ["incident_id"], unique=False
        )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_event_incident_id"), ["incident_id"], unique=False
        )
