"""Keyset cursors carry the last row's sort key exactly as the rows hold it."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

from chronosops.storage.cursors import decode_cursor, encode_cursor


def test_a_cursor_keeps_the_instant_to_the_microsecond() -> None:
    # Rows created within one millisecond sort by their microseconds: a cursor rounded to the
    # millisecond skipped the rows of the next page created in it after the last row shown.
    instant = datetime(2026, 12, 6, 10, 0, 0, 123456, tzinfo=UTC)
    assert decode_cursor(encode_cursor(instant, "inc_1")) == (instant, "inc_1")


def test_a_naive_or_offset_instant_is_read_as_the_same_utc_instant() -> None:
    # SQLite gives the rows' instants back naive (UTC).
    expected = datetime(2026, 12, 6, 10, 0, 0, 5, tzinfo=UTC)
    naive = expected.replace(tzinfo=None)
    offset = datetime(2026, 12, 6, 11, 0, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    assert decode_cursor(encode_cursor(naive, "a"))[0] == expected
    assert decode_cursor(encode_cursor(offset, "a"))[0] == expected


def test_a_cursor_made_at_milliseconds_is_still_read() -> None:
    older = base64.urlsafe_b64encode(b"2026-12-06T10:00:00.123Z|inc_9").decode().rstrip("=")
    assert decode_cursor(older) == (datetime(2026, 12, 6, 10, 0, 0, 123000, tzinfo=UTC), "inc_9")
