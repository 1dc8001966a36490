from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

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


def test_the_same_instant_at_another_offset_renders_the_same_after_either() -> None:
    utc = datetime(2024, 1, 15, 10, 0, 0, 250000, tzinfo=UTC)
    plus_two = datetime(2024, 1, 15, 12, 0, 0, 250000, tzinfo=timezone(timedelta(hours=2)))
    naive = datetime(2024, 1, 15, 10, 0, 0, 250000)  # noqa: DTZ001 — naive is taken as UTC
    assert [format_instant(v) for v in (plus_two, utc, naive)] == ["2024-01-15T10:00:00.250Z"] * 3


def test_an_ambiguous_wall_time_renders_each_of_its_two_instants() -> None:
    # 02:30 on the night clocks go back happens twice in Berlin; the two compare equal.
    berlin = ZoneInfo("Europe/Berlin")
    first = datetime(2024, 10, 27, 2, 30, tzinfo=berlin)
    second = first.replace(fold=1)
    assert first == second
    assert format_instant(first) == "2024-10-27T00:30:00.000Z"
    assert format_instant(second) == "2024-10-27T01:30:00.000Z"


def _as_before(value: datetime) -> str:
    """What `format_instant` printed before it printed the date and the time apart."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 1, 15, 10, 0, tzinfo=UTC),
        datetime(2024, 1, 15, 10, 0, 0, 999999, tzinfo=UTC),  # milliseconds cut, not rounded
        datetime(2024, 1, 15, 10, 0, 0, 1500, tzinfo=UTC).replace(tzinfo=None),  # naive: UTC
        datetime(1, 1, 1, 0, 0, tzinfo=UTC),  # the year printed in four digits
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2024, 1, 15, 5, 30, tzinfo=timezone(-timedelta(hours=4, minutes=30))),
        datetime(2024, 3, 31, 2, 30, tzinfo=ZoneInfo("Europe/Berlin")),  # a gap
        datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin")),
    ],
    ids=repr,
)
def test_an_instant_renders_as_its_utc_isoformat_with_a_z(value: datetime) -> None:
    assert format_instant(value) == _as_before(value)


@pytest.mark.parametrize("zone", ["+24:00", "+25:00", "-99:00", "+05:60"])
def test_a_zone_offset_beyond_a_day_is_refused_in_the_contract_s_words_not_python_s(
    zone: str,
) -> None:
    with pytest.raises(ValueError, match="ISO 8601") as refused:
        parse_instant(f"2024-01-15T10:00:00{zone}")
    assert f"the zone offset {zone} is beyond ±23:59" in str(refused.value)
    assert "timedelta" not in str(refused.value)
