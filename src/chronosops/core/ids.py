"""Row identifiers: 25 characters of [a-z0-9] starting with a letter (the shape of a CUID2),
prefixed where the guide names a prefix."""

from __future__ import annotations

import base64
import os
from typing import Protocol

from cuid2 import Cuid

ANALYSIS_PREFIX = "anl-"
BUNDLE_PREFIX = "bundle-"


class IdFactory(Protocol):
    def new(self) -> str:
        """A fresh, collision-resistant identifier."""
        ...


class Cuid2Factory:
    def __init__(self) -> None:
        self._cuid = Cuid(length=25)

    def new(self) -> str:
        return str(self._cuid.generate())


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


class RandomIds:
    """The ids a server hands out: a letter and 24 base32 characters from the OS's random
    source (124 random bits), in the shape of a CUID2.

    A CUID2 hashes a timestamp, a counter, a fingerprint and random bits with SHA3 and encodes
    the result in base36 digit by digit, ~20 µs an id and ~9 ids an ingest; the ids are row
    keys and references, never ordered or parsed, so the OS's random bits alone make them as
    unique and unguessable, in ~1 µs.
    """

    def new(self) -> str:
        raw = os.urandom(16)
        # 15 bytes make 24 base32 characters exactly (no padding); the 16th picks the letter.
        return _LETTERS[raw[15] % 26] + base64.b32encode(raw[:15]).decode("ascii").lower()


class SequentialIds:
    """Predictable ids for tests: ``c000001``, ``c000002`` …"""

    def __init__(self, prefix: str = "c") -> None:
        self._prefix = prefix
        self._n = 0

    def new(self) -> str:
        self._n += 1
        return f"{self._prefix}{self._n:06d}"


def analysis_id(raw: str) -> str:
    return f"{ANALYSIS_PREFIX}{raw}"


def bundle_id(sha256_hex: str) -> str:
    return f"{BUNDLE_PREFIX}{sha256_hex}"
