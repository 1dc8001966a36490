"""Every way vendors write a time becomes the same UTC instant (or, for "no time", none)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chronosops.sources.instants import read_instant

AT = datetime(2024, 3, 12, 8, 14, 27, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "2024-03-12T08:14:27Z",
        "2024-03-12T08:14:27z",
        "2024-03-12T08:14:27+00:00",
        "2024-03-12T08:14:27+0000",  # PagerDuty Events API
        "2024-03-12T09:14:27+01:00",
        "2024-03-12T03:14:27-0500",
        "2024-03-12T10:14:27+02",
        "2024-03-12 08:14:27 UTC",
        "2024-03-12T08:14:27.000000000Z",  # nanoseconds (Go)
        "Tue, 12 Mar 2024 08:14:27 +0000",  # RFC 2822
        1710231267,  # epoch seconds (Cloud Monitoring)
        1710231267.0,
        "1710231267",
        1710231267000,  # epoch milliseconds (New Relic, Datadog $DATE)
        "1710231267000",
        1710231267000000,  # microseconds
        1710231267000000000,  # nanoseconds (Opsgenie updatedAt)
    ],
)
def test_vendor_times_read_as_the_same_utc_instant(value: object) -> None:
    read = read_instant(value)
    assert read.value == AT
    assert read.problem is None


def test_fractions_are_kept_to_the_microsecond_and_never_rounded_up() -> None:
    assert read_instant("2024-03-12T08:14:27.9999999Z").value == AT.replace(microsecond=999999)
    assert read_instant("2024-03-12T08:14:27.218+00:00").value == AT.replace(microsecond=218000)


def test_a_time_without_a_zone_is_read_as_utc_and_says_so() -> None:
    read = read_instant("2024-03-12T08:14:27")
    assert read.value == AT
    assert read.assumed_utc is True


@pytest.mark.parametrize("value", [None, "", "   ", 0, "0001-01-01T00:00:00Z", False])
def test_go_zero_time_zero_and_blank_mean_no_time(value: object) -> None:
    read = read_instant(value)
    assert read.value is None
    assert read.problem is None


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2024-13-45T99:99:99Z",
        -5,
        10**25,
        "9" * 40,
        float("inf"),
        {"seconds": 1},
        [1710231267],
    ],
)
def test_unreadable_times_are_absent_with_a_reason(value: object) -> None:
    read = read_instant(value)
    assert read.value is None
    assert read.problem
