"""Log templates: the clustering key that turns many log lines into a few patterns.

The rules follow the reference spec §4.5 so that templates are stable across versions:
lower-case, then variable parts become placeholders (UUIDs, hex literals, numbers, long
tokens), whitespace collapses, and the result is cut at 300 characters.
"""

from __future__ import annotations

import re

TEMPLATE_MAX = 300

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}")
_HEX = re.compile(r"\b0x[0-9a-f]+\b")
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")
_TOKEN = re.compile(r"\b[a-z0-9+/]{20,}={0,2}")
_SPACES = re.compile(r"\s+")


def log_template(message: str) -> str:
    """The template of one log message, e.g. ``user <uuid> failed after <num>.5s at <hex>``."""
    text = message.lower()
    text = _UUID.sub("<uuid>", text)
    text = _EMAIL.sub("<email>", text)
    text = _HEX.sub("<hex>", text)
    text = _NUMBER.sub("<num>", text)
    text = _TOKEN.sub("<token>", text)
    text = _SPACES.sub(" ", text).strip()
    return text[:TEMPLATE_MAX] or "<empty>"
