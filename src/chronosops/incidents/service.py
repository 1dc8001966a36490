from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.core.clock import Clock
from chronosops.core.ids import IdFactory
from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.core.safe_markdown import render_markdown
from chronosops.core.timestamps import format_instant
from chronosops.incidents.errors import (
    DeliveryInFlightError,
    IdempotencyKeyInFlightError,
    IdempotencyKeyReusedError,
    IncidentNotFoundError,
    LifecycleTransitionError,
)
from chronosops.incidents.repository import IncidentRepository, subject_hash
from chronosops.incidents.schemas import (
    CollectionRead,
    DeliveryClaim,
    DeliveryRead,
    IdempotencyClaim,
    IncidentFilter,
    IncidentPage,
    IncidentRead,
    IncidentStatus,
    IncidentSummary,
    LifecycleChange,
    LifecycleRead,
    MetadataRead,
    NoteRead,
    Registration,
    Resolution,
    TimelineRead,
    Transition,
)
from chronosops.incidents.tables import (
    IdempotencyRecord,
    Incident,
    IncidentNote,
    WebhookDelivery,
)
from chronosops.storage import Liveness, encode_cursor

# Every column of a new incident's row, unset (None) until `_new_incident` fills it in.
_BLANK_INCIDENT: dict[str, Any] = {column.key: None for column in Incident.__table__.columns}

# Two writers racing for the same reference can both lose a round only if a third keeps
# opening new occurrences; a few rounds settle every realistic race.
_REGISTER_ATTEMPTS = 5
# A keyed request still "processing" after this long died with its process; let it be retried.
_STALE_PROCESSING = timedelta(minutes=5)


def to_delivery_read(delivery: WebhookDelivery) -> DeliveryRead:
    return DeliveryRead(
        id=delivery.id,
        source=delivery.source,
        delivery_id=delivery.delivery_id,
        body_sha256=delivery.body_sha256,
        shape=delivery.shape,
        state=delivery.state,
        status_code=delivery.status_code,
        response=delivery.response,
        received_at=delivery.received_at,
        completed_at=delivery.completed_at,
    )


def _is_resolved(incident: Incident) -> bool:
    return incident.lifecycle == "resolved"


def _opens_new_occurrence(latest: Incident, request: IngestIncidentRequest) -> bool:
    """A report starting after the latest incident was over is a new incident.

    A reopened incident is not over, whatever end its vendor once reported: it takes the reports.
    """
    over_at = latest.resolved_at or latest.end_at
    return _is_resolved(latest) and over_at is not None and request.timeline.start > over_at


def _lifecycle_read(incident: Incident) -> LifecycleRead:
    return LifecycleRead(
        state=incident.lifecycle,  # type: ignore[arg-type]
        changed_at=incident.lifecycle_changed_at,
        acknowledged_at=incident.acknowledged_at,
        acknowledged_by=incident.acknowledged_by,
        # A full record that arrived over names its end, not a resolvedAt: that end is when it
        # was resolved, so `resolvedBy` never stands beside a null `resolvedAt`.
        resolved_at=(incident.resolved_at or incident.end_at) if _is_resolved(incident) else None,
        resolved_by=incident.resolved_by,
    )


def _instant(value: datetime | None) -> str | None:
    return format_instant(value) if value is not None else None


