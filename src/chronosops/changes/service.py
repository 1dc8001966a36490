from __future__ import annotations

from collections.abc import Collection
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.changes.errors import ChangeIdConflictError
from chronosops.changes.repository import ChangeRepository
from chronosops.changes.schemas import (
    ChangeCreate,
    ChangeFilter,
    ChangePage,
    ChangeRead,
    RecordedChange,
)
from chronosops.changes.tables import ChangeRecord
from chronosops.core.artifacts import ChangeEvent, ChangeType
from chronosops.core.canonical import content_hash
from chronosops.core.clock import Clock
from chronosops.core.evidence_kinds import CHANGE_READ_KINDS, ReadKind
from chronosops.core.ids import IdFactory
from chronosops.core.timestamps import format_instant
from chronosops.core.windows import TimeWindow
from chronosops.storage import encode_cursor

SOURCE = "changes"


def to_read(record: ChangeRecord) -> ChangeRead:
    return ChangeRead(
        id=record.id,
        change_id=record.change_id,
        type=record.change_type,
        service=record.service,
        environment=record.environment,
        version_from=record.version_from,
        version_to=record.version_to,
        summary=record.summary,
        author=record.author,
        link=record.link,
        timestamp=record.occurred_at,
        metadata=record.details,
        created_at=record.created_at,
        created_by=record.created_by,
    )


def to_artifact(record: ChangeRecord) -> ChangeEvent:
    versions = f" {record.version_from or '?'} → {record.version_to}" if record.version_to else ""
    metadata = dict(record.details or {})
    if record.change_id:
        metadata["changeId"] = record.change_id
    return ChangeEvent(
        artifact_id=f"change:{SOURCE}:{record.id}",
        title=f"{record.change_type} on {record.service}: {record.summary}"[:200],
        summary=f"{record.change_type}{versions} at {format_instant(record.occurred_at)}",
        source=SOURCE,
        change_type=cast(ChangeType, record.change_type),  # validated on the way in
        timestamp=record.occurred_at,
        description=record.summary,
        service=record.service,
        environment=record.environment,
        version_from=record.version_from,
        version_to=record.version_to,
        author=record.author,
        link=record.link,
        metadata=metadata,
    )


class ChangeService:
    def __init__(self, *, clock: Clock, ids: IdFactory) -> None:
        self.clock = clock
        self.ids = ids
        # The change feeds seen reporting (`feeds`): only ever grows.
        self._feeds: set[ReadKind] = set()

    async def record(
        self, session: AsyncSession, change: ChangeCreate, *, by: str | None
    ) -> RecordedChange:
        """Store the change once; a retry with the same changeId and content returns the first."""
        repository = ChangeRepository(session)
        digest = content_hash(change.model_dump(mode="json", exclude={"change_id"}))
        if change.change_id is not None:
            existing = await repository.by_change_id(change.change_id)
            if existing is not None:
                return self._replay(existing, digest, change.change_id)
        record = ChangeRecord(
            id=self.ids.new(),
            change_id=change.change_id,
            change_type=change.type,
            service=change.service,
            environment=change.environment,
            version_from=change.version_from,
            version_to=change.version_to,
            summary=change.summary,
            author=change.author,
            link=change.link,
            occurred_at=change.timestamp,
            details=change.metadata,
            content_hash=digest,
            created_at=self.clock.now(),
            created_by=by,
        )
        if await repository.insert(record):
            return RecordedChange(change=to_read(record), created=True)
        assert change.change_id is not None  # only a change id can collide
        winner = await repository.by_change_id(change.change_id)
        assert winner is not None
        return self._replay(winner, digest, change.change_id)

    @staticmethod
    def _replay(existing: ChangeRecord, digest: str, change_id: str) -> RecordedChange:
        if existing.content_hash != digest:
            raise ChangeIdConflictError(change_id)
        return RecordedChange(change=to_read(existing), created=False)

    async def page(
        self, session: AsyncSession, filters: ChangeFilter, *, cursor: str | None, limit: int
    ) -> ChangePage:
        rows, more = await ChangeRepository(session).page(filters, cursor=cursor, limit=limit)
        return ChangePage(
            items=[to_read(row) for row in rows],
            next_cursor=encode_cursor(rows[-1].occurred_at, rows[-1].id) if more and rows else None,
        )

    async def evidence(
        self,
        session: AsyncSession,
        *,
        window: TimeWindow,
        services: Collection[str] | None,
        environment: str | None,
        limit: int,
    ) -> list[ChangeEvent]:
        """The changes in ``window`` for ``services`` (all when None), as change-event artifacts."""
        rows = await ChangeRepository(session).in_window(
            start=window.start,
            end=window.end,
            services=services,
            environment=environment,
            limit=limit,
        )
        return [to_artifact(row) for row in rows]

    async def feeds(
        self, session: AsyncSession, *, found: Collection[ReadKind] = ()
    ) -> set[ReadKind]:
        """The change feeds that report here: ``deploys`` once a deploy or rollback was ever
        recorded, ``config`` once a config, feature-flag or infrastructure change was. Until a
        feed of a kind reports, an empty window says nothing of what changed of that kind (a
        CI/CD that posts only deploys to ``/v1/changes`` has said nothing of configuration),
        so that kind is not counted as read.

        ``found`` are kinds already known to report (changes of them in the window). Changes
        are never deleted, so a kind once seen keeps reporting: it is remembered and not asked
        again; a kind not seen yet is asked each time (one statement for all of them)."""
        known = self._feeds | set(found)
        unknown = [kind for kind in CHANGE_READ_KINDS if kind not in known]
        if unknown:
            known |= await ChangeRepository(session).kinds_recorded(unknown)
        # Only what a committed row (or the caller's found changes) showed is remembered.
        self._feeds |= known
        return {kind for kind in CHANGE_READ_KINDS if kind in known}
