from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from chronosops.core.timestamps import Instant, format_instant

GENESIS = "GENESIS"


class EventType(StrEnum):
    INCIDENT_CREATED = "INCIDENT_CREATED"
    INCIDENT_UPDATED = "INCIDENT_UPDATED"
    INCIDENT_FAILED = "INCIDENT_FAILED"
    INCIDENT_RESOLVED = "INCIDENT_RESOLVED"
    INCIDENT_ACKNOWLEDGED = "INCIDENT_ACKNOWLEDGED"
    INCIDENT_UNACKNOWLEDGED = "INCIDENT_UNACKNOWLEDGED"
    INCIDENT_REOPENED = "INCIDENT_REOPENED"
    INCIDENT_NOTE_ADDED = "INCIDENT_NOTE_ADDED"
    INCIDENT_SILENCED = "INCIDENT_SILENCED"
    INCIDENT_ALERT_JOINED = "INCIDENT_ALERT_JOINED"
    SILENCE_CREATED = "SILENCE_CREATED"
    SILENCE_EXPIRED = "SILENCE_EXPIRED"
    SOURCE_RESOLVE_UNMATCHED = "SOURCE_RESOLVE_UNMATCHED"
    EVIDENCE_BUNDLE_CREATED = "EVIDENCE_BUNDLE_CREATED"
    EVIDENCE_BUNDLE_ATTACHED = "EVIDENCE_BUNDLE_ATTACHED"
    ANALYSIS_CREATED = "ANALYSIS_CREATED"
    PROMPT_TRACE_CREATED = "PROMPT_TRACE_CREATED"
    CHANGE_RECORDED = "CHANGE_RECORDED"
    SIGNED_IN = "SIGNED_IN"
    SIGNED_OUT = "SIGNED_OUT"
    SIGN_IN_LINK_ISSUED = "SIGN_IN_LINK_ISSUED"
    POSTMORTEM_CREATED = "POSTMORTEM_CREATED"
    INVESTIGATION_STARTED = "INVESTIGATION_STARTED"
    INVESTIGATION_ITERATION_RECORDED = "INVESTIGATION_ITERATION_RECORDED"
    INVESTIGATION_FINISHED = "INVESTIGATION_FINISHED"
    INVESTIGATION_CANCEL_REQUESTED = "INVESTIGATION_CANCEL_REQUESTED"


class EntityType(StrEnum):
    INCIDENT = "INCIDENT"
    EVIDENCE_BUNDLE = "EVIDENCE_BUNDLE"
    INCIDENT_ANALYSIS = "INCIDENT_ANALYSIS"
    INCIDENT_NOTE = "INCIDENT_NOTE"
    SILENCE = "SILENCE"
    PROMPT_TRACE = "PROMPT_TRACE"
    SOURCE_EVENT = "SOURCE_EVENT"
    CHANGE = "CHANGE"
    CONSOLE_SESSION = "CONSOLE_SESSION"
    SIGN_IN_LINK = "SIGN_IN_LINK"
    POSTMORTEM = "POSTMORTEM"
    INVESTIGATION_SESSION = "INVESTIGATION_SESSION"


class CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, serialize_by_alias=True, validate_by_name=True, frozen=True
    )


class AuditEventRead(CamelModel):
    id: str
    chain_id: str
    seq: int
    prev_hash: str
    incident_id: str | None
    incident_seq: int | None
    incident_prev_hash: str | None
    hash: str
    event_type: str
    entity_type: str
    entity_id: str
    entity_ref: str | None
    actor: str | None
    occurred_at: Instant
    payload: dict[str, Any]


class VerificationFailure(CamelModel):
    seq: int
    # None when no event is at fault but the chain disagrees with a signed checkpoint
    # (its last events were deleted).
    event_id: str | None
    event_type: str | None
    reason: str


class CheckpointRead(CamelModel):
    """A signed record of the chain's head: seq and hash at ``createdAt``."""

    chain_id: str
    seq: int
    hash: str
    created_at: Instant
    key_id: str
    signature: str


# What the comparison with the latest signed checkpoint found:
# MATCHED: the chain holds the checkpoint's head, so nothing up to it was deleted or rewritten;
# FAILED: it does not (see firstFailure); NO_CHECKPOINT: none written yet;
# NO_KEY: no checkpoint key is configured, so checkpoints cannot be trusted or written.
CheckpointStatus = Literal["MATCHED", "FAILED", "NO_CHECKPOINT", "NO_KEY"]


class Verification(CamelModel):
    incident_id: str
    chain_id: str
    ok: bool
    status: Literal["VERIFIED", "FAILED"]
    verified_count: int
    total_events: int
    first_failure: VerificationFailure | None
    verified_at: Instant
    checkpoint_status: CheckpointStatus = "NO_CHECKPOINT"
    # The incident's head as the latest checkpoint that covers it signed it.
    checkpointed_incident_seq: int | None = None


class ChainVerification(CamelModel):
    """The whole chain re-hashed and every link checked, global and per incident."""

    chain_id: str
    ok: bool
    status: Literal["VERIFIED", "FAILED"]
    verified_count: int
    total_events: int
    first_failure: VerificationFailure | None
    # The last verified link: write it down elsewhere, and a later rewrite of the whole chain
    # (which re-hashing alone cannot catch) shows as a different hash at that seq.
    head_seq: int | None
    head_hash: str | None
    verified_at: Instant
    checkpoint_status: CheckpointStatus = "NO_CHECKPOINT"
    checkpoint: CheckpointRead | None = None


@dataclass(frozen=True)
class AuditFilter:
    event_type: str | None = None
    entity_type: str | None = None
    actor: str | None = None
    incident_id: str | None = None


@dataclass(frozen=True)
class AuditEventPage:
    items: list[AuditEventRead]
    next_cursor: str | None


def hash_input(
    *,
    chain_id: str,
    seq: int,
    prev_hash: str,
    incident_id: str | None,
    incident_seq: int | None,
    incident_prev_hash: str | None,
    event_type: str,
    entity_type: str,
    entity_id: str,
    entity_ref: str | None,
    actor: str | None,
    occurred_at: datetime,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """What an event's hash covers: every stored field but its own id and hash."""
    return {
        "chainId": chain_id,
        "seq": seq,
        "prevHash": prev_hash,
        "incidentId": incident_id,
        "incidentSeq": incident_seq,
        "incidentPrevHash": incident_prev_hash,
        "eventType": event_type,
        "entityType": entity_type,
        "entityId": entity_id,
        "entityRef": entity_ref,
        "actor": actor,
        "occurredAt": format_instant(occurred_at),
        "payload": payload,
    }
