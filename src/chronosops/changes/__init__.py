"""Change events from CI/CD (deploys, rollbacks, config, flags, infrastructure), and the
evidence source that hands an incident the changes in its window."""

from chronosops.changes.errors import ChangeIdConflictError
from chronosops.changes.schemas import (
    ChangeCreate,
    ChangeFilter,
    ChangePage,
    ChangeRead,
    RecordedChange,
)
from chronosops.changes.service import SOURCE, ChangeService

__all__ = [
    "SOURCE",
    "ChangeCreate",
    "ChangeFilter",
    "ChangeIdConflictError",
    "ChangePage",
    "ChangeRead",
    "ChangeService",
    "RecordedChange",
]
