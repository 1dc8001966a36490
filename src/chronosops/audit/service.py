"""The hash-chained audit log.

Every event belongs to one global chain (``seq``/``prevHash``) and, when it concerns an
incident, to that incident's sub-chain (``incidentSeq``/``incidentPrevHash``). The hash covers
both links, so verifying one incident walks only its own events yet still checks that each of
them sits where it claims to in the global chain. This is what keeps verification correct when
many incidents interleave, the defect of the earlier implementation (reference spec §10.3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.audit.repository import AuditRepository
from chronosops.audit.schemas import (
    GENESIS,
    AuditEventPage,
    AuditEventRead,
    AuditFilter,
    ChainVerification,
    Verification,
    VerificationFailure,
    hash_input,
)
from chronosops.audit.tables import AuditEvent
from chronosops.core.canonical import content_hash
from chronosops.core.clock import Clock
from chronosops.core.errors import FieldError, InvalidInputError
from chronosops.core.ids import IdFactory


def _event_hash(event: AuditEvent) -> str:
    return content_hash(
        hash_input(
            chain_id=event.chain_id,
            seq=event.seq,
            prev_hash=event.prev_hash,
            incident_id=event.incident_id,
            incident_seq=event.incident_seq,
            incident_prev_hash=event.incident_prev_hash,
            event_type=event.event_type,
            entity_type=event.entity_type,
            entity_id=event.entity_id,
            entity_ref=event.entity_ref,
            actor=event.actor,
            occurred_at=event.occurred_at,
            payload=event.payload,
        )
    )


# Where a transaction keeps the heads it has read (session.info lives as long as the session).
_HEADS = "chronosops.audit.heads"


class AuditLog:
    def __init__(self, *, chain_id: str, clock: Clock, ids: IdFactory) -> None:
        self.chain_id = chain_id
        self.clock = clock
        self.ids = ids

    async def record(
        self,
        session: AsyncSession,
        *,
        event_type: str,
        entity_type: str,
        entity_id: str,
        payload: dict[str, Any],
        incident_id: str | None = None,
        entity_ref: str | None = None,
        actor: str | None = None,
    ) -> AuditEventRead:
        """Append one event in the caller's transaction (it commits or rolls back with it).

        The chain is locked once per transaction and its head remembered in the session, so a
        transaction that records several events reads the head once.
        """
        repository = AuditRepository(session)
        heads: dict[tuple[str, str], tuple[int, str] | None] = session.info.setdefault(_HEADS, {})
        chain_key = ("chain", self.chain_id)
        incident_key = ("incident", incident_id or "")
        if chain_key not in heads:
            await repository.lock_chain(self.chain_id)
            if incident_id is not None:
                heads[chain_key], heads[incident_key] = await repository.head_links(
                    self.chain_id, incident_id
                )
            else:
                heads[chain_key] = await repository.head_link(self.chain_id)
        head = heads[chain_key]
        incident_seq: int | None = None
        incident_prev: str | None = None
        if incident_id is not None:
            if incident_key not in heads:
                heads[incident_key] = await repository.incident_head_link(incident_id)
            incident_head = heads[incident_key]
            incident_seq = incident_head[0] + 1 if incident_head else 1
            incident_prev = incident_head[1] if incident_head else GENESIS
        values: dict[str, Any] = {
            "id": self.ids.new(),
            "chain_id": self.chain_id,
            "seq": head[0] + 1 if head else 1,
            "prev_hash": head[1] if head else GENESIS,
            "incident_id": incident_id,
            "incident_seq": incident_seq,
            "incident_prev_hash": incident_prev,
            "event_type": event_type,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "entity_ref": entity_ref,
            "actor": actor,
            "occurred_at": self.clock.now(),
            "payload": payload,
        }
        values["hash"] = content_hash(hash_input(**{k: v for k, v in values.items() if k != "id"}))
        await repository.insert(values)
        heads[chain_key] = (values["seq"], values["hash"])
        if incident_id is not None and incident_seq is not None:
            heads[incident_key] = (incident_seq, values["hash"])
        return AuditEventRead.model_validate(values)

    async def events_for_incident(
        self, session: AsyncSession, incident_id: str
    ) -> list[AuditEventRead]:
        events = await AuditRepository(session).for_incident(incident_id)
        return [AuditEventRead.model_validate(e, from_attributes=True) for e in events]

    async def head(self, session: AsyncSession) -> tuple[int, str] | None:
        """The chain's last link (seq, hash), or None for an empty chain."""
        return await AuditRepository(session).head_link(self.chain_id)

    async def verify_incident(self, session: AsyncSession, incident_id: str) -> Verification:
        """Re-hash the incident's events and check both links of each; stop at the first failure."""
        repository = AuditRepository(session)
        events = await repository.for_incident(incident_id)
        global_predecessors = await repository.hashes_at(
            self.chain_id, {e.seq - 1 for e in events if e.seq > 1}
        )
        verified = 0
        failure: VerificationFailure | None = None
        previous_hash = GENESIS
        for position, event in enumerate(events, start=1):
            reason = self._check(event, position, previous_hash, global_predecessors)
            if reason is not None:
                failure = VerificationFailure(
                    seq=event.seq, event_id=event.id, event_type=event.event_type, reason=reason
                )
                break
            verified += 1
            previous_hash = event.hash
        return Verification(
            incident_id=incident_id,
            chain_id=self.chain_id,
            ok=failure is None,
            status="VERIFIED" if failure is None else "FAILED",
            verified_count=verified,
            total_events=len(events),
            first_failure=failure,
            verified_at=self.clock.now(),
        )

    async def page(
        self, session: AsyncSession, filters: AuditFilter, *, cursor: str | None, limit: int
    ) -> AuditEventPage:
        """The chain's events newest first; the cursor is the last shown event's seq."""
        before_seq = _seq_cursor(cursor) if cursor else None
        rows = await AuditRepository(session).page(
            self.chain_id,
            event_type=filters.event_type,
            entity_type=filters.entity_type,
            actor=filters.actor,
            incident_id=filters.incident_id,
            before_seq=before_seq,
            limit=limit,
        )
        shown = rows[:limit]
        return AuditEventPage(
            items=[AuditEventRead.model_validate(e, from_attributes=True) for e in shown],
            next_cursor=str(shown[-1].seq) if len(rows) > limit else None,
        )

    async def verify_chain(
        self,
        session: AsyncSession,
        *,
        batch_size: int = 1000,
        progress: Callable[[int, int], None] | None = None,
    ) -> ChainVerification:
        """Walk the whole chain in seq order: every hash, every global and incident link.

        Reads ``batch_size`` events at a time, so memory stays flat however long the chain;
        only each incident's last link is kept, to check the next event of that incident.
        """
        repository = AuditRepository(session)
        total = await repository.count(self.chain_id)
        incident_heads: dict[str, tuple[int, str]] = {}
        previous_hash = GENESIS
        verified = 0
        failure: VerificationFailure | None = None
        while failure is None:
            batch = await repository.in_chain_order(
                self.chain_id, after_seq=verified, limit=batch_size
            )
            if not batch:
                break
            for event in batch:
                reason = _check_in_chain(event, verified + 1, previous_hash, incident_heads)
                if reason is not None:
                    failure = VerificationFailure(
                        seq=event.seq, event_id=event.id, event_type=event.event_type, reason=reason
                    )
                    break
                verified += 1
                previous_hash = event.hash
                if event.incident_id is not None and event.incident_seq is not None:
                    incident_heads[event.incident_id] = (event.incident_seq, event.hash)
            if progress is not None:
                progress(verified, total)
        return ChainVerification(
            chain_id=self.chain_id,
            ok=failure is None,
            status="VERIFIED" if failure is None else "FAILED",
            verified_count=verified,
            total_events=total,
            first_failure=failure,
            head_seq=verified or None,
            head_hash=previous_hash if verified else None,
            verified_at=self.clock.now(),
        )

    def _check(
        self,
        event: AuditEvent,
        position: int,
        previous_hash: str,
        global_predecessors: dict[int, str],
    ) -> str | None:
        if event.chain_id != self.chain_id:
            return f"event belongs to chain {event.chain_id!r}, expected {self.chain_id!r}"
        if event.incident_seq != position:
            return (
                f"incident sequence jumps to {event.incident_seq} where {position} was expected "
                "(an event is missing)"
            )
        if event.incident_prev_hash != previous_hash:
            return (
                f"incident link broken: prevHash {str(event.incident_prev_hash)[:16]} does not "
                f"match the previous event's hash {previous_hash[:16]}"
            )
        recomputed = _event_hash(event)
        if recomputed != event.hash:
            return (
                f"hash mismatch: stored {event.hash[:16]}, recomputed {recomputed[:16]} "
                "(the event was modified after it was written)"
            )
        expected_prev = GENESIS if event.seq == 1 else global_predecessors.get(event.seq - 1)
        if expected_prev is None:
            return f"global chain broken: no event at seq {event.seq - 1}"
        if event.prev_hash != expected_prev:
            return (
                f"global link broken: prevHash {event.prev_hash[:16]} does not match event "
                f"{event.seq - 1} ({expected_prev[:16]})"
            )
        return None


