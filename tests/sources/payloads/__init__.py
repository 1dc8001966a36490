"""Vendor payloads, one directory per source kind, written from each vendor's documented format."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chronosops.core.ingest_request import IngestIncidentRequest
from chronosops.sources import Normalization, SourceEvent, registry

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


RECEIVED = datetime(2024, 3, 12, 12, 0, tzinfo=UTC)


def normalise(kind: str, payload: Any, headers: dict[str, str] | None = None) -> Normalization:
    """Parse ``payload`` (or the payload file of that name) with the source of ``kind``."""
    body = load(kind, payload) if isinstance(payload, str) else payload
    return registry.get(kind).parse(body, headers=headers or {}, received_at=RECEIVED)


def one(kind: str, payload: Any) -> SourceEvent:
    events = normalise(kind, payload).events
    assert len(events) == 1, events
    return events[0]


def request_of(kind: str, payload: Any) -> IngestIncidentRequest:
    event = one(kind, payload)
    assert event.request is not None, event
    return event.request


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
