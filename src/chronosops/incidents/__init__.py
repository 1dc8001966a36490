"""Incidents: stored exactly once per source reference and occurrence, read back with filters,
resolved by reference, and the vendor deliveries already seen."""

from chronosops.incidents.errors import (
    DeliveryInFlightError,
    IdempotencyKeyInFlightError,
    IdempotencyKeyReusedError,
    IncidentNotFoundError,
    LifecycleTransitionError,
)
from chronosops.incidents.schemas import (
    INCIDENT_STATUSES,
    LIFECYCLE_STATES,
    DeliveryClaim,
    DeliveryRead,
    IdempotencyClaim,
    IncidentFilter,
    IncidentPage,
    IncidentRead,
    IncidentStatus,
    IncidentSummary,
    Lifecycle,
    LifecycleChange,
    Registration,
    Resolution,
    ResolutionOutcome,
    Transition,
)
from chronosops.incidents.service import IncidentService

__all__ = [
    "INCIDENT_STATUSES",
    "LIFECYCLE_STATES",
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
    "Lifecycle",
    "LifecycleChange",
    "LifecycleTransitionError",
    "Registration",
    "Resolution",
    "ResolutionOutcome",
    "Transition",
]
