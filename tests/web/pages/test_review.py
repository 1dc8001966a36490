"""The review pages: postmortem, compare, graph and export, signed in through the console."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
import zipfile
from typing import Any

import httpx

from chronosops.auth import Role
from tests.fixtures.console import SignIn, checkout_incident

INGEST = "/v1/incidents/ingest"


async def analysed_twice(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    created: dict[str, Any] = (
        await client.post(INGEST, json=checkout_incident(), headers=headers)
    ).json()
    again = await client.post(f"/v1/incidents/{created['incidentId']}/reanalyze", headers=headers)
    created["secondAnalysisId"] = again.json()["analysisId"]
    return created


async def test_the_incident_page_links_the_latest_postmortem_and_the_exports(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    created = await analysed_twice(client, analyst)
    [latest, _first] = (
        await client.get(f"/v1/incidents/{created['incidentId']}/postmortems", headers=analyst)
    ).json()
    await sign_in(Role.VIEWER)
    page = (await client.get(f"/incidents/{created['incidentId']}")).text
    assert f'/postmortems/{latest["postmortemId"]}">version 2</a>' in page
    assert f'href="/incidents/{created["incidentId"]}/export.zip"' in page


async def test_the_postmortem_page_shows_the_root_cause_and_offers_the_markdown(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    created = await analysed_twice(client, analyst)
    [latest, _first] = (
        await client.get(f"/v1/incidents/{created['incidentId']}/postmortems", headers=analyst)
    ).json()
    content = (
        await client.get(f"/v1/postmortems/{latest['postmortemId']}", headers=analyst)
    ).json()
    await sign_in(Role.VIEWER)
    path = f"/incidents/{created['incidentId']}/postmortems/{latest['postmortemId']}"
    page = (await client.get(path)).text
    assert content["content"]["rootCause"]["title"] in page
    download = await client.get(f"{path}.md")
    assert download.text == content["markdown"]


async def test_a_postmortem_of_another_incident_is_404_here(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    created = await analysed_twice(client, analyst)
    [latest, _first] = (
        await client.get(f"/v1/incidents/{created['incidentId']}/postmortems", headers=analyst)
    ).json()
    await sign_in(Role.VIEWER)
    page = await client.get(f"/incidents/someone-else/postmortems/{latest['postmortemId']}")
    assert page.status_code == 404


async def test_the_history_links_each_earlier_analysis_to_a_comparison(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    created = await analysed_twice(client, analyst)
    await sign_in(Role.VIEWER)
    page = (await client.get(f"/incidents/{created['incidentId']}")).text
    compare = (
        f"/incidents/{created['incidentId']}/compare?a={created['analysisId']}"
        f"&amp;b={created['secondAnalysisId']}"
    )
    assert compare in page


async def test_the_compare_page_says_what_changed(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    created = await analysed_twice(client, analyst)
    await sign_in(Role.VIEWER)
    page = await client.get(
        f"/incidents/{created['incidentId']}/compare",
        params={"a": created["analysisId"], "b": created["secondAnalysisId"]},
    )
    assert page.status_code == 200
    assert "Compare analyses: No significant changes" in page.text


async def test_the_graph_page_draws_the_graph_inline_with_links_into_the_incident(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    created = await analysed_twice(client, analyst)
    await sign_in(Role.VIEWER)
    page = (await client.get(f"/incidents/{created['incidentId']}/graph")).text
    svg = page[page.index("<svg") : page.index("</svg>") + 6]
    root = ET.fromstring(svg)
    links = [a.get("href") for a in root.iter("{http://www.w3.org/2000/svg}a")]
    assert links
    assert all(str(link).startswith(f"/incidents/{created['incidentId']}?") for link in links)


async def test_the_export_buttons_download_json_and_zip(
    client: httpx.AsyncClient, analyst: dict[str, str], sign_in: SignIn
) -> None:
    created = await analysed_twice(client, analyst)
    await sign_in(Role.VIEWER)
    as_json = await client.get(f"/incidents/{created['incidentId']}/export.json")
    as_zip = await client.get(f"/incidents/{created['incidentId']}/export.zip")
    assert json.loads(as_json.text)["redacted"] is True
    assert "export.json" in zipfile.ZipFile(io.BytesIO(as_zip.content)).namelist()


async def test_pages_need_a_signed_in_viewer(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    created = await analysed_twice(client, analyst)
    page = await client.get(f"/incidents/{created['incidentId']}/graph")
    assert page.status_code in (303, 302)
