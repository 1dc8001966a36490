from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chronosops.core.windows import TimeWindow, incident_window

START = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)


def test_an_open_incident_window_is_anchored_on_its_start() -> None:
    window = incident_window(start=START, end=None, minutes_before=30, minutes_after=15)
    assert window == TimeWindow(
        datetime(2024, 1, 15, 9, 30, tzinfo=UTC), datetime(2024, 1, 15, 10, 15, tzinfo=UTC)
    )


def test_a_resolved_incident_window_runs_past_its_end() -> None:
    end = datetime(2024, 1, 15, 11, 0, tzinfo=UTC)
    window = incident_window(start=START, end=end, minutes_before=15, minutes_after=15)
    assert window.end == datetime(2024, 1, 15, 11, 15, tzinfo=UTC)


def test_a_window_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="cannot end before"):
        TimeWindow(START, datetime(2024, 1, 15, 9, 0, tzinfo=UTC))