def _seq_cursor(cursor: str) -> int:
    if not cursor.isdecimal() or len(cursor) > 18:
        raise InvalidInputError(
            "Invalid cursor", [FieldError("cursor", "not a cursor returned by this API")]
        )
    return int(cursor)


def _check_in_chain(
    event: AuditEvent,
    expected_seq: int,
    previous_hash: str,
    incident_heads: dict[str, tuple[int, str]],
) -> str | None:
    """Why ``event`` cannot be the chain's next link after ``previous_hash``, or None."""
    if event.seq != expected_seq:
        return (
            f"sequence jumps to {event.seq} where {expected_seq} was expected (an event is missing)"
        )
    if event.prev_hash != previous_hash:
        return (
            f"global link broken: prevHash {event.prev_hash[:16]} does not match the previous "
            f"event's hash {previous_hash[:16]}"
        )
    recomputed = _event_hash(event)
    if recomputed != event.hash:
        return (
            f"hash mismatch: stored {event.hash[:16]}, recomputed {recomputed[:16]} "
            "(the event was modified after it was written)"
        )
    if event.incident_id is not None:
        seq, digest = incident_heads.get(event.incident_id, (0, GENESIS))
        if event.incident_seq != seq + 1:
            return (
                f"incident {event.incident_id}'s sequence jumps to {event.incident_seq} where "
                f"{seq + 1} was expected (an event is missing)"
            )
        if event.incident_prev_hash != digest:
            return (
                f"incident link broken: prevHash {str(event.incident_prev_hash)[:16]} does not "
                f"match the incident's previous event's hash {digest[:16]}"
            )
    return None
