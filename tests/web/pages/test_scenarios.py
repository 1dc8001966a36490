"""Scenario pages: browse, preview synthetic telemetry, analyse one (with a window) as an incident."""

from __future__ import annotations

import re
from html import unescape

import httpx
import pytest

from chronosops.auth import Role
from chronosops.scenarios import SCENARIOS, get_scenario
from tests.fixtures.app import ClientFactory
from tests.fixtures.console import SignIn, sign_in_with_link


async def test_every_scenario_is_listed_with_a_link(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(Role.VIEWER)
    page = await client.get("/scenarios")
    assert page.status_code == 200
    links = re.findall(r'<a href="/scenarios/([a-z0-9-]+)">', page.text)
    assert links == [scenario.id for scenario in SCENARIOS]
    assert "synthetic" in page.text


async def test_a_scenario_preview_draws_its_telemetry_and_hides_the_answer_in_a_spoiler(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(Role.VIEWER)
    page = unescape((await client.get("/scenarios/latency-spike")).text)
    assert '<h1 id="scenario-title">Production latency spike after deployment</h1>' in page
    assert page.count('<svg class="chart"') >= 2
    assert 'class="chart-change' in page  # the deploy is marked on the charts
    spoiler = page.split('<details class="spoiler">')[1].split("</details>")[0]
    assert get_scenario("latency-spike").hypothesis_id in spoiler
    assert "Analyse this scenario" not in page  # viewers cannot analyse


async def test_another_seed_changes_the_telemetry(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(Role.VIEWER)
    first = (await client.get("/scenarios/latency-spike?seed=0")).text
    second = (await client.get("/scenarios/latency-spike?seed=1")).text
    points = re.compile(r'<polyline class="chart-line" points="([^"]+)"')
    assert points.findall(first) != points.findall(second)


async def test_an_analyst_runs_a_scenario_with_a_window_and_lands_on_the_incident(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    csrf = await sign_in(Role.ANALYST, sub="ann")
    response = await client.post(
        "/scenarios/analyze",
        data={"csrf_token": csrf, "scenario": "db-pool-exhaustion", "before": "30", "after": "10"},
    )
    assert response.status_code == 303
    incident_id = response.headers["location"].split("/incidents/")[1].split("?")[0]
    api = (await client.get(f"/v1/incidents/{incident_id}", headers=analyst)).json()
    assert api["sourceType"] == "SCENARIO"
    assert api["collectionContext"]["windowMinutesBefore"] == 30
    assert api["collectionContext"]["windowMinutesAfter"] == 10
    assert api["createdBy"] == "ann"
    assert api["latestAnalysis"] is not None
    page = (await client.get(response.headers["location"])).text
    assert "Scenario analysed." in page
    assert "synthetic" in page


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("before", "0", "windowMinutesBefore"),
        ("after", "500", "windowMinutesAfter"),
        ("before", "x", "windowMinutesBefore"),
    ],
)
async def test_a_window_out_of_range_is_refused_in_place_and_creates_nothing(
    client: httpx.AsyncClient,
    analyst: dict[str, str],
    sign_in: SignIn,
    field: str,
    value: str,
    path: str,
) -> None:
    csrf = await sign_in(Role.ANALYST)
    response = await client.post(
        "/scenarios/analyze", data={"csrf_token": csrf, "scenario": "latency-spike", field: value}
    )
    assert response.status_code == 400
    assert f"<code>{path}</code>" in response.text
    assert (await client.get("/v1/incidents", headers=analyst)).json()["items"] == []


async def test_an_unknown_scenario_is_a_404_page(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    csrf = await sign_in(Role.ANALYST)
    assert (await client.get("/scenarios/nope")).status_code == 404
    posted = await client.post("/scenarios/analyze", data={"csrf_token": csrf, "scenario": "nope"})
    assert posted.status_code == 404


async def test_viewers_cannot_run_a_scenario(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    csrf = await sign_in(Role.VIEWER)
    response = await client.post(
        "/scenarios/analyze", data={"csrf_token": csrf, "scenario": "latency-spike"}
    )
    assert response.status_code == 403


async def test_the_new_incident_page_offers_every_scenario(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(Role.ANALYST)
    page = (await client.get("/new")).text
    options = re.findall(r'<option value="([a-z0-9-]+)">', page)
    assert options == [scenario.id for scenario in SCENARIOS]


async def test_switched_off_scenarios_are_not_offered(client_with: ClientFactory) -> None:
    client, services = await client_with(scenarios_enabled=False)
    await sign_in_with_link(client, services, Role.ANALYST)
    assert (await client.get("/scenarios")).status_code == 404
    assert "Run a demo scenario" not in (await client.get("/new")).text
