from __future__ import annotations

from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Table, Update, and_, bindparam, delete, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from chronosops.core.canonical import sha256_hex
from chronosops.incidents.schemas import IncidentFilter
from chronosops.incidents.tables import (
    IdempotencyRecord,
    Incident,
    IncidentNote,
    WebhookDelivery,
)
from chronosops.storage import (
    add_unless_taken,
    decode_cursor,
    insert_or_ignore,
    postgres,
    run_prepared,
)

# Built once: on PostgreSQL an update goes out with the writes waiting before it.
# The incident's columns, named once: `Table.columns` builds a new list on every iteration.
_COLUMN_KEYS = tuple(column.key for column in Incident.__table__.columns)
_UPDATE_ONE = update(Incident).where(Incident.id == bindparam("target_id")).returning(Incident.id)
# The same UPDATE with no answer to wait for: for an incident this transaction inserted.
_UPDATE_OWN = update(Incident).where(Incident.id == bindparam("target_id"))

# Built once, with named parameters: run straight on SQLite's writer connection in its units
# (and the first half of the alert grouping's reference-state read).
LATEST_LIFECYCLE = (
    select(Incident.lifecycle)
    .where(
        Incident.source_type == bindparam("source_type"),
        Incident.source_ref == bindparam("source_ref"),
    )
    .order_by(Incident.occurrence.desc())
    .limit(1)
)


# The whole row by id, built once against the table: for a caller that only reads the row
# (a job's incident), without the ORM's get (its identity map, loading and statement per call).
_ATTRIBUTES = tuple(
    (attribute.key, attribute.columns[0]) for attribute in inspect(Incident).column_attrs
)
_ROW_BY_ID = select(*(column for _, column in _ATTRIBUTES)).where(
    cast(Table, Incident.__table__).c.id == bindparam("incident_id")
)
_LATEST_ANALYSIS = select(Incident.latest_analysis_id).where(
    Incident.id == bindparam("incident_id")
)
# `postgres.read_ahead` key of `_LATEST_ANALYSIS` asked ahead, followed by the incident's id.
_NEVER_ANALYSED_AHEAD = "incidents.never_analysed:"
# `postgres.read_ahead` key of `_ROW_BY_ID` asked ahead, followed by the incident's id.
_ROW_AHEAD = "incidents.row:"


@cache
def _update_statement(keys: tuple[str, ...]) -> Update:
    """``UPDATE incident SET <keys> WHERE id = :incident_id_``, built once per set of columns."""
    table = cast(Table, Incident.__table__)
    return (
        update(table)
        .where(table.c.id == bindparam("incident_id_"))
        .values({key: bindparam(key) for key in keys})
    )


