"""Tamper-evident, append-only record of what happened to each incident."""

from chronosops.audit.schemas import (
    GENESIS,
    AuditEventRead,
    EntityType,
    EventType,
    Verification,
    VerificationFailure,
)
from chronosops.audit.service import AuditLog

__all__ = [
    "GENESIS",
    "AuditEventRead",
    "AuditLog",
    "EntityType",
    "EventType",
    "Verification",
    "VerificationFailure",
]
