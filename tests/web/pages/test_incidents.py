"""The incident list page: filters, title search, cursor pages, the auto-refresh fragment."""

from __future__ import annotations

import re

import httpx
import pytest

from chronosops.auth import Role
from tests.fixtures.app import ClientFactory
from tests.fixtures.console import SignIn, sign_in_with_link
from tests.fixtures.guide import request

INGEST = "/v1/incidents/ingest"


async def seed(client: httpx.AsyncClient, analyst: dict[str, str]) -> None:
    for ref, title, severity, source, service in [
        ("a", "Checkout latency", "high", "CUSTOM", "checkout"),
        ("b", "Payments errors", "critical", "PAGERDUTY", "payments"),
        ("c", "checkout DNS failure", "low", "CUSTOM", "checkout"),
        ("d", "Search 100% CPU_spike", "high", "DATADOG", "search"),
    ]:
        body = request(
            sourceRef=ref,
            title=title,
            severity=severity,
            sourceType=source,
            metadata={"service": service},
            timeline={"start": "2024-01-15T10:00:00Z"},
        )
        assert (await client.post(INGEST, json=body, headers=analyst)).status_code == 201


def titles(html: str) -> list[str]:
    return re.findall(
        r'<td class="title-cell"><a id="open-[^"]+" href="/incidents/[^"]+">([^<]+)</a>', html
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "",
            [
                "Search 100% CPU_spike",
                "checkout DNS failure",
                "Payments errors",
                "Checkout latency",
            ],
        ),
        ("?severity=high", ["Search 100% CPU_spike", "Checkout latency"]),
        ("?source=PAGERDUTY", ["Payments errors"]),
        ("?service=checkout", ["checkout DNS failure", "Checkout latency"]),
        ("?q=CHECKOUT", ["checkout DNS failure", "Checkout latency"]),
        ("?q=100%25", ["Search 100% CPU_spike"]),
        ("?status=failed", []),
        ("?severity=high&service=checkout&q=lat", ["Checkout latency"]),
    ],
)
async def test_filters_and_search_narrow_the_list(
    client: httpx.AsyncClient,
    analyst: dict[str, str],
    sign_in: SignIn,
    query: str,
    expected: list[str],
) -> None:
    await seed(client, analyst)
    await sign_in(Role.VIEWER)
    page = await client.get(f"/incidents{query}")
    assert page.status_code == 200
    assert titles(page.text) == expected
    if not expected:
        assert "No incident matches these filters." in page.text


async def test_the_chosen_filters_stay_selected(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    await sign_in(Role.VIEWER)
    page = await client.get("/incidents?severity=critical&status=analyzed&q=pay")
    assert '<option value="critical" selected>' in page.text
    assert '<option value="analyzed" selected>' in page.text
    assert 'name="q" type="search" value="pay"' in page.text


async def test_an_unknown_filter_value_is_reported_and_not_applied(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    await seed(client, analyst)
    await sign_in(Role.VIEWER)
    page = await client.get("/incidents?severity=urgent")
    assert page.status_code == 200
    assert "unknown value &#39;urgent&#39;" in page.text
    assert len(titles(page.text)) == 4


async def test_pages_walk_every_incident_once_through_the_older_link(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    for n in range(53):
        body = request(sourceRef=f"r{n}", title=f"Incident {n:02d}", severity="low")
        await client.post(INGEST, json=body, headers=analyst)
    await sign_in(Role.VIEWER)
    seen: list[str] = []
    url = "/incidents?severity=low"
    while url:
        page = await client.get(url)
        seen += titles(page.text)
        older = re.search(r'href="(/incidents\?[^"]+)" rel="next"', page.text)
        url = older.group(1).replace("&amp;", "&") if older else ""
        if url:
            assert "severity=low" in url
    assert seen == [f"Incident {n:02d}" for n in reversed(range(53))]


async def test_the_first_page_refreshes_itself_and_older_pages_do_not(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    for n in range(51):
        await client.post(INGEST, json=request(sourceRef=f"r{n}", title=f"T{n}"), headers=analyst)
    await sign_in(Role.VIEWER)
    first = await client.get("/incidents?q=T")
    assert 'hx-get="/incidents?q=T" hx-trigger="every 15s"' in first.text
    older = re.search(r'href="(/incidents\?[^"]+)" rel="next"', first.text)
    assert older
    second = await client.get(older.group(1).replace("&amp;", "&"))
    assert 'hx-trigger="every' not in second.text
    assert "← Newest" in second.text


async def test_htmx_gets_only_the_results_and_the_filter_form_updates_the_address_bar(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    await seed(client, analyst)
    await sign_in(Role.VIEWER)
    from_form = await client.get(
        "/incidents?q=&severity=high&status=&source=&service=",
        headers={"HX-Request": "true", "HX-Target": "results", "HX-Trigger": "filters"},
    )
    assert from_form.text.lstrip().startswith('<section id="results"')
    assert "<html" not in from_form.text
    assert titles(from_form.text) == ["Search 100% CPU_spike", "Checkout latency"]
    assert from_form.headers["hx-push-url"] == "/incidents?severity=high"

    refresh = await client.get(
        "/incidents?severity=high",
        headers={"HX-Request": "true", "HX-Target": "results", "HX-Trigger": "results"},
    )
    assert "hx-push-url" not in refresh.headers


async def test_the_refresh_interval_is_a_setting_and_zero_turns_it_off(
    client_with: ClientFactory,
) -> None:
    quiet, services = await client_with(console_refresh_seconds=0)
    await sign_in_with_link(quiet, services, Role.VIEWER)
    page = await quiet.get("/incidents")
    assert 'hx-trigger="every' not in page.text
    assert "Refreshes every" not in page.text


async def test_a_bad_cursor_is_a_readable_400_page(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(Role.VIEWER)
    page = await client.get("/incidents?cursor=not-a-cursor")
    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
    assert "not a cursor returned by this API" in page.text


async def test_home_shows_open_critical_failed_and_latest_incidents(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    await seed(client, analyst)
    await sign_in(Role.VIEWER)
    home = await client.get("/")
    critical = home.text.split('id="critical-title"')[1].split("</section>")[0]
    assert "Payments errors" in critical
    assert "Checkout latency" not in critical
    assert "Every incident was analysed." in home.text
    assert "New incident" not in home.text  # viewers cannot ingest
