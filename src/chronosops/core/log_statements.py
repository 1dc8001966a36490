"""Log statements placed in the span operations that log them.

A log line that carries its trace context says which span logged it: in a field of the record
(an OpenTelemetry log record's ids, Cloud Logging's ``spanId``, Loki structured metadata,
Datadog's ``dd.span_id``: `RawLogLine.span_id`, filled by whoever read the record) or in its
text (Logback/MDC ``TraceID: … SpanID: …``, ``trace_id=… span_id=…``). The field wins where
both are there. Grouped by *statement* (the line's first words with values masked, the code
location kept where the logger prints one: ``Impl#418``, ``handler.py:52``) and placed in the
operation of that span, the lines tell what an operation does each time it runs: which
statements it reaches. A code fault changes that (an exception skips the rest of a method, a
wrong return value sends the caller down another branch) while a shift of the traffic between
operations does not, because each statement is read against the calls of its own operation
(`analysis.code_paths`).

Templates (`core.log_mining`) group lines for reading; they are too coarse here: lines that
share a long prefix (``logger#<num> traceid: <hex> spanid: <hex>``) join one template however
different the statements are. A statement key is cheaper than mining (two searches for the
trace context, a few regular expressions on the first words): placing 3,000 lines costs about
50 ms of one core. Every pattern is bounded and sees at most ``STATEMENT_INPUT_MAX`` characters.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from chronosops.core.aggregation import RawLogLine, RawSpan, bounded_id, minute_of
from chronosops.core.artifacts import LogStatement, SeriesPoint, normalise_level
from chronosops.core.redaction import redact_text

# The words of a line that name its statement: enough to tell "get route by ids][success]"
# from "get route by ids failed]", few enough that the values later in the line stay out.
STATEMENT_WORDS = 6
STATEMENT_INPUT_MAX = 512
# A statement is placed in one operation when this share of the known spans that logged it ran
# that operation; a helper logged from several operations is left out (its rate would follow
# their mix).
PLACEMENT_SHARE = 0.8
# What follows what (`LogStatement.co_spans`) keeps the statements that logged in at least half
# of a statement's spans, and in two at least: a statement is read against one that most of its
# spans logged (`analysis.code_paths.FOLLOWS_SHARE`), and the rarer pairs would double what the
# statements weigh in a stored bundle (100 KB against 59 KB on the largest Nezha TrainTicket
# bundle) for nothing read.
CO_SPANS_MIN = 2
CO_SPANS_SHARE = 0.5

# Read on the lower-cased line (a case-sensitive literal prefix is found fastest).
_TRACE = re.compile(
    r"(?<![\w])trace[_\-.]?id[\"']?\s{0,3}[:=]\s{0,3}[\"']?([0-9a-f]{16,32})(?![0-9a-f])"
)
_SPAN = re.compile(
    r"(?<![\w])span[_\-.]?id[\"']?\s{0,3}[:=]\s{0,3}[\"']?([0-9a-f]{8,16})(?![0-9a-f])"
)
# Where the logger prints the line of code: kept, it is the statement's best name.
_CODE_LOCATION = re.compile(
    r"[\w.$]{1,200}#\d{1,6}|[\w./$-]{1,200}\.(?:java|kt|scala|py|go|js|ts|rb|cs|php):\d{1,6}"
)
# A value inside a word (only words with a digit are read): a UUID, or a run of letters and
# digits with a digit in it (a number, a hex id, a train number "z1234", "12ms"), as Drain reads
# a token with digits as a parameter.
_VALUE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|[a-z_]{0,64}\d[0-9a-z_]{0,64}"
)
_HAS_DIGIT = re.compile(r"\d").search


@dataclass(frozen=True)
class TraceContext:
    trace_id: str
    span_id: str


def _words(text: str) -> str:
    """The first words of a lower-cased text, values masked, a code location kept."""
    words = text.split()[:STATEMENT_WORDS]
    return (
        " ".join(
            [
                word
                if _HAS_DIGIT(word) is None or _CODE_LOCATION.fullmatch(word)
                else _VALUE.sub("#", word)
                for word in words
            ]
        )
        or "<empty>"
    )


def placed_statement(message: str) -> tuple[TraceContext, str] | None:
    """The trace context a line names (both ids) and its statement: the first words without
    the trace context, values masked, a code location kept. None without trace context."""
    head = message[:STATEMENT_INPUT_MAX].lower()
    # Both patterns open with a look-behind (every position is a start), then their word: a
    # line without the word is not scanned, and a search starts at its first occurrence (the
    # look-behind still sees the character before it), where the leftmost match starts at best.
    trace_at, span_at = head.find("trace"), head.find("span")
    if trace_at < 0 or span_at < 0:
        return None
    trace = _TRACE.search(head, trace_at)
    if trace is None:
        return None
    span = _SPAN.search(head, span_at)
    if span is None:
        return None
    first, second = sorted((trace.span(), span.span()))
    text = f"{head[: first[0]]} {head[first[1] : second[0]]} {head[second[1] :]}"
    context = TraceContext(trace.group(1), span.group(1))
    return context, _words(text)


def statement_of(message: str) -> str:
    """The statement a line comes from: its first words without trace context, values masked,
    a code location kept."""
    found = placed_statement(message)
    return found[1] if found else _words(message[:STATEMENT_INPUT_MAX].lower())


def line_statement(line: RawLogLine) -> tuple[str, str] | None:
    """The span that logged a line (its record's span id, else the one its text names) and the
    line's statement (trace context left out of the words either way). None without either."""
    found = placed_statement(line.message)
    if line.span_id:
        words = found[1] if found else _words(line.message[:STATEMENT_INPUT_MAX].lower())
        return line.span_id, words
    return (found[0].span_id, found[1]) if found else None


def span_operations(spans: Iterable[RawSpan]) -> dict[str, tuple[str, str]]:
    """Span id → (service, operation) of the spans that have one; of two spans sharing an id,
    the later one."""
    return {span.span_id: (span.service, span.operation) for span in spans if span.span_id}


def statements_of(
    lines: Iterable[RawLogLine],
    spans: Iterable[RawSpan],
    *,
    id_prefix: str,
    source: str,
    default_service: str | None = None,
) -> list[LogStatement]:
    """Statements of the lines, placed in the operations of the spans that logged them: the
    one way evidence sent with an incident (`evidence.lite`) and collected evidence
    (`evidence.collection`) build them."""
    operations = span_operations(spans)
    if not operations:
        return []
    return log_statements(
        lines, operations, id_prefix=id_prefix, source=source, default_service=default_service
    )


def log_statements(
    lines: Iterable[RawLogLine],
    operations: Mapping[str, tuple[str, str]],
    *,
    id_prefix: str,
    source: str,
    default_service: str | None = None,
) -> list[LogStatement]:
    """Statements of the lines that carry trace context, each placed in the operation of the
    spans that logged it (``operations``: span id → (service, operation)).

    A statement is placed in an operation when the spans known to have logged it belong to one
    operation of the same service (at least ``PLACEMENT_SHARE`` of them); its lines in spans that
    are not in the evidence (traces sampled apart from logs) still count, since the span id says
    which call they came from. They are kept apart too (`LogStatement.unsent`): calls of its
    operation the traces did not send, for the readings that divide a statement's spans by those
    calls. A statement that cannot be placed (none of its spans were sent, or several operations
    log it) is kept with no operation: how much of its service's logging it is still counts
    (`analysis.code_paths.statement_history`).
    """
    redacted: dict[str, str] = {}  # a statement's words as read → as kept (secrets masked)
    # (service, statement) → span id → when it first logged it; and lines per level.
    spans_of: dict[tuple[str, str], dict[str, datetime]] = defaultdict(dict)
    levels_of: dict[tuple[str, str], Counter[str | None]] = defaultdict(Counter)
    for line in lines:
        found = line_statement(line)
        if found is None:
            continue
        span_id, words = found
        statement = redacted.get(words)
        if statement is None:
            statement = redacted[words] = redact_text(words)
        key = (line.service or default_service or "", statement)
        seen = spans_of[key]
        if span_id not in seen or line.ts < seen[span_id]:
            seen[span_id] = line.ts
        levels_of[key][line.level] += 1
    # Per service, span id → the statements it logged: which statements follow which.
    logged_in: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for (service, statement), seen in spans_of.items():
        for span_id in seen:
            logged_in[service][span_id].append(statement)
    shared: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for service, spans in logged_in.items():
        for together in spans.values():
            if len(together) < 2:
                continue
            for statement in together:
                shared[(service, statement)].update(s for s in together if s != statement)
    artifacts: list[LogStatement] = []
    for (service, statement), first_seen in sorted(spans_of.items()):
        where = Counter(
            operations[span_id][1]
            for span_id in first_seen
            if span_id in operations and operations[span_id][0] == service
        )
        operation = ""  # not placed: its spans are not among those sent, or it is a helper's
        if where:
            (most, inside), *_ = sorted(where.items(), key=lambda item: (-item[1], item[0]))
            if inside >= PLACEMENT_SHARE * sum(where.values()):
                operation = most
        per_minute: Counter[datetime] = Counter(minute_of(ts) for ts in first_seen.values())
        # Its spans that the spans sent do not hold (traces sampled apart from the logs).
        unsent: Counter[datetime] = Counter(
            minute_of(ts) for span_id, ts in first_seen.items() if span_id not in operations
        )
        starts = sorted(first_seen.values())
        levels: Counter[str] = Counter()
        for level, lines_at in levels_of[(service, statement)].items():
            levels[normalise_level(level)] += lines_at
        artifacts.append(
            LogStatement(
                artifact_id=bounded_id(
                    id_prefix, f"{service}:{operation}:{statement}", [service, statement]
                ),
                title=f"{service} {operation or '(no one operation)'}: {statement}"[:200],
                summary=(
                    f"logged by {len(first_seen)} span{'s' if len(first_seen) != 1 else ''} "
                    + (f"of {operation} " if operation else "")
                    + f"({levels.total()} line{'s' if levels.total() != 1 else ''})"
                ),
                source=source,
                service=service,
                operation=operation,
                statement=statement,
                levels=dict(sorted(levels.items())),
                spans=len(first_seen),
                histogram=[SeriesPoint(ts=m, value=n) for m, n in sorted(per_minute.items())],
                first_seen=starts[0],
                span_offsets_ms=[round((ts - starts[0]).total_seconds() * 1000) for ts in starts],
                co_spans={
                    other: count
                    for other, count in sorted(shared[(service, statement)].items())
                    if count >= CO_SPANS_MIN and count >= CO_SPANS_SHARE * len(first_seen)
                },
                unsent=[SeriesPoint(ts=m, value=n) for m, n in sorted(unsent.items())],
            )
        )
    return artifacts
