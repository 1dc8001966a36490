"""Log template mining measured on Loghub-2k: 16 real systems, 2,000 labelled lines each.

Grouping accuracy (Zhu et al., ICSE-SEIP 2019): a line is right when the lines that share its
mined template are exactly the lines that share its true template; the score is the share of
right lines. Drain's published figures stand beside ours. The product's one configuration is
used for every system; four systems (every fourth by sorted name) are reported apart as a
held-out part that the configuration was not chosen on.
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from chronosops.core.log_mining import mine

# Drain's grouping accuracy on Loghub-2k, as published (Zhu et al., ICSE-SEIP 2019).
DRAIN_PUBLISHED: dict[str, float] = {
    "Android": 0.911,
    "Apache": 1.000,
    "BGL": 0.963,
    "HDFS": 0.998,
    "HPC": 0.887,
    "Hadoop": 0.948,
    "HealthApp": 0.780,
    "Linux": 0.690,
    "Mac": 0.787,
    "OpenSSH": 0.788,
    "OpenStack": 0.733,
    "Proxifier": 0.527,
    "Spark": 0.920,
    "Thunderbird": 0.955,
    "Windows": 0.997,
    "Zookeeper": 0.967,
}
SYSTEMS = tuple(sorted(DRAIN_PUBLISHED))
HELD_OUT = frozenset(name for index, name in enumerate(SYSTEMS) if index % 4 == 3)
LOGHUB_FOLDER = Path("shared") / "datasets" / "loghub-2k"


class DatasetMissingError(LookupError):
    """The Loghub-2k folder (or one system's file in it) is not where it was looked for."""


def find_loghub(*starts: Path) -> Path | None:
    """The first ``shared/datasets/loghub-2k`` found in ``starts`` or any of their parents."""
    for start in starts:
        for folder in (start, *start.resolve().parents):
            candidate = folder / LOGHUB_FOLDER
            if candidate.is_dir():
                return candidate
    return None


def load_system(root: Path, system: str) -> tuple[list[str], list[str]]:
    """The messages (``Content``) of one system and their true template ids (``EventId``)."""
    path = root / system / f"{system}_2k.log_structured.csv"
    if not path.is_file():
        raise DatasetMissingError(f"{path} not found")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [row["Content"] for row in rows], [row["EventId"] for row in rows]


def grouping_accuracy(found: Sequence[str], truth: Sequence[str]) -> float:
    """The share of lines whose mined group is exactly their true group."""
    if len(found) != len(truth):
        raise ValueError("one mined template per line is needed")
    if not truth:
        return 0.0
    found_groups: dict[str, list[int]] = defaultdict(list)
    true_sizes: dict[str, int] = defaultdict(int)
    for index, (mined, true) in enumerate(zip(found, truth, strict=True)):
        found_groups[mined].append(index)
        true_sizes[true] += 1
    right = 0
    for members in found_groups.values():
        labels = {truth[i] for i in members}
        if len(labels) == 1 and true_sizes[truth[members[0]]] == len(members):
            right += len(members)
    return right / len(truth)


@dataclass(frozen=True)
class SystemScore:
    system: str
    lines: int
    true_templates: int
    mined_templates: int
    accuracy: float
    drain: float
    held_out: bool
    ms: float


@dataclass(frozen=True)
class LoghubReport:
    systems: list[SystemScore]

    def mean(self, *, held_out: bool | None = None) -> float | None:
        chosen = [s.accuracy for s in self.systems if held_out is None or s.held_out == held_out]
        return sum(chosen) / len(chosen) if chosen else None

    def drain_mean(self, *, held_out: bool | None = None) -> float | None:
        chosen = [s.drain for s in self.systems if held_out is None or s.held_out == held_out]
        return sum(chosen) / len(chosen) if chosen else None


def run_loghub(
    root: Path,
    systems: Sequence[str] = SYSTEMS,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> LoghubReport:
    """Mine every chosen system's 2,000 lines on their own and score the grouping."""
    unknown = [s for s in systems if s not in DRAIN_PUBLISHED]
    if unknown:
        raise ValueError(f"unknown Loghub system(s): {', '.join(unknown)}")
    scores: list[SystemScore] = []
    for index, system in enumerate(systems, start=1):
        messages, truth = load_system(root, system)
        started = time.perf_counter()
        found = mine(messages)
        elapsed = (time.perf_counter() - started) * 1000
        scores.append(
            SystemScore(
                system=system,
                lines=len(messages),
                true_templates=len(set(truth)),
                mined_templates=len(set(found)),
                accuracy=grouping_accuracy(found, truth),
                drain=DRAIN_PUBLISHED[system],
                held_out=system in HELD_OUT,
                ms=elapsed,
            )
        )
        if progress is not None:
            progress(index, len(systems))
    return LoghubReport(systems=scores)
