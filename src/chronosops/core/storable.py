"""Whether a parsed JSON document can be stored as it is.

PostgreSQL refuses the NUL character in text and in JSONB (SQLite does not), and documents
nested deeper than the JSON encoders and hashers recurse fail far from where they came in. A
document is checked once, where it enters, so that both are a 400 naming the place instead of
a 500 on one database and not the other.
"""

from __future__ import annotations

from typing import Any

from chronosops.core.errors import FieldError

# Deeper than any vendor payload (they stay under 10 levels), far below Python's recursion limit.
MAX_DEPTH = 64
NUL = "\x00"


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def unstorable(document: Any, *, max_depth: int = MAX_DEPTH) -> FieldError | None:
    """The first place that cannot be stored (a NUL character, too deep a nesting), or None."""
    stack: list[tuple[Any, str, int]] = [(document, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if NUL in value:
                return FieldError(path, "must not contain the NUL character (\\u0000)")
        elif isinstance(value, dict | list):
            if depth > max_depth:
                return FieldError(path, f"is nested deeper than {max_depth} levels")
            pairs = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in pairs:
                if isinstance(key, str) and NUL in key:
                    return FieldError(
                        path, "has a key with the NUL character (\\u0000), which cannot be stored"
                    )
                stack.append((item, _join(path, key), depth + 1))
    return None
