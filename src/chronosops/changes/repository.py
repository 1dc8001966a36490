from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import and_, bindparam, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.changes.schemas import ChangeFilter
from chronosops.changes.tables import ChangeRecord
from chronosops.core.evidence_kinds import ReadKind, change_types_of
from chronosops.storage import add_unless_taken, decode_cursor


class ChangeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_change_id(self, change_id: str) -> ChangeRecord | None:
        return await self.session.scalar(
            select(ChangeRecord).where(ChangeRecord.change_id == change_id)
        )

    async def insert(self, record: ChangeRecord) -> bool:
        """Insert, or return False when the change id is taken (a concurrent retry won)."""
        return await add_unless_taken(self.session, record)

    async def page(
        self, filters: ChangeFilter, *, cursor: str | None, limit: int
    ) -> tuple[list[ChangeRecord], bool]:
        query = select(ChangeRecord)
        if filters.service:
            query = query.where(ChangeRecord.service == filters.service)
        if filters.environment:
            query = query.where(ChangeRecord.environment == filters.environment)
        if filters.change_type:
            query = query.where(ChangeRecord.change_type == filters.change_type)
        if filters.since:
            query = query.where(ChangeRecord.occurred_at >= filters.since)
        if filters.until:
            query = query.where(ChangeRecord.occurred_at < filters.until)
        if cursor:
            occurred_at, record_id = decode_cursor(cursor)
            query = query.where(
                or_(
                    ChangeRecord.occurred_at < occurred_at,
                    and_(ChangeRecord.occurred_at == occurred_at, ChangeRecord.id < record_id),
                )
            )
        query = query.order_by(ChangeRecord.occurred_at.desc(), ChangeRecord.id.desc())
        rows = list(await self.session.scalars(query.limit(limit + 1)))
        return rows[:limit], len(rows) > limit

    async def kinds_recorded(self, kinds: Collection[ReadKind]) -> set[ReadKind]:
        """Which of ``kinds`` (``deploys``, ``config``) some change of was ever recorded: one
        statement, one probe of the ``change_type`` index per kind, however many rows there
        are (a table of a million deploys and no config change answers as fast as an empty
        one)."""
        if not kinds:
            return set()
        ordered = list(kinds)
        # The types are written into the SQL, not bound: PostgreSQL's generic plan for a
        # prepared ``IN ($1, $2)`` (psycopg prepares a statement on its fifth run) cannot
        # tell a type with no rows from one with all of them and scans the table (measured:
        # 40 ms over 200,000 deploys, against 0.04 ms through the index).
        probes = [
            exists()
            .where(
                ChangeRecord.change_type.in_(
                    bindparam(
                        f"types_{kind}",
                        change_types_of(kind),
                        expanding=True,
                        literal_execute=True,
                    )
                )
            )
            .label(kind)
            for kind in ordered
        ]
        row = (await self.session.execute(select(*probes))).one()
        return {kind for kind, found in zip(ordered, row, strict=True) if found}

    async def in_window(
        self,
        *,
        start: datetime,
        end: datetime,
        services: Collection[str] | None,
        environment: str | None,
        limit: int,
    ) -> list[ChangeRecord]:
        query = select(ChangeRecord).where(
            ChangeRecord.occurred_at >= start, ChangeRecord.occurred_at <= end
        )
        if services is not None:
            query = query.where(ChangeRecord.service.in_(sorted(services)))
        if environment is not None:
            # A change without an environment may have gone anywhere: it stays a suspect.
            query = query.where(
                or_(ChangeRecord.environment == environment, ChangeRecord.environment.is_(None))
            )
        # The latest first: the closer to the onset, the more suspicious.
        query = query.order_by(ChangeRecord.occurred_at.desc(), ChangeRecord.id.desc())
        return list(await self.session.scalars(query.limit(limit)))
