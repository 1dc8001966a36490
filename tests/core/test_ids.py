from __future__ import annotations

import re

from chronosops.core.ids import RandomIds

CUID2_SHAPE = re.compile(r"^[a-z][a-z0-9]{24}$")


def test_random_ids_have_the_shape_of_a_cuid2() -> None:
    ids = RandomIds()
    assert all(CUID2_SHAPE.fullmatch(ids.new()) for _ in range(1000))


def test_random_ids_do_not_repeat() -> None:
    ids = RandomIds()
    assert len({ids.new() for _ in range(100_000)}) == 100_000
