from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Executable,
    Integer,
    bindparam,
    column,
    delete,
    exists,
    select,
    table,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.evidence.tables import (
    EvidenceBundle,
    IncidentEvidence,
    LogTemplateState,
    StatementHistoryRow,
)
from chronosops.storage import (
    insert_each_or_ignore,
    insert_or_ignore,
    insert_rows,
    insert_unless_taken,
    postgres,
    run_prepared,
)

# The remembered templates of one service (the usual evidenceLite names one), built once with
# a named parameter: straight on SQLite's writer connection in its units.
_TEMPLATES_OF_ONE = select(LogTemplateState.service, LogTemplateState.templates).where(
    LogTemplateState.service == bindparam("service")
)

# The incident a bundle is stored for, by name only (another domain's table).
_INCIDENT = table("incident", column("id"))


def _if_opened(model: type[EvidenceBundle] | type[IncidentEvidence]) -> Executable:
    """`insert_or_ignore`'s insert of a row of ``model``, taking place only where the incident
    ``opened_id`` exists when it runs (PostgreSQL)."""
    table_ = model.__table__
    columns = list(table_.columns)
    return (
        postgresql.insert(model)
        .from_select(
            columns,
            select(*(bindparam(c.key, type_=c.type) for c in columns)).where(
                exists().where(_INCIDENT.c.id == bindparam("opened_id"))
            ),
        )
        .on_conflict_do_nothing()
        .returning(*table_.primary_key)
    )


_BUNDLE_IF_OPENED = _if_opened(EvidenceBundle)
_LINK_IF_OPENED = _if_opened(IncidentEvidence)

# The key of a service's templates asked ahead (`ask_templates_ahead`), the service appended.
_TEMPLATES_AHEAD = "evidence.templates:"
# The key of a bundle's insert and link asked ahead (`ask_insert_and_link_ahead`), its id appended.
_STORED_AHEAD = "evidence.stored:"

_HISTORY_STATEMENTS: dict[int, Executable] = {}
# Statements kept built for bundles of up to this many services (one per count).
_HISTORY_STATEMENTS_KEPT = 64


# The ``statements`` JSON of a history row: a record's statements ({statement: {operation:
# lines}}) as rows before the operations' calls were kept; since, {"v": 2, "statements": …,
# "calls": {operation: calls}}. An old row's values are all objects, so an integer "v" tells them
# apart with no migration. Since engine 3.40 a service with spans of its own but too few lines for
# its statements to be read is kept too, as the same record with no statements (``lines`` as
# counted): its operations' calls are what `analysis.operation_mix` reads of it.
_RECORD_VERSION = 2


def _stored(record: Mapping[str, Any]) -> dict[str, Any]:
    if "calls" not in record:
        return dict(record["statements"])
    return {
        "v": _RECORD_VERSION,
        "statements": dict(record["statements"]),
        "calls": dict(record["calls"]),
    }


def _read(stored: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, int] | None]:
    if isinstance(stored.get("v"), int):
        return dict(stored.get("statements", {})), dict(stored.get("calls", {}))
    return dict(stored), None


def _history_statement(services: int) -> Executable:
    """Per service (``service_0`` …), its latest ``limit`` rows that began by ``onset``, but
    ``excluding``'s: built once per number of services, as building it costs more than running
    it."""
    statement = _HISTORY_STATEMENTS.get(services)
    if statement is not None:
        return statement
    parts = [
        select(
            StatementHistoryRow.incident_id,
            StatementHistoryRow.service,
            StatementHistoryRow.lines,
            StatementHistoryRow.statements,
        )
        .where(
            StatementHistoryRow.service == bindparam(f"service_{index}"),
            StatementHistoryRow.onset <= bindparam("onset"),
            StatementHistoryRow.incident_id != bindparam("excluding"),
        )
        .order_by(StatementHistoryRow.onset.desc(), StatementHistoryRow.incident_id.desc())
        .limit(bindparam("limit", type_=Integer))
        for index in range(services)
    ]
    # Each part LIMITed on its own: SQLite wants them as subqueries inside the UNION.
    statement = (
        parts[0] if services == 1 else union_all(*(select(part.subquery()) for part in parts))
    )
    if services <= _HISTORY_STATEMENTS_KEPT:
        _HISTORY_STATEMENTS[services] = statement
    return statement


class EvidenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, bundle_id: str) -> EvidenceBundle | None:
        return await self.session.get(EvidenceBundle, bundle_id)

    async def insert_if_absent(self, bundle: dict[str, Any]) -> bool:
        """Insert unless a bundle with the same id exists; True when this call inserted it.

        Two writers sealing identical evidence at once is expected (it is the point of content
        addressing): the loser carries on with the winner's row.
        """
        return await insert_or_ignore(self.session, EvidenceBundle, bundle)

    async def insert_and_link(
        self, bundle: dict[str, Any], link: dict[str, Any]
    ) -> tuple[bool, bool]:
        """`insert_if_absent` then `link`, in one round trip on PostgreSQL."""
        inserted, linked = await insert_each_or_ignore(
            self.session, [(EvidenceBundle, bundle), (IncidentEvidence, link)]
        )
        return inserted, linked

    async def ask_insert_and_link_ahead(self, bundle: dict[str, Any], link: dict[str, Any]) -> bool:
        """PostgreSQL: `insert_and_link`'s two statements asked to go out with the
        transaction's next statement that needs an answer (`postgres.read_ahead`);
        `inserted_and_linked_ahead` reads their answers. False elsewhere, or when they
        cannot be asked (nothing asked: the caller inserts as usual)."""
        if not postgres.is_postgres(self.session):
            return False
        key = _STORED_AHEAD + bundle["id"]
        return await postgres.read_ahead(
            self.session, key + ":bundle", insert_unless_taken(EvidenceBundle, "postgresql"), bundle
        ) and await postgres.read_ahead(
            self.session, key + ":link", insert_unless_taken(IncidentEvidence, "postgresql"), link
        )

    async def inserted_and_linked_ahead(self, bundle_id: str) -> tuple[bool, bool] | None:
        """(inserted, linked) as `insert_and_link` answers them, for the statements
        `ask_insert_and_link_ahead` asked (sent now if nothing carried them yet)."""
        key = _STORED_AHEAD + bundle_id
        inserted = await postgres.answer_ahead(self.session, key + ":bundle")
        if inserted is None:
            # Still waiting (no statement needing an answer went out since): on their own.
            await postgres.fetch_each(self.session, [])
            inserted = await postgres.answer_ahead(self.session, key + ":bundle")
        linked = await postgres.answer_ahead(self.session, key + ":link")
        if inserted is None or linked is None:
            return None
        return bool(inserted), bool(linked)

    @staticmethod
    def insert_and_link_if_opened(
        bundle: dict[str, Any], link: dict[str, Any]
    ) -> list[tuple[Executable, dict[str, Any]]]:
        """`insert_and_link` as two statements that take place only where the link's incident
        exists when they run, for a caller to send with the statement that may insert it
        (their answers read as `insert_and_link`'s). Both or neither: an incident a
        transaction inserted cannot vanish under it, nor appear from elsewhere (a new id)."""
        opened = {"opened_id": link["incident_id"]}
        return [(_BUNDLE_IF_OPENED, bundle | opened), (_LINK_IF_OPENED, link | opened)]

    async def unlink(self, bundle_id: str, incident_id: str, *, inserted: bool) -> None:
        """Undo `insert_and_link` in the transaction that made it (``inserted``: the bundle
        row too, which no other transaction can have seen yet)."""
        await self.session.execute(
            delete(IncidentEvidence).where(
                IncidentEvidence.incident_id == incident_id,
                IncidentEvidence.bundle_id == bundle_id,
            )
        )
        if inserted:
            await self.session.execute(delete(EvidenceBundle).where(EvidenceBundle.id == bundle_id))

    async def link(self, link: dict[str, Any]) -> bool:
        """Attach a bundle to an incident; False when it already was."""
        return await insert_or_ignore(self.session, IncidentEvidence, link)

    async def links_for_incident(self, incident_id: str) -> list[IncidentEvidence]:
        rows = await self.session.scalars(
            select(IncidentEvidence)
            .where(IncidentEvidence.incident_id == incident_id)
            .order_by(IncidentEvidence.attached_at.desc(), IncidentEvidence.bundle_id)
        )
        return list(rows)

    async def incidents_citing(self, bundle_id: str) -> list[str]:
        rows = await self.session.scalars(
            select(IncidentEvidence.incident_id)
            .where(IncidentEvidence.bundle_id == bundle_id)
            .order_by(IncidentEvidence.attached_at)
        )
        return list(rows)

    async def log_templates(self, services: Collection[str]) -> dict[str, list[str]]:
        """The remembered templates of each of these services that has any."""
        if not services:
            return {}
        if len(services) == 1:
            (service,) = services
            ran = await run_prepared(self.session, _TEMPLATES_OF_ONE, {"service": service})
            return {found: list(templates) for found, templates in ran.rows}
        rows = await self.session.scalars(
            select(LogTemplateState).where(LogTemplateState.service.in_(sorted(services)))
        )
        return {row.service: list(row.templates) for row in rows}

    async def ask_templates_ahead(self, services: Collection[str]) -> None:
        """PostgreSQL: ask each service's templates with the transaction's next statement that
        needs an answer (`postgres.read_ahead`); `templates_read_ahead` reads the answers."""
        for service in services:
            await postgres.read_ahead(
                self.session, _TEMPLATES_AHEAD + service, _TEMPLATES_OF_ONE, {"service": service}
            )

    async def templates_read_ahead(self, services: Collection[str]) -> dict[str, list[str]]:
        """The templates of these services as asked ahead in this transaction; those whose
        answer has not come (not asked, or nothing was sent since) are read now."""
        found: dict[str, list[str]] = {}
        missing: list[str] = []
        for service in services:
            rows = await postgres.answer_ahead(self.session, _TEMPLATES_AHEAD + service)
            if rows is None:
                missing.append(service)
            elif rows:
                found[service] = list(rows[0][1])
        if missing:
            found.update(await self.log_templates(missing))
        return found

    async def remember_log_templates(
        self, service: str, templates: Sequence[str], *, at: datetime
    ) -> None:
        row = await self.session.get(LogTemplateState, service)
        if row is None:
            await insert_or_ignore(
                self.session,
                LogTemplateState,
                {"service": service, "templates": list(templates), "updated_at": at},
            )
        else:
            row.templates = list(templates)
            row.updated_at = at

    async def record_statement_history(
        self,
        incident_id: str,
        records: Mapping[str, Mapping[str, Any]],
        *,
        onset: datetime,
        at: datetime,
        replace: bool,
    ) -> None:
        """Keep the incident's statement records (service → `statement_lines` record);
        ``replace``: drop what an earlier analysis of it kept first, so it counts once."""
        if replace:
            await self.session.execute(
                delete(StatementHistoryRow).where(StatementHistoryRow.incident_id == incident_id)
            )
        if not records:
            return
        # On PostgreSQL the rows go out with the transaction's next statement or its commit; in
        # a unit of SQLite's writer, straight on the writer's connection.
        await insert_rows(
            self.session,
            StatementHistoryRow,
            [
                {
                    "incident_id": incident_id,
                    "service": service,
                    "onset": onset,
                    "lines": int(record["lines"]),
                    "statements": _stored(record),
                    "recorded_at": at,
                }
                for service, record in sorted(records.items())
            ],
        )

    async def statement_history(
        self, services: Collection[str], *, excluding: str, onset: datetime, limit: int
    ) -> list[tuple[str, str, int, dict[str, Any], dict[str, int] | None]]:
        """Per service, the records of its latest ``limit`` incidents that began no later than
        ``onset``, ``excluding`` one incident: (incident id, service, lines, statements, calls
        per operation or None for rows kept before calls were), latest first per service. One statement; each service's part reads at most ``limit`` rows of
        the (service, onset) index."""
        if not services or limit <= 0:
            return []
        named = sorted(services)
        params: dict[str, Any] = {"onset": onset, "excluding": excluding, "limit": limit}
        params.update({f"service_{index}": service for index, service in enumerate(named)})
        statement = _history_statement(len(named))
        rows = await self.session.execute(statement, params)
        return [
            (incident_id, service, lines, *_read(stored))
            for incident_id, service, lines, stored in rows
        ]