def to_read(incident: Incident) -> IncidentRead:
    return IncidentRead(
        id=incident.id,
        source_type=incident.source_type,
        source_ref=incident.source_ref,
        occurrence=incident.occurrence,
        title=incident.title,
        description=incident.description,
        severity=incident.severity,
        status=incident.status,  # type: ignore[arg-type]
        status_reason=incident.status_reason,
        lifecycle=_lifecycle_read(incident),
        assignee=incident.assignee,
        silence_id=incident.silence_id,
        is_resolved=_is_resolved(incident),
        timeline=TimelineRead(
            start=incident.start_at,
            end=incident.end_at,
            detected_at=incident.detected_at,
            resolved_at=incident.resolved_at,
        ),
        metadata=MetadataRead(
            service=incident.service,
            region=incident.region,
            environment=incident.environment,
            team=incident.team,
            tags=incident.tags,
            custom_fields=incident.custom_fields,
        ),
        collection_context=CollectionRead(
            window_minutes_before=incident.window_minutes_before,
            window_minutes_after=incident.window_minutes_after,
            force_collect=incident.force_collect,
        ),
        latest_bundle_id=incident.latest_bundle_id,
        latest_analysis_id=incident.latest_analysis_id,
        created_at=incident.created_at,
        updated_at=incident.updated_at,
        created_by=incident.created_by,
    )


def to_summary(incident: Incident) -> IncidentSummary:
    return IncidentSummary(
        id=incident.id,
        source_type=incident.source_type,
        source_ref=incident.source_ref,
        occurrence=incident.occurrence,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,  # type: ignore[arg-type]
        lifecycle=incident.lifecycle,  # type: ignore[arg-type]
        assignee=incident.assignee,
        silence_id=incident.silence_id,
        service=incident.service,
        is_resolved=_is_resolved(incident),
        start=incident.start_at,
        created_at=incident.created_at,
        latest_analysis_id=incident.latest_analysis_id,
        latest_bundle_id=incident.latest_bundle_id,
    )


