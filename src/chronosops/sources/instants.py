"""Vendor times, in every shape vendors send them, as UTC instants.

The ingest contract is strict (ISO 8601 with a zone). Vendors are not: PagerDuty's Events API
writes ``+0000``, Datadog incidents carry microseconds, Google Cloud Monitoring sends epoch
seconds, New Relic epoch milliseconds, Opsgenie epoch nanoseconds, and Go programs
(Alertmanager, Grafana) mark "no time" with the zero time ``0001-01-01T00:00:00Z``. This module
reads them all and says what it assumed.

Epoch numbers carry no unit, so the unit is read from the magnitude: below 10^11 they are
seconds (until the year 5138), below 10^14 milliseconds, below 10^17 microseconds, below 10^20
nanoseconds. Zero and the Go zero time mean "not set".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

_ISO = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:[.,](?P<frac>\d+))?)?"
    r"\s*(?P<zone>[Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$"
)
_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_UNITS = ((1e11, 1), (1e14, 1_000), (1e17, 1_000_000), (1e20, 1_000_000_000))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class VendorInstant:
    """What a vendor time became: an instant (or None when unset or unreadable), and why."""

    value: datetime | None
    problem: str | None = None
    assumed_utc: bool = False


def _from_epoch(number: float) -> VendorInstant:
    if number == 0:
        return VendorInstant(None)
    if number < 0:
        return VendorInstant(None, f"{number!r} is before 1970, not an epoch time")
    for bound, per_second in _UNITS:
        if number < bound:
            if isinstance(number, int):
                # Integer arithmetic, truncating to the microsecond: a float would round
                # nanosecond epochs (Opsgenie) up or down by one microsecond.
                seconds, rest = divmod(number, per_second)
                micros = rest * 1_000_000 // per_second
                return VendorInstant(_EPOCH + timedelta(seconds=seconds, microseconds=micros))
            return VendorInstant(_EPOCH + timedelta(seconds=number / per_second))
    return VendorInstant(None, f"{number!r} is not an epoch time in s, ms, µs or ns")


def _zone_offset(zone: str) -> str:
    if zone in ("Z", "z", "UTC", "GMT"):
        return "+00:00"
    sign, digits = zone[0], zone[1:].replace(":", "")
    hours, minutes = digits[:2], digits[2:4] or "00"
    return f"{sign}{hours}:{minutes}"


def _from_text(value: str) -> VendorInstant:
    stripped = value.strip()
    if not stripped:
        return VendorInstant(None)
    if _NUMBER.match(stripped):
        if len(stripped.split(".")[0]) > 20:
            return VendorInstant(None, "is too large for an epoch time in s, ms, µs or ns")
        return _from_epoch(float(stripped) if "." in stripped else int(stripped))
    match = _ISO.match(stripped)
    if match is None:
        try:
            parsed = parsedate_to_datetime(stripped)  # RFC 2822, as some mailers render dates
        except (TypeError, ValueError, IndexError):
            return VendorInstant(None, f"{value[:64]!r} is not a date-time")
        if parsed.tzinfo is None:
            return VendorInstant(parsed.replace(tzinfo=UTC), assumed_utc=True)
        return VendorInstant(parsed.astimezone(UTC))
    frac = (match["frac"] or "")[:6].ljust(6, "0") if match["frac"] else "000000"
    zone = match["zone"]
    text = (
        f"{match['date']}T{match['hour']}:{match['minute']}:{match['second'] or '00'}.{frac}"
        f"{_zone_offset(zone) if zone else '+00:00'}"
    )
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        return VendorInstant(None, f"{value[:64]!r} is not a date-time ({exc})")
    if parsed.year <= 1:  # Go's zero time, "0001-01-01T00:00:00Z": no time at all
        return VendorInstant(None)
    try:
        instant = parsed.astimezone(UTC)
    except OverflowError:
        return VendorInstant(None, f"{value[:64]!r} is out of range")
    return VendorInstant(instant, assumed_utc=zone is None)


def read_instant(value: Any) -> VendorInstant:
    """Any vendor time (ISO text with or without a zone, epoch number or digits) as UTC."""
    if value is None or isinstance(value, bool):
        return VendorInstant(None)
    if isinstance(value, int | float):
        if isinstance(value, int) and abs(value) >= 10**20:
            return VendorInstant(None, "is too large for an epoch time in s, ms, µs or ns")
        if isinstance(value, float) and not math.isfinite(value):
            return VendorInstant(None, f"{value!r} is not a time")
        return _from_epoch(value)
    if isinstance(value, str):
        return _from_text(value)
    return VendorInstant(None, "is not a time (expected text or an epoch number)")
