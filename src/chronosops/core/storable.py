"""Whether a parsed JSON document can be stored as it is.

PostgreSQL refuses the NUL character in text and in JSONB (SQLite does not), text that is not
valid Unicode (a lone surrogate such as ``"\ud800"``, which JSON's escapes can spell), and the
infinities Python reads from numbers such as ``1e400``; documents nested deeper than the JSON
encoders and hashers recurse fail far from where they came in. A document is checked once,
where it enters, so that each is a 400 naming the place instead of a 500 on one database and
not the other.
"""

from __future__ import annotations

import math
import re
from typing import Any

from chronosops.core.errors import FieldError

# Deeper than any vendor payload (they stay under 10 levels), far below Python's recursion limit.
MAX_DEPTH = 64
NUL = "\x00"
_SURROGATE = re.compile("[\ud800-\udfff]")
NOT_UNICODE = "must be valid Unicode: a lone surrogate (\\ud800-\\udfff) cannot be stored"


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None."""
    if NUL in value:
        return "must not contain the NUL character (\\u0000)"
    if not value.isascii() and _SURROGATE.search(value):
        return NOT_UNICODE
    return None


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _storable_text(value: str) -> bool:
    return NUL not in value and (value.isascii() or _SURROGATE.search(value) is None)


def _fits(value: dict[Any, Any] | list[Any], depth: int, max_depth: int) -> bool:
    """Whether ``value`` can be stored, said without building the path of every item."""
    if depth > max_depth:
        return False
    if isinstance(value, dict):
        for key in value:
            if isinstance(key, str) and not _storable_text(key):
                return False
        items: Any = value.values()
    else:
        items = value
    for item in items:
        if isinstance(item, str):
            if not _storable_text(item):
                return False
        elif isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, dict | list) and not _fits(item, depth + 1, max_depth):
            return False
    return True


def plainly_storable(raw: bytes) -> bool:
    """Whether the JSON text ``raw`` can only parse to a document `unstorable` finds nothing in,
    save for a number beyond a double (`finite_float` says that while parsing), told from its
    bytes: no ``walk`` of the parsed document is needed then (a sixth of a small ingest's
    parsing, docs/benchmarks.md, nineteenth pass). False says only "walk it".

    - A NUL character: in JSON text, only the escape ``\\u0000`` spells one (a raw control
      character in a string is malformed); a NUL byte is how UTF-16 and UTF-32 texts look.
    - A lone surrogate: an escape ``\\ud800``-``\\udfff``, or its bytes in UTF-8 (which
      ``json.loads`` decodes with ``surrogatepass``): ASCII text has neither.
    - Too deep a nesting: no deeper than its count of ``{`` and ``[``, in strings or not.
    """
    return (
        raw.isascii()
        and b"\x00" not in raw
        and b"\\u0000" not in raw
        and b"\\ud" not in raw
        and b"\\uD" not in raw
        and raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH
    )


class NotFiniteError(Exception):
    """A number in a JSON text that a double cannot hold (``1e400``); raised by `finite_float`."""


def finite_float(text: str) -> float:
    """``json.loads``'s ``parse_float`` for a text `plainly_storable` vouched for: the one
    problem its bytes cannot tell, a number beyond a double, stops the parse."""
    value = float(text)
    if not math.isfinite(value):
        raise NotFiniteError(text)
    return value


def unstorable(document: Any, *, max_depth: int = MAX_DEPTH) -> FieldError | None:
    """The first place that cannot be stored (a NUL character, too deep a nesting), or None."""
    # Nearly every document is fine: it is first walked without naming places (a fifth of the
    # time), and walked again naming them only when something is wrong.
    if isinstance(document, dict | list) and _fits(document, 1, max_depth):
        return None
    stack: list[tuple[Any, str, int]] = [(document, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                return FieldError(path, problem)
        elif isinstance(value, float):
            if not math.isfinite(value):
                return FieldError(path, "must be a finite number (1e400 is beyond a double)")
        elif isinstance(value, dict | list):
            if depth > max_depth:
                return FieldError(path, f"is nested deeper than {max_depth} levels")
            pairs = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in pairs:
                if isinstance(key, str) and NUL in key:
                    return FieldError(
                        path, "has a key with the NUL character (\\u0000), which cannot be stored"
                    )
                if isinstance(key, str) and text_problem(key) is not None:
                    return FieldError(
                        path, "has a key that is not valid Unicode (a lone surrogate)"
                    )
                stack.append((item, _join(path, key), depth + 1))
    return None
