"""The incident page: diagnosis, evidence, links between them, history, roles and CSRF."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx
import pytest

from chronosops.auth import Role
from chronosops.bootstrap import Services
from chronosops.web.pages.rendering import anchor
from tests.fixtures.app import ClientFactory
from tests.fixtures.console import SignIn, checkout_incident, csrf_of, sign_in_with_link
from tests.fixtures.guide import request

INGEST = "/v1/incidents/ingest"


async def ingest(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> str:
    response = await client.post(INGEST, json=body, headers=headers)
    assert response.status_code == 201, response.text
    incident_id: str = response.json()["incidentId"]
    return incident_id


async def test_the_page_shows_the_diagnosis_the_api_returns(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident = await ingest(client, analyst, checkout_incident())
    api = (await client.get(f"/v1/incidents/{incident}", headers=analyst)).json()
    result = api["latestAnalysis"]["result"]
    await sign_in(Role.VIEWER)
    page = await client.get(f"/incidents/{incident}")
    assert page.status_code == 200
    text = unescape(page.text)
    assert '<h1 id="incident-title">Checkout p95 latency above 900 ms after deploy</h1>' in text
    assert result["summary"] in text
    shown = re.findall(r'<h4>([^<]+) <code class="muted">([A-Z_]+)</code></h4>', text)
    assert [h for _, h in shown] == [h["id"] for h in result["hypotheses"]]
    for action in result["recommendedActions"]:
        assert action["title"] in text
    for need in result["completeness"]["missing"]:
        assert need["reason"] in text
    assert f"{round(result['overallConfidence'] * 100)}%" in text


async def test_every_evidence_link_of_a_hypothesis_lands_on_that_evidence(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident = await ingest(client, analyst, checkout_incident())
    api = (await client.get(f"/v1/incidents/{incident}", headers=analyst)).json()
    await sign_in(Role.VIEWER)
    page = (await client.get(f"/incidents/{incident}")).text
    ids = set(re.findall(r'id="(ev-[0-9a-f]{12})"', page))
    cited = {
        ref for h in api["latestAnalysis"]["result"]["hypotheses"] for ref in h["evidenceRefs"]
    }
    assert cited
    for ref in cited:
        assert anchor(ref) in ids, ref
        assert f'href="#{anchor(ref)}"' in page
    links = set(re.findall(r'href="#(ev-[0-9a-f]{12})"', page))
    assert links <= ids


async def test_the_evidence_sections_show_the_bundle(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident = await ingest(client, analyst, checkout_incident())
    await sign_in(Role.VIEWER)
    page = unescape((await client.get(f"/incidents/{incident}")).text)
    assert page.count('<svg class="chart"') == 2
    assert page.count('class="chart-window"') == 2
    assert page.count('class="chart-change change-deploy"') == 2
    assert "upstream timeout after <num> ms calling payments-api order=<num>" in page
    assert "upstream timeout after 3000 ms calling payments-api order=1000" in page
    operations = page.split('id="operations"')[1].split("</table>")[0]
    assert "payments-api</span> authorize" in operations
    assert "checkout v2.14.0 rolled out" in page
    assert "v2.13.2 → v2.14.0" in page
    assert "audit verified" in page


async def test_an_incident_without_evidence_says_what_is_missing(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident = await ingest(client, analyst, request())
    await sign_in(Role.VIEWER)
    page = (await client.get(f"/incidents/{incident}")).text
    assert "No metrics in this bundle." in page
    assert "No logs in this bundle." in page
    assert "Latency, error-rate and saturation series" in page  # why METRICS would help


async def test_an_unanalysed_incident_shows_why(
    client_with: ClientFactory, analyst: dict[str, str]
) -> None:
    client, services = await client_with(analyze_on_ingest=False)
    incident = await ingest(client, analyst, request())
    await sign_in_with_link(client, services, Role.ANALYST)
    page = (await client.get(f"/incidents/{incident}")).text
    assert "CHRONOSOPS_ANALYZE_ON_INGEST=false" in page
    assert "Not analysed yet." in page


async def test_analysts_reanalyse_and_see_the_new_analysis_first(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident = await ingest(client, analyst, checkout_incident())
    csrf = await sign_in(Role.ANALYST)
    page = (await client.get(f"/incidents/{incident}")).text
    assert "Re-analyse" in page
    response = await client.post(f"/incidents/{incident}/reanalyze", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == f"/incidents/{incident}?done=reanalyzed#diagnosis"
    api = (await client.get(f"/v1/incidents/{incident}", headers=analyst)).json()
    assert len(api["analyses"]) == 2
    after = (await client.get(response.headers["location"])).text
    assert "Re-analysed from the stored evidence" in after
    assert after.count('<tr aria-current="true"') == 1


async def test_a_reanalysis_asked_while_the_incident_is_being_analysed_is_queued_and_said_so(
    client: httpx.AsyncClient, services: Services, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident = await ingest(client, analyst, checkout_incident())
    async with services.database.unit_of_work() as session:
        await services.jobs.enqueue(
            session, kind="analyze", incident_id=incident, payload={}, by="test", hold=True
        )
    csrf = await sign_in(Role.ANALYST)
    response = await client.post(f"/incidents/{incident}/reanalyze", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == (
        f"/incidents/{incident}?done=reanalysis-queued#diagnosis"
    )
    after = (await client.get(response.headers["location"])).text
    assert "Re-analysis queued" in after
    api = (await client.get(f"/v1/incidents/{incident}", headers=analyst)).json()
    assert len(api["analyses"]) == 1


@pytest.mark.parametrize("token", [None, "forged", "other-session"])
async def test_reanalyse_without_this_sessions_form_token_changes_nothing(
    client: httpx.AsyncClient,
    analyst: dict[str, str],
    sign_in: SignIn,
    services: Services,
    token: str | None,
) -> None:
    incident = await ingest(client, analyst, checkout_incident())
    if token == "other-session":
        token = await sign_in(Role.ANALYST, sub="mallory")
    await sign_in(Role.ANALYST)
    data = {"csrf_token": token} if token else {"note": "no token"}
    response = await client.post(f"/incidents/{incident}/reanalyze", data=data)
    assert response.status_code == 403
    assert "form expired or was not sent from the console" in response.text
    api = (await client.get(f"/v1/incidents/{incident}", headers=analyst)).json()
    assert len(api["analyses"]) == 1


async def test_the_csrf_token_may_come_in_the_htmx_header(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident = await ingest(client, analyst, checkout_incident())
    csrf = await sign_in(Role.ANALYST)
    response = await client.post(
        f"/incidents/{incident}/reanalyze",
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 303


async def test_viewers_see_no_reanalyse_button_and_cannot_post_it(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident = await ingest(client, analyst, checkout_incident())
    csrf = await sign_in(Role.VIEWER)
    page = (await client.get(f"/incidents/{incident}")).text
    assert "Re-analyse" not in page
    response = await client.post(f"/incidents/{incident}/reanalyze", data={"csrf_token": csrf})
    assert response.status_code == 403
    assert "CHRONOSOPS_ANALYST" in response.text


@pytest.mark.parametrize(("role", "shown"), [(Role.ADMIN, True), (Role.ANALYST, False)])
async def test_only_admins_see_the_raw_source_payload(
    client: httpx.AsyncClient,
    analyst: dict[str, str],
    sign_in: SignIn,
    role: Role,
    shown: bool,
) -> None:
    incident = await ingest(client, analyst, checkout_incident())
    await sign_in(role)
    page = (await client.get(f"/incidents/{incident}")).text
    assert ("Raw source payload" in page) is shown
    assert ("&#34;urgency&#34;: &#34;high&#34;" in page) is shown


async def test_an_earlier_analysis_can_be_viewed_and_one_of_another_incident_cannot(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    incident = await ingest(client, analyst, checkout_incident())
    other = await ingest(client, analyst, request(sourceRef="other"))
    first = (await client.get(f"/v1/incidents/{incident}", headers=analyst)).json()
    await client.post(f"/v1/incidents/{incident}/reanalyze", headers=analyst)
    foreign = (await client.get(f"/v1/incidents/{other}", headers=analyst)).json()
    await sign_in(Role.VIEWER)
    earlier = await client.get(
        f"/incidents/{incident}?analysis={first['latestAnalysis']['analysisId']}"
    )
    assert "You are looking at an earlier analysis" in earlier.text
    wrong = await client.get(
        f"/incidents/{incident}?analysis={foreign['latestAnalysis']['analysisId']}"
    )
    assert wrong.status_code == 404


async def test_an_unknown_incident_is_a_404_page(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(Role.VIEWER)
    page = await client.get("/incidents/does-not-exist")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Incident not found: does-not-exist" in page.text


async def test_hostile_text_is_escaped_everywhere_it_is_shown(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    body = checkout_incident(
        sourceRef="hostile",
        title=hostile,
        description=hostile,
        metadata={"service": hostile, "tags": {hostile: hostile}},
        sourcePayload={"x": hostile},
    )
    body["evidenceLite"]["logs"].append(
        {"message": hostile, "level": "ERROR", "timestamp": "2024-03-05T14:05:00Z"}
    )
    body["evidenceLite"]["events"].append(
        {
            "type": "deploy",
            "description": hostile,
            "timestamp": "2024-03-05T13:59:00Z",
            "metadata": {"link": "javascript:alert(3)"},
        }
    )
    incident = await ingest(client, analyst, body)
    await sign_in(Role.ADMIN)
    for path in (f"/incidents/{incident}", "/incidents", "/"):
        page = (await client.get(path)).text
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    detail = (await client.get(f"/incidents/{incident}")).text
    assert 'href="javascript:' not in detail
    assert csrf_of(detail)
