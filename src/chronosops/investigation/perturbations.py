"""Seeded variants of an ingest body, shaped the way real integrations shape evidence.

A benchmark answered right on the bodies it was tuned on can rest on details no other sender
reproduces: every trace kept, logs up to the alert's last second, a ten-minute baseline, an alert
time exactly one minute after the fault. Each transform here changes one such detail as
collectors and pipelines do in practice, and nothing else:

- ``traces-sampled``: whole traces dropped, half of them (head sampling at 50 %);
- ``logs-thinned``: half the log lines dropped (a sampled or rate-limited log pipeline);
- ``logs-lag``: the logs' last 30 s cut (ingest lag: the logs end before the spans and metrics);
- ``onset-earlier`` / ``onset-later``: the alert's ``timeline.start`` moved by 60 s (an alert
  rule with another ``for:`` or evaluation interval);
- ``baseline-short``: everything older than 5 or 6 min before ``timeline.start`` dropped (a
  shorter look-back; with an alert 1 min after the fault, a 4–5 min baseline);
- ``metric-kind-missing``: every series of one signal kind (CPU, memory, network, latency,
  traffic, …, as `analysis.signals` reads their names) dropped (an exporter not scraped).

Variants are deterministic: the ``k``-th variant of a body is drawn from a generator seeded by
its key (the ``sourceRef``) and ``k``, so a run can be repeated and two engines compared on the
same variants. Only ``evidenceLite`` and ``timeline`` change; the items kept are the body's own.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chronosops.analysis.signals import DEFAULT_TABLE
from chronosops.core.timestamps import parse_instant

Document = dict[str, Any]

SAMPLED_SHARE = 0.5  # head sampling at 50 %, the share the issue names
LOG_LAG_SECONDS = 30  # ingest lag of a log pipeline: tens of seconds are common
ONSET_SHIFT_SECONDS = 60  # one evaluation interval / `for:` step of an alert rule
# Minutes of evidence kept before `timeline.start`: a 4–5 min baseline ahead of a fault
# that fires its alert a minute after it starts.
SHORT_BASELINE_MINUTES = (5, 6)


@dataclass(frozen=True)
class Variant:
    transform: str  # one of TRANSFORMS
    detail: str  # what this draw did, e.g. "without cpu metrics", "onset −60 s"
    document: Document


def _evidence(document: Document) -> Document:
    lite = document.get("evidenceLite")
    return dict(lite) if isinstance(lite, dict) else {}


def _with(document: Document, lite: Document) -> Document:
    return {**document, "evidenceLite": lite}


def _share(salt: int, key: str) -> float:
    """Where ``key`` (a trace id) falls in [0, 1) for this variant: every span of a trace gets the
    same number, so a trace is kept or dropped whole, whatever the order of its spans."""
    digest = hashlib.sha256(f"{salt}/{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _traces_sampled(document: Document, rng: random.Random) -> tuple[str, Document]:
    lite = _evidence(document)
    spans = lite.get("traces") or []
    salt = rng.getrandbits(64)
    kept = [
        span
        for span in spans
        if _share(salt, str(span.get("traceId") or span.get("spanId"))) < SAMPLED_SHARE
    ]
    lite["traces"] = kept
    return f"{len(kept)} of {len(spans)} spans kept, by whole trace", _with(document, lite)


def _logs_thinned(document: Document, rng: random.Random) -> tuple[str, Document]:
    lite = _evidence(document)
    lines = lite.get("logs") or []
    kept = [line for line in lines if rng.random() < SAMPLED_SHARE]
    lite["logs"] = kept
    return f"{len(kept)} of {len(lines)} log lines kept", _with(document, lite)


def _logs_lag(document: Document, rng: random.Random) -> tuple[str, Document]:
    lite = _evidence(document)
    lines = lite.get("logs") or []
    if not lines:
        return "no logs to cut", _with(document, lite)
    last = max(parse_instant(line["timestamp"]) for line in lines)
    cut = last - timedelta(seconds=LOG_LAG_SECONDS)
    kept = [line for line in lines if parse_instant(line["timestamp"]) <= cut]
    lite["logs"] = kept
    return f"logs' last {LOG_LAG_SECONDS} s cut ({len(kept)} of {len(lines)} kept)", _with(
        document, lite
    )


def _shifted(document: Document, seconds: int) -> tuple[str, Document]:
    timeline = dict(document.get("timeline") or {})
    start = parse_instant(timeline["start"]) + timedelta(seconds=seconds)
    timeline["start"] = start.strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{start.microsecond:06d}Z" if start.microsecond else "Z"
    )
    sign = "+" if seconds > 0 else "−"
    return f"onset {sign}{abs(seconds)} s", {**document, "timeline": timeline}


def _onset_earlier(document: Document, rng: random.Random) -> tuple[str, Document]:
    return _shifted(document, -ONSET_SHIFT_SECONDS)


def _onset_later(document: Document, rng: random.Random) -> tuple[str, Document]:
    return _shifted(document, ONSET_SHIFT_SECONDS)


def _baseline_short(document: Document, rng: random.Random) -> tuple[str, Document]:
    minutes = rng.choice(SHORT_BASELINE_MINUTES)
    onset = parse_instant(document["timeline"]["start"])
    since = onset - timedelta(minutes=minutes)
    lite = _evidence(document)
    for kind in ("metrics", "logs", "traces", "events"):
        items = lite.get(kind)
        if items:
            lite[kind] = [i for i in items if parse_instant(i["timestamp"]) >= since]
    return f"evidence from {minutes} min before the onset", _with(document, lite)


def _metric_kind_missing(document: Document, rng: random.Random) -> tuple[str, Document]:
    lite = _evidence(document)
    series = lite.get("metrics") or []
    kinds = [DEFAULT_TABLE.kind_of(m["name"], m.get("labels")) or "unread" for m in series]
    present = sorted(set(kinds))
    if not present:
        return "no metrics to drop", _with(document, lite)
    gone = rng.choice(present)
    lite["metrics"] = [m for m, kind in zip(series, kinds, strict=True) if kind != gone]
    return f"without {gone} metrics", _with(document, lite)


Transform = Callable[[Document, random.Random], tuple[str, Document]]

TRANSFORMS: dict[str, Transform] = {
    "traces-sampled": _traces_sampled,
    "logs-thinned": _logs_thinned,
    "logs-lag": _logs_lag,
    "onset-earlier": _onset_earlier,
    "onset-later": _onset_later,
    "baseline-short": _baseline_short,
    "metric-kind-missing": _metric_kind_missing,
}


class UnknownTransformError(ValueError):
    """A transform name that is not in `TRANSFORMS`."""


def parse_transforms(names: Sequence[str]) -> tuple[str, ...]:
    """The transforms named (all of them when none is), in `TRANSFORMS`' order."""
    unknown = sorted(set(names) - set(TRANSFORMS))
    if unknown:
        raise UnknownTransformError(
            f"unknown transform {', '.join(unknown)}; expected one of {', '.join(TRANSFORMS)}"
        )
    return tuple(t for t in TRANSFORMS if not names or t in names)


def _seed(key: str, index: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{key}/{index}".encode()).digest()[:8], "big")


def variants(
    document: Document, key: str, count: int, transforms: Sequence[str] = tuple(TRANSFORMS)
) -> list[Variant]:
    """``count`` variants of ``document``: the ``k``-th applies one transform, taken in turn
    from ``transforms`` starting at a place set by ``key`` (so ``count`` = their number gives each
    body every transform once, and a smaller ``count`` spreads them over the bodies), with its
    draws seeded by ``key`` and ``k``."""
    if not transforms:
        return []
    start = _seed(key, -1) % len(transforms)
    made: list[Variant] = []
    for index in range(count):
        name = transforms[(start + index) % len(transforms)]
        detail, changed = TRANSFORMS[name](document, random.Random(_seed(key, index)))
        made.append(Variant(name, detail, changed))
    return made
