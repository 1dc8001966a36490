"""Doing a client's request once: an ``Idempotency-Key`` or a vendor's delivery is claimed,
the work runs, and its answer is kept and given again to every repeat.

One use case for both doors (``POST /v1/incidents/ingest`` and ``POST /v1/webhooks/{source}``):

1. claim the key in its own short transaction: a key already answered returns that answer
   (``replayed``); a key still in flight in a live process is a conflict; a key whose holder
   died is taken over at once (`chronosops.storage.Liveness`);
2. run the work, which returns the answer (the edge decides its status code);
3. keep the answer with the key. If the work fails, the claim is released, so the client's
   retry runs again instead of being told it succeeded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.incidents import IncidentService
from chronosops.storage import Database


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


class Once:
    def __init__(
        self, *, database: Database, incidents: IncidentService, replay_window: timedelta
    ) -> None:
        self.database = database
        self.incidents = incidents
        self.replay_window = replay_window

    async def run(self, claim: IdempotencyKey | Delivery, work: Work) -> Answer:
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
