"""The console in a real browser: Debian's Chromium, driven by Playwright, against uvicorn.

Each test starts its own server on a free loopback port and saves a screenshot of every page
it visits under ``$CI_ARTIFACTS/console/`` for people to review.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import httpx
import pytest

from chronosops.auth import LocalTokenIssuer, Role
from chronosops.cli.sign_in import new_link
from chronosops.config import Settings
from chronosops.core.clock import SystemClock
from chronosops.core.ids import Cuid2Factory
from chronosops.scenarios import SCENARIOS
from tests.fixtures.app import make_settings
from tests.fixtures.console import checkout_incident
from tests.fixtures.guide import example, request
from tests.fixtures.live_server import LiveServer, live_server
from tests.fixtures.webhooks import TOKENS, webhook_settings
from tests.sources.payloads import load, raw

if TYPE_CHECKING:
    from playwright._impl._api_structures import SetCookieParam
    from playwright.sync_api import ViewportSize

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[3]
SHOTS = Path(os.environ.get("CI_ARTIFACTS") or REPO / "ci-artifacts") / "console"
LAPTOP: ViewportSize = {"width": 1366, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium for the browser tests")
    pytest.skip("Debian's chromium is not installed here", allow_module_level=True)

from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    with live_server(settings.model_copy(update={"console_refresh_seconds": 2})) as running:
        yield running


def bearer(settings: Settings, *roles: Role) -> dict[str, str]:
    issuer = LocalTokenIssuer(settings.auth, clock=SystemClock(), ids=Cuid2Factory())
    token = issuer.mint(subject="seeder", roles=list(roles), ttl=timedelta(minutes=10))
    return {"Authorization": f"Bearer {token}"}


def ingest(server: LiveServer, body: dict[str, Any]) -> str:
    response = httpx.post(
        f"{server.url}/v1/incidents/ingest",
        json=body,
        headers=bearer(server.settings, Role.ANALYST),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    incident_id: str = response.json()["incidentId"]
    return incident_id


def sign_in_link(server: LiveServer, *roles: Role, sub: str) -> str:
    """A link made the way `chronosops sign-in-link` makes it (on its own thread: Playwright's
    sync API keeps an event loop running on this one)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(
            asyncio.run, new_link(server.settings, subject=sub, roles=list(roles))
        ).result()


