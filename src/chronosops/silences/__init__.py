"""Silences (maintenance windows): matching alerts are stored and audited, not analysed or
notified, and show as silenced."""

from chronosops.silences.errors import SilenceAlreadyExpiredError, SilenceNotFoundError
from chronosops.silences.schemas import (
    IncidentFacts,
    Matchers,
    SilenceCreate,
    SilenceRead,
    SilenceState,
)
from chronosops.silences.service import SilenceService, matches

__all__ = [
    "IncidentFacts",
    "Matchers",
    "SilenceAlreadyExpiredError",
    "SilenceCreate",
    "SilenceNotFoundError",
    "SilenceRead",
    "SilenceService",
    "SilenceState",
    "matches",
]
