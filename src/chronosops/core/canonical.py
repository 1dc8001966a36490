"""RFC 8785 canonical JSON and the SHA-256 content hashes built on it.

Every hash ChronosOps stores (evidence bundles, audit events, prompt traces) goes through
`canonical_json`, so two machines agree on the bytes: sorted keys, no whitespace, and
numbers printed the way ECMAScript prints them (``1`` not ``1.0``, ``0.00005`` not ``5e-05``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

from chronosops.core.errors import FieldError

HASH_ALGORITHM = "sha256"
# RFC 8785 prints numbers as ECMAScript does, so it refuses integers a double cannot hold exactly.
MAX_SAFE_INTEGER = 2**53 - 1


# For documents json's C encoder already writes as RFC 8785 does (see `_plain`): many times
# faster than rfc8785's pure-Python encoder, and every audit event and bundle is hashed.
_PLAIN_ENCODER = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)


def _plain(value: Any) -> bool:
    """True when ``json.dumps`` writes ``value`` byte for byte as RFC 8785 does: no floats
    (ECMAScript prints them differently), integers a double holds exactly, only str, int,
    bool, None, lists, tuples and dicts, and dict keys within the Basic Multilingual Plane
    (RFC 8785 sorts keys by UTF-16 code units, which orders the same as code points there).
    Escaping agrees: both escape only ``"``, ``\\`` and control characters, the same way."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
            return False
        if kind is dict:
            for key in item:
                if type(key) is not str or (not key.isascii() and max(key) > "\uffff"):
                    return False
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        else:
            return False
    return True


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 serialisation of a JSON-compatible value."""
    if _plain(value):
        try:
            return _PLAIN_ENCODER.encode(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: let rfc8785 say what it makes of it
    return rfc8785.dumps(value)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_hash(value: Any) -> str:
    """SHA-256 hex of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))


def beyond_canonical_range(value: Any, path: str) -> FieldError | None:
    """The first integer in ``value`` that canonical JSON cannot hash, as a field error, or None.

    Check a document with this before hashing it, so the caller hears which field is at fault
    rather than a 500 from the encoder.
    """
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, bool):
            continue
        if isinstance(item, int) and abs(item) > MAX_SAFE_INTEGER:
            return FieldError(
                where,
                f"must be an integer within ±{MAX_SAFE_INTEGER} (2^53 - 1); send it as a string",
            )
        if isinstance(item, dict):
            stack.extend(
                (child, f"{where}.{key}" if where else str(key)) for key, child in item.items()
            )
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{index}]") for index, child in enumerate(item))
    return None
