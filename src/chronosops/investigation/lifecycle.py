"""Working an incident: acknowledge, resolve, reopen and edit it, each change audited.

The same use case serves the API, the console, the CLI and vendor acknowledge/resolve events,
so a change made anywhere reads the same in the audit log: who (``actor``), through what
(``via``: api, console, cli, or the vendor event) and the fields' from/to.
"""

from __future__ import annotations

from typing import Any

import structlog

from chronosops.audit import AuditLog, EntityType, EventType
from chronosops.core.canonical import sha256_hex
from chronosops.incidents import IncidentService, LifecycleChange, NoteRead, Transition
from chronosops.investigation.notify import Notifier
from chronosops.storage import Database

log = structlog.get_logger(__name__)

TRANSITION_EVENTS: dict[Transition, EventType] = {
    "acknowledge": EventType.INCIDENT_ACKNOWLEDGED,
    "unacknowledge": EventType.INCIDENT_UNACKNOWLEDGED,
    "resolve": EventType.INCIDENT_RESOLVED,
    "reopen": EventType.INCIDENT_REOPENED,
}


class IncidentLifecycle:
    def __init__(
        self,
        *,
        database: Database,
        incidents: IncidentService,
        audit: AuditLog,
        notifier: Notifier | None = None,
    ) -> None:
        self.database = database
        self.incidents = incidents
        self.audit = audit
        self.notifier = notifier

    async def transition(
        self,
        incident_id: str,
        transition: Transition,
        *,
        by: str,
        via: str,
        strict: bool = True,
        delivery: str | None = None,
    ) -> LifecycleChange:
        """Apply the transition and audit it in one transaction (nothing is audited if unchanged)."""
        async with self.database.unit_of_work() as session:
            change = await self.incidents.transition(
                session, incident_id, transition, by=by, strict=strict
            )
            if change.changed:
                payload: dict[str, Any] = {
                    "incidentId": incident_id,
                    "transition": transition,
                    "via": via,
                    "changes": change.changes,
                }
                if delivery is not None:
                    payload["delivery"] = delivery
                if self.notifier is not None:
                    await self.notifier.emit(
                        session,
                        "lifecycle.changed",
                        change.incident,
                        by=by,
                        lifecycle={
                            "state": change.incident.lifecycle.state,
                            "transition": transition,
                            "by": by,
                            "via": via,
                        },
                    )
                await self.audit.record(
                    session,
                    event_type=TRANSITION_EVENTS[transition],
                    entity_type=EntityType.INCIDENT,
                    entity_id=incident_id,
                    incident_id=incident_id,
                    actor=by,
                    payload=payload,
                )
        if change.changed:
            log.info("incident.lifecycle", incident_id=incident_id, transition=transition, via=via)
        return change

    async def edit(
        self, incident_id: str, values: dict[str, Any], *, by: str, via: str
    ) -> LifecycleChange:
        """Set assignee / severity / title and audit what changed."""
        async with self.database.unit_of_work() as session:
            change = await self.incidents.edit(session, incident_id, values)
            if change.changed:
                await self.audit.record(
                    session,
                    event_type=EventType.INCIDENT_UPDATED,
                    entity_type=EntityType.INCIDENT,
                    entity_id=incident_id,
                    incident_id=incident_id,
                    actor=by,
                    payload={"incidentId": incident_id, "via": via, "changes": change.changes},
                )
        return change

    async def add_note(self, incident_id: str, body: str, *, by: str, via: str) -> NoteRead:
        """Keep a note and audit it (the audit event holds the text's hash, not the text)."""
        async with self.database.unit_of_work() as session:
            note = await self.incidents.add_note(session, incident_id, body, author=by)
            await self.audit.record(
                session,
                event_type=EventType.INCIDENT_NOTE_ADDED,
                entity_type=EntityType.INCIDENT_NOTE,
                entity_id=note.id,
                incident_id=incident_id,
                actor=by,
                payload={
                    "incidentId": incident_id,
                    "noteId": note.id,
                    "via": via,
                    "bodySha256": sha256_hex(body.encode()),
                    "length": len(body),
                },
            )
        return note
