"""Trace and span ids in one spelling, whichever backend wrote them.

A log line is placed in the span that logged it by its span id (`core.log_statements`), so the
id a log backend attached to a record and the id the trace backend gave the span must be
spelled alike. OpenTelemetry writes them as lower-case hex (16 digits for a span, 32 for a
trace) and most backends keep that; two write decimal: Cloud Trace's v1 API (``spanId`` is a
uint64 in decimal) and Datadog (``dd.span_id``/``dd.trace_id`` on logs and spans). Collectors
turn those into hex here, at the boundary, so that a Datadog log line meets the OpenTelemetry
span it came from.
"""

from __future__ import annotations

from typing import Any

# A uint64 in decimal has at most 20 digits; a 128-bit trace id at most 39.
_DECIMAL_DIGITS_MAX = 39


def hex_id(value: Any) -> str | None:
    """An id as a backend wrote it in hex: trimmed and lower-cased; None when empty or not text."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    return text or None


def hex_of_decimal(value: Any) -> str | None:
    """An id a backend writes in decimal as hex: 16 digits for a 64-bit id, 32 above that (a
    128-bit trace id). None when it is not a non-negative decimal integer."""
    text = (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )
    if not text.isdigit() or not text.isascii() or len(text) > _DECIMAL_DIGITS_MAX:
        return None
    number = int(text)
    if number >= 1 << 128:
        return None
    return f"{number:016x}" if number < 1 << 64 else f"{number:032x}"


__all__ = ["hex_id", "hex_of_decimal"]
