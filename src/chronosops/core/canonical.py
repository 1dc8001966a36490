"""RFC 8785 canonical JSON and the SHA-256 content hashes built on it.

Every hash ChronosOps stores (evidence bundles, audit events, prompt traces) goes through
`canonical_json`, so two machines agree on the bytes: sorted keys, no whitespace, and
numbers printed the way ECMAScript prints them (``1`` not ``1.0``, ``0.00005`` not ``5e-05``).
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

from chronosops.core.errors import FieldError

HASH_ALGORITHM = "sha256"
# RFC 8785 prints numbers as ECMAScript does, so it refuses integers a double cannot hold exactly.
MAX_SAFE_INTEGER = 2**53 - 1


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 serialisation of a JSON-compatible value."""
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
