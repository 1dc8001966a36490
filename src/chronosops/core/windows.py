"""Time windows around an incident."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chronosops.core.timestamps import format_instant


@dataclass(frozen=True)
class TimeWindow:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a window cannot end before it starts")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant <= self.end

    def to_json(self) -> dict[str, str]:
        return {"start": format_instant(self.start), "end": format_instant(self.end)}


def incident_window(
    *,
    start: datetime,
    end: datetime | None,
    minutes_before: int,
    minutes_after: int,
) -> TimeWindow:
    """``start − before`` to ``(end or start) + after``: the span evidence is gathered from."""
    anchor_end = end if end is not None else start
    return TimeWindow(
        start=start - timedelta(minutes=minutes_before),
        end=anchor_end + timedelta(minutes=minutes_after),
    )