def subject_hash(subject: str) -> str:
    return sha256_hex(subject.encode())


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class IncidentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, incident_id: str) -> Incident | None:
        return await self.session.get(Incident, incident_id)

    async def read_only(self, incident_id: str) -> Incident | None:
        """The incident's row as a plain object with the mapped attributes, not in the
        session: for reading, never for changing."""
        rows = await postgres.answer_ahead(self.session, f"{_ROW_AHEAD}{incident_id}")
        if rows is None:
            rows = (await run_prepared(self.session, _ROW_BY_ID, {"incident_id": incident_id})).rows
        if not rows:
            return None
        keys = (key for key, _ in _ATTRIBUTES)
        return cast(Incident, SimpleNamespace(**dict(zip(keys, rows[0], strict=True))))

    async def ask_read_only_ahead(self, incident_id: str) -> bool:
        """On PostgreSQL, ask `read_only` with the transaction's next statement that needs
        an answer (a job's claim); False elsewhere."""
        return postgres.is_postgres(self.session) and await postgres.read_ahead(
            self.session, f"{_ROW_AHEAD}{incident_id}", _ROW_BY_ID, {"incident_id": incident_id}
        )

    async def ask_never_analysed_ahead(self, incident_id: str) -> None:
        """On PostgreSQL, ask `never_analysed` with the transaction's next statement that
        needs an answer (a job's finish), rather than in a round trip of its own."""
        if postgres.is_postgres(self.session):
            await postgres.read_ahead(
                self.session,
                f"{_NEVER_ANALYSED_AHEAD}{incident_id}",
                _LATEST_ANALYSIS,
                {"incident_id": incident_id},
            )

    async def never_analysed(self, incident_id: str) -> bool:
        rows = await postgres.answer_ahead(self.session, f"{_NEVER_ANALYSED_AHEAD}{incident_id}")
        if rows is None:
            rows = (
                await run_prepared(self.session, _LATEST_ANALYSIS, {"incident_id": incident_id})
            ).rows
        return bool(rows) and rows[0][0] is None

    async def latest_for_ref(self, source_type: str, source_ref: str) -> Incident | None:
        return await self.session.scalar(
            select(Incident)
            .where(Incident.source_type == source_type, Incident.source_ref == source_ref)
            .order_by(Incident.occurrence.desc())
            .limit(1)
        )

    async def latest_lifecycle(self, source_type: str, source_ref: str) -> str | None:
        ran = await run_prepared(
            self.session, LATEST_LIFECYCLE, {"source_type": source_type, "source_ref": source_ref}
        )
        return ran.rows[0][0] if ran.rows else None

    async def insert(self, incident: Incident) -> bool:
        """Insert, or return False if the (sourceType, sourceRef, occurrence) slot is taken."""
        return await insert_or_ignore(self.session, Incident, self.values_of(incident))

    @staticmethod
    def values_of(incident: Incident) -> dict[str, Any]:
        """The incident's row as an insert's values, one per column."""
        return {key: getattr(incident, key) for key in _COLUMN_KEYS}

    async def update(
        self, incident_id: str, values: dict[str, Any], *, held_here: bool = False
    ) -> bool:
        """Update the incident's columns; False when there is no such incident.

        ``held_here``: this transaction inserted the incident (nobody else sees it before the
        commit), or a row that references it (an analysis: its foreign key keeps the incident
        from being deleted until the commit, and the insert fails if it is gone), so it is
        there: on PostgreSQL the UPDATE then waits and goes out with the transaction's next
        statement that needs an answer, instead of a round trip of its own to be told what is
        already known."""
        if postgres.is_postgres(self.session) and (
            identity_key(Incident, incident_id) not in self.session.identity_map
        ):
            if held_here and await postgres.defer(
                self.session, _UPDATE_OWN, [{**values, "target_id": incident_id}]
            ):
                return True
            # Nothing of this incident is loaded in the session to keep in step: the UPDATE
            # goes out with the writes waiting before it, in one round trip.
            rows = await postgres.fetch(
                self.session, _UPDATE_ONE, {**values, "target_id": incident_id}
            )
            if rows is not None:
                return bool(rows)
        if not any(isinstance(row, Incident) for row in self.session.identity_map.values()):
            # No incident loaded in this session to keep in step: a plain UPDATE, built once.
            ran = await run_prepared(
                self.session,
                _update_statement(tuple(values)),
                {**values, "incident_id_": incident_id},
            )
            return bool(ran.rowcount)
        result = await self.session.execute(
            update(Incident).where(Incident.id == incident_id).values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def group_held_elsewhere(self, incident: Incident) -> bool:
        """Whether another open incident holds this incident's vendor group."""
        holder = await self.session.scalar(
            select(Incident.id).where(
                Incident.source_type == incident.source_type,
                Incident.group_key == incident.group_key,
                Incident.lifecycle != "resolved",
                Incident.id != incident.id,
            )
        )
        return holder is not None

    async def window_held_elsewhere(self, incident: Incident) -> bool:
        """Whether another open incident holds this incident's service and environment."""
        holder = await self.session.scalar(
            select(Incident.id).where(
                Incident.window_key == incident.window_key,
                Incident.lifecycle != "resolved",
                Incident.id != incident.id,
            )
        )
        return holder is not None

    async def flush(self) -> None:
        await self.session.flush()

    async def page(
        self, filters: IncidentFilter, *, cursor: str | None, limit: int
    ) -> tuple[list[Incident], bool]:
        query = select(Incident)
        if filters.source_type:
            query = query.where(Incident.source_type == filters.source_type)
        if filters.severity:
            query = query.where(Incident.severity == filters.severity)
        if filters.status:
            query = query.where(Incident.status == filters.status)
        if filters.service:
            query = query.where(Incident.service == filters.service)
        if filters.started_after:
            query = query.where(Incident.start_at >= filters.started_after)
        if filters.started_before:
            query = query.where(Incident.start_at < filters.started_before)
        if filters.title_contains:
            query = query.where(
                Incident.title.ilike(f"%{_escape_like(filters.title_contains)}%", escape="\\")
            )
        if filters.resolved is not None:
            is_resolved = Incident.lifecycle == "resolved"
            query = query.where(is_resolved if filters.resolved else ~is_resolved)
        if filters.lifecycle:
            query = query.where(Incident.lifecycle == filters.lifecycle)
        if filters.unassigned:
            query = query.where(Incident.assignee.is_(None))
        elif filters.assignee:
            query = query.where(Incident.assignee == filters.assignee)
        if cursor:
            created_at, incident_id = decode_cursor(cursor)
            query = query.where(
                or_(
                    Incident.created_at < created_at,
                    and_(Incident.created_at == created_at, Incident.id < incident_id),
                )
            )
        query = query.order_by(Incident.created_at.desc(), Incident.id.desc()).limit(limit + 1)
        rows = list(await self.session.scalars(query))
        return rows[:limit], len(rows) > limit

    async def idempotency(self, subject: str, key: str) -> IdempotencyRecord | None:
        return await self.session.get(IdempotencyRecord, (subject_hash(subject), key))

    async def insert_idempotency(self, record: IdempotencyRecord) -> bool:
        return await add_unless_taken(self.session, record)

    async def delete_idempotency(self, subject: str, key: str) -> None:
        await self.session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.subject_hash == subject_hash(subject),
                IdempotencyRecord.key == key,
            )
        )

    async def deliveries_matching(
        self, source: str, *, delivery_id: str | None, body_sha256: str
    ) -> list[WebhookDelivery]:
        same = WebhookDelivery.body_sha256 == body_sha256
        if delivery_id is not None:
            same = or_(same, WebhookDelivery.delivery_id == delivery_id)
        return list(
            await self.session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.source == source, same)
            )
        )

    async def insert_delivery(self, delivery: WebhookDelivery) -> bool:
        return await add_unless_taken(self.session, delivery)

    async def delete_delivery(self, delivery_id: str) -> None:
        await self.session.execute(delete(WebhookDelivery).where(WebhookDelivery.id == delivery_id))

    async def delete_deliveries_before(self, cutoff: datetime) -> None:
        await self.session.execute(
            delete(WebhookDelivery).where(WebhookDelivery.received_at < cutoff)
        )

    async def delivery(self, delivery_id: str) -> WebhookDelivery | None:
        return await self.session.get(WebhookDelivery, delivery_id)

    async def recent_deliveries(self, *, source: str | None, limit: int) -> list[WebhookDelivery]:
        query = select(WebhookDelivery)
        if source is not None:
            query = query.where(WebhookDelivery.source == source)
        query = query.order_by(WebhookDelivery.received_at.desc(), WebhookDelivery.id.desc())
        return list(await self.session.scalars(query.limit(limit)))

    async def add_note(self, note: IncidentNote) -> None:
        self.session.add(note)
        await self.session.flush()

    async def notes(self, incident_id: str) -> list[IncidentNote]:
        return list(
            await self.session.scalars(
                select(IncidentNote)
                .where(IncidentNote.incident_id == incident_id)
                .order_by(IncidentNote.created_at, IncidentNote.id)
            )
        )
