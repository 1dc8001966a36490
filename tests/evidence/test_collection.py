"""The collector runner: parallel, bounded by timeouts and a budget, capped, redacted, never fatal."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import timedelta
from functools import partial

from chronosops.collectors import (
    Collected,
    CollectorAuthError,
    CollectorNotApplicableError,
    CollectorQuery,
    CollectorRateLimitedError,
    CollectorUnavailableError,
)
from chronosops.core.aggregation import RawLogLine, log_templates, metric_series
from chronosops.core.artifacts import Artifact, ChangeEvent, MetricSeries
from chronosops.core.windows import TimeWindow
from chronosops.evidence import CollectionPolicy, CollectorRunner
from tests.collectors.scripted import NOW, ScriptedCollector

WINDOW = TimeWindow(NOW - timedelta(minutes=15), NOW + timedelta(minutes=15))
QUERY = CollectorQuery(window=WINDOW, onset=NOW, service="checkout", max_items=50)


def _answer(source: str, _query: CollectorQuery) -> list[Artifact]:
    return _series(source)


def _series(source: str, count: int = 1) -> list[Artifact]:
    found: list[Artifact] = []
    for n in range(count):
        built = metric_series(
            id_prefix=f"metric:{source}",
            name=f"latency_{n}",
            points=[(NOW, float(n))],
            source=source,
            labels={"service": "checkout"},
        )
        assert built is not None
        found.append(built)
    return found


def _notes(runner_result: object) -> dict[str, tuple[str, str]]:
    return {n.source: (n.status, n.detail) for n in runner_result.notes}  # type: ignore[attr-defined]


async def test_collectors_run_in_parallel_and_their_artifacts_are_merged() -> None:
    slow = [ScriptedCollector(f"c{n}", partial(_answer, f"c{n}"), delay=0.3) for n in range(3)]
    started = time.perf_counter()
    result = await CollectorRunner(slow, CollectionPolicy()).run(QUERY)
    assert time.perf_counter() - started < 0.8
    assert sorted(a.source for a in result.artifacts) == ["c0", "c1", "c2"]
    assert _notes(result)["c1"] == ("ok", "1 metric_series")


async def test_a_slow_collector_times_out_and_the_others_keep_their_evidence() -> None:
    fast = ScriptedCollector("fast", lambda q: _series("fast"))
    slow = ScriptedCollector("slow", lambda q: _series("slow"), delay=5, timeout_seconds=0.2)
    result = await CollectorRunner([fast, slow], CollectionPolicy(timeout_seconds=10)).run(QUERY)
    assert [a.source for a in result.artifacts] == ["fast"]
    assert _notes(result)["slow"] == ("timeout", "timeout after 0.2 s")


async def test_the_default_timeout_applies_when_an_instance_sets_none() -> None:
    slow = ScriptedCollector("slow", lambda q: _series("slow"), delay=5)
    result = await CollectorRunner([slow], CollectionPolicy(timeout_seconds=0.1)).run(QUERY)
    assert _notes(result)["slow"] == ("timeout", "timeout after 0.1 s")


async def test_the_total_budget_cancels_whatever_is_still_running() -> None:
    quick = ScriptedCollector("quick", lambda q: _series("quick"), delay=0.05)
    stuck = ScriptedCollector("stuck", lambda q: _series("stuck"), delay=30, timeout_seconds=60)
    started = time.perf_counter()
    result = await CollectorRunner(
        [quick, stuck], CollectionPolicy(timeout_seconds=60, budget_seconds=0.3)
    ).run(QUERY)
    assert time.perf_counter() - started < 2
    status, detail = _notes(result)["stuck"]
    assert status == "timeout"
    assert "budget of 0.3 s" in detail
    assert [a.source for a in result.artifacts] == ["quick"]


async def test_collector_errors_and_crashes_become_notes_not_failures() -> None:
    collectors = [
        ScriptedCollector(
            "auth", lambda q: CollectorAuthError("datadog refused the credentials (HTTP 403)")
        ),
        ScriptedCollector(
            "limited", lambda q: CollectorRateLimitedError("rate limited", retry_after_seconds=3)
        ),
        ScriptedCollector("buggy", lambda q: KeyError("series")),
        ScriptedCollector("quiet", lambda q: []),
        ScriptedCollector("fine", lambda q: _series("fine", 2)),
    ]
    result = await CollectorRunner(collectors, CollectionPolicy()).run(QUERY)
    notes = _notes(result)
    assert notes["auth"] == (
        "error",
        "collector-auth-failed: datadog refused the credentials (HTTP 403)",
    )
    assert notes["limited"][0] == "error"
    assert notes["limited"][1].startswith("collector-rate-limited")
    assert notes["buggy"] == ("error", "internal error in the scripted collector (KeyError)")
    assert notes["quiet"] == ("empty", "no data for the window")
    assert notes["fine"] == ("ok", "2 metric_series")
    assert len(result.artifacts) == 2


async def test_the_allow_list_admits_instances_by_name_or_by_kind() -> None:
    one = ScriptedCollector("one", lambda q: _series("one"))
    two = ScriptedCollector("two", lambda q: _series("two"))
    by_name = await CollectorRunner([one, two], CollectionPolicy(allow=frozenset({"two"}))).run(
        QUERY
    )
    assert [a.source for a in by_name.artifacts] == ["two"]
    assert _notes(by_name)["one"] == (
        "skipped",
        "not in the allow-list (CHRONOSOPS_COLLECTORS_ALLOW)",
    )
    by_kind = await CollectorRunner(
        [one, two], CollectionPolicy(allow=frozenset({"scripted"}))
    ).run(QUERY)
    assert len(by_kind.artifacts) == 2
    nothing = await CollectorRunner([one], CollectionPolicy(allow=frozenset())).run(QUERY)
    assert nothing.artifacts == []
    # Asked only when its kind was allowed; the deadline is the runner's own addition.
    assert [dataclasses.replace(q, deadline=None) for q in one.queries] == [QUERY]


async def test_each_kind_is_capped_and_the_note_says_what_was_left_out() -> None:
    many = ScriptedCollector("many", lambda q: _series("many", 7))
    result = await CollectorRunner([many], CollectionPolicy(item_caps={"metric_series": 3})).run(
        QUERY
    )
    assert [a.title for a in result.artifacts if isinstance(a, MetricSeries)] == [
        "latency_0{service=checkout}",
        "latency_1{service=checkout}",
        "latency_2{service=checkout}",
    ]
    status, detail = _notes(result)["many"]
    assert status == "ok"
    assert "4 more metric_series left out (cap 3)" in detail


async def test_log_text_and_event_descriptions_are_redacted_before_they_are_kept() -> None:
    lines = [
        RawLogLine(
            ts=NOW, message="login failed for alice@example.com password=hunter2", level="ERROR"
        ),
        RawLogLine(
            ts=NOW,
            message="calling api with Authorization: Bearer abcdefghijklmnop123",
            level="WARN",
        ),
    ]
    change = ChangeEvent(
        artifact_id="change:1",
        title="deploy with token=ghp_abcdefghijklmnopqrstuvwxyz0123",
        summary="deploy",
        source="leaky",
        change_type="deploy",
        timestamp=NOW,
        description="rotated api_key=AKIAABCDEFGHIJKLMNOP",
    )
    leaky = ScriptedCollector(
        "leaky",
        lambda q: [*log_templates(lines, id_prefix="log:leaky", source="leaky"), change],
    )
    result = await CollectorRunner([leaky], CollectionPolicy()).run(QUERY)
    text = " ".join(a.model_dump_json() for a in result.artifacts)
    for secret in (
        "hunter2",
        "alice@example.com",
        "abcdefghijklmnop123",
        "AKIAABCDEFGHIJKLMNOP",
        "ghp_abc",
    ):
        assert secret not in text
    assert "[REDACTED]" in text


async def test_a_window_longer_than_the_limit_is_cut_and_noted() -> None:
    long_window = TimeWindow(NOW - timedelta(hours=2), NOW + timedelta(hours=10))
    seen = ScriptedCollector("seen", lambda q: _series("seen"))
    result = await CollectorRunner([seen], CollectionPolicy(max_window=timedelta(hours=6))).run(
        CollectorQuery(window=long_window, onset=NOW)
    )
    asked = seen.queries[0].window
    assert asked.start == long_window.start
    assert asked.end == long_window.start + timedelta(hours=6)
    status, detail = _notes(result)["policy"]
    assert status == "ok"
    assert "window cut to 6 h" in detail


async def test_no_collectors_means_no_notes() -> None:
    result = await CollectorRunner([], CollectionPolicy()).run(QUERY)
    assert result.artifacts == []
    assert result.notes == []


async def test_partial_answers_keep_what_was_found_and_note_what_failed() -> None:
    partial = ScriptedCollector(
        "partial",
        lambda q: Collected(
            artifacts=_series("partial"),
            problems=["logs query refused (HTTP 403) token=abc123secret"],
        ),
    )
    failed = ScriptedCollector("failed", lambda q: Collected(problems=["metrics refused"]))
    skipped = ScriptedCollector(
        "skipped", lambda q: CollectorNotApplicableError("the incident names no service")
    )
    result = await CollectorRunner([partial, failed, skipped], CollectionPolicy()).run(QUERY)
    notes = _notes(result)
    status, detail = notes["partial"]
    assert status == "ok"
    assert detail.startswith("1 metric_series; some queries failed: logs query refused (HTTP 403)")
    assert "abc123secret" not in detail
    assert notes["failed"] == ("error", "metrics refused")
    assert notes["skipped"] == ("skipped", "the incident names no service")


async def test_an_answer_cut_short_says_so_in_its_note_and_is_still_ok() -> None:
    cut = ScriptedCollector(
        "cut",
        lambda q: Collected(
            artifacts=_series("cut"),
            notes=["logs: stopped after 5 pages (5,000 lines, the logs_max_lines budget)"],
            problems=["traces: page 2 failed, kept the first 1 page (100 traces): HTTP 503"],
        ),
    )
    nothing = ScriptedCollector(
        "nothing", lambda q: Collected(notes=["logs: stopped after 50 pages (0 entries)"])
    )
    notes = _notes(await CollectorRunner([cut, nothing], CollectionPolicy()).run(QUERY))
    assert notes["cut"] == (
        "ok",
        "1 metric_series; logs: stopped after 5 pages (5,000 lines, the logs_max_lines budget)"
        "; some queries failed: traces: page 2 failed, kept the first 1 page (100 traces): HTTP 503",
    )
    assert notes["nothing"] == (
        "empty",
        "no data for the window; logs: stopped after 50 pages (0 entries)",
    )


async def test_each_collector_is_told_when_its_timeout_or_the_budget_ends() -> None:
    own = ScriptedCollector("own", lambda q: _series("own"), timeout_seconds=3)
    default = ScriptedCollector("default", lambda q: _series("default"))
    before = asyncio.get_running_loop().time()
    await CollectorRunner(
        [own, default], CollectionPolicy(timeout_seconds=60, budget_seconds=8)
    ).run(QUERY)
    after = asyncio.get_running_loop().time()
    (asked_own,) = own.queries
    (asked_default,) = default.queries
    assert asked_own.deadline is not None
    assert asked_default.deadline is not None
    assert before + 3 <= asked_own.deadline <= after + 3
    assert before + 8 <= asked_default.deadline <= after + 8  # the budget, not the 60 s timeout


async def test_each_note_says_which_kinds_its_collector_read_found_or_not() -> None:
    collectors = [
        ScriptedCollector(
            "found", lambda q: Collected(artifacts=_series("found"), read={"metrics"})
        ),
        ScriptedCollector("nothing", lambda q: Collected(read={"deploys", "logs"})),
        ScriptedCollector(
            "slow", lambda q: Collected(read={"traces"}), delay=5, timeout_seconds=0.2
        ),
        ScriptedCollector("down", lambda q: CollectorUnavailableError("loki failed (HTTP 502)")),
    ]
    result = await CollectorRunner(collectors, CollectionPolicy()).run(QUERY)
    read = {note.source: (note.status, note.read) for note in result.notes}
    assert read == {
        "found": ("ok", ("metrics",)),
        "nothing": ("empty", ("logs", "deploys")),
        "slow": ("timeout", ()),
        "down": ("error", ()),
    }
