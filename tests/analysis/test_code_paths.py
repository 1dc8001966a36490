"""Code paths that stopped running, read per operation so that a traffic shift does not count."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any

from chronosops.analysis import AnalysisInput, analyze
from chronosops.analysis.code_paths import (
    HISTORY_MIN_INCIDENTS,
    history_of,
    missing_paths,
    run_at_end,
    statement_history,
    statement_lines,
    stopped_paths,
    vanished_paths,
)
from chronosops.analysis.models import StatementHistory
from chronosops.analysis.statistics import fisher_exact, median
from chronosops.core.artifacts import LogStatement
from tests.analysis.builders import analysis_input, at

SERVICE = "ts-price-service"
QUERY = "PriceController.query"
LIST = "PriceController.list"


Statement = tuple[str, str, str]  # code location, text, level


def _request(
    number: int, minute: float, operation: str, statements: list[Statement], *, failed: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One traced call: the gateway's span around the service's, and the lines it logged."""
    trace = f"{number:032x}"
    outer, inner = f"{2 * number:016x}", f"{2 * number + 1:016x}"
    spans = [
        {
            "traceId": trace,
            "spanId": outer,
            "service": "ts-gateway-service",
            "operation": "/api",
            "duration": 20.0,
            "timestamp": at(minute),
        },
        {
            "traceId": trace,
            "spanId": inner,
            "service": SERVICE,
            "operation": operation,
            "duration": 10.0,
            "timestamp": at(minute + 0.0001),
            **({"status": "error"} if failed else {}),
        },
    ]
    lines = [
        {
            "message": f"{location} TraceID: {trace} SpanID: {inner} {text} {number}",
            "level": level,
            "timestamp": at(minute + 0.0002),
            "service": SERVICE,
        }
        for location, text, level in statements
    ]
    return spans, lines


