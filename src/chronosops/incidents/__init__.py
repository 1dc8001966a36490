"""Incidents: stored exactly once per source reference and occurrence, read back with filters,
resolved by reference, and the vendor deliveries already seen."""

from chronosops.incidents.errors import (
    DeliveryInFlightError,
    IdempotencyKeyInFlightError,
    IdempotencyKeyReusedError,
    IncidentNotFoundError,
)
from chronosops.incidents.schemas import (
    INCIDENT_STATUSES,
    DeliveryClaim,
    DeliveryRead,
    IdempotencyClaim,
    IncidentFilter,
    IncidentPage,
    IncidentRead,
    IncidentStatus,
    IncidentSummary,
    Registration,
    Resolution,
    ResolutionOutcome,
)
from chronosops.incidents.service import IncidentService

__all__ = [
    "INCIDENT_STATUSES",
    "DeliveryClaim",
    "DeliveryInFlightError",
    "DeliveryRead",
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
    "Resolution",
    "ResolutionOutcome",
]
