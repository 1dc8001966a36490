"""Start-up's objects leave the garbage collector's scans; start-up's garbage does not stay."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from chronosops.core.heap import freeze_startup_objects


class Node:
    def __init__(self) -> None:
        self.peer: Node | None = None


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_objects_alive_at_startup_are_frozen() -> None:
    kept = [[n] for n in range(1_000)]
    frozen = freeze_startup_objects()
    assert frozen >= len(kept)
    assert gc.get_freeze_count() == frozen


def test_a_cycle_already_unreachable_is_collected_not_frozen() -> None:
    first, second = Node(), Node()
    first.peer, second.peer = second, first
    gone = weakref.ref(first)
    del first, second
    freeze_startup_objects()
    assert gone() is None
