"""Tamper-evident, append-only record of what happened to each incident."""

from chronosops.audit.checkpoints import CheckpointPolicy
from chronosops.audit.schemas import (
    GENESIS,
    AuditEventPage,
    AuditEventRead,
    AuditFilter,
    ChainVerification,
    CheckpointRead,
    CheckpointStatus,
    EntityType,
    EventType,
    Verification,
    VerificationFailure,
    hash_input,
)
from chronosops.audit.service import AuditLog

__all__ = [
    "GENESIS",
    "AuditEventPage",
    "AuditEventRead",
    "AuditFilter",
    "AuditLog",
    "ChainVerification",
    "CheckpointPolicy",
    "CheckpointRead",
    "CheckpointStatus",
    "EntityType",
    "EventType",
    "Verification",
    "VerificationFailure",
    "hash_input",
]
