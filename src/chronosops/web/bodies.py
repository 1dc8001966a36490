"""Reading JSON request bodies: media type, syntax, and what storage can hold, as 4xx errors."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from chronosops.core.errors import FieldError
from chronosops.core.json_documents import parse_json
from chronosops.web.errors import UnsupportedMediaTypeError

__all__ = ["is_json", "parse_json", "read_json"]


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def read_json(request: Request, *, require_json_type: bool = True) -> tuple[bytes, Any]:
    """The raw body and its JSON document. Vendor webhooks may label JSON as anything."""
    if require_json_type and not is_json(request.headers.get("content-type")):
        raise UnsupportedMediaTypeError(
            "Unsupported media type: send the body as application/json",
            [FieldError("Content-Type", "must be application/json")],
        )
    raw = await request.body()
    return raw, parse_json(raw)
