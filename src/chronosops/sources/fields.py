"""Reading vendor JSON defensively: a missing field or a field of the wrong type is absent.

Vendor payloads drift (a template renders a number where a string was expected, an optional
object is ``null``), so sources read through these helpers instead of indexing, and decide
themselves which absences are errors.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def at(value: Any, *path: str | int) -> Any:
    """The value at ``path`` inside dicts and lists, or None if any step is missing."""
    for step in path:
        if isinstance(step, str) and isinstance(value, Mapping):
            value = value.get(step)
        elif isinstance(step, int) and isinstance(value, list) and -len(value) <= step < len(value):
            value = value[step]
        else:
            return None
    return value


def mapping(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, Mapping) else None


def items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def text(value: Any) -> str | None:
    """A string as sent (not stripped), a number as its digits; blank and other types → None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def first_text(*values: Any) -> str | None:
    for value in values:
        found = text(value)
        if found is not None:
            return found
    return None


def flat_text(value: Any) -> str:
    """Any JSON value as one string: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def names(value: Any, key: str = "summary") -> list[str]:
    """Strings of a list, or the ``key`` of each object in it (PagerDuty references, etc.)."""
    found: list[str] = []
    for item in items(value):
        name = text(item) if not isinstance(item, Mapping) else text(item.get(key))
        if name is not None:
            found.append(name)
    return found
