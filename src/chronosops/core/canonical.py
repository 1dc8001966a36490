"""RFC 8785 canonical JSON and the SHA-256 content hashes built on it.

Every hash ChronosOps stores (evidence bundles, audit events, prompt traces) goes through
`canonical_json`, so two machines agree on the bytes: sorted keys, no whitespace, and
numbers printed the way ECMAScript prints them (``1`` not ``1.0``, ``0.00005`` not ``5e-05``).
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

HASH_ALGORITHM = "sha256"


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 serialisation of a JSON-compatible value."""
    return rfc8785.dumps(value)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_hash(value: Any) -> str:
    """SHA-256 hex of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))
