"""Start-up's objects leave the garbage collector's scans; start-up's garbage does not stay."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from chronosops.core.heap import (
    YOUNG_COLLECTION_THRESHOLD,
    freeze_startup_objects,
    settle_long_running_heap,
)


class Node:
    def __init__(self) -> None:
        self.peer: Node | None = None


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


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


def test_a_settled_process_collects_its_young_objects_less_often_and_the_older_alike() -> None:
    gc.set_threshold(700, 10, 10)
    settle_long_running_heap()
    assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, 10, 10)


def test_a_settled_process_has_frozen_its_startup_objects() -> None:
    kept = [[n] for n in range(1_000)]
    assert settle_long_running_heap() >= len(kept)
    assert gc.get_freeze_count() >= len(kept)
