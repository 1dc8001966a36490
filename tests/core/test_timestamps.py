from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chronosops.core.timestamps import format_instant, parse_instant


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-15T10:00:00Z", datetime(2024, 1, 15, 10, 0, tzinfo=UTC)),
        ("2024-01-15T12:00:00+02:00", datetime(2024, 1, 15, 10, 0, tzinfo=UTC)),
        ("2024-01-15T05:30:00-04:30", datetime(2024, 1, 15, 10, 0, tzinfo=UTC)),
        ("2024-01-15T10:00:00.123Z", datetime(2024, 1, 15, 10, 0, 0, 123000, tzinfo=UTC)),
        ("2024-01-15T10:00:00.123456789Z", datetime(2024, 1, 15, 10, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_strict_iso_instants_are_parsed_into_utc(text: str, expected: datetime) -> None:
    parsed = parse_instant(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-15T10:00:00",  # no zone: ambiguous
        "2024-01-15 10:00:00Z",  # space instead of T
        "2024-01-15",
        "2024-01-15T10:00Z",  # no seconds
        "2024-13-15T10:00:00Z",  # month 13
        "2024-01-15T25:00:00Z",
        "2024-01-15T10:00:00+0000",  # offset without colon
        "1705312800",
        "yesterday",
        "",
    ],
)
def test_anything_but_a_strict_iso_instant_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_instant(text)


def test_instants_render_in_utc_with_milliseconds() -> None:
    assert (
        format_instant(parse_instant("2024-01-15T12:00:00.5+02:00")) == "2024-01-15T10:00:00.500Z"
    )
