"""Ids of aggregated artifacts stay readable where they can and bounded where they must."""

from __future__ import annotations

from chronosops.core.aggregation import ID_MAX, bounded_id


def test_a_short_id_is_the_prefix_and_the_readable_text() -> None:
    assert bounded_id("metric", "latency_ms{pod=a}", ["latency_ms", {"pod": "a"}]) == (
        "metric:latency_ms{pod=a}"
    )


def test_a_long_id_is_cut_and_hashed_the_same_way_every_time() -> None:
    readable = "x" * 400
    first = bounded_id("metric", readable, ["x", 1])
    assert len(first) <= ID_MAX
    assert first == bounded_id("metric", readable, ["x", 1])
    assert first != bounded_id("metric", readable, ["x", 2])


def test_a_prefix_longer_than_the_limit_still_keeps_the_start_of_the_readable_text() -> None:
    # The guard: without it the cut is a negative index and keeps the end of the text instead.
    made = bounded_id("p" * (ID_MAX + 10), "readable-" + "z" * 400, "identity")
    readable_part = made.split(":", 1)[1]
    assert readable_part.startswith("readable")
    assert readable_part.split("~")[0] == "readable"
