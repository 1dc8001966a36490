from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chronosops.core.clock import Clock
from chronosops.core.ids import IdFactory
from chronosops.notifications.errors import NotificationsConfigError
from chronosops.notifications.messages import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    body_for,
    signature,
)
from chronosops.notifications.schemas import DeliveryRead, NotificationsConfig, Receiver
from chronosops.notifications.tables import NotificationDelivery

SEND_TIMEOUT_SECONDS = 5.0
ERROR_MAX = 2000


def load_notifications(path: Path | None) -> NotificationsConfig:
    """The receivers and rules in ``path`` (YAML or JSON); none when no file is set."""
    if path is None:
        return NotificationsConfig()
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        return NotificationsConfig.model_validate(data or {})
    except OSError as exc:
        raise NotificationsConfigError(f"CHRONOSOPS_NOTIFICATIONS_FILE: {exc}") from None
    except (ValueError, yaml.YAMLError) as exc:
        detail = (
            "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in exc.errors()
            )
            if isinstance(exc, ValidationError)
            else str(exc)
        )
        raise NotificationsConfigError(f"CHRONOSOPS_NOTIFICATIONS_FILE {path}: {detail}") from None


def to_read(row: NotificationDelivery) -> DeliveryRead:
    return DeliveryRead(
        id=row.id,
        incident_id=row.incident_id,
        receiver=row.receiver,
        receiver_type=row.receiver_type,
        event=row.event,
        state=row.state,  # type: ignore[arg-type]
        attempts=row.attempts,
        status_code=row.status_code,
        last_error=row.last_error,
        created_at=row.created_at,
        sent_at=row.sent_at,
        message=row.message,
    )


class DeliveryFailedError(Exception):
    """The receiver did not take the message (network error or a non-2xx answer)."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class NotificationService:
    def __init__(
        self, *, clock: Clock, ids: IdFactory, config: NotificationsConfig, http: httpx.AsyncClient
    ) -> None:
        self.clock = clock
        self.ids = ids
        self.config = config
        self.http = http

    def receivers_for(
        self, event: str, *, severity: str | None, service: str | None, environment: str | None
    ) -> list[Receiver]:
        """Each receiver some rule sends this event to (once, in configuration order)."""
        names: list[str] = []
        for rule in self.config.rules:
            if event not in rule.events:
                continue
            if rule.severities and severity not in rule.severities:
                continue
            if rule.services and service not in rule.services:
                continue
            if rule.environments and environment not in rule.environments:
                continue
            names.extend(name for name in rule.receivers if name not in names)
        return [receiver for name in names if (receiver := self.config.receiver(name))]

    async def plan(
        self,
        session: AsyncSession,
        event: str,
        *,
        incident_id: str,
        message: dict[str, Any],
        severity: str | None,
        service: str | None,
        environment: str | None,
    ) -> list[DeliveryRead]:
        """Store one pending delivery per receiver the rules name (in the event's transaction)."""
        rows = []
        for receiver in self.receivers_for(
            event, severity=severity, service=service, environment=environment
        ):
            row = NotificationDelivery(
                id=self.ids.new(),
                incident_id=incident_id,
                receiver=receiver.name,
                receiver_type=receiver.type,
                event=event,
                message=message,
                state="pending",
                attempts=0,
                created_at=self.clock.now(),
            )
            session.add(row)
            rows.append(row)
        if rows:
            await session.flush()
        return [to_read(row) for row in rows]

    async def for_incident(self, session: AsyncSession, incident_id: str) -> Sequence[DeliveryRead]:
        rows = await session.scalars(
            select(NotificationDelivery)
            .where(NotificationDelivery.incident_id == incident_id)
            .order_by(NotificationDelivery.created_at, NotificationDelivery.id)
        )
        return [to_read(row) for row in rows]

    async def pending_count(self, session: AsyncSession) -> int:
        rows = await session.scalars(
            select(NotificationDelivery.id).where(NotificationDelivery.state == "pending")
        )
        return len(list(rows))

    async def get(self, session: AsyncSession, delivery_id: str) -> DeliveryRead | None:
        row = await session.get(NotificationDelivery, delivery_id)
        return to_read(row) if row is not None else None

    async def record_attempt(
        self,
        session: AsyncSession,
        delivery_id: str,
        *,
        state: str,
        status_code: int | None,
        error: str | None,
    ) -> None:
        row = await session.get(NotificationDelivery, delivery_id)
        if row is None:
            return
        row.attempts += 1
        row.state = state
        row.status_code = status_code
        row.last_error = error[:ERROR_MAX] if error else None
        if state == "sent":
            row.sent_at = self.clock.now()
        await session.flush()

    async def send(self, delivery: DeliveryRead) -> int:
        """POST the message to its receiver; the status code, or `DeliveryFailedError`."""
        receiver = self.config.receiver(delivery.receiver)
        if receiver is None:
            raise DeliveryFailedError(f"receiver {delivery.receiver!r} is no longer configured")
        body = body_for(receiver.type, delivery.message)
        headers = {"Content-Type": "application/json", DELIVERY_HEADER: delivery.id}
        if receiver.type == "webhook":
            assert receiver.secret is not None  # guaranteed by Receiver
            timestamp = str(int(self.clock.now().timestamp()))
            headers[EVENT_HEADER] = delivery.event
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = signature(receiver.secret, timestamp, body)
        try:
            response = await self.http.post(
                receiver.url, content=body, headers=headers, timeout=SEND_TIMEOUT_SECONDS
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailedError(f"{type(exc).__name__}: {exc}") from None
        if not 200 <= response.status_code < 300:
            raise DeliveryFailedError(
                f"{receiver.name} answered {response.status_code}: {response.text[:200]}",
                status_code=response.status_code,
            )
        return response.status_code
