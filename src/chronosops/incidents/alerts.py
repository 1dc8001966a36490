"""The alerts an incident holds, and which open incident a new alert joins.

An alert joins the open incident that already holds an alert of its vendor group
(Alertmanager / Grafana ``groupKey``) or, where a source's window rule is on, the open
incident of the same service and environment that started within the window. Idempotency
stays per (sourceType, sourceRef): every alert, joined or not, keeps its own record here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Executable, bindparam, func, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.core.clock import Clock
from chronosops.core.ids import IdFactory
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.incidents.repository import LATEST_LIFECYCLE
from chronosops.incidents.schemas import IncidentAlertRead
from chronosops.incidents.tables import Incident, IncidentAlert
from chronosops.storage import insert_row, is_unique_violation, postgres, run_prepared

AlertRole = Literal["opened", "joined"]
JoinReason = Literal["groupKey", "window"]


def group_key_of(request: IngestIncidentRequest) -> str | None:
    """The vendor's group of the alert (set by the Alertmanager and Grafana sources)."""
    custom = request.metadata.custom_fields if request.metadata else None
    value = (custom or {}).get("groupKey")
    return value[:512] if isinstance(value, str) and value else None


def window_key_of(request: IngestIncidentRequest) -> str | None:
    """The service and environment the window rule groups by, as one key (the service's
    length first, so no pair of names can spell another's key)."""
    metadata = request.metadata
    if metadata is None or not metadata.service or not metadata.environment:
        return None
    return f"{len(metadata.service)}:{metadata.service}/{metadata.environment}"[:600]


# The check every new alert's ingest makes (is it a repeat of a joined alert?), built once
# with named parameters: run straight on SQLite's writer connection in its units.
# Built once (an analyze job asks it for every incident): on SQLite's writer straight on its
# connection.
_JOINED_REQUESTS = (
    select(IncidentAlert.request)
    .where(
        IncidentAlert.incident_id == bindparam("incident_id"),
        IncidentAlert.role == "joined",
        IncidentAlert.request.is_not(None),
        IncidentAlert.silence_id.is_(None),
    )
    .order_by(IncidentAlert.created_at, IncidentAlert.id)
    .limit(bindparam("limit"))
)
# `postgres.read_ahead` key of `_JOINED_REQUESTS` asked ahead, then "<incident id>:<limit>".
_JOINED_AHEAD = "incidents.joined_requests:"
_OPEN_JOINED = (
    select(IncidentAlert.incident_id)
    .join(Incident, Incident.id == IncidentAlert.incident_id)
    .where(
        IncidentAlert.source_type == bindparam("source_type"),
        IncidentAlert.source_ref == bindparam("source_ref"),
        IncidentAlert.role == "joined",
        Incident.lifecycle != "resolved",
    )
    .order_by(IncidentAlert.created_at.desc())
    .limit(1)
)
# What an ingest of an alert no group can take asks first, in one statement: the lifecycle of
# the latest incident of its reference (opened by it), and the open incident it joined, if any.
_REFERENCE = select(
    LATEST_LIFECYCLE.scalar_subquery().label("own"),
    _OPEN_JOINED.scalar_subquery().label("joined"),
)


# The first occurrence of a reference, inserted unless the reference joined an open incident
# (the same question as `_OPEN_JOINED`, asked as the insert runs) or an incident of it holds
# the slot (its first occurrence's unique key: the reference opened one before). Sent with
# `_REFERENCE` on PostgreSQL (`AlertGrouping.reference_state_opening`).
_OPEN_FIRST = (
    postgresql.insert(Incident)
    .from_select(
        list(Incident.__table__.columns),
        select(
            *(
                # The reference's own parameters are `_OPEN_JOINED`'s: one value for both.
                bindparam(column.key, type_=column.type)
                for column in Incident.__table__.columns
            )
        ).where(_OPEN_JOINED.scalar_subquery().is_(None)),
    )
    .on_conflict_do_nothing()
    .returning(Incident.id)
)


@dataclass(frozen=True)
class ReferenceState:
    """Where an alert's (sourceType, sourceRef) stands before its ingest."""

    # The lifecycle of the latest incident it opened; None when it opened none.
    own: str | None
    # The open incident it joined, if any.
    joined: str | None


