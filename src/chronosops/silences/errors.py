from __future__ import annotations

from chronosops.core.errors import ConflictError, NotFoundError


class SilenceNotFoundError(NotFoundError):
    code = "silence-not-found"

    def __init__(self, silence_id: str) -> None:
        super().__init__(f"Silence not found: {silence_id}")


class SilenceAlreadyExpiredError(ConflictError):
    code = "silence-expired"

    def __init__(self, silence_id: str) -> None:
        super().__init__(f"Silence {silence_id} has already expired")
