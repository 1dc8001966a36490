from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Integer, bindparam, delete, select, union_all
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
    run_prepared,
)

# The remembered templates of one service (the usual evidenceLite names one), built once with
# a named parameter: straight on SQLite's writer connection in its units.
_TEMPLATES_OF_ONE = select(LogTemplateState.service, LogTemplateState.templates).where(
    LogTemplateState.service == bindparam("service")
)

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