def _traffic(
    calls: dict[str, tuple[int, int]],
    statements: dict[str, list[Statement]],
    after: dict[str, list[Statement]] | None = None,
    *,
    failing_after: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """Per operation, calls a minute before and after the fault (12:00 less a minute), five
    minutes each side; each call logs its statements (``after`` replaces them after the fault)."""
    spans: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    number = 1
    for minute in range(-6, 4):
        for operation, (before_calls, after_calls) in sorted(calls.items()):
            faulty = minute >= -1
            count = after_calls if faulty else before_calls
            logged = (after or {}).get(operation, statements[operation]) if faulty else None
            for index in range(count):
                found_spans, found_lines = _request(
                    number,
                    minute + index / (count + 1),
                    operation,
                    logged if logged is not None else statements[operation],
                    failed=faulty and failing_after,
                )
                spans += found_spans
                lines += found_lines
                number += 1
    return {"traces": spans, "logs": lines}


QUERY_LOGS: list[Statement] = [
    ("p.c.PriceController#46", "[query][query price]", "INFO"),
    ("p.s.PriceImpl#52", "[query][price found]", "INFO"),
]
LIST_LOGS: list[Statement] = [("p.c.PriceController#80", "[list][list prices]", "INFO")]


def test_a_shift_of_the_traffic_between_operations_does_not_read_as_a_vanished_path() -> None:
    request = analysis_input(
        service=SERVICE,
        **_traffic({QUERY: (6, 1), LIST: (3, 12)}, {QUERY: QUERY_LOGS, LIST: LIST_LOGS}),
    )

    assert vanished_paths(request.artifacts, request.context.onset) == []


def test_an_operation_that_stops_reaching_a_statement_is_a_vanished_code_path() -> None:
    request = analysis_input(
        service=SERVICE,
        **_traffic(
            {QUERY: (6, 6), LIST: (3, 3)},
            {QUERY: QUERY_LOGS, LIST: LIST_LOGS},
            after={QUERY: QUERY_LOGS[:1]},
        ),
    )

    paths = vanished_paths(request.artifacts, request.context.onset)

    assert [(p.service, p.operation, p.statement) for p in paths] == [
        (SERVICE, QUERY, "p.s.priceimpl#52 [query][price found] #")
    ]
    assert paths[0].logged_before == 30
    assert paths[0].calls_after == 30
    assert paths[0].strength == 1.0


def test_calls_the_sampled_traces_did_not_send_count_where_their_lines_name_them() -> None:
    # Traces sampled apart from the logs: every other call's trace is dropped, its lines kept.
    # A statement logged on every call is read against every call its lines name, not against
    # the calls sent alone (where it "did" on twice as many calls as there were).
    evidence = _traffic(
        {QUERY: (6, 6), LIST: (3, 3)},
        {QUERY: QUERY_LOGS, LIST: LIST_LOGS},
        after={QUERY: QUERY_LOGS[:1]},
    )
    sent = [span for span in evidence["traces"] if int(span["traceId"], 16) % 2 == 0]
    request = analysis_input(service=SERVICE, traces=sent, logs=evidence["logs"])

    paths = vanished_paths(request.artifacts, request.context.onset)

    assert [(p.operation, p.statement) for p in paths] == [
        (QUERY, "p.s.priceimpl#52 [query][price found] #")
    ]
    assert paths[0].logged_before == 30
    assert paths[0].calls_before == 30
    assert paths[0].calls_after == 30


def test_a_path_that_only_failed_calls_skip_is_their_failure_not_a_vanished_path() -> None:
    # After the fault every call of the query fails (its span says so) and skips the rest of
    # its path: read against the calls that did not fail, none is left to have skipped it.
    request = analysis_input(
        service=SERVICE,
        **_traffic(
            {QUERY: (6, 6), LIST: (3, 3)},
            {QUERY: QUERY_LOGS, LIST: LIST_LOGS},
            after={QUERY: QUERY_LOGS[:1]},
            failing_after=True,
        ),
    )

    assert vanished_paths(request.artifacts, request.context.onset) == []


def test_a_vanished_code_path_names_a_code_fault_at_its_service() -> None:
    request = analysis_input(
        service="ts-gateway-service",
        **_traffic(
            {QUERY: (6, 6), LIST: (3, 3)},
            {QUERY: QUERY_LOGS, LIST: LIST_LOGS},
            after={QUERY: QUERY_LOGS[:1]},
        ),
    )

    result = analyze(request)

    assert result.hypotheses[0].id == "DEPLOY_BUG"
    assert result.culprit_service == SERVICE
    assert "stopped logging" in result.hypotheses[0].rationale
    (signal,) = [s for s in result.signals if s.kind == "code_path_vanished"]
    assert signal.service == SERVICE
    assert "stopped logging" in signal.description


def test_an_error_that_stops_is_a_recovery_not_a_vanished_code_path() -> None:
    failing: list[Statement] = [
        ("p.c.PriceController#46", "[query][query price]", "INFO"),
        ("p.s.PriceImpl#60", "[query][price missing]", "ERROR"),
    ]
    request = analysis_input(
        service=SERVICE,
        **_traffic({QUERY: (6, 6)}, {QUERY: failing}, after={QUERY: failing[:1]}),
    )

    assert vanished_paths(request.artifacts, request.context.onset) == []


def test_statements_of_an_operation_no_longer_called_are_traffic_not_a_vanished_path() -> None:
    request = analysis_input(
        service=SERVICE,
        **_traffic({QUERY: (6, 0), LIST: (3, 9)}, {QUERY: QUERY_LOGS, LIST: LIST_LOGS}),
    )

    assert vanished_paths(request.artifacts, request.context.onset) == []


def test_fishers_exact_test_gives_the_two_sided_p_value_of_a_two_by_two_table() -> None:
    assert abs(fisher_exact(14, 17, 0, 13) - 0.0034450157) < 1e-9
    assert abs(fisher_exact(8, 2, 1, 5) - 0.0349650350) < 1e-9
    assert fisher_exact(3, 5, 1, 4) > 0.99
    assert fisher_exact(0, 0, 0, 0) == 1.0


# A code path broken before the evidence begins, read against the service's earlier incidents.


def _incident(query_logs: list[Statement], calls: tuple[int, int] = (6, 6)) -> AnalysisInput:
    return analysis_input(
        service="ts-gateway-service",
        **_traffic({QUERY: calls, LIST: (3, 3)}, {QUERY: query_logs, LIST: LIST_LOGS}),
    )


def _history(incidents: int) -> list[StatementHistory]:
    return statement_history([_incident(QUERY_LOGS).artifacts for _ in range(incidents)])


def test_the_history_keeps_each_statements_share_of_its_services_lines_per_incident() -> None:
    history = {h.statement: h for h in _history(2)}

    found = history["p.s.priceimpl#52 [query][price found] #"]
    # Per incident: 60 query calls log two statements each, 30 list calls one: 60 of 150 lines.
    assert found.shares == [0.4, 0.4]
    assert found.operation == QUERY
    assert found.service == SERVICE


def test_a_statement_earlier_incidents_always_logged_and_this_one_never_does_is_missing() -> None:
    broken = _incident(QUERY_LOGS[:1])  # the method throws before its second statement

    paths = missing_paths(broken.artifacts, _history(HISTORY_MIN_INCIDENTS))

    assert [(p.service, p.operation, p.statement) for p in paths] == [
        (SERVICE, QUERY, "p.s.priceimpl#52 [query][price found] #")
    ]
    assert paths[0].lines == 90
    assert paths[0].calls == 60
    # P(no line | 40% of 90 expected) = e^-36, times the 3 statements read.
    assert math.isclose(paths[0].p_value, 3 * math.exp(-0.4 * 90), rel_tol=1e-6)
    assert paths[0].strength == 1.0


def test_a_missing_statement_names_a_code_fault_at_its_service() -> None:
    broken = _incident(QUERY_LOGS[:1])
    request = broken.model_copy(update={"statement_history": _history(HISTORY_MIN_INCIDENTS)})

    result = analyze(request)

    assert result.hypotheses[0].id == "DEPLOY_BUG"
    assert result.culprit_service == SERVICE
    assert "never logged" in result.hypotheses[0].rationale
    assert [s.service for s in result.signals if s.kind == "code_path_missing"] == [SERVICE]
    # Without the history the same evidence shows no change inside the window.
    assert analyze(broken).culprit_service != SERVICE


def test_a_history_of_fewer_incidents_than_needed_says_nothing() -> None:
    broken = _incident(QUERY_LOGS[:1])

    assert missing_paths(broken.artifacts, _history(HISTORY_MIN_INCIDENTS - 1)) == []


def test_statements_of_an_operation_not_called_now_are_traffic_not_a_missing_path() -> None:
    quiet = _incident(QUERY_LOGS, calls=(0, 0))

    assert missing_paths(quiet.artifacts, _history(HISTORY_MIN_INCIDENTS)) == []


def test_a_statement_still_logged_at_a_lower_share_is_not_missing() -> None:
    fewer = _incident(QUERY_LOGS, calls=(1, 1))

    assert missing_paths(fewer.artifacts, _history(HISTORY_MIN_INCIDENTS)) == []


def test_error_statements_stay_out_of_the_history() -> None:
    failing: list[Statement] = [
        *QUERY_LOGS,
        ("p.s.PriceImpl#60", "[query][price missing]", "ERROR"),
    ]
    history = statement_history([_incident(failing).artifacts] * HISTORY_MIN_INCIDENTS)

    assert not any("price missing" in h.statement for h in history)
    assert missing_paths(_incident(QUERY_LOGS).artifacts, history) == []


def test_what_is_kept_of_an_incident_reads_back_as_the_same_history_after_json() -> None:
    incidents = [_incident(QUERY_LOGS).artifacts, _incident(QUERY_LOGS[:1]).artifacts]
    kept = [json.loads(json.dumps(statement_lines(artifacts))) for artifacts in incidents]

    history = history_of([(service, record) for rows in kept for service, record in rows.items()])

    assert history == statement_history(incidents)
    found = {h.statement: h for h in history}["p.s.priceimpl#52 [query][price found] #"]
    # Logged in the first incident (60 of its 150 lines), absent from the second.
    assert sorted(found.shares) == [0.0, 0.4]
    assert kept[0] == {
        SERVICE: {
            "lines": 150,
            "statements": {
                "p.c.pricecontroller#46 [query][query price] #": {QUERY: 60},
                "p.s.priceimpl#52 [query][price found] #": {QUERY: 60},
                "p.c.pricecontroller#80 [list][list prices] #": {LIST: 30},
            },
            "calls": {LIST: 30, QUERY: 60},
        }
    }


def test_a_service_that_logs_too_little_is_not_kept() -> None:
    # Ten calls of one line each: fewer than the 20 lines a share is read from.
    quiet = analysis_input(
        service="ts-gateway-service", **_traffic({QUERY: (1, 1)}, {QUERY: QUERY_LOGS[:1]})
    )

    assert statement_lines(quiet.artifacts) == {}
    assert SERVICE in statement_lines(_incident(QUERY_LOGS).artifacts)


# A victim flooding with error lines about its callee: every usual statement's share of the
# service's lines falls, so the share alone would expect lines the service never owed.

CACHE_MISS: Statement = ("p.s.PriceImpl#57", "[query][price loaded from db]", "INFO")
LOOKUP_FAILED: Statement = ("p.s.PriceImpl#64", "[query][rate lookup failed]", "ERROR")


def _with_cache(calls: tuple[int, int], every: int, extra: list[Statement]) -> AnalysisInput:
    """Query calls that log one line each, and the cache miss on one call in ``every`` (none
    when ``every`` is 0), each call also logging ``extra``; the list operation as usual."""
    spans: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    number = 1
    for minute in range(-6, 4):
        count = calls[1] if minute >= -1 else calls[0]
        for index in range(count):
            logged = [QUERY_LOGS[0], *extra]
            if every and number % every == 0:
                logged.append(CACHE_MISS)
            found_spans, found_lines = _request(number, minute + index / (count + 1), QUERY, logged)
            spans += found_spans
            lines += found_lines
            number += 1
        for index in range(3):
            found_spans, found_lines = _request(number, minute + 0.05 + index / 4, LIST, LIST_LOGS)
            spans += found_spans
            lines += found_lines
            number += 1
    return analysis_input(service="ts-gateway-service", traces=spans, logs=lines)


def _cache_history() -> list[StatementHistory]:
    return statement_history(
        [_with_cache((6, 6), 10, []).artifacts for _ in range(HISTORY_MIN_INCIDENTS)]
    )


def test_the_history_keeps_each_statements_lines_per_call_of_its_operations() -> None:
    miss = {h.statement: h for h in _cache_history()}[
        "p.s.priceimpl#57 [query][price loaded from db] #"
    ]

    # Per incident: 6 of its 96 lines, on 6 of its operation's 60 calls.
    assert miss.operations == [QUERY]
    assert miss.shares == [0.0625] * HISTORY_MIN_INCIDENTS
    assert miss.per_call == [0.1] * HISTORY_MIN_INCIDENTS


def test_a_victim_flooding_with_errors_does_not_owe_a_rare_statement_its_share_would_expect() -> (
    None
):
    # The victim's query calls fail on its callee and log ten error lines each; on 20 calls the
    # one-in-ten cache miss is absent by chance (2 expected, P(none) = e^-2).
    victim = _with_cache((2, 2), 0, [LOOKUP_FAILED] * 10)
    history = _cache_history()
    miss = {h.statement: h for h in history}["p.s.priceimpl#57 [query][price loaded from db] #"]
    service_lines = sum(
        sum(a.levels.values())
        for a in victim.artifacts
        if isinstance(a, LogStatement) and a.service == SERVICE
    )
    # The share alone expects 6.25% of its 250 lines (16 where 2 were owed): e^-16 is tiny.
    assert math.exp(-median(miss.shares) * service_lines) * 3 < 1e-4

    assert missing_paths(victim.artifacts, history) == []
    # Records kept before calls were (no per-call rates) still read the share alone.
    without_calls = [h.model_copy(update={"per_call": []}) for h in history]
    assert [p.statement for p in missing_paths(victim.artifacts, without_calls)] == [
        "p.s.priceimpl#57 [query][price loaded from db] #"
    ]


def test_a_step_skipped_on_every_call_is_found_while_the_service_floods_with_errors() -> None:
    history = statement_history([_incident(QUERY_LOGS).artifacts] * HISTORY_MIN_INCIDENTS)
    failing: list[Statement] = [QUERY_LOGS[0], *[LOOKUP_FAILED] * 10]
    broken = analysis_input(
        service="ts-gateway-service",
        **_traffic({QUERY: (6, 6), LIST: (3, 3)}, {QUERY: failing, LIST: LIST_LOGS}),
    )

    paths = missing_paths(broken.artifacts, history)

    assert [(p.service, p.statement) for p in paths] == [
        (SERVICE, "p.s.priceimpl#52 [query][price found] #")
    ]
    # Its one line per call over 60 calls, and 40% of 690 lines: both make the absence certain.
    assert paths[0].p_value < 1e-12


def _stops_at(
    minute: float, *, every: int = 1, calls: int = 6, first: int = -6, last: int = 4
) -> AnalysisInput:
    """QUERY runs ``calls`` times a minute throughout; every ``every``-th call also reaches
    ``#52`` until ``minute`` (the fault's start is a minute before the onset, at -1)."""
    spans: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    number = 1
    for whole in range(first, last):
        for index in range(calls):
            at_minute = whole + index / (calls + 1)
            reached = at_minute < minute and number % every == 0
            found_spans, found_lines = _request(
                number, at_minute, QUERY, QUERY_LOGS if reached else QUERY_LOGS[:1]
            )
            spans += found_spans
            lines += found_lines
            number += 1
    return analysis_input(service="ts-gateway-service", traces=spans, logs=lines)


def test_a_statement_that_stops_following_another_part_way_through_the_window_is_a_stopped_path() -> (
    None
):
    # The fault takes hold half a minute after its start: the fixed minute split sees the
    # statement on both sides, the run of calls without it since its last line does not.
    request = _stops_at(-0.5)

    (path,) = stopped_paths(request.artifacts, request.context.onset)

    assert (path.service, path.statement, path.follows) == (
        SERVICE,
        "p.s.priceimpl#52 [query][price found] #",
        "p.c.pricecontroller#46 [query][query price] #",
    )
    assert (path.together, path.spans) == (34, 60)
    # 26 calls came after its last line; the engine does not count the first of them, which
    # may be the same span logging the other line a moment later.
    assert path.after == 25
    assert path.p_value < 1e-6


def test_a_statement_still_logged_after_the_faults_start_is_read_at_its_own_last_minute() -> None:
    # Still logged in the minute before the reported start (the fixed split's first "after"
    # minute), it stops then: its lines before that minute against the calls after it.
    request = _stops_at(-0.5)

    (path,) = vanished_paths(request.artifacts, request.context.onset)

    assert (path.service, path.statement) == (SERVICE, "p.s.priceimpl#52 [query][price found] #")
    assert path.stopped_at is not None
    assert path.stopped_at.minute == 59
    # Minutes -6 to -2 before it (30 calls, 30 lines), minutes 0 to 3 after it (24 calls).
    assert (path.logged_before, path.calls_before, path.calls_after) == (30, 30, 24)
    # The one statement read at its stop: no correction for others.
    assert math.isclose(path.p_value, fisher_exact(30, 30, 0, 24))
    assert "before 11:59" in path.describe()


def test_a_step_that_stops_at_the_alerts_own_minute_names_a_code_fault_at_its_service() -> None:
    result = analyze(_stops_at(0.0))

    assert result.hypotheses[0].id == "DEPLOY_BUG"
    assert result.culprit_service == SERVICE
    (signal,) = [s for s in result.signals if s.kind == "code_path_vanished"]
    assert signal.service == SERVICE
    # Read at its own stop, the signal says when.
    assert signal.at is not None


def test_a_stop_long_after_the_reported_start_is_not_read_as_the_faults() -> None:
    # Eight minutes after the alert: whatever stopped it, it is not what the alert is about.
    request = _stops_at(8.0, last=12)

    assert vanished_paths(request.artifacts, request.context.onset) == []
    # The same stop within the bound is read.
    assert vanished_paths(_stops_at(4.0, last=12).artifacts, request.context.onset) != []


def _input_shift() -> AnalysisInput:
    """From the alert's minute on the calls carry other input: the branch that logged #70 on
    half of them logs it on one in six, the other branch (#75) takes the rest, and #52 is no
    longer reached."""
    spans: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    for number in range(1, 121):
        minute = -6 + (number - 1) / 12
        changed = minute >= 0
        branch = number % 6 == 0 if changed else number % 2 == 0
        logged: list[Statement] = [QUERY_LOGS[0]]
        if not changed:
            logged.append(QUERY_LOGS[1])
        logged.append(
            ("p.s.PriceImpl#70", "[query][cached price]", "INFO")
            if branch
            else ("p.s.PriceImpl#75", "[query][priced anew]", "INFO")
        )
        found_spans, found_lines = _request(number, minute, QUERY, logged)
        spans += found_spans
        lines += found_lines
    return analysis_input(service="ts-gateway-service", traces=spans, logs=lines)


def test_a_late_stop_while_the_operations_other_lines_change_their_mix_is_its_input() -> None:
    # The handler walks other branches for other requests (a caller upstream changed what it
    # sends), not a code path of its own that stopped.
    request = _input_shift()

    assert vanished_paths(request.artifacts, request.context.onset) == []


def test_a_statement_stopped_part_way_through_names_a_code_fault_at_its_service() -> None:
    result = analyze(_stops_at(-0.5))

    assert result.hypotheses[0].id == "DEPLOY_BUG"
    assert result.culprit_service == SERVICE
    # Read at its own last minute it is a vanished path too, which names the cause; the
    # stopped path's signal says what it followed, and when it stopped.
    assert "stopped logging" in result.hypotheses[0].rationale
    (signal,) = [s for s in result.signals if s.kind == "code_path_stopped"]
    assert signal.service == SERVICE
    assert signal.at is not None
    assert "stopped at" in signal.description


def test_a_statement_that_stopped_before_the_faults_start_is_not_read() -> None:
    # Two and a half minutes before the fault's start: earlier than a report a minute late
    # would put it.
    request = _stops_at(-3.5)

    assert stopped_paths(request.artifacts, request.context.onset) == []


def test_a_stop_at_the_fault_is_read_with_the_report_a_minute_late() -> None:
    # Reported a minute late, the fault's start (a minute before the report) falls after the
    # stop: the stop is still within what the report's lateness allows.
    request = _stops_at(-0.5)
    late = request.context.onset + timedelta(minutes=1)

    (path,) = stopped_paths(request.artifacts, late)
    assert path.statement == "p.s.priceimpl#52 [query][price found] #"
    assert path.stopped_at == stopped_paths(request.artifacts, request.context.onset)[0].stopped_at


def test_a_vanished_path_reads_the_same_with_the_report_a_minute_late() -> None:
    # A minute late, the split counts the fault's first minute as before it; read at its
    # stop, the statement reads as it does with the report on time.
    request = _stops_at(-0.5, last=2)
    late = request.context.onset + timedelta(minutes=1)

    (on_time,) = vanished_paths(request.artifacts, request.context.onset)
    (path,) = vanished_paths(request.artifacts, late)

    assert (path.logged_before, path.calls_before, path.calls_after) == (
        on_time.logged_before,
        on_time.calls_before,
        on_time.calls_after,
    )
    # Read at the split or at the stop, the better of the two: Bonferroni over both.
    assert math.isclose(path.p_value, 2 * fisher_exact(30, 30, 0, 12))


def test_a_stop_a_late_report_puts_before_its_split_is_input_where_the_mix_changed() -> None:
    # As the input shift above, reported a minute late: #52's last line falls before the split,
    # which alone would read it as vanished; read at its stop, the mix says the input changed.
    request = _input_shift()
    late = request.context.onset + timedelta(minutes=1)

    assert vanished_paths(request.artifacts, late) == []


def test_a_branch_taken_on_some_calls_throughout_is_not_a_stopped_path() -> None:
    # Every third call reaches it, to the end of the window: its last line is among the last
    # calls, so no run without it is telling.
    request = _stops_at(10.0, every=3)

    assert stopped_paths(request.artifacts, request.context.onset) == []


def test_a_short_run_without_the_statement_is_chance_once_every_pair_read_counts() -> None:
    # The statement misses the last two calls only: a run that short is what one rate gives.
    request = _stops_at(3.6)

    assert stopped_paths(request.artifacts, request.context.onset) == []


def test_the_run_at_the_end_is_the_hypergeometric_chance_of_no_shared_span_among_the_last() -> None:
    # 3 of 6 spans shared; none among the last 3: C(3,3) / C(6,3) = 1/20.
    assert math.isclose(run_at_end(6, 3, 3), 0.05)
    assert run_at_end(6, 3, 0) == 1.0
    assert run_at_end(6, 4, 3) == 0.0


def _skipped_step(since_before_window: bool) -> str:
    from chronosops.scenarios.code_faults import PATH_SCENARIOS

    return next(
        s.id
        for s in PATH_SCENARIOS
        if s.id.startswith("path-return-")
        and s.skipped is not None
        and (s.skipped.since < 0) == since_before_window
    )


def test_a_step_a_wrong_return_skipped_since_before_the_window_is_missing_at_its_service() -> None:
    from chronosops.scenarios import GenerationOptions, generate

    options = GenerationOptions(seed=3, noise=0.1)
    scenario_id = _skipped_step(since_before_window=True)
    incident = generate(scenario_id, options)
    history = statement_history(
        [generate(scenario_id, options, without_fault=day).artifacts for day in range(1, 6)]
    )

    paths = missing_paths(incident.artifacts, history)

    assert {p.service for p in paths} == {incident.truth.culprit_service}


def test_logs_that_end_before_the_spans_do_not_make_every_statement_stop() -> None:
    # The log pipeline delivered the lines up to the fault's minute only; the spans go on three
    # minutes more. Those calls were made where no log was collected: nothing stopped.
    traffic = _traffic({QUERY: (6, 6), LIST: (3, 3)}, {QUERY: QUERY_LOGS, LIST: LIST_LOGS})
    cut = at(-0.5)
    traffic["logs"] = [line for line in traffic["logs"] if line["timestamp"] < cut]
    request = analysis_input(service=SERVICE, **traffic)

    assert vanished_paths(request.artifacts, request.context.onset) == []
    assert "DEPLOY_BUG" not in [h.id for h in analyze(request).hypotheses[:1]]


def test_the_history_counts_an_operations_calls_over_the_minutes_its_logs_cover() -> None:
    traffic = _traffic({QUERY: (6, 6), LIST: (3, 3)}, {QUERY: QUERY_LOGS, LIST: LIST_LOGS})
    cut = at(-0.5)
    traffic["logs"] = [line for line in traffic["logs"] if line["timestamp"] < cut]
    request = analysis_input(service=SERVICE, **traffic)

    kept = statement_lines(request.artifacts)
    # Minutes -6 to -1 hold logs, the last one in part while its spans go on: it is left out
    # with the minutes after it, leaving 5 minutes of 6 query calls.
    assert kept[SERVICE]["calls"][QUERY] == 30
