"""Incidents: stored exactly once per source reference and occurrence, read back with filters."""

from chronosops.incidents.errors import (
    IdempotencyKeyInFlightError,
    IdempotencyKeyReusedError,
    IncidentNotFoundError,
)
from chronosops.incidents.schemas import (
    INCIDENT_STATUSES,
    IdempotencyClaim,
    IncidentFilter,
    IncidentPage,
    IncidentRead,
    IncidentStatus,
    IncidentSummary,
    Registration,
)
from chronosops.incidents.service import IncidentService

__all__ = [
    "INCIDENT_STATUSES",
    "IdempotencyClaim",
    "IdempotencyKeyInFlightError",
    "IdempotencyKeyReusedError",
    "IncidentFilter",
    "IncidentNotFoundError",
    "IncidentPage",
    "IncidentRead",
    "IncidentService",
    "IncidentStatus",
    "IncidentSummary",
    "Registration",
]
