"""jobs: the durable jobs table, claim owners, and Procrastinate's schema on PostgreSQL

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-04

On PostgreSQL, Procrastinate's own tables and functions go into a schema of their own,
``procrastinate``, so that they never mix with ours (and a downgrade is one DROP SCHEMA). Their
functions name tables without a schema, so each is pinned to ``search_path = procrastinate``:
they then work whatever the caller's search path is, including the ingest transaction that
defers a job.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronosops.storage.base import JSONValue, UtcDateTime

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None

PROCRASTINATE_SCHEMA = "procrastinate"
_PIN_FUNCTIONS = f"""
DO $$
DECLARE fn record;
BEGIN
  FOR fn IN
    SELECT p.oid::regprocedure AS signature FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = '{PROCRASTINATE_SCHEMA}'
  LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = {PROCRASTINATE_SCHEMA}', fn.signature);
  END LOOP;
END $$;
"""


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=True),
        sa.Column("payload", JSONValue, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", UtcDateTime(), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("heartbeat_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_state_run_after"), ["state", "run_after"])
        batch_op.create_index(
            batch_op.f("ix_job_incident_id_created_at"), ["incident_id", "created_at"]
        )
    # Who holds a claim, so that one held by a dead process is taken over at once.
    for table in ("idempotency_record", "webhook_delivery"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("owner", sa.String(length=128), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from procrastinate.schema import SchemaManager

        bind.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {PROCRASTINATE_SCHEMA}")
        bind.exec_driver_sql(f"SET LOCAL search_path TO {PROCRASTINATE_SCHEMA}, public")
        # The driver reads % as a placeholder even without parameters.
        bind.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))
        bind.exec_driver_sql(_PIN_FUNCTIONS.replace("%", "%%"))
        bind.exec_driver_sql("SET LOCAL search_path TO public")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP SCHEMA IF EXISTS {PROCRASTINATE_SCHEMA} CASCADE")
    for table in ("idempotency_record", "webhook_delivery"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("owner")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_incident_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_job_state_run_after"))
    op.drop_table("job")