class GroupRaceError(Exception):
    """A concurrent delivery got there first: it opened the open incident of this alert's
    group, or joined this very alert to it. The caller's transaction is rolled back; asked
    again, the alert joins (or repeats into) the incident that delivery stored."""


@dataclass(frozen=True)
class JoinTarget:
    incident_id: str
    reason: JoinReason


def to_alert_read(row: IncidentAlert) -> IncidentAlertRead:
    return IncidentAlertRead(
        source_type=row.source_type,
        source_ref=row.source_ref,
        group_key=row.group_key,
        role=row.role,
        joined_by=row.joined_by,
        title=row.title,
        start=row.start_at,
        resolved_at=row.resolved_at,
        received_at=row.created_at,
        silence_id=row.silence_id,
    )


class AlertGrouping:
    def __init__(
        self, *, clock: Clock, ids: IdFactory, windows: dict[str, timedelta] | None = None
    ) -> None:
        self.clock = clock
        self.ids = ids
        # Per source type: how far back an open incident of the same service and environment
        # is joined; a source not named here never joins by window.
        self.windows = dict(windows or {})

    async def joined_incident(
        self,
        session: AsyncSession,
        source_type: str,
        source_ref: str,
        *,
        roles: tuple[AlertRole, ...] = ("joined",),
        open_only: bool = True,
    ) -> str | None:
        """The open incident this reference joined (not opened), if any: a repeat finds it.

        With ``open_only`` false, the newest incident holding it, open or resolved.
        """
        if roles == ("joined",) and open_only:
            ran = await run_prepared(
                session, _OPEN_JOINED, {"source_type": source_type, "source_ref": source_ref}
            )
            return ran.rows[0][0] if ran.rows else None
        query = (
            select(IncidentAlert.incident_id)
            .join(Incident, Incident.id == IncidentAlert.incident_id)
            .where(
                IncidentAlert.source_type == source_type,
                IncidentAlert.source_ref == source_ref,
                IncidentAlert.role.in_(roles),
            )
            .order_by(IncidentAlert.created_at.desc())
            .limit(1)
        )
        if open_only:
            query = query.where(Incident.lifecycle != "resolved")
        return (await session.execute(query)).scalar_one_or_none()

    async def reference_state(
        self, session: AsyncSession, source_type: str, source_ref: str
    ) -> ReferenceState:
        """`IncidentService.latest_lifecycle` and `joined_incident` of a reference, read in one
        statement (one round trip on PostgreSQL, one snapshot)."""
        ran = await run_prepared(
            session, _REFERENCE, {"source_type": source_type, "source_ref": source_ref}
        )
        own, joined = ran.rows[0]
        return ReferenceState(own=own, joined=joined)

    async def reference_state_opening(
        self,
        session: AsyncSession,
        request: IngestIncidentRequest,
        values: dict[str, Any],
        then: Sequence[tuple[Executable, dict[str, Any]]] = (),
    ) -> tuple[ReferenceState, bool, list[list[tuple[Any, ...]]]] | None:
        """`reference_state`, and in the same round trip the reference's first occurrence
        inserted from ``values`` (an incident's columns) when it has no incident and joined no
        open one; whether that insert took place. None where it cannot be sent so (another
        database: nothing was sent).

        For the ingest whose next question would be that insert (most are: a reference seen
        for the first time): one round trip fewer. The insert reads whether the reference
        joined an open incident as it runs, and its unique key says whether the reference
        opened one; under READ COMMITTED that is no older than the state read before it in
        the same send. When it took place, the state read is of no further use: the insert's
        own reading is the one the ingest acts on. When it did not, nothing was written.

        ``then``: statements sent after the insert in the same round trip (their rows are the
        third item), which must take place only where it did
        (`EvidenceService.store_if_opened`)."""
        if not postgres.is_postgres(session):
            return None
        reference = {"source_type": request.source_type, "source_ref": request.source_ref}
        found = await postgres.fetch_each(
            session, [(_REFERENCE, reference), (_OPEN_FIRST, values), *then]
        )
        if found is None:
            return None
        ((own, joined),) = found[0]
        return ReferenceState(own=own, joined=joined), bool(found[1]), found[2:]

    def may_join(self, request: IngestIncidentRequest) -> bool:
        """Whether any open incident could take this alert: it has a vendor group, or its
        source's window rule is on and it names a service and environment. When not,
        `target` answers None without asking the database."""
        if group_key_of(request) is not None:
            return True
        metadata = request.metadata
        return bool(
            self.windows.get(request.source_type)
            and metadata is not None
            and metadata.service
            and metadata.environment
        )

    async def target(
        self, session: AsyncSession, request: IngestIncidentRequest
    ) -> JoinTarget | None:
        """The open incident a new alert joins, or None when it opens its own."""
        group_key = group_key_of(request)
        if group_key is not None:
            rows = await session.execute(
                select(IncidentAlert.incident_id)
                .join(Incident, Incident.id == IncidentAlert.incident_id)
                .where(
                    IncidentAlert.source_type == request.source_type,
                    IncidentAlert.group_key == group_key,
                    Incident.lifecycle != "resolved",
                )
                .order_by(IncidentAlert.created_at.desc())
                .limit(1)
            )
            found = rows.scalar_one_or_none()
            if found is not None:
                return JoinTarget(found, "groupKey")
        window = self.windows.get(request.source_type)
        metadata = request.metadata
        if not window or metadata is None or not metadata.service or not metadata.environment:
            return None
        since = request.timeline.start - window
        rows = await session.execute(
            select(Incident.id)
            .where(
                Incident.service == metadata.service,
                Incident.environment == metadata.environment,
                Incident.lifecycle != "resolved",
                Incident.start_at >= since,
                Incident.start_at <= request.timeline.start + window,
            )
            .order_by(Incident.created_at.desc(), Incident.id.desc())
            .limit(1)
        )
        found = rows.scalar_one_or_none()
        return JoinTarget(found, "window") if found is not None else None

    async def add(
        self,
        session: AsyncSession,
        incident_id: str,
        request: IngestIncidentRequest,
        *,
        role: AlertRole,
        reason: JoinReason | None = None,
        silence_id: str | None = None,
    ) -> None:
        """Record the alert on the incident; the opener of a group also claims the group.

        Nothing is returned: the ingest answers from the incident, and the incident's alerts
        are read back (`of_incident`) where they are shown; building a read model of a row just
        written cost every ingest its validation.

        Raises `GroupRaceError` when a concurrent delivery already holds the group open (the
        unique index on open groups), or the service and environment under a window rule (the
        unique index on open windows), or already joined this alert: the database decides, not
        the lookup `target` made before this transaction.
        """
        group_key = group_key_of(request)
        values: dict[str, Any] = {
            "id": self.ids.new(),
            "incident_id": incident_id,
            "source_type": request.source_type,
            "source_ref": request.source_ref,
            "group_key": group_key,
            "role": role,
            "joined_by": reason,
            "title": request.title[:500],
            "start_at": request.timeline.start,
            "resolved_at": request.timeline.resolved_at or request.timeline.end,
            "created_at": self.clock.now(),
            "silence_id": silence_id,
            # The opener's request is the incident's own; a joined alert's is kept here for
            # the incident's next analysis.
            "request": (
                request.model_dump(mode="json", exclude={"source_payload"}, exclude_none=True)
                if role == "joined"
                else None
            ),
        }
        try:
            if role == "opened" and group_key is not None:
                await session.execute(
                    update(Incident)
                    .where(Incident.id == incident_id)
                    .values(group_key=group_key)
                    .execution_options(synchronize_session=False)
                )
            if role == "opened":
                await self._claim_window(session, incident_id, request)
            # A Core insert (straight to SQLite's writer connection there), not an ORM flush.
            # A joining alert's is sent at once, so that a clash is this race's answer and not
            # a later statement's; an opener's cannot clash (its incident is new in this
            # transaction, and the group and window claims above went out already), so on
            # PostgreSQL it waits to go out with the transaction's next statement.
            await insert_row(session, IncidentAlert, values, clash_here=role == "joined")
        except IntegrityError as error:
            if not is_unique_violation(error):
                raise
            raise GroupRaceError(
                f"{request.source_type}:{group_key or request.source_ref}"
            ) from error

    async def _claim_window(
        self, session: AsyncSession, incident_id: str, request: IngestIncidentRequest
    ) -> None:
        """The opener of an incident under a source's window rule holds its service and
        environment, so that a concurrent alert of the same pair meets the unique index and
        joins instead of opening a second incident (as the groupKey path does).

        An open holder whose start lies outside this alert's window gives the claim up: the
        rule would not join this alert to it. One inside the window is never taken over: this
        alert's lookup ran before that holder committed, and it must join it.
        """
        window = self.windows.get(request.source_type)
        key = window_key_of(request)
        if not window or key is None:
            return
        start = request.timeline.start
        await session.execute(
            update(Incident)
            .where(
                Incident.window_key == key,
                Incident.lifecycle != "resolved",
                Incident.id != incident_id,
                (Incident.start_at < start - window) | (Incident.start_at > start + window),
            )
            .values(window_key=None)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            update(Incident)
            .where(Incident.id == incident_id)
            .values(window_key=key)
            .execution_options(synchronize_session=False)
        )

    async def ask_joined_ahead(
        self, session: AsyncSession, incident_id: str, *, limit: int
    ) -> None:
        """On PostgreSQL, ask `joined_requests` with the transaction's next statement that
        needs an answer (a job's read of its incident), rather than in a round trip of its own."""
        if postgres.is_postgres(session):
            await postgres.read_ahead(
                session,
                f"{_JOINED_AHEAD}{incident_id}:{limit}",
                _JOINED_REQUESTS,
                {"incident_id": incident_id, "limit": limit},
            )

    async def joined_requests(
        self, session: AsyncSession, incident_id: str, *, limit: int
    ) -> Sequence[IngestIncidentRequest]:
        """The requests of the alerts that joined the incident, in the order they joined;
        an alert a silence held back is not evidence."""
        rows = await postgres.answer_ahead(session, f"{_JOINED_AHEAD}{incident_id}:{limit}")
        if rows is None:
            rows = (
                await run_prepared(
                    session, _JOINED_REQUESTS, {"incident_id": incident_id, "limit": limit}
                )
            ).rows
        return [IngestIncidentRequest.model_validate(data) for (data,) in rows]

    async def resolve_alert(
        self, session: AsyncSession, source_type: str, source_ref: str, *, at: datetime
    ) -> tuple[str, int] | None:
        """Mark an alert resolved; (the incident holding it, how many of its alerts still fire).

        The incident is the newest that holds the reference, open or already resolved (by a
        person, before the vendor said so). None when none holds it (an incident stored before
        grouping, or none at all): it is then resolved by its own reference as before.
        """
        incident_id = await self.joined_incident(
            session, source_type, source_ref, roles=("opened", "joined"), open_only=False
        )
        if incident_id is None:
            return None
        rows = await session.scalars(
            select(IncidentAlert).where(
                IncidentAlert.incident_id == incident_id,
                IncidentAlert.source_type == source_type,
                IncidentAlert.source_ref == source_ref,
            )
        )
        for row in rows:
            if row.resolved_at is None:
                row.resolved_at = at
        await session.flush()
        firing = await session.scalar(
            select(func.count())
            .select_from(IncidentAlert)
            .where(IncidentAlert.incident_id == incident_id, IncidentAlert.resolved_at.is_(None))
        )
        return incident_id, int(firing or 0)

    async def of_incident(
        self, session: AsyncSession, incident_id: str, *, limit: int = 1000
    ) -> Sequence[IncidentAlertRead]:
        rows = await session.scalars(
            select(IncidentAlert)
            .where(IncidentAlert.incident_id == incident_id)
            .order_by(IncidentAlert.created_at, IncidentAlert.id)
            .limit(limit)
        )
        return [to_alert_read(row) for row in rows]

    async def count(self, session: AsyncSession, incident_id: str) -> int:
        value = await session.scalar(
            select(func.count())
            .select_from(IncidentAlert)
            .where(IncidentAlert.incident_id == incident_id)
        )
        return int(value or 0)