class PageWatch:
    """Everything a page says went wrong: script errors, CSP violations, failed requests."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("dialog", self._dialog)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_an_analyst_signs_in_filters_the_list_reads_a_diagnosis_and_ingests(
    browser: Browser, server: LiveServer
) -> None:
    checkout = ingest(server, checkout_incident())
    ingest(
        server,
        request(
            sourceRef="search-lag",
            sourceType="DATADOG",
            title="Search index lag above 10 minutes",
            severity="low",
            metadata={"service": "search"},
        ),
    )
    ingest(
        server,
        request(
            sourceRef="login-errors",
            title="Login errors for EU customers",
            severity="high",
            metadata={"service": "auth"},
        ),
    )
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    watch = PageWatch(page)

    page.goto(f"{server.url}/incidents")
    expect(page).to_have_url(f"{server.url}/sign-in?next=%2Fincidents")
    expect(page.get_by_role("heading", name="Sign in to ChronosOps")).to_be_visible()
    shoot(page, "01-sign-in")

    page.goto(sign_in_link(server, Role.ANALYST, sub="ann"))
    expect(page).to_have_url(f"{server.url}/")
    expect(page.get_by_role("heading", name="Incidents at a glance")).to_be_visible()
    expect(
        page.get_by_role("link", name="Checkout p95 latency above 900 ms after deploy")
    ).to_have_count(2)
    shoot(page, "02-home")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents").click()
    rows = page.locator("table.incidents tbody tr")
    expect(rows).to_have_count(3)
    shoot(page, "03-incidents")

    page.get_by_label("Severity").select_option("critical")
    expect(page).to_have_url(f"{server.url}/incidents?severity=critical")
    expect(rows).to_have_count(1)
    page.get_by_label("Severity").select_option("")
    page.get_by_label("Title contains").fill("index lag")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Search index lag above 10 minutes")
    expect(page).to_have_url(f"{server.url}/incidents?q=index+lag")
    shoot(page, "04-incidents-filtered")

    # Auto-refresh: an incident that arrives while the page is open appears without a reload.
    page.get_by_label("Title contains").fill("")
    expect(rows).to_have_count(3)
    ingest(server, request(sourceRef="late", title="Queue backlog growing", severity="medium"))
    expect(rows).to_have_count(4, timeout=10_000)
    # A refresh keeps the keyboard focus where it was.
    rows.first.get_by_role("link").focus()
    focused = page.evaluate("document.activeElement.id")
    stamp = page.locator(".results-meta time").get_attribute("datetime")
    expect(page.locator(".results-meta time")).not_to_have_attribute("datetime", stamp or "")
    assert focused.startswith("open-")
    assert page.evaluate("document.activeElement.id") == focused

    page.get_by_role("link", name="Checkout p95 latency above 900 ms after deploy").click()
    expect(page).to_have_url(f"{server.url}/incidents/{checkout}")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Checkout p95 latency above 900 ms after deploy"
    )
    hypotheses = page.locator("ol.hypotheses > li")
    expect(hypotheses.first).to_be_visible()
    assert hypotheses.count() >= 2
    expect(page.locator("svg.chart")).to_have_count(2)
    expect(page.locator("svg.chart .chart-window")).to_have_count(2)
    expect(page.locator("svg.chart .chart-change")).to_have_count(2)
    expect(page.get_by_text("audit verified")).to_be_visible()
    # The raw payload is for admins only.
    expect(page.get_by_role("heading", name="Raw source payload")).to_have_count(0)
    cited = hypotheses.first.locator(".cites a").first
    target = cited.get_attribute("href")
    assert target
    assert target.startswith("#ev-")
    cited.click()
    expect(page).to_have_url(f"{server.url}/incidents/{checkout}{target}")
    expect(page.locator(target)).to_be_in_viewport()
    shoot(page, "05-incident-detail")

    page.get_by_role("button", name="Re-analyse").click()
    expect(page.get_by_role("status")).to_contain_text("Re-analysed from the stored evidence")
    expect(page.locator("table.history tbody tr")).to_have_count(2)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="New incident").click()
    page.get_by_label("Ingest request (JSON)").fill(
        json.dumps({"sourceType": "SPLUNK", "sourceRef": "x", "timeline": {"start": "soon"}})
    )
    page.get_by_role("button", name="Ingest and analyse").click()
    errors = page.get_by_role("alert")
    expect(errors).to_contain_text("sourceType")
    expect(errors).to_contain_text("timeline.start")
    expect(errors).to_contain_text("title")
    expect(page).to_have_url(f"{server.url}/new")
    expect(page.get_by_label("Ingest request (JSON)")).to_have_attribute("aria-invalid", "true")
    shoot(page, "06-new-incident-errors")

    page.get_by_label("Ingest request (JSON)").fill(json.dumps(example("example_2_with_evidence")))
    page.get_by_role("button", name="Ingest and analyse").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Database connection pool exhaustion")
    expect(page.get_by_role("status")).to_contain_text("Incident ingested.")

    assert watch.problems == []
    assert watch.dialogs == []
    context.close()


def test_the_detail_page_fits_a_phone(browser: Browser, server: LiveServer) -> None:
    checkout = ingest(server, checkout_incident())
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(sign_in_link(server, Role.ADMIN, sub="ada"))
    page.goto(f"{server.url}/incidents/{checkout}")
    expect(page.get_by_role("heading", name="Raw source payload")).to_be_visible()
    # A mobile browser widens its layout viewport to the widest element: measure against 390.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px phone"
    shoot(page, "07-incident-detail-phone")
    page.goto(f"{server.url}/incidents")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(page, "08-incidents-phone")
    assert watch.problems == []
    context.close()


def test_an_analyst_runs_a_scenario_reads_its_diagnosis_and_imports_a_feed(
    browser: Browser, server: LiveServer
) -> None:
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(sign_in_link(server, Role.ANALYST, sub="ann"))

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Scenarios").click()
    expect(page.locator("table.scenarios tbody tr")).to_have_count(len(SCENARIOS))
    shoot(page, "10-scenarios")
    page.get_by_role("link", name="Production latency spike after deployment").click()
    expect(page.locator("svg.chart").first).to_be_visible()
    expect(page.get_by_text("Known root cause (spoiler)")).to_be_visible()
    shoot(page, "11-scenario-preview")

    page.get_by_label("Minutes before").fill("20")
    page.get_by_role("button", name="Analyse this scenario").click()
    expect(page.get_by_role("status")).to_contain_text("Scenario analysed.")
    expect(page.locator("ol.hypotheses > li").first).to_be_visible()
    expect(page.locator(".timeline:not(.activity)")).to_contain_text("20 min before the start")
    expect(page.locator("svg.chart").first).to_be_visible()
    shoot(page, "12-scenario-incident")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sources").click()
    expect(page.get_by_role("heading", name="PagerDuty")).to_be_visible()
    expect(page.locator("#source-pagerduty")).to_contain_text(f"{server.url}/v1/webhooks/pagerduty")
    shoot(page, "13-sources")

    page.get_by_role("link", name="Import Google Cloud status").click()
    page.get_by_label("incidents.json").fill(raw("google-cloud-status", "feed").decode())
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("status")).to_contain_text("Imported 3 entries: 3 created")
    shoot(page, "14-google-import")
    page.locator("table.import-results").get_by_role("link").first.click()
    expect(page.locator(".badges")).to_contain_text("GOOGLE_CLOUD")

    assert watch.problems == []
    context.close()


HOSTILE_TITLE = '<script>window.__owned = "title"</script>"><img src=x onerror="window.__owned=\'img\';alert(1)">'
HOSTILE_LOG = '"><img src=x onerror=alert(document.cookie)><script>window.__owned="log"</script>'


def test_hostile_values_are_shown_as_text_and_never_run(
    browser: Browser, server: LiveServer
) -> None:
    body = checkout_incident(
        sourceRef="hostile",
        title=HOSTILE_TITLE,
        description=HOSTILE_LOG,
        metadata={"service": '"><svg onload=alert(2)>', "tags": {"x<b>": "<i>y</i>"}},
        sourcePayload={"html": HOSTILE_LOG},
    )
    body["evidenceLite"]["logs"].append(
        {"message": HOSTILE_LOG, "level": "ERROR", "timestamp": "2024-03-05T14:05:00Z"}
    )
    body["evidenceLite"]["events"].append(
        {
            "type": "deploy",
            "description": HOSTILE_TITLE,
            "timestamp": "2024-03-05T13:59:00Z",
            "metadata": {"link": "javascript:alert(3)"},
        }
    )
    incident = ingest(server, body)
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(sign_in_link(server, Role.ADMIN, sub="ada"))

    page.goto(f"{server.url}/incidents")
    expect(page.locator("table.incidents")).to_contain_text(HOSTILE_TITLE)

    page.goto(f"{server.url}/incidents/{incident}")
    expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE_TITLE)
    for summary in page.locator("details > summary").all():
        summary.click()
    expect(page.locator("pre.json").first).to_contain_text(HOSTILE_LOG.replace('"', '\\"'))
    expect(page.locator("table.logs")).to_contain_text(HOSTILE_LOG)
    shoot(page, "09-hostile-values")

    assert page.evaluate("window.__owned") is None
    assert page.locator("img[src='x'], svg[onload], b, i").count() == 0
    assert page.locator("script").count() == 1  # htmx, from /static
    assert page.locator("a[href^='javascript:']").count() == 0
    assert watch.dialogs == []
    assert watch.problems == []
    context.close()


def test_an_admin_verifies_the_audit_chain_and_signs_out_for_good(
    browser: Browser, server: LiveServer
) -> None:
    ingest(server, checkout_incident())
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(sign_in_link(server, Role.ADMIN, sub="ada"))
    page.get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit")
    expect(page.locator("table.audit")).to_contain_text("SIGNED_IN")
    page.get_by_role("button", name="Verify the whole chain").click()
    expect(page.locator("#chain-verification")).to_contain_text("✔ Verified")
    shoot(page, "10-audit")
    cookie = next(c for c in context.cookies() if c["name"] == "chronosops_session")
    page.goto(f"{server.url}/account")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in\?signed_out=1$"))
    context.add_cookies([cast("SetCookieParam", cookie)])  # a copy of the cookie, put back
    page.goto(f"{server.url}/audit")
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    assert watch.problems == []
    context.close()


def reanalyse(server: LiveServer, incident_id: str) -> None:
    response = httpx.post(
        f"{server.url}/v1/incidents/{incident_id}/reanalyze",
        headers=bearer(server.settings, Role.ANALYST),
        timeout=30,
    )
    assert response.status_code == 201, response.text


def test_a_viewer_reads_the_postmortem_downloads_it_and_the_export(
    browser: Browser, server: LiveServer
) -> None:
    incident_id = ingest(server, checkout_incident())
    context = browser.new_context(viewport=LAPTOP, accept_downloads=True)
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(sign_in_link(server, Role.VIEWER, sub="vic"))
    page.goto(f"{server.url}/incidents/{incident_id}")
    page.get_by_role("link", name="version 1").click()
    expect(page.get_by_role("heading", level=2, name="Root cause")).to_be_visible()
    shoot(page, "11-postmortem")
    with page.expect_download() as markdown:
        page.get_by_role("link", name="Download Markdown").click()
    assert markdown.value.suggested_filename == f"postmortem-{incident_id}-v1.md"
    page.goto(f"{server.url}/incidents/{incident_id}")
    with page.expect_download() as export:
        page.get_by_role("link", name="Export zip").click()
    assert export.value.suggested_filename == f"chronosops-incident-{incident_id}.zip"
    assert watch.problems == []
    context.close()


def test_a_viewer_compares_two_analyses_from_the_history(
    browser: Browser, server: LiveServer
) -> None:
    incident_id = ingest(server, checkout_incident())
    reanalyse(server, incident_id)
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(sign_in_link(server, Role.VIEWER, sub="vic"))
    page.goto(f"{server.url}/incidents/{incident_id}#history")
    page.get_by_role("link", name="with the one shown").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Compare analyses")
    shoot(page, "12-compare")
    assert watch.problems == []
    context.close()


def test_a_viewer_follows_the_graph_from_a_box_to_its_evidence(
    browser: Browser, server: LiveServer
) -> None:
    incident_id = ingest(server, checkout_incident())
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(sign_in_link(server, Role.VIEWER, sub="vic"))
    page.goto(f"{server.url}/incidents/{incident_id}")
    page.get_by_role("link", name="Explainability graph").click()
    graph = page.get_by_role("img", name=re.compile("Explainability graph of analysis"))
    expect(graph).to_be_visible()
    shoot(page, "13-graph")
    page.locator('g.node[data-type="EVIDENCE"]').first.click()
    expect(page).to_have_url(re.compile(rf"/incidents/{incident_id}\?analysis=.*#ev-"))
    assert watch.problems == []
    context.close()


def test_an_analyst_starts_an_investigation_and_watches_the_gate_decide(
    browser: Browser, server: LiveServer
) -> None:
    incident_id = ingest(server, checkout_incident())
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(sign_in_link(server, Role.ANALYST, sub="ann"))
    page.goto(f"{server.url}/incidents/{incident_id}#investigations")
    page.get_by_label("Target").fill("0.99")
    page.get_by_role("button", name="Investigate").click()
    panel = page.locator("#investigations")
    # The panel refreshes itself while the session runs; the job ends with every request refused.
    expect(panel).to_contain_text("ALL_REJECTED", timeout=20_000)
    expect(panel.locator("table.gate").first).to_contain_text("NO_ALLOWED_COLLECTOR")
    shoot(page, "14-investigation")
    assert watch.problems == []
    context.close()


def test_a_viewer_reads_the_alerts_an_incident_holds_opened_joined_and_silenced(
    browser: Browser, database_url: str
) -> None:
    settings = make_settings(database_url, console_refresh_seconds=2, **webhook_settings())
    group = load("alertmanager", "firing")
    # The opener's summary is hostile: it is shown as text, like every other value.
    group["alerts"][0]["annotations"]["summary"] = HOSTILE_TITLE
    third = json.loads(json.dumps(group["alerts"][1]))
    third["fingerprint"] = "0f0f0f0f0f0f0f0f"
    third["labels"] = {**third["labels"], "service": "payments", "instance": "10.0.9.9:8080"}
    third["annotations"]["summary"] = "payments errors during maintenance"
    hook = {"Authorization": f"Bearer {TOKENS['alertmanager']}"}
    with live_server(settings) as server:
        delivered = httpx.post(f"{server.url}/v1/webhooks/alertmanager", json=group, headers=hook)
        assert delivered.status_code == 201, delivered.text
        incident = delivered.json()["events"][0]["incidentId"]
        silence = httpx.post(
            f"{server.url}/v1/silences",
            json={
                "matchers": {"service": "payments"},
                "endsAt": "2099-01-01T00:00:00Z",
                "comment": "payments maintenance",
            },
            headers=bearer(settings, Role.ANALYST),
        )
        assert silence.status_code == 201, silence.text
        joined = httpx.post(
            f"{server.url}/v1/webhooks/alertmanager",
            json={**group, "alerts": [third]},
            headers=hook,
        )
        assert joined.json()["events"][0]["incidentId"] == incident, joined.text
        context = browser.new_context(viewport=LAPTOP)
        page = context.new_page()
        watch = PageWatch(page)
        page.goto(sign_in_link(server, Role.VIEWER, sub="vera"))
        page.goto(f"{server.url}/incidents/{incident}")
        page.get_by_role("link", name="Alerts (3)").click()
        rows = page.locator("table.alerts tbody tr")
        expect(rows).to_have_count(3)
        expect(rows.nth(0)).to_contain_text("opened")
        expect(rows.nth(0)).to_contain_text(HOSTILE_TITLE)
        expect(rows.nth(0)).to_contain_text("8b8daca1a81d1a6e")
        expect(rows.nth(1)).to_contain_text("joined by groupKey")
        expect(rows.nth(1)).to_contain_text("firing")
        expect(rows.nth(2)).to_contain_text("payments errors during maintenance")
        silenced = rows.nth(2).get_by_role("link", name="silenced")
        expect(silenced).to_have_attribute("href", f"/silences#silence-{silence.json()['id']}")
        expect(rows.nth(1).get_by_role("link", name="silenced")).to_have_count(0)
        shoot(page, "15-incident-alerts")
        assert page.evaluate("window.__owned") is None
        assert page.locator("img[src='x']").count() == 0
        assert watch.problems == []
        context.close()
