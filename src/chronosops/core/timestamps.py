"""Instants: strict ISO 8601 parsing, UTC storage, one rendering.

The ingest contract says "strict ISO 8601": a full date, a ``T``, a time to at least the
second and an explicit zone (``Z`` or ``±HH:MM``). A zone-less time is rejected rather than
guessed, because the same wall-clock time means different instants on different machines.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timezone
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_STRICT_ISO = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2})(?P<frac>\.\d{1,9})?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})$"
)

ISO_RULE = "must be an ISO 8601 date-time with a zone, e.g. 2024-01-15T10:00:00Z"
MAX_OFFSET_HOURS = 23
MAX_OFFSET_MINUTES = 59


# Evidence repeats its instants (every series of a scrape shares one): each is parsed once.
# A datetime is immutable, so sharing one between callers is safe; a rejected text is not kept.
@lru_cache(maxsize=4096)
def parse_instant(text: str) -> datetime:
    """Parse a strict ISO 8601 instant into an aware UTC datetime, or raise ValueError."""
    match = _STRICT_ISO.match(text)
    if match is None:
        raise ValueError(ISO_RULE)
    frac = match["frac"] or ""
    # Python keeps microseconds; extra digits of a nanosecond timestamp are dropped, not rounded,
    # so that an instant never moves into the next microsecond.
    frac = frac[:7]
    zone = "+00:00" if match["zone"] == "Z" else match["zone"]
    if int(zone[1:3]) > MAX_OFFSET_HOURS or int(zone[4:6]) > MAX_OFFSET_MINUTES:
        # Python's own words for it name its classes: "offset must be a timedelta strictly
        # between -timedelta(hours=24) and …".
        raise ValueError(f"{ISO_RULE} (the zone offset {zone} is beyond ±23:59)")
    try:
        parsed = datetime.fromisoformat(f"{match['date']}T{match['time']}{frac}{zone}")
    except ValueError as exc:  # e.g. month 13, 25:00
        raise ValueError(f"{ISO_RULE} ({exc})") from None
    return _to_utc(parsed)


OUT_OF_RANGE = "is outside the years 0001 to 9999 once converted to UTC"


def _to_utc(value: datetime) -> datetime:
    """``value`` in UTC, or ValueError when that falls off the calendar Python can hold
    (``9999-12-31T23:59:59-14:00``, ``0001-01-01T00:00:00+14:00``)."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(OUT_OF_RANGE) from None


def format_instant(value: datetime) -> str:
    """Render an instant as ``2024-01-15T10:00:00.000Z`` (UTC, millisecond precision)."""
    if type(value) is datetime and (value.tzinfo is None or type(value.tzinfo) is timezone):
        return _format_fixed_offset(value)
    return _format_instant(value)


def _format_instant(value: datetime) -> str:
    # The date and the time printed apart: the same text as the aware instant's
    # ``isoformat(timespec="milliseconds")`` with "Z" for "+00:00", without printing an offset
    # only to replace it, or ``replace(tzinfo=...)``'s keyword parsing (~1 µs each, 2 of the
    # 3 a format cost; docs/benchmarks.md, twenty-fifth pass). A naive value is taken as UTC.
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.date().isoformat() + "T" + value.time().isoformat("milliseconds") + "Z"


# An ingest renders ~29 instants, ~5 of them distinct (its clock's now, the alert's times),
# each ~1.3 µs. Only naive and fixed-offset values are remembered: datetimes equal under those
# are the same instant (a naive one never equals an aware one), whereas two wall times in one
# zone with DST compare equal whatever their fold, and are not.
@lru_cache(maxsize=1024)
def _format_fixed_offset(value: datetime) -> str:
    return _format_instant(value)


def ensure_utc(value: datetime) -> datetime:
    """Aware UTC datetime; naive values (as SQLite returns them) are taken to be UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _coerce_instant(value: Any) -> Any:
    if isinstance(value, str):
        return parse_instant(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(ISO_RULE)
        return _to_utc(value)
    raise ValueError(ISO_RULE)


Instant = Annotated[
    datetime,
    BeforeValidator(_coerce_instant),
    PlainSerializer(format_instant, return_type=str, when_used="json"),
]
"""A pydantic field type: accepts strict ISO strings or aware datetimes, holds UTC, renders ISO Z."""
