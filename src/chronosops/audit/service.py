"""The hash-chained audit log.

Every event belongs to one global chain (``seq``/``prevHash``) and, when it concerns an
incident, to that incident's sub-chain (``incidentSeq``/``incidentPrevHash``). The hash covers
both links, so verifying one incident walks only its own events yet still checks that each of
them sits where it claims to in the global chain. This is what keeps verification correct when
many incidents interleave, the defect of the earlier implementation (reference spec §10.3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.audit.checkpoints import CheckpointPolicy, same_signature
from chronosops.audit.repository import CHAINED_LINKS, AuditRepository
from chronosops.audit.schemas import (
    GENESIS,
    AuditEventPage,
    AuditEventRead,
    AuditFilter,
    ChainVerification,
    CheckpointRead,
    CheckpointStatus,
    Verification,
    VerificationFailure,
    hash_input,
)
from chronosops.audit.tables import AuditCheckpoint, AuditCheckpointIncident, AuditEvent
from chronosops.core.canonical import canonical_json, content_hash
from chronosops.core.clock import Clock
from chronosops.core.errors import ConflictError, DisabledError, FieldError, InvalidInputError
from chronosops.core.ids import IdFactory
from chronosops.storage import at_group_commit, before_commit, postgres


def event_hash(event: AuditEvent) -> str:
    """The hash verification recomputes for a stored event (its fields, canonically)."""
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


# Stand-ins for an event's links in the canonical JSON its hash covers, where the server puts
# the real ones (`_linked_by_server`): each must occur exactly once in the text.
_SEQ_STAND_IN = 7_777_777_777_777_001
_PREV_STAND_IN = "chronosops:chain-prev:5f0d"
_INCIDENT_SEQ_STAND_IN = 7_777_777_777_777_002
_INCIDENT_PREV_STAND_IN = "chronosops:chain-incident-prev:5f0d"
_STAND_INS: dict[str, int | str] = {
    "seq": _SEQ_STAND_IN,
    "prevHash": _PREV_STAND_IN,
    "incidentSeq": _INCIDENT_SEQ_STAND_IN,
    "incidentPrevHash": _INCIDENT_PREV_STAND_IN,
}
_LINK_OF = {str(value): link for link, value in _STAND_INS.items()}
# No stand-in's text holds another's, and none can overlap another or itself (no proper suffix
# of one is a prefix of one: tests/audit/test_server_links.py), so finding each apart finds
# what one left-to-right scan for all of them would.


def _cut_at_stand_ins(text: str) -> tuple[tuple[str, ...], list[str]] | None:
    """The links whose stand-ins ``text`` holds, in the order it holds them, and the text
    between them; None when a stand-in occurs more than once (a payload holding its text).

    One ``str.find`` per stand-in: a regular expression of the four, run for the pieces and
    again for the links, cost ~80k instructions an event (~2% of a PostgreSQL ingest's,
    docs/benchmarks.md, twenty-fifth pass)."""
    found: list[tuple[int, str]] = []
    for value in _LINK_OF:
        at = text.find(value)
        if at < 0:
            continue
        if text.find(value, at + len(value)) >= 0:
            return None
        found.append((at, value))
    found.sort()
    pieces: list[str] = []
    start = 0
    for at, value in found:
        pieces.append(text[start:at])
        start = at + len(value)
    pieces.append(text[start:])
    return tuple(_LINK_OF[value] for _, value in found), pieces


def _linked_by_server(
    event: dict[str, Any], event_id: str
) -> tuple[tuple[str, ...], dict[str, Any]] | None:
    """The event's values for `AuditRepository.append_chained`: its canonical JSON cut where
    its links go (``t0 … tN``) and the links in that order; None when its text cannot be cut
    so (a payload holding a stand-in's text), and the caller links it itself."""
    has_incident = event["incident_id"] is not None
    text = canonical_json(
        hash_input(
            **event,
            seq=_SEQ_STAND_IN,
            prev_hash=_PREV_STAND_IN,
            incident_seq=_INCIDENT_SEQ_STAND_IN if has_incident else None,
            incident_prev_hash=_INCIDENT_PREV_STAND_IN if has_incident else None,
        )
    ).decode("utf-8")
    found = _cut_at_stand_ins(text)
    expected = CHAINED_LINKS if has_incident else CHAINED_LINKS[2:]
    if found is None or found[0] != expected:
        return None
    links, cut = found
    values = {**event, "id": event_id, "genesis": GENESIS}
    values.update({f"t{n}": piece for n, piece in enumerate(cut)})
    return links, values


# Where a transaction keeps the heads it has read (session.info lives as long as the session).
_HEADS = "chronosops.audit.heads"
# An event's mark, taken off before it is linked: its incident was inserted in this transaction.
_FIRST_OF_INCIDENT = "chronosops.audit.first_of_incident"


class AuditLog:
    def __init__(
        self,
        *,
        chain_id: str,
        clock: Clock,
        ids: IdFactory,
        checkpoints: CheckpointPolicy | None = None,
    ) -> None:
        self.chain_id = chain_id
        self.clock = clock
        self.ids = ids
        self.checkpoints = checkpoints
        # When this process last wrote a checkpoint (None: not yet, so its first append does).
        self._last_checkpoint_at: datetime | None = None

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
        first_of_incident: bool = False,
    ) -> None:
        """Append one event in the caller's transaction (it commits or rolls back with it).

        ``first_of_incident``: the caller inserted the incident in this transaction, so no
        event of it can come before this one, and its sub-chain's head is not read. (Wrongly
        said, the event would repeat the incident's first ``incidentSeq``, which the unique key
        on (incident, incidentSeq) refuses: the transaction fails, nothing is linked wrongly.
        Where PostgreSQL's server links the events, it reads the heads itself.)

        The event waits in the session and is appended, with the others of the transaction and
        in the order they were recorded, just before the commit (`before_commit`): the chain is
        locked and its head read once, and the events go in as one batched insert. So the
        chain's lock, which every writer of every process waits for, is held for those last few
        statements, not for the whole transaction. In a unit of SQLite's group-commit writer the
        same is done once for the whole group, just before its ``COMMIT``, with every kept
        unit's events in the order the units ran (`at_group_commit`): the commit order, as
        before, with one head read and one insert a group instead of one a unit.
        """
        event: dict[str, Any] = {
            "chain_id": self.chain_id,
            "incident_id": incident_id,
            "event_type": event_type,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "entity_ref": entity_ref,
            "actor": actor,
            "occurred_at": self.clock.now(),
            "payload": payload,
        }
        # SQLite's group-commit writer: linked with every other kept unit's events of the
        # group in one pass before its COMMIT (one head read, one insert a group, not a unit).
        if first_of_incident and incident_id is not None:
            event[_FIRST_OF_INCIDENT] = True
        grouped = at_group_commit(session, self._pending_key, self._append)
        if grouped is not None:
            grouped.append(event)
            return
        pending: list[dict[str, Any]] = session.info.setdefault(self._pending_key, [])
        pending.append(event)
        before_commit(session, self._pending_key, self._append_pending)

    @property
    def _pending_key(self) -> str:
        return f"chronosops.audit.pending.{self.chain_id}"

    async def _append_pending(self, session: AsyncSession) -> None:
        await self._append(session, session.info.pop(self._pending_key, []))

    async def _append(self, session: AsyncSession, pending: list[dict[str, Any]]) -> None:
        """Link ``pending`` (events in the order they were recorded) to the chain's head and
        to their incidents' heads, hash them and insert them, writing a checkpoint where due."""
        if not pending:
            return
        repository = AuditRepository(session)
        heads: dict[tuple[str, str], tuple[int, str] | None] = session.info.setdefault(_HEADS, {})
        for event in pending:
            if event.pop(_FIRST_OF_INCIDENT, False):
                # Inserted in this transaction: its sub-chain starts here (see `record`).
                heads.setdefault(("incident", event["incident_id"]), None)
        chain_key = ("chain", self.chain_id)
        if chain_key not in heads and self.checkpoints is None and postgres.is_postgres(session):
            # PostgreSQL: the server links and hashes them after the lock, in the same send as
            # the COMMIT, so the lock that every writer waits for is held for no round trip.
            # (A checkpoint signs a head it must know: then they are linked here.)
            chained = [_linked_by_server(event, self.ids.new()) for event in pending]
            if all(row is not None for row in chained) and await repository.append_chained(
                self.chain_id, [row for row in chained if row is not None]
            ):
                return
        if chain_key not in heads:
            await repository.lock_chain(self.chain_id)
            first_incident = pending[0]["incident_id"]
            if first_incident is not None:
                heads[chain_key], heads[("incident", first_incident)] = await repository.head_links(
                    self.chain_id, first_incident
                )
            else:
                heads[chain_key] = await repository.head_link(self.chain_id)
        rows: list[dict[str, Any]] = []
        for event in pending:
            head = heads[chain_key]
            incident_id = event["incident_id"]
            incident_key = ("incident", incident_id or "")
            values: dict[str, Any] = {
                **event,
                "seq": head[0] + 1 if head else 1,
                "prev_hash": head[1] if head else GENESIS,
                "incident_seq": None,
                "incident_prev_hash": None,
            }
            if incident_id is not None:
                if incident_key not in heads:
                    heads[incident_key] = await repository.incident_head_link(incident_id)
                incident_head = heads[incident_key]
                values["incident_seq"] = incident_head[0] + 1 if incident_head else 1
                values["incident_prev_hash"] = incident_head[1] if incident_head else GENESIS
            values["hash"] = content_hash(hash_input(**values))
            values["id"] = self.ids.new()
            rows.append(values)
            heads[chain_key] = (values["seq"], values["hash"])
            if incident_id is not None:
                heads[incident_key] = (values["incident_seq"], values["hash"])
            if self._checkpoint_due(values["seq"], values["occurred_at"]):
                # A checkpoint signs the head as it stands after this event: write up to here.
                await repository.insert_many(rows)
                rows = []
                await self._write_checkpoint(repository, values["seq"], values["hash"])
        await repository.insert_many(rows)

    def _checkpoint_due(self, seq: int, now: datetime) -> bool:
        policy = self.checkpoints
        if policy is None:
            return False
        if policy.every_events and seq % policy.every_events == 0:
            return True
        if policy.interval is None:
            return False
        return self._last_checkpoint_at is None or now - self._last_checkpoint_at >= policy.interval

    async def checkpoint(self, session: AsyncSession) -> CheckpointRead:
        """Sign the chain's current head now (``POST /v1/audit/checkpoints``, ``audit checkpoint``).

        Returns the latest checkpoint unchanged when it already covers the head with this key.
        """
        if self.checkpoints is None:
            raise DisabledError(
                "Audit checkpoints need a signing key: set CHRONOSOPS_AUDIT_CHECKPOINT_KEY"
            )
        repository = AuditRepository(session)
        await repository.lock_chain(self.chain_id)
        head = await repository.head_link(self.chain_id)
        if head is None:
            raise ConflictError("The audit chain is empty: there is no head to sign yet")
        return await self._write_checkpoint(repository, *head)

    async def _write_checkpoint(
        self, repository: AuditRepository, seq: int, digest: str
    ) -> CheckpointRead:
        policy = self.checkpoints
        assert policy is not None
        previous = await repository.latest_checkpoint(self.chain_id)
        if previous is not None and previous.seq >= seq and previous.key_id == policy.key_id:
            return _checkpoint_read(previous)
        now = self.clock.now()
        values: dict[str, Any] = {
            "id": self.ids.new(),
            "chain_id": self.chain_id,
            "seq": seq,
            "hash": digest,
            "created_at": now,
            "key_id": policy.key_id,
            "signature": policy.sign_head(
                chain_id=self.chain_id, seq=seq, digest=digest, created_at=now
            ),
        }
        await repository.insert_checkpoint(values)
        # Only incidents with events since the previous checkpoint: the others' heads stand,
        # unless that one was signed with another key (a rotation re-signs every head).
        after = 0
        if previous is not None and previous.seq < seq and previous.key_id == policy.key_id:
            after = previous.seq
        heads = await repository.incident_heads_between(
            self.chain_id, after_seq=after, up_to_seq=seq
        )
        await repository.insert_incident_heads(
            [
                {
                    "checkpoint_id": values["id"],
                    "incident_id": incident_id,
                    "incident_seq": incident_seq,
                    "hash": incident_hash,
                    "signature": policy.sign_incident_head(
                        chain_id=self.chain_id,
                        checkpoint_seq=seq,
                        incident_id=incident_id,
                        incident_seq=incident_seq,
                        digest=incident_hash,
                    ),
                }
                for incident_id, incident_seq, incident_hash in heads
            ]
        )
        self._last_checkpoint_at = now
        return CheckpointRead.model_validate(values)

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
        status: CheckpointStatus = "NO_KEY" if self.checkpoints is None else "NO_CHECKPOINT"
        checkpointed_seq: int | None = None
        if self.checkpoints is not None:
            found = await repository.latest_incident_head(self.chain_id, incident_id)
            if found is not None:
                head, checkpoint = found
                checkpointed_seq = head.incident_seq
                mismatch = self._incident_head_mismatch(head_of(head, checkpoint), events)
                if mismatch is None:
                    status = "MATCHED"
                else:
                    status = "FAILED"
                    failure = failure or mismatch
        return Verification(
            incident_id=incident_id,
            chain_id=self.chain_id,
            ok=failure is None,
            status="VERIFIED" if failure is None else "FAILED",
            verified_count=verified,
            total_events=len(events),
            first_failure=failure,
            verified_at=self.clock.now(),
            checkpoint_status=status,
            checkpointed_incident_seq=checkpointed_seq,
        )

    def _incident_head_mismatch(
        self, head: _IncidentHead, events: list[AuditEvent]
    ) -> VerificationFailure | None:
        """Why the incident's events disagree with its signed head, or None."""
        policy = self.checkpoints
        assert policy is not None
        if head.key_id != policy.key_id:
            return VerificationFailure(
                seq=head.checkpoint_seq,
                event_id=None,
                event_type=None,
                reason=_other_key(head.checkpoint_seq, head.key_id),
            )
        expected = policy.sign_incident_head(
            chain_id=self.chain_id,
            checkpoint_seq=head.checkpoint_seq,
            incident_id=head.incident_id,
            incident_seq=head.incident_seq,
            digest=head.hash,
        )
        if not same_signature(expected, head.signature):
            return VerificationFailure(
                seq=head.checkpoint_seq,
                event_id=None,
                event_type=None,
                reason=(
                    f"the checkpoint at seq {head.checkpoint_seq} has an invalid signature for "
                    "this incident's head (it was forged or altered)"
                ),
            )
        if len(events) < head.incident_seq:
            return VerificationFailure(
                seq=head.checkpoint_seq,
                event_id=None,
                event_type=None,
                reason=(
                    f"the incident has {len(events)} events but the checkpoint at seq "
                    f"{head.checkpoint_seq} signed its event {head.incident_seq}: events "
                    "were deleted"
                ),
            )
        event = events[head.incident_seq - 1]
        if event.hash != head.hash:
            return VerificationFailure(
                seq=event.seq,
                event_id=event.id,
                event_type=event.event_type,
                reason=(
                    f"the incident's event {head.incident_seq} hashes to {event.hash[:16]}, but "
                    f"the checkpoint at seq {head.checkpoint_seq} signed {head.hash[:16]}: the "
                    "incident's events were rewritten"
                ),
            )
        return None

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
        # Read before the walk, so every event it covers is already there to be walked.
        checkpoint = await repository.latest_checkpoint(self.chain_id)
        hash_at_checkpoint: str | None = None
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
                if checkpoint is not None and event.seq == checkpoint.seq:
                    hash_at_checkpoint = event.hash
                if event.incident_id is not None and event.incident_seq is not None:
                    incident_heads[event.incident_id] = (event.incident_seq, event.hash)
            if progress is not None:
                progress(verified, total)
        status: CheckpointStatus = "NO_KEY" if self.checkpoints is None else "NO_CHECKPOINT"
        if self.checkpoints is not None and checkpoint is not None:
            mismatch = (
                None
                if failure is not None
                else self._checkpoint_mismatch(checkpoint, verified, hash_at_checkpoint)
            )
            status = "MATCHED" if mismatch is None and failure is None else "FAILED"
            failure = failure or mismatch
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
            checkpoint_status=status,
            checkpoint=_checkpoint_read(checkpoint) if checkpoint is not None else None,
        )

    def _checkpoint_mismatch(
        self, checkpoint: AuditCheckpoint, head_seq: int, hash_at_checkpoint: str | None
    ) -> VerificationFailure | None:
        """Why an intact-looking chain disagrees with its latest checkpoint, or None."""
        policy = self.checkpoints
        assert policy is not None

        def failed(reason: str) -> VerificationFailure:
            return VerificationFailure(
                seq=checkpoint.seq, event_id=None, event_type=None, reason=reason
            )

        if checkpoint.key_id != policy.key_id:
            return failed(_other_key(checkpoint.seq, checkpoint.key_id))
        expected = policy.sign_head(
            chain_id=checkpoint.chain_id,
            seq=checkpoint.seq,
            digest=checkpoint.hash,
            created_at=checkpoint.created_at,
        )
        if not same_signature(expected, checkpoint.signature):
            return failed(
                f"the checkpoint at seq {checkpoint.seq} has an invalid signature "
                "(it was forged or altered)"
            )
        if head_seq < checkpoint.seq:
            return failed(
                f"the chain ends at seq {head_seq} but a signed checkpoint records seq "
                f"{checkpoint.seq}: the last {checkpoint.seq - head_seq} events were deleted"
            )
        if hash_at_checkpoint != checkpoint.hash:
            return failed(
                f"the event at seq {checkpoint.seq} hashes to {str(hash_at_checkpoint)[:16]} but "
                f"the checkpoint signed {checkpoint.hash[:16]}: events up to it were rewritten "
                "and their hashes recomputed"
            )
        every = policy.every_events
        due = head_seq - head_seq % every if every else 0
        if checkpoint.seq < due:
            return failed(
                f"the chain's head is at seq {head_seq}, so a checkpoint was due at seq {due}, "
                f"but the latest is at seq {checkpoint.seq}: checkpoints were deleted (or "
                "events were appended by a process without CHRONOSOPS_AUDIT_CHECKPOINT_KEY)"
            )
        return None

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
        recomputed = event_hash(event)
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


@dataclass(frozen=True)
class _IncidentHead:
    checkpoint_seq: int
    key_id: str
    incident_id: str
    incident_seq: int
    hash: str
    signature: str


def head_of(head: AuditCheckpointIncident, checkpoint: AuditCheckpoint) -> _IncidentHead:
    return _IncidentHead(
        checkpoint_seq=checkpoint.seq,
        key_id=checkpoint.key_id,
        incident_id=head.incident_id,
        incident_seq=head.incident_seq,
        hash=head.hash,
        signature=head.signature,
    )


def _other_key(seq: int, key_id: str) -> str:
    return (
        f"the checkpoint at seq {seq} was signed by another key (id {key_id}); if the key was "
        "rotated, sign the head again with `chronosops audit checkpoint`"
    )


def _checkpoint_read(checkpoint: AuditCheckpoint) -> CheckpointRead:
    return CheckpointRead.model_validate(checkpoint, from_attributes=True)


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
    recomputed = event_hash(event)
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
