"""Keyset-pagination cursors: the (instant, id) of the last row a page showed, opaque to callers.

Lists page by keyset, never by OFFSET, so the tenth page costs what the first does; the cursor
carries the sort key of the last row shown.
"""

from __future__ import annotations

import base64
from datetime import datetime

from chronosops.core.errors import FieldError, InvalidInputError
from chronosops.core.timestamps import ensure_utc, parse_instant


def encode_cursor(instant: datetime, row_id: str) -> str:
    # To the microsecond, as the rows hold it: at the API's milliseconds, a row of the next page
    # created in the same millisecond as the last row shown, but after it, fell before the
    # cursor's instant and was never listed.
    raw = (
        f"{ensure_utc(instant).isoformat(timespec='microseconds').replace('+00:00', 'Z')}|{row_id}"
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (instant, id) a cursor carries, or a 400 naming the `cursor` parameter."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, row_id = raw.split("|", 1)
        return parse_instant(stamp), row_id
    except ValueError:
        raise InvalidInputError(
            "Invalid cursor", [FieldError("cursor", "not a cursor returned by this API")]
        ) from None
