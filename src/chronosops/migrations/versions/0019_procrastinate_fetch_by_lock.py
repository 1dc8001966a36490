"""procrastinate fetch by lock: a worker takes the next job without scanning the whole backlog

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

Procrastinate's ``procrastinate_fetch_job_v2`` takes the first ``todo`` job (priority, then id)
whose lock no other job holds: for each candidate it looks for a job of the same lock that is
running or ahead of it. Every ChronosOps job carries a lock (its incident), and Procrastinate
has no index that begins with ``lock`` for ``todo`` jobs, so each of those looks walked the
whole ``(id, lock)`` index. Without fresh statistics (a new table; ``ANALYZE`` not run since the
backlog grew, or autovacuum off) the planner also made that look for *every* ``todo`` job and
sorted them, instead of walking the priority index and stopping at the first job it can take:
each fetch cost time in the square of the backlog (0.9–1.4 s with 3,600 jobs queued), and a
worker fetches one job at a time, so a backlog of a few thousand drained at 1–17 jobs a second.

Two changes, on PostgreSQL only (SQLite has no Procrastinate):

- an index on ``lock`` over the ``todo`` and ``doing`` jobs, so that the look is a probe;
- ``enable_sort`` and ``enable_bitmapscan`` off inside the fetch function only, so that its
  plan walks the priority index in order and stops at the first job it can take, whatever the
  statistics say (a few ``todo`` jobs or a hundred thousand: the same plan, the same cost).

A later Procrastinate migration that replaces the function drops its settings (as it would the
``search_path`` 0009 pins): `tests/worker/test_drain.py` fails then.
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_INDEX = "procrastinate_jobs_lock_todo_doing"
_FETCH = "procrastinate.procrastinate_fetch_job_v2(character varying[], bigint)"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"CREATE INDEX {_INDEX} ON procrastinate.procrastinate_jobs (lock) "
        "WHERE status IN ('todo', 'doing')"
    )
    op.execute(f"ALTER FUNCTION {_FETCH} SET enable_sort = off")
    op.execute(f"ALTER FUNCTION {_FETCH} SET enable_bitmapscan = off")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER FUNCTION {_FETCH} RESET enable_bitmapscan")
    op.execute(f"ALTER FUNCTION {_FETCH} RESET enable_sort")
    op.execute(f"DROP INDEX procrastinate.{_INDEX}")
