from __future__ import annotations

from chronosops.core.errors import ConflictError


class ChangeIdConflictError(ConflictError):
    code = "change-id-conflict"

    def __init__(self, change_id: str) -> None:
        super().__init__(
            f"A change with changeId {change_id!r} was already recorded with different "
            "content; send the same content to retry, or use a new changeId"
        )
