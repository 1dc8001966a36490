"""A language model may write the postmortem's prose; its passages are used only when every
evidence id they cite resolves in the bundle, otherwise the deterministic prose stays.

The model's answers are replayed through the real Gemini client from a local model server.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from chronosops.auth import Role
from chronosops.bootstrap import Services
from chronosops.postmortem import InvalidProseError, check_prose
from chronosops.reasoning import prompt_hash
from tests.fixtures.app import ClientFactory, bearer
from tests.fixtures.console import sign_in_with_link
from tests.fixtures.guide import example
from tests.reasoning.model_server import ModelServer, gemini_answer, model_server
from tests.reasoning.test_second_opinion import GOOD, LOG_REF

INGEST = "/v1/incidents/ingest"
SUMMARY = "The database connection pool ran dry, so checkouts failed until it was enlarged."


def prose(*, refs: list[str] | None = None) -> dict[str, Any]:
    cited = [LOG_REF] if refs is None else refs
    return {
        "executiveSummary": {"text": SUMMARY, "evidenceRefs": cited},
        "impact": {"text": "Checkout requests failed for the whole window.", "evidenceRefs": cited},
        "rootCause": {
            "text": "Every connection of the pool was held; new requests waited and failed.",
            "evidenceRefs": cited,
        },
    }


async def served(
    client_with: ClientFactory, server: ModelServer, **overrides: Any
) -> tuple[httpx.AsyncClient, dict[str, str], Services]:
    client, services = await client_with(
        reasoner="gemini",
        gemini_api_key="test-gemini-key",
        gemini_base_url=server.url,
        llm_timeout_seconds=2,
        llm_max_retries=0,
        **overrides,
    )
    assert services.issuer is not None
    token = services.issuer.mint(
        subject="analyst", roles=[Role.ANALYST, Role.VIEWER], ttl=timedelta(hours=1)
    )
    return client, bearer(token), services


async def postmortem(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    created = (
        await client.post(INGEST, json=example("example_2_with_evidence"), headers=headers)
    ).json()
    assert created["status"] == "analyzed", created
    listed = (
        await client.get(f"/v1/incidents/{created['incidentId']}/postmortems", headers=headers)
    ).json()
    found = await client.get(f"/v1/postmortems/{listed[0]['postmortemId']}", headers=headers)
    assert found.status_code == 200, found.text
    document: dict[str, Any] = found.json()
    return document


async def test_the_models_prose_is_used_when_it_cites_only_the_bundles_evidence(
    client_with: ClientFactory,
) -> None:
    with model_server() as server:
        server.then(gemini_answer(GOOD), gemini_answer(prose()))
        client, headers, _ = await served(client_with, server, llm_postmortem_prose=True)
        document = await postmortem(client, headers)
    content = document["content"]
    assert content["executiveSummary"] == SUMMARY
    assert content["prose"]["writer"] == "model"
    assert content["prose"]["model"] == "gemini-2.5-flash"
    assert content["prose"]["evidenceRefs"]["executiveSummary"] == [LOG_REF]
    # The deterministic prose is kept beside it, and the structured root cause is the engine's.
    assert content["prose"]["deterministic"]["executiveSummary"].startswith(content["headline"])
    assert content["rootCause"]["hypothesisId"] == "CAPACITY_SATURATION"
    assert content["rootCause"]["narrative"].startswith("Every connection of the pool")
    assert LOG_REF in {a["artifactId"] for a in content["evidence"]["artifacts"]}
    assert SUMMARY in document["markdown"]
    assert "checked to cite only evidence in the bundle" in document["markdown"]
    # The model was shown the deterministic draft and the evidence it may cite.
    brief = server.received[1].body
    assert LOG_REF in brief["contents"][0]["parts"][0]["text"]


async def test_the_console_page_says_the_model_wrote_the_prose_and_shows_its_narrative(
    client_with: ClientFactory,
) -> None:
    with model_server() as server:
        server.then(gemini_answer(GOOD), gemini_answer(prose()))
        client, headers, services = await served(client_with, server, llm_postmortem_prose=True)
        document = await postmortem(client, headers)
    await sign_in_with_link(client, services, Role.VIEWER)
    page = await client.get(
        f"/incidents/{document['incidentId']}/postmortems/{document['postmortemId']}"
    )
    assert page.status_code == 200
    assert SUMMARY in page.text
    assert "Every connection of the pool was held" in page.text
    assert "written by gemini gemini-2.5-flash, checked to cite only evidence" in page.text
    # The incident page lists the prose call beside the second opinion's, each named for what.
    incident = await client.get(f"/incidents/{document['incidentId']}")
    calls = incident.text.split('id="model-calls"', 1)[1]
    assert calls.count("<td>postmortem prose</td>") == 1
    assert calls.count("<td>second opinion</td>") == 1


async def test_prose_citing_evidence_outside_the_bundle_leaves_the_deterministic_prose(
    client_with: ClientFactory,
) -> None:
    with model_server() as server:
        server.then(gemini_answer(GOOD), gemini_answer(prose(refs=[LOG_REF, "log:invented"])))
        client, headers, _ = await served(client_with, server, llm_postmortem_prose=True)
        document = await postmortem(client, headers)
    content = document["content"]
    assert content["executiveSummary"] != SUMMARY
    assert content["executiveSummary"].startswith(content["headline"])
    assert content["prose"]["writer"] == "built-in"
    assert "'log:invented'" in content["prose"]["failure"]
    assert "not in the bundle" in content["prose"]["failure"]
    assert "narrative" not in content["rootCause"]
    assert "Prose from the built-in generator" in document["markdown"]


async def test_a_failing_model_leaves_the_deterministic_prose_and_says_why(
    client_with: ClientFactory,
) -> None:
    with model_server() as server:
        # The second opinion is answered; the prose request meets the server's 500.
        server.then(gemini_answer(GOOD))
        client, headers, _ = await served(client_with, server, llm_postmortem_prose=True)
        document = await postmortem(client, headers)
    content = document["content"]
    assert content["prose"]["writer"] == "built-in"
    assert content["executiveSummary"].startswith(content["headline"])
    assert len(server.received) == 2


async def test_without_the_setting_the_model_is_not_asked_for_prose(
    client_with: ClientFactory,
) -> None:
    with model_server() as server:
        server.then(gemini_answer(GOOD), gemini_answer(prose()))
        client, headers, _ = await served(client_with, server)
        document = await postmortem(client, headers)
    assert "prose" not in document["content"]
    assert document["content"]["executiveSummary"] != SUMMARY
    assert len(server.received) == 1


async def _traces(
    client: httpx.AsyncClient, headers: dict[str, str], incident_id: str
) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = (
        await client.get(f"/v1/incidents/{incident_id}/prompt-traces", headers=headers)
    ).json()
    return listed


async def test_the_prose_call_is_a_prompt_trace_of_the_analysis_audited_and_exported(
    client_with: ClientFactory,
) -> None:
    with model_server() as server:
        server.then(
            gemini_answer(GOOD), gemini_answer(prose(), prompt_tokens=2410, output_tokens=188)
        )
        client, headers, services = await served(
            client_with,
            server,
            llm_postmortem_prose=True,
            llm_price_input_per_mtok=0.3,
            llm_price_output_per_mtok=2.5,
        )
        document = await postmortem(client, headers)
    assert services.issuer is not None
    admin = bearer(
        services.issuer.mint(subject="admin", roles=[Role.ADMIN], ttl=timedelta(hours=1))
    )
    incident_id = document["incidentId"]
    traces = await _traces(client, headers, incident_id)
    assert sorted(t["promptVersion"] for t in traces) == ["postmortem-1", "v2"]
    [trace] = [t for t in traces if t["promptVersion"] == "postmortem-1"]
    assert (trace["status"], trace["attempt"], trace["error"]) == ("ok", 1, None)
    assert trace["analysisId"] == document["analysisId"]
    assert (trace["inputTokens"], trace["outputTokens"]) == (2410, 188)
    assert trace["costUsd"] == pytest.approx(2410 / 1e6 * 0.3 + 188 / 1e6 * 2.5)
    assert "userPrompt" not in trace

    full = (await client.get(f"/v1/prompt-traces/{trace['traceId']}", headers=admin)).json()
    assert prompt_hash(full["systemPrompt"], full["userPrompt"]) == trace["promptHash"]
    assert full["systemPrompt"].startswith("You write the prose of an incident postmortem")
    assert LOG_REF in full["userPrompt"]
    # What the model answered, verbatim: Gemini's body as recorded, our passages its text.
    assert json.loads(full["responseText"])["executiveSummary"]["text"] == SUMMARY
    assert full["responseJson"]["modelVersion"] == "gemini-2.5-flash"
    # And what was sent: the prompt the model server received.
    sent = server.received[1].body
    assert sent["systemInstruction"]["parts"][0]["text"] == full["systemPrompt"]
    assert sent["contents"][0]["parts"][0]["text"] == full["userPrompt"]

    events = (await client.get(f"/v1/incidents/{incident_id}/audit-events", headers=headers)).json()
    audited = {
        e["entityId"]: e["payload"] for e in events if e["eventType"] == "PROMPT_TRACE_CREATED"
    }
    assert audited[trace["traceId"]]["promptVersion"] == "postmortem-1"
    assert audited[trace["traceId"]]["promptHash"] == trace["promptHash"]
    verified = (await client.get(f"/v1/incidents/{incident_id}/verify", headers=headers)).json()
    assert verified["ok"] is True

    exported = (await client.get(f"/v1/incidents/{incident_id}/export", headers=admin)).json()
    [kept] = [t for t in exported["promptTraces"] if t["traceId"] == trace["traceId"]]
    assert kept["userPrompt"] == full["userPrompt"]
    assert kept["responseText"] == full["responseText"]
    # An analyst's export names the call by its hashes only.
    redacted = (await client.get(f"/v1/incidents/{incident_id}/export", headers=headers)).json()
    [summary] = [t for t in redacted["promptTraces"] if t["traceId"] == trace["traceId"]]
    assert summary["promptHash"] == trace["promptHash"]
    assert "userPrompt" not in summary
    assert "responseText" not in summary


async def test_a_refused_prose_answer_is_traced_as_invalid_with_the_reason(
    client_with: ClientFactory,
) -> None:
    with model_server() as server:
        server.then(gemini_answer(GOOD), gemini_answer(prose(refs=[LOG_REF, "log:invented"])))
        client, headers, _ = await served(client_with, server, llm_postmortem_prose=True)
        document = await postmortem(client, headers)
    traces = await _traces(client, headers, document["incidentId"])
    [trace] = [t for t in traces if t["promptVersion"] == "postmortem-1"]
    assert trace["status"] == "invalid"
    assert "'log:invented'" in trace["error"]
    assert trace["responseHash"] is not None


async def test_a_failed_prose_call_is_traced_as_an_error(client_with: ClientFactory) -> None:
    with model_server() as server:
        # The prose request meets the server's 500: no answer, but the call is on record.
        server.then(gemini_answer(GOOD))
        client, headers, _ = await served(client_with, server, llm_postmortem_prose=True)
        document = await postmortem(client, headers)
    traces = await _traces(client, headers, document["incidentId"])
    [trace] = [t for t in traces if t["promptVersion"] == "postmortem-1"]
    assert trace["status"] == "error"
    assert trace["error"].startswith("attempt 1:")
    assert trace["outputTokens"] == 0


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("not json", "not JSON"),
        ({"executiveSummary": {"text": "x", "evidenceRefs": ["a"]}}, "impact"),
        ({**prose(refs=["a"]), "impact": {"text": "x", "evidenceRefs": []}}, "impact.evidenceRefs"),
        ({**prose(refs=["a"]), "rootCause": {"text": "", "evidenceRefs": ["a"]}}, "rootCause.text"),
        (prose(refs=["a", "b"]), "rootCause cites 'b'"),
    ],
)
def test_the_check_refuses_missing_passages_uncited_claims_and_unknown_ids(
    answer: Any, problem: str
) -> None:
    text = answer if isinstance(answer, str) else json.dumps(answer)
    with pytest.raises(InvalidProseError, match=problem.replace(".", r"\.")):
        check_prose(text, frozenset({"a"}))


def test_the_check_keeps_each_cited_id_once() -> None:
    passages = check_prose(json.dumps(prose(refs=["a", "a"])), frozenset({"a"}))
    assert passages["impact"] == {
        "text": "Checkout requests failed for the whole window.",
        "evidenceRefs": ["a"],
    }
