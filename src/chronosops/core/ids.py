"""Row identifiers: CUID2 for rows, prefixed where the guide names a prefix."""

from __future__ import annotations

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
