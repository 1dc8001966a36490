from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.audit.tables import AuditCheckpoint, AuditCheckpointIncident, AuditEvent
from chronosops.storage import insert_row, insert_rows, postgres, run_prepared


def _head_links_statement() -> CompoundSelect[str, int | None, str]:
    # Built once: constructing this union costs more than running it, once per append.
    chain = (
        select(literal("chain").label("which"), AuditEvent.seq.label("seq"), AuditEvent.hash)
        .where(AuditEvent.chain_id == bindparam("chain_id"))
        .order_by(AuditEvent.seq.desc())
        .limit(1)
        .subquery()
    )
    incident = (
        select(
            literal("incident").label("which"),
            AuditEvent.incident_seq.label("seq"),
            AuditEvent.hash,
        )
        .where(AuditEvent.incident_id == bindparam("incident_id"))
        .order_by(AuditEvent.incident_seq.desc())
        .limit(1)
        .subquery()
    )
    return union_all(select(chain), select(incident))


_HEAD_LINKS = _head_links_statement()
# Built once too (`run_prepared`): on the group-commit writer a group links many incidents.
_CHAIN_HEAD_LINK = (
    select(AuditEvent.seq, AuditEvent.hash)
    .where(AuditEvent.chain_id == bindparam("chain_id"))
    .order_by(AuditEvent.seq.desc())
    .limit(1)
)
_INCIDENT_HEAD_LINK = (
    select(AuditEvent.incident_seq, AuditEvent.hash)
    .where(AuditEvent.incident_id == bindparam("incident_id"))
    .order_by(AuditEvent.incident_seq.desc())
    .limit(1)
)
_LOCK_CHAIN = text("SELECT pg_advisory_xact_lock(:key)")

# PostgreSQL: an event whose links and hash the server fills in from the chain's head as it
# stands when the statement runs (after the chain's lock, and after the events before it in
# the same send). The hash is SHA-256 of the event's canonical JSON, which the caller wrote
# with the links left out: ``t0 … tN`` are its pieces around them, in the text's order.
_CHAIN_HEAD = (
    "(SELECT COALESCE(h.seq, 0) + 1 AS seq, COALESCE(h.hash, :genesis) AS prev"
    " FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT seq, hash FROM audit_event"
    " WHERE chain_id = :chain_id ORDER BY seq DESC LIMIT 1) AS h ON true) AS c"
)
_INCIDENT_HEAD = (
    "(SELECT COALESCE(h.incident_seq, 0) + 1 AS seq, COALESCE(h.hash, :genesis) AS prev"
    " FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT incident_seq, hash FROM audit_event"
    " WHERE incident_id = :incident_id ORDER BY incident_seq DESC LIMIT 1) AS h ON true) AS i"
)
# The links as the canonical JSON writes them (sorted keys): incidentPrevHash, incidentSeq,
# prevHash, seq; an event without an incident has only the last two (its are null).
CHAINED_LINKS = ("incidentPrevHash", "incidentSeq", "prevHash", "seq")
_LINK_SQL = {
    "incidentPrevHash": "i.prev",
    "incidentSeq": "CAST(i.seq AS TEXT)",
    "prevHash": "c.prev",
    "seq": "CAST(c.seq AS TEXT)",
}


def _chained_statement(links: tuple[str, ...]) -> Any:
    pieces = [f"CAST(:t{n} AS TEXT)" for n in range(len(links) + 1)]
    hashed = " || ".join(
        part for n, link in enumerate(links) for part in (pieces[n], _LINK_SQL[link])
    )
    hashed += " || " + pieces[-1]
    with_incident = "incidentSeq" in links
    sql = (
        "INSERT INTO audit_event (id, chain_id, seq, prev_hash, incident_id, incident_seq,"
        " incident_prev_hash, hash, event_type, entity_type, entity_id, entity_ref, actor,"
        " occurred_at, payload)"
        " SELECT :id, :chain_id, c.seq, c.prev, :incident_id, "
        + ("i.seq, i.prev" if with_incident else "NULL, NULL")
        + f", encode(sha256(convert_to({hashed}, 'UTF8')), 'hex'),"
        " :event_type, :entity_type, :entity_id, :entity_ref, :actor, :occurred_at, :payload"
        " FROM " + _CHAIN_HEAD + (", " + _INCIDENT_HEAD if with_incident else "")
    )
    columns = AuditEvent.__table__.c
    return text(sql).bindparams(
        bindparam("occurred_at", type_=columns.occurred_at.type),
        bindparam("payload", type_=columns.payload.type),
    )


