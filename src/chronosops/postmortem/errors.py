from __future__ import annotations

from chronosops.core.errors import NotFoundError


class PostmortemNotFoundError(NotFoundError):
    code = "postmortem-not-found"

    def __init__(self, postmortem_id: str) -> None:
        super().__init__(f"Postmortem not found: {postmortem_id}")
