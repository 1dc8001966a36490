"""RFC 8785 canonical JSON and the SHA-256 content hashes built on it.

Every hash ChronosOps stores (evidence bundles, audit events, prompt traces) goes through
`canonical_json`, so two machines agree on the bytes: sorted keys, no whitespace, and
numbers printed the way ECMAScript prints them (``1`` not ``1.0``, ``0.00005`` not ``5e-05``).
"""

from __future__ import annotations

import hashlib
import json
from json.encoder import c_encode_basestring, c_make_encoder  # type: ignore[attr-defined]
from typing import Any

import rfc8785

from chronosops.core.errors import FieldError

HASH_ALGORITHM = "sha256"
# RFC 8785 prints numbers as ECMAScript does, so it refuses integers a double cannot hold exactly.
MAX_SAFE_INTEGER = 2**53 - 1


# For documents json's C encoder already writes as RFC 8785 does (see `_whole_floats`): many
# times faster than rfc8785's pure-Python encoder, and every audit event and bundle is hashed.
_PLAIN_ENCODER = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# The same C encoder, made once rather than on every call (as `JSONEncoder.encode` does) and
# without the circular-reference bookkeeping of every container (`_whole_floats` has walked the
# document before it is written, and a cycle never ends that walk): half the time for a
# postmortem's content. None where json has no C accelerator.
_PLAIN_C_ENCODER = (
    c_make_encoder(None, _not_json, c_encode_basestring, None, ":", ",", True, False, False)
    if c_make_encoder is not None and c_encode_basestring is not None
    else None
)


def _plain_text(value: Any) -> str:
    if _PLAIN_C_ENCODER is None:
        return _PLAIN_ENCODER.encode(value)
    return "".join(_PLAIN_C_ENCODER(value, 0))


# Python's repr of a float with a fraction is ECMAScript's between these bounds: both print
# the shortest digits that round-trip, in positional notation (Python switches to an exponent
# below 1e-4 and from 1e16, ECMAScript below 1e-6 and from 1e21).
_POSITIONAL_MIN = 1e-4
_POSITIONAL_MAX = 1e16


class _NotPlainError(Exception):
    """The document holds something json's encoder would write differently from RFC 8785."""


def _whole_floats(value: Any) -> bool:
    """Whether ``value``, which json's encoder writes as RFC 8785 does once its whole floats
    are ints, holds any; `_NotPlainError` when json would write it differently however.

    What json writes alike: str (and str subclasses such as a StrEnum, written as the string
    they hold, as rfc8785 does), integers a double holds exactly, bool, None, floats with a
    fraction within the positional range, lists, tuples, and dicts with keys within the Basic
    Multilingual Plane (RFC 8785 sorts keys by UTF-16 code units, which orders the same as code
    points there). Escaping agrees: both escape only ``"``, ``\\`` and control characters, the
    same way. A whole float within ±2^53 prints as an int in ECMAScript (``1`` not ``1.0``);
    any other float (``5e-05``, ``1e+16``, NaN) is left to rfc8785.
    """
    whole = False
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
            raise _NotPlainError
        if kind is float:
            if item.is_integer():
                if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                    whole = True
                    continue
            elif _POSITIONAL_MIN <= abs(item) < _POSITIONAL_MAX:
                continue
            raise _NotPlainError
        if kind is dict:
            for key in item:
                if not isinstance(key, str) or (not key.isascii() and max(key) > "\uffff"):
                    raise _NotPlainError
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif not isinstance(item, str):
            raise _NotPlainError
    return whole


def _with_int_floats(value: Any) -> Any:
    """A copy of ``value`` (checked by `_whole_floats`) with its whole floats as ints."""
    kind = type(value)
    if kind is float:
        return int(value) if value.is_integer() else value
    if kind is dict:
        return {key: _with_int_floats(child) for key, child in value.items()}
    if kind is list or kind is tuple:
        return [_with_int_floats(child) for child in value]
    return value


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 serialisation of a JSON-compatible value."""
    try:
        plain = _with_int_floats(value) if _whole_floats(value) else value
        return _plain_text(plain).encode("utf-8")
    except (_NotPlainError, UnicodeEncodeError):
        # Something json writes differently, or a lone surrogate: rfc8785 says what it makes
        # of it.
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
