"""open alert groups: one open incident per vendor group, and joined alerts' requests

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronosops.storage.base import JSONValue

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

OPEN_GROUP_WHERE = sa.text("group_key IS NOT NULL AND lifecycle <> 'resolved'")


def upgrade() -> None:
    op.add_column("incident", sa.Column("group_key", sa.String(length=512), nullable=True))
    op.add_column("incident_alert", sa.Column("request", JSONValue, nullable=True))
    op.add_column("incident_alert", sa.Column("silence_id", sa.String(length=32), nullable=True))
    # An incident's opener was silenced with its incident.
    op.execute(
        "UPDATE incident_alert SET silence_id = (SELECT i.silence_id FROM incident i "
        "WHERE i.id = incident_alert.incident_id) WHERE role = 'opened'"
    )
    _claim_open_groups()
    op.create_index(
        "uq_incident_open_group_key",
        "incident",
        ["source_type", "group_key"],
        unique=True,
        sqlite_where=OPEN_GROUP_WHERE,
        postgresql_where=OPEN_GROUP_WHERE,
    )


def _claim_open_groups() -> None:
    """Each open group is held by its newest open incident (the one its alerts joined so far).

    An older open incident of the same group (opened by the race this index now prevents)
    keeps its alerts but holds no group.
    """
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT i.id, i.source_type, a.group_key FROM incident i "
            "JOIN incident_alert a ON a.incident_id = i.id AND a.role = 'opened' "
            "WHERE a.group_key IS NOT NULL AND i.lifecycle <> 'resolved' "
            "ORDER BY i.created_at DESC, i.id DESC"
        )
    ).all()
    holders: dict[tuple[str, str], str] = {}
    for incident_id, source_type, group_key in rows:
        holders.setdefault((source_type, group_key), incident_id)
    for (_source, group_key), incident_id in holders.items():
        bind.execute(
            sa.text("UPDATE incident SET group_key = :group_key WHERE id = :id"),
            {"group_key": group_key, "id": incident_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("uq_incident_open_group_key")
        batch_op.drop_column("group_key")
    with op.batch_alter_table("incident_alert", schema=None) as batch_op:
        batch_op.drop_column("silence_id")
        batch_op.drop_column("request")
