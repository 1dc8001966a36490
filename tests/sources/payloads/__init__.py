"""Vendor payloads, one directory per source kind, written from each vendor's documented format."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def load(kind: str, name: str) -> Any:
    return copy.deepcopy(json.loads((HERE / kind / f"{name}.json").read_text(encoding="utf-8")))


def raw(kind: str, name: str) -> bytes:
    return (HERE / kind / f"{name}.json").read_bytes()


def every() -> list[tuple[str, str]]:
    """(kind, name) of every payload file."""
    return sorted(
        (path.parent.name, path.stem) for path in HERE.glob("*/*.json") if path.parent.is_dir()
    )
