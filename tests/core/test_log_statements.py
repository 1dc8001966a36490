"""Log statements: what a line says without its values, placed in the operation that logged it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chronosops.core.aggregation import RawLogLine, RawSpan
from chronosops.core.log_statements import (
    line_statement,
    log_statements,
    placed_statement,
    statement_of,
    statements_of,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
TRACE = "2f182d58875095cc70b2a50fdda3e7cd"


def _line(span: str, text: str, *, second: float = 0, level: str = "INFO") -> RawLogLine:
    return RawLogLine(
        ts=T0 + timedelta(seconds=second),
        message=f"f.m.s.BasicServiceImpl#418 TraceID: {TRACE} SpanID: {span} {text}",
        level=level,
        service="ts-basic-service",
    )


def test_a_statement_keeps_the_code_location_and_masks_values_and_trace_context() -> None:
    assert (
        statement_of(
            "f.m.s.BasicServiceImpl#418 TraceID: 05ed0b24e98c02dae94d092f663cd626 "
            "SpanID: 3d4c6d61e5c81a67 [getRoutes][Get Route By Ids][Success]"
        )
        == "f.m.s.basicserviceimpl#418 [getroutes][get route by ids][success]"
    )
    assert statement_of("at handler.py:52 order 1234 failed for user abc123") == (
        "at handler.py:52 order # failed for"
    )
    assert statement_of("trip Z1234 of 92708982-77af-4318-be25-57ccb0ff69ad took 12ms") == (
        "trip # of # took #"
    )


def test_a_line_is_placed_only_when_it_names_both_its_trace_and_its_span() -> None:
    found = placed_statement(
        "trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331 GET /cart 200"
    )
    assert found is not None
    context, statement = found
    assert (context.trace_id, context.span_id, statement) == (
        "0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331",
        "get /cart #",
    )
    assert placed_statement(f"TraceID: {TRACE} without a span") is None
    assert placed_statement("no trace context at all") is None


def test_a_statement_is_counted_once_per_span_per_minute_in_the_operation_that_logged_it() -> None:
    operations = {
        "00000000000000a1": ("ts-basic-service", "BasicController.queryForTravels"),
        "00000000000000a2": ("ts-basic-service", "BasicController.queryForTravels"),
    }
    lines = [
        # A loop logs it twice in one call: one span.
        _line("00000000000000a1", "[getRoutes][Success]", second=1),
        _line("00000000000000a1", "[getRoutes][Success]", second=2),
        _line("00000000000000a2", "[getRoutes][Success]", second=70),
        # A span not in the evidence (its trace was not sampled) still counts once.
        _line("00000000000000ff", "[getRoutes][Success]", second=75),
    ]

    (found,) = log_statements(lines, operations, id_prefix="statement", source="test")

    assert (found.service, found.operation) == (
        "ts-basic-service",
        "BasicController.queryForTravels",
    )
    assert found.statement == "f.m.s.basicserviceimpl#418 [getroutes][success]"
    assert found.spans == 3
    assert [(p.ts, p.value) for p in found.histogram] == [
        (T0, 1.0),
        (T0 + timedelta(minutes=1), 2.0),
    ]
    assert found.levels == {"INFO": 4}
    # The unsampled span is kept apart as well: a call of its operation the traces never sent.
    assert [(p.ts, p.value) for p in found.unsent] == [(T0 + timedelta(minutes=1), 1.0)]


def test_a_statement_whose_spans_were_all_sent_keeps_no_unsent_spans_and_serialises_without_them() -> (
    None
):
    operations = {"00000000000000a1": ("ts-basic-service", "BasicController.queryForTravels")}

    (found,) = log_statements(
        [_line("00000000000000a1", "[getRoutes][Success]")],
        operations,
        id_prefix="statement",
        source="test",
    )

    assert found.unsent == []
    assert "unsent" not in found.model_dump(by_alias=True)


def test_a_statement_logged_from_several_operations_alike_is_kept_in_none_of_them() -> None:
    operations = {
        "00000000000000a1": ("ts-basic-service", "BasicController.queryForTravel"),
        "00000000000000a2": ("ts-basic-service", "BasicController.queryForTravels"),
    }
    lines = [_line("00000000000000a1", "[check][ok]"), _line("00000000000000a2", "[check][ok]")]

    (found,) = log_statements(lines, operations, id_prefix="statement", source="test")

    # Its share of the service's lines still counts (`analysis.code_paths.statement_history`);
    # no operation reads it as a path of its own.
    assert (found.operation, found.spans, found.levels) == ("", 2, {"INFO": 2})
    assert "(no one operation)" in found.title


def test_lines_whose_spans_belong_to_another_service_place_no_statement_in_an_operation() -> None:
    operations = {"00000000000000a1": ("ts-route-service", "RouteController.queryById")}

    (found,) = log_statements(
        [_line("00000000000000a1", "[getRoutes][Success]")],
        operations,
        id_prefix="statement",
        source="test",
    )

    assert (found.service, found.operation) == ("ts-basic-service", "")


def _record(span: str | None, text: str, *, second: float = 0) -> RawLogLine:
    """A line whose record carries its span id in a field (the text names none)."""
    return RawLogLine(
        ts=T0 + timedelta(seconds=second),
        message=text,
        level="INFO",
        service="ts-basic-service",
        trace_id=TRACE if span else None,
        span_id=span,
    )


def _span(span_id: str | None, operation: str) -> RawSpan:
    return RawSpan(
        ts=T0,
        service="ts-basic-service",
        operation=operation,
        duration_ms=12.0,
        span_id=span_id,
    )


def test_a_record_that_names_its_span_in_a_field_is_placed_like_one_that_writes_it() -> None:
    spans = [_span("3d4c6d61e5c81a67", "queryForTravel"), _span("5e6f", "other")]
    by_field = statements_of(
        [_record("3d4c6d61e5c81a67", "f.m.s.BasicServiceImpl#418 [getRoutes][Success]")],
        spans,
        id_prefix="statement",
        source="test",
    )
    by_text = statements_of(
        [_line("3d4c6d61e5c81a67", "[getRoutes][Success]")],
        spans,
        id_prefix="statement",
        source="test",
    )
    assert [(s.operation, s.statement, s.spans) for s in by_field] == [
        ("queryForTravel", "f.m.s.basicserviceimpl#418 [getroutes][success]", 1)
    ]
    assert by_field == by_text


def test_the_field_wins_over_the_text_and_the_text_context_stays_out_of_the_words() -> None:
    line = _line("aaaaaaaaaaaaaaaa", "[getRoutes][Success]")
    record = RawLogLine(
        ts=line.ts, message=line.message, level="INFO", service=line.service, span_id="bbbb"
    )
    assert line_statement(record) == ("bbbb", "f.m.s.basicserviceimpl#418 [getroutes][success]")
    assert line_statement(_record(None, "no context here")) is None


def test_spans_without_ids_place_nothing() -> None:
    assert (
        statements_of(
            [_record("3d4c6d61e5c81a67", "[getRoutes][Success]")],
            [_span(None, "queryForTravel")],
            id_prefix="statement",
            source="test",
        )
        == []
    )


def test_a_statement_keeps_when_each_span_logged_it_and_what_the_same_spans_logged() -> None:
    operations = {
        f"00000000000000a{n}": ("ts-basic-service", "BasicController.queryForTravels")
        for n in range(1, 4)
    }
    lines = [
        _line("00000000000000a1", "[query][start]", second=1),
        _line("00000000000000a1", "[query][done]", second=1.5),
        _line("00000000000000a2", "[query][start]", second=30),
        _line("00000000000000a2", "[query][done]", second=30.2),
        # A loop in one span: one span, at its first line.
        _line("00000000000000a3", "[query][start]", second=61),
        _line("00000000000000a3", "[query][start]", second=62),
    ]

    done, start = log_statements(lines, operations, id_prefix="statement", source="test")

    assert start.first_seen == T0 + timedelta(seconds=1)
    assert start.span_offsets_ms == [0, 29000, 60000]
    assert start.co_spans == {"f.m.s.basicserviceimpl#418 [query][done]": 2}
    assert done.span_offsets_ms == [0, 28700]
    assert done.co_spans == {"f.m.s.basicserviceimpl#418 [query][start]": 2}


def test_a_statement_sealed_before_it_kept_span_times_serialises_as_it_did() -> None:
    (found,) = log_statements(
        [_line("00000000000000a1", "[check][ok]")],
        {"00000000000000a1": ("ts-basic-service", "BasicController.check")},
        id_prefix="statement",
        source="test",
    )
    old = found.model_copy(update={"first_seen": None, "span_offsets_ms": [], "co_spans": {}})

    dumped = old.model_dump(mode="json", by_alias=True)

    assert not {"firstSeen", "spanOffsetsMs", "coSpans"} & set(dumped)
    # A single span shares nothing: no pairs are kept.
    assert found.co_spans == {}
    assert "firstSeen" in found.model_dump(mode="json", by_alias=True)


def test_only_statements_logged_in_at_least_half_of_a_statements_spans_are_kept_with_it() -> None:
    spans = [f"00000000000000b{n}" for n in range(5)]
    operations = dict.fromkeys(spans, ("ts-basic-service", "BasicController.queryForTravels"))
    lines = [_line(span, "[query][start]", second=n) for n, span in enumerate(spans)]
    # A branch two of the five calls take.
    lines += [_line(span, "[query][branch]", second=n + 0.5) for n, span in enumerate(spans[:2])]

    branch, start = log_statements(lines, operations, id_prefix="statement", source="test")

    # Every span of the branch logged the start: what it follows is kept.
    assert branch.co_spans == {"f.m.s.basicserviceimpl#418 [query][start]": 2}
    # Two of five spans of the start logged the branch: too few to say what follows it.
    assert start.co_spans == {}
