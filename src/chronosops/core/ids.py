"""Row identifiers: 25 characters of [a-z0-9] starting with a letter (the shape of a CUID2),
prefixed where the guide names a prefix."""

from __future__ import annotations

import os
import time
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
# Base32 digits in ASCII order, so that the text of a number sorts as the number does.
_SORTED_DIGITS = "234567abcdefghijklmnopqrstuvwxyz"
# Every pair of digits: ten bits a lookup.
_PAIRS = tuple(high + low for high in _SORTED_DIGITS for low in _SORTED_DIGITS)


class RandomIds:
    """The ids a server hands out, in the shape of a CUID2 (a letter, then 24 of [a-z0-9]):
    the millisecond clock in the first 9 characters, then 80 random bits from the OS's
    random source in the other 16.

    A CUID2 hashes a timestamp, a counter, a fingerprint and random bits with SHA3 and encodes
    the result in base36 digit by digit, ~20 µs an id and ~9 ids an ingest; the ids are row
    keys and references, never parsed. Purely random keys (as these were until 2026-12-06)
    land each new row, and each row that refers to it, on a random page of every B-tree that
    indexes an id: an ingest dirtied ~37 pages of SQLite, written to the WAL at every commit.
    Ids that begin with the clock go in at the right-hand edge, where the rows of the same
    group commit share their pages (docs/benchmarks.md, 2026-12-06 — perf13). Within one
    millisecond the random bits alone tell ids apart; a clock set back only costs that
    locality, never uniqueness. The time an id was made is readable from it; every record
    with an id shows its creation time anyway, and no secret is an id.
    """

    def new(self) -> str:
        now = time.time_ns() // 1_000_000
        noise = int.from_bytes(os.urandom(10))
        pairs = _PAIRS
        # The first letter holds the clock's bits above 40 (1 until 2039, 25 in the year 2878).
        return (
            _LETTERS[(now >> 40) % 26]
            + pairs[(now >> 30) & 1023]
            + pairs[(now >> 20) & 1023]
            + pairs[(now >> 10) & 1023]
            + pairs[now & 1023]
            + pairs[noise >> 70]
            + pairs[(noise >> 60) & 1023]
            + pairs[(noise >> 50) & 1023]
            + pairs[(noise >> 40) & 1023]
            + pairs[(noise >> 30) & 1023]
            + pairs[(noise >> 20) & 1023]
            + pairs[(noise >> 10) & 1023]
            + pairs[noise & 1023]
        )


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