_CHAINED = {
    CHAINED_LINKS: _chained_statement(CHAINED_LINKS),
    CHAINED_LINKS[2:]: _chained_statement(CHAINED_LINKS[2:]),
}


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_chain(self, chain_id: str) -> None:
        """Serialise appends to one chain until the transaction ends.

        PostgreSQL takes a transaction-scoped advisory lock; SQLite needs nothing more, because
        writing units of work already hold the database's write lock from ``BEGIN IMMEDIATE``.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            key = int.from_bytes(hashlib.sha256(chain_id.encode()).digest()[:8], "big", signed=True)
            # Sent with the head read that follows it (one round trip): the server still runs
            # them in order, and the read's snapshot is taken once the lock is held.
            if not await postgres.defer(self.session, _LOCK_CHAIN, [{"key": key}]):
                await self.session.execute(_LOCK_CHAIN, {"key": key})

    async def head_links(
        self, chain_id: str, incident_id: str
    ) -> tuple[tuple[int, str] | None, tuple[int, str] | None]:
        """The chain's and the incident's last (seq, hash), in one round trip."""
        values = {"chain_id": chain_id, "incident_id": incident_id}
        rows = (
            await postgres.fetch(self.session, _HEAD_LINKS, values)
            if postgres.is_postgres(self.session)
            else None
        )
        if rows is None:
            rows = (await run_prepared(self.session, _HEAD_LINKS, values)).rows
        found = {which: (seq or 0, digest) for which, seq, digest in rows}
        return found.get("chain"), found.get("incident")

    async def head_link(self, chain_id: str) -> tuple[int, str] | None:
        """(seq, hash) of the chain's last event."""
        rows = (await run_prepared(self.session, _CHAIN_HEAD_LINK, {"chain_id": chain_id})).rows
        return (rows[0][0], rows[0][1]) if rows else None

    async def incident_head_link(self, incident_id: str) -> tuple[int, str] | None:
        """(incidentSeq, hash) of the incident's last event."""
        rows = (
            await run_prepared(self.session, _INCIDENT_HEAD_LINK, {"incident_id": incident_id})
        ).rows
        return (rows[0][0] or 0, rows[0][1]) if rows else None

    async def head(self, chain_id: str) -> AuditEvent | None:
        return await self.session.scalar(
            select(AuditEvent)
            .where(AuditEvent.chain_id == chain_id)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )

    async def incident_head(self, incident_id: str) -> AuditEvent | None:
        return await self.session.scalar(
            select(AuditEvent)
            .where(AuditEvent.incident_id == incident_id)
            .order_by(AuditEvent.incident_seq.desc())
            .limit(1)
        )

    async def insert(self, values: dict[str, Any]) -> None:
        await insert_row(self.session, AuditEvent, values)

    async def append_chained(
        self, chain_id: str, rows: list[tuple[tuple[str, ...], dict[str, Any]]]
    ) -> bool:
        """PostgreSQL: lock the chain, then append events, each linked and hashed by the
        server (see `_CHAINED`), in order, all to go out with the transaction's next send;
        each row is (its links in the order its hash text holds them, its values). False when
        this cannot be done here (the caller links them itself): nothing is queued then."""
        if not postgres.is_postgres(self.session) or any(
            links not in _CHAINED for links, _ in rows
        ):
            return False
        statements = [(_CHAINED[links], values) for links, values in rows]
        dialect = self.session.get_bind().dialect
        if any(
            postgres.compiled(statement, values.keys(), dialect) is None
            for statement, values in statements
        ):
            return False
        await self.lock_chain(chain_id)
        for statement, values in statements:
            queued = await postgres.defer(self.session, statement, [values])
            assert queued, "rendered just above"
        return True

    async def insert_many(self, rows: list[dict[str, Any]]) -> None:
        """Insert events in one statement (executemany: one batch on PostgreSQL)."""
        await insert_rows(self.session, AuditEvent, rows)

    async def for_incident(self, incident_id: str) -> list[AuditEvent]:
        rows = await self.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.incident_id == incident_id)
            .order_by(AuditEvent.incident_seq)
        )
        return list(rows)

    async def hashes_at(self, chain_id: str, seqs: set[int]) -> dict[int, str]:
        if not seqs:
            return {}
        rows = await self.session.execute(
            select(AuditEvent.seq, AuditEvent.hash).where(
                AuditEvent.chain_id == chain_id, AuditEvent.seq.in_(seqs)
            )
        )
        return dict(rows.all())

    async def in_chain_order(
        self, chain_id: str, *, after_seq: int, limit: int
    ) -> list[AuditEvent]:
        """The next ``limit`` events of the chain after ``after_seq``, oldest first."""
        rows = await self.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.chain_id == chain_id, AuditEvent.seq > after_seq)
            .order_by(AuditEvent.seq)
            .limit(limit)
        )
        return list(rows)

    async def page(
        self,
        chain_id: str,
        *,
        event_type: str | None,
        entity_type: str | None,
        actor: str | None,
        incident_id: str | None,
        before_seq: int | None,
        limit: int,
    ) -> list[AuditEvent]:
        """Newest first; ``limit + 1`` rows tell the caller whether there is a next page."""
        query = select(AuditEvent).where(AuditEvent.chain_id == chain_id)
        if event_type is not None:
            query = query.where(AuditEvent.event_type == event_type)
        if entity_type is not None:
            query = query.where(AuditEvent.entity_type == entity_type)
        if actor is not None:
            query = query.where(AuditEvent.actor == actor)
        if incident_id is not None:
            query = query.where(AuditEvent.incident_id == incident_id)
        if before_seq is not None:
            query = query.where(AuditEvent.seq < before_seq)
        rows = await self.session.scalars(query.order_by(AuditEvent.seq.desc()).limit(limit + 1))
        return list(rows)

    async def count(self, chain_id: str) -> int:
        total = await self.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.chain_id == chain_id)
        )
        return int(total or 0)

    async def latest_checkpoint(self, chain_id: str) -> AuditCheckpoint | None:
        return await self.session.scalar(
            select(AuditCheckpoint)
            .where(AuditCheckpoint.chain_id == chain_id)
            .order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.created_at.desc())
            .limit(1)
        )

    async def insert_checkpoint(self, values: dict[str, Any]) -> None:
        await insert_row(self.session, AuditCheckpoint, values)

    async def insert_incident_heads(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(AuditCheckpointIncident), rows)

    async def incident_heads_between(
        self, chain_id: str, *, after_seq: int, up_to_seq: int
    ) -> list[tuple[str, int, str]]:
        """(incident, incidentSeq, hash) of each incident's last event in (after, up to]."""
        last = (
            select(
                AuditEvent.incident_id.label("incident_id"),
                func.max(AuditEvent.incident_seq).label("incident_seq"),
            )
            .where(
                AuditEvent.chain_id == chain_id,
                AuditEvent.seq > after_seq,
                AuditEvent.seq <= up_to_seq,
                AuditEvent.incident_id.is_not(None),
            )
            .group_by(AuditEvent.incident_id)
            .subquery()
        )
        rows = await self.session.execute(
            select(AuditEvent.incident_id, AuditEvent.incident_seq, AuditEvent.hash).join(
                last,
                (AuditEvent.incident_id == last.c.incident_id)
                & (AuditEvent.incident_seq == last.c.incident_seq),
            )
        )
        return [(str(incident), int(seq or 0), digest) for incident, seq, digest in rows.all()]

    async def latest_incident_head(
        self, chain_id: str, incident_id: str
    ) -> tuple[AuditCheckpointIncident, AuditCheckpoint] | None:
        """The incident's head at the latest checkpoint that recorded one, with that checkpoint."""
        row = (
            await self.session.execute(
                select(AuditCheckpointIncident, AuditCheckpoint)
                .join(AuditCheckpoint, AuditCheckpoint.id == AuditCheckpointIncident.checkpoint_id)
                .where(
                    AuditCheckpointIncident.incident_id == incident_id,
                    AuditCheckpoint.chain_id == chain_id,
                )
                .order_by(
                    AuditCheckpointIncident.incident_seq.desc(), AuditCheckpoint.created_at.desc()
                )
                .limit(1)
            )
        ).first()
        return (row[0], row[1]) if row else None
