from __future__ import annotations

import re
import time
from unittest.mock import patch

from chronosops.core.ids import RandomIds

CUID2_SHAPE = re.compile(r"^[a-z][a-z0-9]{24}$")


def test_random_ids_have_the_shape_of_a_cuid2() -> None:
    ids = RandomIds()
    assert all(CUID2_SHAPE.fullmatch(ids.new()) for _ in range(1000))


def test_random_ids_do_not_repeat() -> None:
    ids = RandomIds()
    assert len({ids.new() for _ in range(100_000)}) == 100_000


def test_random_ids_made_later_sort_after_earlier_ones() -> None:
    ids = RandomIds()
    made = []
    for _ in range(5):
        made.append(ids.new())
        time.sleep(0.002)
    assert made == sorted(made)


def test_random_ids_made_in_one_millisecond_share_their_clock_and_differ_in_their_noise() -> None:
    ids = RandomIds()
    with patch("chronosops.core.ids.time.time_ns", return_value=1_780_000_000_000_000_000):
        first, second = ids.new(), ids.new()
    assert first[:9] == second[:9]
    assert first[9:] != second[9:]


def test_random_ids_keep_the_shape_of_a_cuid2_for_any_clock_reading() -> None:
    ids = RandomIds()
    for milliseconds in (0, 1, 2**40 - 1, 2**40, 26 * 2**40 + 5, 2**50):
        with patch("chronosops.core.ids.time.time_ns", return_value=milliseconds * 1_000_000):
            assert CUID2_SHAPE.fullmatch(ids.new())
