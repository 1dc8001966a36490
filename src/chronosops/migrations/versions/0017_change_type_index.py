"""change type index: whether a feed of deploys, or of configuration, ever reported

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

A bundle counts the recorded changes as read per kind: ``deploys`` once a deploy or rollback
was ever recorded, ``config`` once a config, feature-flag or infrastructure change was
(`ChangeRepository.kinds_recorded`). Each collection asks that with one ``EXISTS`` per kind;
this index makes each a probe, not a scan of every change a CI/CD posted of the other kind.
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("change_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_change_event_change_type"), ["change_type"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("change_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_event_change_type"))