class IncidentService:
    def __init__(
        self,
        *,
        clock: Clock,
        ids: IdFactory,
        idempotency_ttl: timedelta,
        liveness: Liveness | None = None,
    ) -> None:
        # Tells whether the process holding a claim died; without it a claim waits out its age.
        self.liveness = liveness
        self.clock = clock
        self.ids = ids
        self.idempotency_ttl = idempotency_ttl

    def new_id(self) -> str:
        return self.ids.new()

    def preview(self, request: IngestIncidentRequest, *, incident_id: str) -> IncidentRead:
        """The incident ``request`` would open as ``incident_id``, before anything is stored
        (what its evidence and analysis are computed from outside the transaction)."""
        return to_read(
            self._new_incident(
                request, occurrence=1, by=None, incident_id=incident_id, stored=False
            )
        )

    async def register(
        self,
        session: AsyncSession,
        request: IngestIncidentRequest,
        *,
        by: str | None,
        incident_id: str | None = None,
        unseen: bool = False,
    ) -> Registration:
        """Store the incident once: open a new one, or match the open one with the same ref.

        A new incident takes ``incident_id`` when given (the id of its `preview`).
        ``unseen``: the caller read just before that no incident has this reference, so the
        first occurrence is tried at once; if one was stored since, the unique key refuses it
        and the reference is read as usual.
        """
        repository = IncidentRepository(session)
        for attempt in range(_REGISTER_ATTEMPTS):
            latest = (
                None
                if unseen and attempt == 0
                else await repository.latest_for_ref(request.source_type, request.source_ref)
            )
            if latest is not None and not _opens_new_occurrence(latest, request):
                changes = self._apply_updates(latest, request)
                if changes:
                    await repository.flush()
                # Read now: the row may change with the rest of the transaction.
                return Registration(
                    latest, created=False, read=to_read, changes=changes, incident=to_read(latest)
                )
            incident = self._new_incident(
                request,
                occurrence=latest.occurrence + 1 if latest else 1,
                by=by,
                incident_id=incident_id,
            )
            if await repository.insert(incident):
                # A new row is never changed in place (its updates are statements of their
                # own), so its read model can wait until someone asks for it.
                return Registration(incident, created=True, read=to_read)
        raise RuntimeError(
            f"could not register {request.source_type}/{request.source_ref} after "
            f"{_REGISTER_ATTEMPTS} attempts"
        )

    def first_occurrence(
        self, request: IngestIncidentRequest, *, by: str | None, incident_id: str | None = None
    ) -> tuple[Incident, dict[str, Any]]:
        """The row `register` would insert for a reference seen for the first time, and its
        columns' values: for an insert sent ahead of the question whether it is
        (`AlertGrouping.reference_state_opening`); `opened` reads it once inserted."""
        incident = self._new_incident(request, occurrence=1, by=by, incident_id=incident_id)
        return incident, IncidentRepository.values_of(incident)

    @staticmethod
    def opened(incident: Incident) -> Registration:
        """The registration of ``incident`` (`first_occurrence`), inserted by this transaction."""
        return Registration(incident, created=True, read=to_read)

    def _new_incident(
        self,
        request: IngestIncidentRequest,
        *,
        occurrence: int,
        by: str | None,
        incident_id: str | None = None,
        stored: bool = True,
    ) -> Incident:
        """The row of a new incident; ``stored=False`` for a preview that is never written,
        which leaves out the stored copy of the request (a dump of it all, evidence included)."""
        now = self.clock.now()
        metadata = request.metadata
        collection = request.collection
        # A full record of an incident that is already over arrives resolved.
        over = request.timeline.end is not None or request.timeline.resolved_at is not None
        # Not an ORM instance: the row is only read (its preview, and the values inserted by
        # a Core statement), and building a mapped object costs a tracked set per column.
        fresh = SimpleNamespace(**_BLANK_INCIDENT)
        fresh.__dict__.update(
            id=incident_id or self.ids.new(),
            source_type=request.source_type,
            source_ref=request.source_ref,
            occurrence=occurrence,
            title=request.title,
            description=request.description,
            severity=request.severity,
            status="created",
            start_at=request.timeline.start,
            end_at=request.timeline.end,
            detected_at=request.timeline.detected_at,
            resolved_at=request.timeline.resolved_at,
            lifecycle="resolved" if over else "triggered",
            lifecycle_changed_at=now if over else None,
            resolved_by=by if over else None,
            service=metadata.service if metadata else None,
            region=metadata.region if metadata else None,
            environment=metadata.environment if metadata else None,
            team=metadata.team if metadata else None,
            tags=metadata.tags if metadata else None,
            custom_fields=metadata.custom_fields if metadata else None,
            window_minutes_before=collection.window_minutes_before,
            window_minutes_after=collection.window_minutes_after,
            force_collect=collection.force_collect,
            request=(
                request.model_dump(mode="json", exclude={"source_payload"}) if stored else None
            ),
            source_payload=request.source_payload,
            created_at=now,
            updated_at=now,
            created_by=by,
        )
        return cast(Incident, fresh)

    def _apply_updates(
        self, incident: Incident, request: IngestIncidentRequest
    ) -> dict[str, dict[str, Any]]:
        """Take a later end / resolvedAt from a repeat report; earlier values are stale news."""
        changes: dict[str, dict[str, Any]] = {}
        for field, column in (("end", "end_at"), ("resolvedAt", "resolved_at")):
            new: datetime | None = getattr(
                request.timeline, "end" if field == "end" else "resolved_at"
            )
            current: datetime | None = getattr(incident, column)
            if new is None or (current is not None and new <= current):
                continue
            setattr(incident, column, new)
            changes[field] = {
                "from": format_instant(current) if current else None,
                "to": format_instant(new),
            }
        if changes:
            incident.updated_at = self.clock.now()
            # A reported end resolves it; the end / resolvedAt changes already say so.
            if incident.lifecycle != "resolved":
                incident.lifecycle = "resolved"
                incident.lifecycle_changed_at = incident.updated_at
        return changes

    async def set_status(
        self,
        session: AsyncSession,
        incident_id: str,
        status: IncidentStatus,
        *,
        reason: str | None = None,
        bundle_id: str | None = None,
        analysis_id: str | None = None,
        held_here: bool = False,
    ) -> None:
        """Record where the pipeline got to (one UPDATE; nothing is read first).

        ``held_here``: the caller's transaction inserted the incident, or a row whose foreign
        key holds it until the commit (see `IncidentRepository.update`)."""
        values: dict[str, Any] = {
            "status": status,
            "status_reason": reason,
            "updated_at": self.clock.now(),
        }
        if bundle_id is not None:
            values["latest_bundle_id"] = bundle_id
        if analysis_id is not None:
            values["latest_analysis_id"] = analysis_id
        if not await IncidentRepository(session).update(incident_id, values, held_here=held_here):
            raise IncidentNotFoundError(incident_id)

    async def mark_silenced(
        self, session: AsyncSession, incident_id: str, silence_id: str, *, reason: str
    ) -> None:
        """Record that a silence held the incident back from analysis (and notification)."""
        values = {"silence_id": silence_id, "status_reason": reason, "updated_at": self.clock.now()}
        if not await IncidentRepository(session).update(incident_id, values):
            raise IncidentNotFoundError(incident_id)

    async def _row(self, session: AsyncSession, incident_id: str) -> Incident:
        incident = await IncidentRepository(session).get(incident_id)
        if incident is None:
            raise IncidentNotFoundError(incident_id)
        return incident

    async def get(self, session: AsyncSession, incident_id: str) -> IncidentRead:
        return to_read(await self._row(session, incident_id))

    async def read_only(
        self, session: AsyncSession, incident_id: str
    ) -> tuple[IncidentRead, Incident]:
        """The incident and its row as read (for `stored_request`), by one statement built
        once: for a reader that changes nothing through the session (a job's first read)."""
        row = await IncidentRepository(session).read_only(incident_id)
        if row is None:
            raise IncidentNotFoundError(incident_id)
        return to_read(row), row

    async def ask_read_only_ahead(self, session: AsyncSession, incident_id: str) -> bool:
        """Ask `read_only`'s statement now, to go out with the transaction's next statement
        that needs an answer (PostgreSQL); False when it will be read when asked."""
        return await IncidentRepository(session).ask_read_only_ahead(incident_id)

    async def source_payload(self, session: AsyncSession, incident_id: str) -> Any:
        return (await self._row(session, incident_id)).source_payload

    async def ask_never_analysed_ahead(self, session: AsyncSession, incident_id: str) -> None:
        """Ask `never_analysed` now, to go out (on PostgreSQL) with the transaction's next
        statement that needs an answer; `never_analysed` then uses that answer."""
        await IncidentRepository(session).ask_never_analysed_ahead(incident_id)

    async def never_analysed(self, session: AsyncSession, incident_id: str) -> bool:
        """No analysis of the incident is stored (as this transaction sees it): then it has
        no postmortem and no remembered statements either, since those are stored with an
        analysis, in its transaction."""
        return await IncidentRepository(session).never_analysed(incident_id)

    async def stored_request(
        self, session: AsyncSession, incident_id: str, *, row: Incident | None = None
    ) -> IngestIncidentRequest:
        """The request as it was validated at ingest (with the latest end/resolvedAt applied);
        ``row``: the incident's row, when the caller read it already (`read_only`)."""
        incident = row if row is not None else await self._row(session, incident_id)
        data = dict(incident.request)
        timeline = dict(data["timeline"])
        timeline["end"] = format_instant(incident.end_at) if incident.end_at else None
        timeline["resolvedAt"] = (
            format_instant(incident.resolved_at) if incident.resolved_at else None
        )
        if timeline.get("detectedAt") is None:
            timeline.pop("detectedAt", None)
        data["timeline"] = timeline
        # Drop the nulls the dump wrote for absent optional fields, so the contract re-validates.
        cleaned = _drop_nulls(data, keep={"end", "resolvedAt", "description"})
        cleaned["sourcePayload"] = incident.source_payload
        return IngestIncidentRequest.model_validate(cleaned)

    async def list(
        self, session: AsyncSession, filters: IncidentFilter, *, cursor: str | None, limit: int
    ) -> IncidentPage:
        rows, more = await IncidentRepository(session).page(filters, cursor=cursor, limit=limit)
        return IncidentPage(
            items=[to_summary(row) for row in rows],
            next_cursor=encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None,
        )

    async def claim_idempotency_key(
        self, session: AsyncSession, *, subject: str, key: str, request_hash: str
    ) -> IdempotencyClaim:
        repository = IncidentRepository(session)
        now = self.clock.now()
        for _ in range(2):
            record = await repository.idempotency(subject, key)
            if record is not None and record.created_at < now - self.idempotency_ttl:
                await repository.delete_idempotency(subject, key)
                record = None
            if record is not None:
                if record.request_hash != request_hash:
                    raise IdempotencyKeyReusedError(key)
                if record.state == "completed":
                    return IdempotencyClaim(
                        fresh=False, status_code=record.status_code, response=record.response
                    )
                if record.created_at >= now - _STALE_PROCESSING and not await self._holder_dead(
                    session, record.owner
                ):
                    raise IdempotencyKeyInFlightError(key)
                await repository.delete_idempotency(subject, key)
            claimed = await repository.insert_idempotency(
                IdempotencyRecord(
                    subject_hash=subject_hash(subject),
                    key=key,
                    request_hash=request_hash,
                    state="processing",
                    created_at=now,
                    owner=self._owner,
                )
            )
            if claimed:
                return IdempotencyClaim(fresh=True)
        raise IdempotencyKeyInFlightError(key)

    @property
    def _owner(self) -> str | None:
        return self.liveness.name if self.liveness is not None else None

    async def _holder_dead(self, session: AsyncSession, holder: str | None) -> bool:
        if self.liveness is None:
            return False
        return await self.liveness.is_dead(session, holder)

    async def start_claiming(self) -> None:
        """Make this process's claims known alive to others (call before the first claim)."""
        if self.liveness is not None:
            await self.liveness.ensure_started()

    async def complete_idempotency_key(
        self,
        session: AsyncSession,
        *,
        subject: str,
        key: str,
        status_code: int,
        response: dict[str, Any],
    ) -> None:
        record = await IncidentRepository(session).idempotency(subject, key)
        if record is None:
            return
        record.state = "completed"
        record.status_code = status_code
        record.response = response
        record.completed_at = self.clock.now()
        await session.flush()

    async def release_idempotency_key(
        self, session: AsyncSession, *, subject: str, key: str
    ) -> None:
        await IncidentRepository(session).delete_idempotency(subject, key)

    async def find(
        self, session: AsyncSession, source_type: str, source_ref: str
    ) -> IncidentRead | None:
        """The latest incident for a source reference, if there is one."""
        latest = await IncidentRepository(session).latest_for_ref(source_type, source_ref)
        return to_read(latest) if latest is not None else None

    async def latest_lifecycle(
        self, session: AsyncSession, source_type: str, source_ref: str
    ) -> str | None:
        """The lifecycle state of the latest incident for a source reference (None: there is
        none): one column, where `find` loads and converts the whole row."""
        return await IncidentRepository(session).latest_lifecycle(source_type, source_ref)

    async def transition(
        self,
        session: AsyncSession,
        incident_id: str,
        transition: Transition,
        *,
        by: str,
        strict: bool = True,
    ) -> LifecycleChange:
        """Move the incident along its lifecycle, recording who and when.

        Asking for the state it is already in changes nothing (an empty ``changes``). A
        transition that does not apply (acknowledge a resolved incident, reopen an open one)
        raises `LifecycleTransitionError` when ``strict``, and otherwise changes nothing: a
        vendor's late acknowledge must not fail its delivery.
        """
        incident = await self._row(session, incident_id)
        now = self.clock.now()
        state = incident.lifecycle
        before = {
            "lifecycle": state,
            "acknowledgedBy": incident.acknowledged_by,
            "acknowledgedAt": _instant(incident.acknowledged_at),
            "resolvedBy": incident.resolved_by,
            "resolvedAt": _instant(incident.resolved_at),
        }
        if transition == "acknowledge":
            if state == "resolved":
                return self._refuse(incident, transition, strict=strict)
            if state == "triggered":
                incident.lifecycle = "acknowledged"
                incident.acknowledged_at = now
                incident.acknowledged_by = by
        elif transition == "unacknowledge":
            if state == "resolved":
                return self._refuse(incident, transition, strict=strict)
            if state == "acknowledged":
                incident.lifecycle = "triggered"
                incident.acknowledged_at = None
                incident.acknowledged_by = None
        elif transition == "resolve":
            if state != "resolved":
                incident.lifecycle = "resolved"
                incident.resolved_at = incident.resolved_at or now
                incident.resolved_by = by
        elif transition == "reopen":
            if state != "resolved":
                return self._refuse(incident, transition, strict=strict)
            if incident.group_key is not None and await IncidentRepository(
                session
            ).group_held_elsewhere(incident):
                # A newer incident holds the group open: its alerts keep joining that one,
                # and this one reopens without the group (one open incident per group).
                incident.group_key = None
            if incident.window_key is not None and await IncidentRepository(
                session
            ).window_held_elsewhere(incident):
                incident.window_key = None  # likewise for the window rule's service/environment
            incident.lifecycle = "triggered"
            incident.resolved_at = None
            incident.resolved_by = None
            incident.acknowledged_at = None
            incident.acknowledged_by = None
        after = {
            "lifecycle": incident.lifecycle,
            "acknowledgedBy": incident.acknowledged_by,
            "acknowledgedAt": _instant(incident.acknowledged_at),
            "resolvedBy": incident.resolved_by,
            "resolvedAt": _instant(incident.resolved_at),
        }
        changes = {
            name: {"from": before[name], "to": after[name]}
            for name in before
            if before[name] != after[name]
        }
        if changes:
            incident.lifecycle_changed_at = now
            incident.updated_at = now
            await session.flush()
        return LifecycleChange(incident=to_read(incident), changes=changes)

    @staticmethod
    def _refuse(incident: Incident, transition: str, *, strict: bool) -> LifecycleChange:
        if strict:
            raise LifecycleTransitionError(incident.id, transition, incident.lifecycle)
        return LifecycleChange(incident=to_read(incident))

    async def edit(
        self, session: AsyncSession, incident_id: str, values: dict[str, Any]
    ) -> LifecycleChange:
        """Set the assignee, severity and/or title (already validated); report what changed."""
        incident = await self._row(session, incident_id)
        changes: dict[str, dict[str, Any]] = {}
        for name, column in (
            ("assignee", "assignee"),
            ("severity", "severity"),
            ("title", "title"),
        ):
            if name not in values:
                continue
            current = getattr(incident, column)
            if current != values[name]:
                changes[name] = {"from": current, "to": values[name]}
                setattr(incident, column, values[name])
        if changes:
            incident.updated_at = self.clock.now()
            await session.flush()
        return LifecycleChange(incident=to_read(incident), changes=changes)

    async def add_note(
        self, session: AsyncSession, incident_id: str, body: str, *, author: str
    ) -> NoteRead:
        """Keep a responder's note (Markdown, already validated) on the incident."""
        await self._row(session, incident_id)
        note = IncidentNote(
            id=self.ids.new(),
            incident_id=incident_id,
            body=body,
            author=author[:256],
            created_at=self.clock.now(),
        )
        await IncidentRepository(session).add_note(note)
        return to_note_read(note)

    async def notes(self, session: AsyncSession, incident_id: str) -> Sequence[NoteRead]:
        """The incident's notes, oldest first."""
        return [to_note_read(row) for row in await IncidentRepository(session).notes(incident_id)]

    async def resolve(
        self,
        session: AsyncSession,
        *,
        source_type: str,
        source_ref: str,
        at: datetime,
        by: str | None = None,
    ) -> Resolution:
        """End the open incident with this reference at ``at``; never open one.

        An ``at`` before the incident's start (a skewed vendor clock) ends it at its start,
        because the contract keeps ``end`` from preceding ``start``.
        """
        latest = await IncidentRepository(session).latest_for_ref(source_type, source_ref)
        if latest is None:
            return Resolution(outcome="unmatched")
        if _is_resolved(latest):
            return Resolution(outcome="already-resolved", incident=to_read(latest))
        clamped = at < latest.start_at
        over = latest.start_at if clamped else at
        latest.end_at = over
        latest.resolved_at = over
        latest.lifecycle = "resolved"
        latest.resolved_by = by
        latest.updated_at = latest.lifecycle_changed_at = self.clock.now()
        await session.flush()
        change = {"from": None, "to": format_instant(over)}
        return Resolution(
            outcome="resolved",
            incident=to_read(latest),
            changes={"end": change, "resolvedAt": dict(change)},
            clamped=clamped,
        )

    async def claim_delivery(
        self,
        session: AsyncSession,
        *,
        source: str,
        delivery_id: str | None,
        body_sha256: str,
        window: timedelta,
    ) -> DeliveryClaim:
        """Claim a vendor delivery for processing, or return the answer it already got.

        Seen within ``window`` (by delivery id or by body) and completed: the stored answer.
        Seen and still processing: `DeliveryInFlightError` (a retry raced the first attempt).
        Deliveries older than the window are forgotten first, so the window is exact.
        """
        repository = IncidentRepository(session)
        now = self.clock.now()
        await repository.delete_deliveries_before(now - window)
        for _ in range(2):
            for seen in await repository.deliveries_matching(
                source, delivery_id=delivery_id, body_sha256=body_sha256
            ):
                if seen.state == "completed":
                    return DeliveryClaim(
                        fresh=False,
                        delivery_id=seen.id,
                        status_code=seen.status_code,
                        response=seen.response,
                    )
                if seen.received_at >= now - _STALE_PROCESSING and not await self._holder_dead(
                    session, seen.owner
                ):
                    raise DeliveryInFlightError(source)
                await repository.delete_delivery(seen.id)
            row = WebhookDelivery(
                id=self.ids.new(),
                source=source,
                delivery_id=delivery_id,
                body_sha256=body_sha256,
                state="processing",
                received_at=now,
                owner=self._owner,
            )
            if await repository.insert_delivery(row):
                return DeliveryClaim(fresh=True, delivery_id=row.id)
        raise DeliveryInFlightError(source)

    async def complete_delivery(
        self,
        session: AsyncSession,
        delivery_id: str,
        *,
        shape: str,
        status_code: int,
        response: dict[str, Any],
    ) -> None:
        delivery = await IncidentRepository(session).delivery(delivery_id)
        if delivery is None:
            return
        delivery.state = "completed"
        delivery.shape = shape
        delivery.status_code = status_code
        delivery.response = response
        delivery.completed_at = self.clock.now()
        await session.flush()

    async def release_delivery(self, session: AsyncSession, delivery_id: str) -> None:
        """Forget a claimed delivery whose processing failed, so the vendor's retry runs it."""
        await IncidentRepository(session).delete_delivery(delivery_id)

    async def deliveries(
        self, session: AsyncSession, *, source: str | None, limit: int
    ) -> Sequence[DeliveryRead]:
        rows = await IncidentRepository(session).recent_deliveries(source=source, limit=limit)
        return [to_delivery_read(row) for row in rows]


def to_note_read(note: IncidentNote) -> NoteRead:
    return NoteRead(
        id=note.id,
        incident_id=note.incident_id,
        body=note.body,
        body_html=render_markdown(note.body),
        author=note.author,
        created_at=note.created_at,
    )


def _drop_nulls(value: Any, *, keep: set[str]) -> Any:
    if isinstance(value, dict):
        return {
            k: _drop_nulls(v, keep=keep) for k, v in value.items() if v is not None or k in keep
        }
    if isinstance(value, list):
        return [_drop_nulls(v, keep=keep) for v in value]
    return value
