"""Following a vendor's pages up to a budget, and saying where and why the paging stopped.

Seen from here every paged API is alike: ask for at most N items, get them and something to
send for the next page (a cursor, a page token, a timestamp), or nothing once the answer is
complete. `follow_pages` drives that loop for one question and stops at the first of:

- the vendor has no further page: the answer is complete, nothing to note;
- the budget (an option such as ``logs_max_lines``) is spent while more pages exist;
- the vendor hands back a cursor it already gave (following it would loop for ever);
- ``max_pages`` pages were read (an API may answer with near-empty pages and a cursor);
- too little of the collector's deadline is left for one more page.

All but the first leave a note, so that completeness tells the truth. A page after the first
that fails keeps the pages before it and reports the failure as a problem; a failing first page
raises, exactly as a single request did before paging.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from chronosops.collectors.base import Collected, Collector, CollectorError, CollectorQuery
from chronosops.core.aggregation import RawLogLine

T = TypeVar("T")

MAX_PAGES = 50
# Left of the deadline for what follows the last page (templating, returning): a page that
# cannot finish before deadline − reserve is not worth starting.
DEADLINE_RESERVE_SECONDS = 1.0


@dataclass(frozen=True)
class Page(Generic[T]):
    """One vendor answer: its items and what to send for the next page (None: no more)."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class Budget:
    """How much one question may read, and the words its notes use."""

    total: int | None  # items in all, across pages; None: as many as max_pages hold
    unit: str  # what an item is called in a note: "lines", "traces"
    page_size: int  # items per request, at most the vendor's per-page cap
    option: str = ""  # the option that set ``total``, named when it cuts the answer
    max_pages: int = MAX_PAGES

    def left(self, read: int) -> int | None:
        return None if self.total is None else self.total - read


@dataclass
class Paged(Generic[T]):
    items: list[T] = field(default_factory=list)
    pages: int = 0
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _tally(paged: Paged[T], budget: Budget, cut_by: str = "") -> str:
    pages = f"{paged.pages} page{'s' if paged.pages != 1 else ''}"
    return f"{pages} ({len(paged.items):,} {budget.unit}{cut_by})"


async def follow_pages(
    fetch: Callable[[str | None, int], Awaitable[Page[T]]],
    budget: Budget,
    *,
    deadline: float | None = None,
) -> Paged[T]:
    """Call ``fetch(cursor, size)`` page after page until the answer is complete or cut.

    ``size`` is what is left of the budget, at most ``page_size``; an API whose cursor is tied
    to the page size it was asked with may ignore it and send ``page_size`` every time.
    ``deadline`` is event-loop time (`CollectorQuery.deadline`): a page after the first is
    started only before ``deadline − DEADLINE_RESERVE_SECONDS``, and abandoned at that moment.
    """
    paged: Paged[T] = Paged()
    cursor: str | None = None
    followed: set[str] = set()
    loop = asyncio.get_running_loop()
    while True:
        left = budget.left(len(paged.items))
        size = budget.page_size if left is None else min(budget.page_size, left)
        try:
            if paged.pages == 0 or deadline is None:
                page = await fetch(cursor, size)
            else:
                cutoff = deadline - DEADLINE_RESERVE_SECONDS
                if loop.time() >= cutoff:
                    paged.notes.append(
                        f"stopped after {_tally(paged, budget)}: too little of the collector's "
                        "timeout was left for another page"
                    )
                    return paged
                async with asyncio.timeout_at(cutoff):
                    page = await fetch(cursor, size)
        except CollectorError as error:
            if paged.pages == 0:
                raise
            paged.problems.append(_failed(paged, budget, error.message))
            return paged
        except TimeoutError:
            if paged.pages == 0:
                raise
            paged.problems.append(
                _failed(paged, budget, "it did not answer before the collector's timeout")
            )
            return paged
        paged.pages += 1
        left = budget.left(len(paged.items))
        paged.items.extend(page.items if left is None else page.items[:left])
        following = page.next_cursor
        if following is None:
            return paged
        if budget.total is not None and len(paged.items) >= budget.total:
            paged.notes.append(
                f"stopped after {_tally(paged, budget, f', the {budget.option} budget')}"
            )
            return paged
        if cursor is not None:
            followed.add(cursor)
        if following in followed:
            paged.notes.append(
                f"stopped after {_tally(paged, budget)}: the next cursor repeats one already "
                "followed"
            )
            return paged
        if paged.pages >= budget.max_pages:
            paged.notes.append(
                f"stopped after {_tally(paged, budget)}: at most {budget.max_pages} pages are read"
            )
            return paged
        cursor = following


def _failed(paged: Paged[T], budget: Budget, reason: str) -> str:
    return f"page {paged.pages + 1} failed, kept the first {_tally(paged, budget)}: {reason}"


async def log_pages(
    collector: Collector,
    fetch: Callable[[str | None, int], Awaitable[Page[RawLogLine]]],
    budget: Budget,
    query: CollectorQuery,
    service: str,
    *,
    label: str = "",
) -> Collected:
    """Log lines read page by page, then clustered into the most telling templates.

    ``label`` prefixes the notes and problems when the collector's other questions do not
    already say which question they come from.
    """
    paged = await follow_pages(fetch, budget, deadline=query.deadline)
    prefix = f"{label}: " if label else ""
    return Collected(
        artifacts=collector.templates_of(paged.items, query, service),
        problems=[prefix + problem for problem in paged.problems],
        notes=[prefix + note for note in paged.notes],
        lines=paged.items,
        # Read over the window when no page failed (a budget that cut the pages still read
        # the newest lines; a failed page leaves the rest unread).
        read=set() if paged.problems else {"logs"},
    )
