"""Following pages: budget, repeated cursors, the page cap, the deadline and failing pages."""

from __future__ import annotations

import asyncio

import pytest

from chronosops.collectors import CollectorRateLimitedError, CollectorUnavailableError
from chronosops.collectors.paging import (
    DEADLINE_RESERVE_SECONDS,
    Budget,
    Page,
    follow_pages,
)


class Pages:
    """A vendor with ``count`` pages of ``per_page`` numbers; cursors are page numbers."""

    def __init__(self, count: int, per_page: int = 10, *, slow_from: int | None = None) -> None:
        self.count = count
        self.per_page = per_page
        self.slow_from = slow_from
        self.asked: list[tuple[str | None, int]] = []

    async def __call__(self, cursor: str | None, size: int) -> Page[int]:
        self.asked.append((cursor, size))
        number = int(cursor or 0)
        if self.slow_from is not None and number >= self.slow_from:
            await asyncio.sleep(30)
        items = list(range(number * self.per_page, (number + 1) * self.per_page))
        return Page(items, str(number + 1) if number + 1 < self.count else None)


def budget(total: int | None = 1000, **overrides: int) -> Budget:
    return Budget(
        total=total,
        option="max_things",
        unit="things",
        page_size=overrides.pop("page_size", 10),
        **overrides,
    )


async def test_pages_are_read_until_the_vendor_has_no_more() -> None:
    vendor = Pages(3)
    paged = await follow_pages(vendor, budget())
    assert paged.items == list(range(30))
    assert [cursor for cursor, _ in vendor.asked] == [None, "1", "2"]
    assert (paged.pages, paged.notes, paged.problems) == (3, [], [])


async def test_each_page_asks_for_what_is_left_of_the_budget_at_most_a_page() -> None:
    vendor = Pages(5)
    paged = await follow_pages(vendor, budget(25))
    assert [size for _, size in vendor.asked] == [10, 10, 5]
    assert len(paged.items) == 25
    assert paged.notes == ["stopped after 3 pages (25 things, the max_things budget)"]


async def test_a_budget_spent_on_the_last_page_is_no_cut() -> None:
    paged = await follow_pages(Pages(2), budget(20))
    assert (len(paged.items), paged.notes) == (20, [])


async def test_without_a_budget_the_page_cap_still_stops_an_endless_vendor() -> None:
    vendor = Pages(10_000)
    paged = await follow_pages(vendor, budget(None, max_pages=4))
    assert len(vendor.asked) == 4
    assert paged.notes == ["stopped after 4 pages (40 things): at most 4 pages are read"]


async def test_a_cursor_seen_two_pages_ago_also_counts_as_repeated() -> None:
    cursors = iter(["a", "b", "a"])

    async def looping(cursor: str | None, size: int) -> Page[int]:
        return Page([1], next(cursors))

    paged = await follow_pages(looping, budget())
    assert paged.pages == 3
    assert paged.notes == [
        "stopped after 3 pages (3 things): the next cursor repeats one already followed"
    ]


async def test_a_failing_first_page_raises_as_a_single_request_did() -> None:
    async def refusing(cursor: str | None, size: int) -> Page[int]:
        raise CollectorRateLimitedError("vendor is rate limiting us (HTTP 429)")

    with pytest.raises(CollectorRateLimitedError):
        await follow_pages(refusing, budget())


async def test_a_failing_later_page_keeps_the_earlier_ones_as_a_problem() -> None:
    vendor = Pages(5)

    async def breaking(cursor: str | None, size: int) -> Page[int]:
        if cursor == "2":
            raise CollectorUnavailableError("vendor failed (HTTP 502): bad gateway")
        return await vendor(cursor, size)

    paged = await follow_pages(breaking, budget())
    assert paged.items == list(range(20))
    assert paged.problems == [
        "page 3 failed, kept the first 2 pages (20 things): vendor failed (HTTP 502): bad gateway"
    ]
    assert paged.notes == []


async def test_no_page_after_the_first_starts_when_the_deadline_is_too_near() -> None:
    vendor = Pages(3)
    now = asyncio.get_running_loop().time()
    paged = await follow_pages(vendor, budget(), deadline=now + DEADLINE_RESERVE_SECONDS / 2)
    assert len(vendor.asked) == 1
    assert paged.items == list(range(10))
    assert paged.notes == [
        "stopped after 1 page (10 things): too little of the collector's timeout was left for "
        "another page"
    ]


async def test_a_page_that_would_outlast_the_deadline_is_abandoned_in_time() -> None:
    vendor = Pages(3, slow_from=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    paged = await follow_pages(vendor, budget(), deadline=started + DEADLINE_RESERVE_SECONDS + 0.3)
    assert loop.time() - started < DEADLINE_RESERVE_SECONDS + 0.3  # before the deadline itself
    assert paged.items == list(range(10))
    assert paged.problems == [
        "page 2 failed, kept the first 1 page (10 things): it did not answer before the "
        "collector's timeout"
    ]
