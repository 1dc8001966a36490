"""Drafting is a pure function of the analysis and its bundle."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chronosops.analysis import AnalysisInput, AnalysisResult, IncidentContext, analyze
from chronosops.evidence.bundle import seal
from chronosops.postmortem import PostmortemSource
from chronosops.postmortem.drafting import draft_postmortem
from chronosops.postmortem.markdown import render_markdown
from chronosops.scenarios import GenerationOptions, generate


def source(**changes: Any) -> PostmortemSource:
    incident = generate("latency-spike", GenerationOptions(), with_telemetry=True)
    draft = seal(incident.artifacts)
    result = analyze(
        AnalysisInput(
            context=IncidentContext(
                source_type="SCENARIO",
                title=incident.title,
                service=incident.service,
                onset=incident.start,
                window_start=incident.window.start,
                window_end=incident.window.end,
            ),
            artifacts=list(draft.artifacts),
        )
    )
    values: dict[str, Any] = {
        "incident_id": "inc1",
        "title": incident.title,
        "severity": incident.severity,
        "source_type": "SCENARIO",
        "source_ref": "latency-spike",
        "service": incident.service,
        "started_at": incident.start,
        "ended_at": incident.end,
        "analysis_id": "anl-1",
        "analysed_at": incident.end + timedelta(minutes=5),
        "reasoner": "builtin",
        "engine_version": result.engine_version,
        "bundle_id": draft.bundle_id,
        "result": result.model_dump(mode="json"),
        "artifacts": draft.content["artifacts"],
        "collection": [],
    }
    values.update(changes)
    return PostmortemSource(**values)


def test_the_same_analysis_drafts_the_same_postmortem() -> None:
    assert draft_postmortem(source()) == draft_postmortem(source())


def test_the_markdown_is_rendered_from_the_content_alone() -> None:
    content = draft_postmortem(source())
    assert render_markdown(content) == render_markdown(dict(content))


def test_references_the_bundle_cannot_back_are_dropped() -> None:
    real = source()
    result = dict(real.result)
    top = dict(result["hypotheses"][0])
    top["evidenceRefs"] = ["not-in-the-bundle", *top["evidenceRefs"]]
    result["hypotheses"] = [top, *result["hypotheses"][1:]]
    content = draft_postmortem(source(result=result))
    assert "not-in-the-bundle" not in content["rootCause"]["evidenceRefs"]


def test_the_timeline_is_in_time_order() -> None:
    timeline = draft_postmortem(source())["timeline"]
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)


def test_a_model_narrative_is_absent_without_a_language_model() -> None:
    assert "modelNarrative" not in draft_postmortem(source())


def test_a_cause_family_without_a_culprit_is_drafted_as_such() -> None:
    from tests.analysis.builders import analysis_input, series

    metrics = [
        point
        for service in ("pricing", "quotes", "tax")
        for point in series("cpu_usage", 0.2, 0.5, service=service)
    ]
    result = analyze(analysis_input(service="web", metrics=metrics))
    assert result.culprit_service is None
    assert not result.inconclusive
    content = draft_postmortem(source(result=result.model_dump(mode="json")))
    assert content["rootCause"]["hypothesisId"] == "CAPACITY_SATURATION"
    assert content["rootCause"]["culpritService"] is None
    assert "a service the evidence did not single out" in content["executiveSummary"]
    assert "inconclusive" not in content["executiveSummary"]
    assert "(inconclusive)" not in render_markdown(content)
    assert any(
        "the kind of fault but not the service" in str(item) for item in content["whatWentBadly"]
    )


def test_a_source_holding_the_engines_answer_drafts_the_postmortem_its_dump_drafts() -> None:
    dumped = source()
    parsed = AnalysisResult.model_validate(dumped.result)
    assert draft_postmortem(source(parsed=parsed)) == draft_postmortem(dumped)


def test_the_engines_answer_at_hand_is_read_as_it_is_not_validated_from_the_dump_again() -> None:
    parsed = AnalysisResult.model_validate(source().result)
    # A dump that could not be validated: only the model at hand can have drafted this.
    content = draft_postmortem(source(parsed=parsed, result={"not": "an analysis"}))
    assert content["rootCause"]["hypothesisId"] == parsed.hypotheses[0].id
