"""Template mining groups real logs (Loghub-2k) at least as well as Drain's published figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from chronosops.investigation.loghub import (
    DRAIN_PUBLISHED,
    HELD_OUT,
    SYSTEMS,
    find_loghub,
    grouping_accuracy,
    run_loghub,
)

LOGHUB = find_loghub(Path(__file__).parent, Path.cwd())
needs_loghub = pytest.mark.skipif(LOGHUB is None, reason="shared/datasets/loghub-2k not found")


def test_grouping_accuracy_counts_lines_whose_group_is_exactly_right() -> None:
    truth = ["E1", "E1", "E2", "E3", "E3"]
    assert grouping_accuracy(["a", "a", "b", "c", "c"], truth) == 1.0
    # E2 and E3 merged: only E1's two lines are right.
    assert grouping_accuracy(["a", "a", "b", "b", "b"], truth) == pytest.approx(2 / 5)
    # E1 split: its lines are wrong even though each group is pure.
    assert grouping_accuracy(["a", "x", "b", "c", "c"], truth) == pytest.approx(3 / 5)


def test_four_systems_are_held_out_every_fourth_by_name() -> None:
    assert sorted(HELD_OUT) == ["HDFS", "Linux", "Proxifier", "Zookeeper"]
    assert set(SYSTEMS) == set(DRAIN_PUBLISHED)


@needs_loghub
@pytest.mark.parametrize("system", ["Apache", "OpenSSH", "HDFS"])
def test_real_systems_group_at_least_as_well_as_drain(system: str) -> None:
    assert LOGHUB is not None
    report = run_loghub(LOGHUB, [system])
    (score,) = report.systems
    assert score.lines == 2000
    assert score.accuracy >= DRAIN_PUBLISHED[system] - 0.01
