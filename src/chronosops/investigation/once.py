"""Doing a client's request once: an ``Idempotency-Key`` or a vendor's delivery is claimed,
the work runs, and its answer is kept and given again to every repeat.

One use case for both doors (``POST /v1/incidents/ingest`` and ``POST /v1/webhooks/{source}``):

1. claim the key in its own short transaction: a key already answered returns that answer
   (``replayed``); a key still in flight in a live process is a conflict; a key whose holder
   died is taken over at once (`chronosops.storage.Liveness`);
2. run the work, which returns the answer (the edge decides its status code);
3. keep the answer with the key. If the work fails, the claim is released, so the client's
   retry runs again instead of being told it succeeded.

With ``CHRONOSOPS_REDIS_URL`` a kept answer is also copied to Redis (`SharedState`) until it
would be forgotten, and a repeat is looked up there first: any API process answers it without
a database write. The database stays the record; a copy is made only after the answer is
committed, and a key reused with another body is not answered from the copy.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.incidents import IncidentService
from chronosops.storage import Database, SharedState


@dataclass(frozen=True)
class Answer:
    """What the edge answered: kept with the key and replayed as it was."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True)
class IdempotencyKey:
    subject: str
    key: str
    request_hash: str


@dataclass(frozen=True)
class Delivery:
    source: str
    delivery_id: str | None
    body_sha256: str
    shape: str


# The work receives the claim's record id (a delivery's, for the audit trail; None for a key).
Work = Callable[[str | None], Awaitable[Answer]]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class SharedAnswers:
    """Copies of kept answers in Redis, under the keys a repeat is matched by."""

    def __init__(self, shared: SharedState) -> None:
        self.shared = shared

    def keys(self, claim: IdempotencyKey | Delivery) -> list[str]:
        if isinstance(claim, IdempotencyKey):
            return [self.shared.key("idempotency", _digest(claim.subject), _digest(claim.key))]
        # A delivery is the same delivery by its id or by its body, as in the database.
        found = [self.shared.key("delivery", claim.source, "body", claim.body_sha256)]
        if claim.delivery_id is not None:
            found.insert(
                0, self.shared.key("delivery", claim.source, "id", _digest(claim.delivery_id))
            )
        return found

    async def find(self, claim: IdempotencyKey | Delivery) -> Answer | None:
        for key in self.keys(claim):
            kept = await self.shared.get_json(key)
            if not isinstance(kept, dict):
                continue
            if isinstance(claim, IdempotencyKey) and kept.get("requestHash") != claim.request_hash:
                # Reused with another body: the database path answers 422.
                return None
            return Answer(status_code=int(kept["status"]), body=kept["body"], replayed=True)
        return None

    async def keep(
        self, claim: IdempotencyKey | Delivery, answer: Answer, *, ttl_seconds: float
    ) -> None:
        value: dict[str, Any] = {"status": answer.status_code, "body": answer.body}
        if isinstance(claim, IdempotencyKey):
            value["requestHash"] = claim.request_hash
        for key in self.keys(claim):
            await self.shared.set_json(key, value, ttl_seconds=ttl_seconds)


class Once:
    def __init__(
        self,
        *,
        database: Database,
        incidents: IncidentService,
        replay_window: timedelta,
        shared: SharedState | None = None,
    ) -> None:
        self.database = database
        self.incidents = incidents
        self.replay_window = replay_window
        self.answers = SharedAnswers(shared) if shared is not None else None

    def _forgotten_after(self, claim: IdempotencyKey | Delivery) -> timedelta:
        return (
            self.incidents.idempotency_ttl
            if isinstance(claim, IdempotencyKey)
            else self.replay_window
        )

    async def run(self, claim: IdempotencyKey | Delivery, work: Work) -> Answer:
        if self.answers is not None:
            copied = await self.answers.find(claim)
            if copied is not None:
                return copied
        claimed_at = time.monotonic()
        answer = await self._run(claim, work)
        if self.answers is not None and not answer.replayed:
            # Kept no longer than the database keeps it (counted from this, the first claim).
            ttl = self._forgotten_after(claim).total_seconds() - (time.monotonic() - claimed_at)
            await self.answers.keep(claim, answer, ttl_seconds=ttl)
        return answer

    async def _run(self, claim: IdempotencyKey | Delivery, work: Work) -> Answer:
        await self.incidents.start_claiming()
        async with self.database.unit_of_work() as session:
            if isinstance(claim, IdempotencyKey):
                key = await self.incidents.claim_idempotency_key(
                    session,
                    subject=claim.subject,
                    key=claim.key,
                    request_hash=claim.request_hash,
                )
                fresh, record, status, stored = key.fresh, None, key.status_code, key.response
            else:
                seen = await self.incidents.claim_delivery(
                    session,
                    source=claim.source,
                    delivery_id=claim.delivery_id,
                    body_sha256=claim.body_sha256,
                    window=self.replay_window,
                )
                fresh, record = seen.fresh, seen.delivery_id
                status, stored = seen.status_code, seen.response
        if not fresh:
            return Answer(status_code=status or 200, body=stored or {}, replayed=True)
        try:
            answer = await work(record)
        except BaseException:
            async with self.database.unit_of_work() as session:
                await self._release(session, claim, record)
            raise
        async with self.database.unit_of_work() as session:
            if isinstance(claim, IdempotencyKey):
                await self.incidents.complete_idempotency_key(
                    session,
                    subject=claim.subject,
                    key=claim.key,
                    status_code=answer.status_code,
                    response=answer.body,
                )
            else:
                assert record is not None
                await self.incidents.complete_delivery(
                    session,
                    record,
                    shape=claim.shape,
                    status_code=answer.status_code,
                    response=answer.body,
                )
        return answer

    async def _release(
        self, session: AsyncSession, claim: IdempotencyKey | Delivery, record: str | None
    ) -> None:
        if isinstance(claim, IdempotencyKey):
            await self.incidents.release_idempotency_key(
                session, subject=claim.subject, key=claim.key
            )
        elif record is not None:
            await self.incidents.release_delivery(session, record)
