"""Real incidents (Nezha, FSE'23) go through the ingest path and the engine names the culprit."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from chronosops.core.artifacts import LogTemplate, MetricSeries, SpanGroup
from chronosops.core.evidence_kinds import (
    EVIDENCE_KINDS,
    EvidenceChoiceError,
    evidence_label,
    parse_evidence,
)
from chronosops.investigation import nezha_benchmark
from chronosops.investigation.nezha_benchmark import (
    CaseOutcome,
    DatasetMissingError,
    NezhaCase,
    analyse,
    find_dataset,
    is_held_out,
    load_cases,
    request_of,
    run_nezha,
)
from chronosops.investigation.perturbations import TRANSFORMS

try:
    DATASET: Path | None = find_dataset()
except DatasetMissingError:
    DATASET = None

needs_dataset = pytest.mark.skipif(DATASET is None, reason="the Nezha dataset is not present")

# Tuned cases only: held-out cases are never looked at one by one.
NAMED = {
    "nezha-trainticket-2023-01-29-133154": ("ts-contacts-service", "CAPACITY_SATURATION"),
    "nezha-trainticket-2023-01-29-144957": ("ts-food-service", "CAPACITY_SATURATION"),
    "nezha-onlineboutique-2022-08-22-043603": ("cartservice", "CAPACITY_SATURATION"),
    "nezha-onlineboutique-2022-08-22-055254": ("paymentservice", "NETWORK_DNS_ISSUE"),
}


def test_a_quarter_of_the_cases_is_held_out_by_a_hash_of_the_source_ref() -> None:
    assert all(not is_held_out(ref) for ref in NAMED)
    assert is_held_out("x") in (True, False)


def test_a_missing_dataset_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetMissingError, match="--dataset"):
        load_cases(tmp_path)


@needs_dataset
@pytest.mark.parametrize("source_ref", sorted(NAMED))
def test_the_engine_names_the_injected_culprit_and_family(source_ref: str) -> None:
    assert DATASET is not None
    case = next(c for c in load_cases(DATASET) if c.source_ref == source_ref)
    outcome, _ = analyse(case)
    culprit, family = NAMED[source_ref]
    assert outcome.answered == f"{family}@{culprit}"
    assert outcome.culprit_top1
    assert outcome.hypothesis_top1


@needs_dataset
def test_the_report_keeps_tuned_and_held_out_apart() -> None:
    assert DATASET is not None
    report = run_nezha(DATASET, limit=2)
    parts = {row["part"] for row in report.rows}
    assert "all" in parts
    assert {row["system"] for row in report.rows} == {"OnlineBoutique"}
    assert all(not case.held_out for case in report.tuned_cases)
    assert report.p99_ms >= report.p50_ms > 0


def test_with_history_each_case_remembers_only_the_earlier_tuned_cases_of_its_system(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    refs = [f"x-{n}" for n in range(12)]
    held_out = [ref for ref in refs if is_held_out(ref)]
    assert held_out  # the hash holds some out, not all
    assert len(held_out) < len(refs)
    cases = [
        NezhaCase(
            path=tmp_path / ref,
            system="S" if index % 2 else "T",
            source_ref=ref,
            culprit="a",
            fault_type="exception",
            hypothesis="DEPLOY_BUG",
            acceptable=(),
        )
        for index, ref in enumerate(reversed(refs))  # listed out of time order
    ]
    remembered: dict[str, list[str]] = {}
    mixes: dict[str, list[str]] = {}

    def fake_analyse(
        case: NezhaCase,
        history: object,
        evidence: object = None,
        read_empty: object = (),
        operations: object = (),
    ) -> tuple[CaseOutcome, dict[str, Any]]:
        # Each case's record names it; the history handed on says which were remembered.
        remembered[case.source_ref] = sorted(h.statement for h in history)  # type: ignore[attr-defined]
        mixes[case.source_ref] = sorted(h.operation for h in operations)  # type: ignore[attr-defined]
        outcome = CaseOutcome(
            case.source_ref, case.system, case.fault_type, case.held_out,
            True, True, True, True, "", "", 1.0, 1,
        )  # fmt: skip
        record = {
            "lines": 20,
            "statements": {case.source_ref: {"op": 20}},
            "calls": {case.source_ref: 20},
        }
        return outcome, {"svc": record}

    monkeypatch.setattr(nezha_benchmark, "load_cases", lambda _: cases)
    monkeypatch.setattr(nezha_benchmark, "analyse", fake_analyse)

    run_nezha(tmp_path, history=True, history_incidents=3)

    for case in cases:
        earlier = sorted(
            c.source_ref
            for c in cases
            if c.system == case.system and c.source_ref < case.source_ref and not c.held_out
        )
        # The latest three, as the service reads its table; the operations' mix from the same.
        assert remembered[case.source_ref] == sorted(earlier[-3:])
        assert mixes[case.source_ref] == sorted(earlier[-3:])
    assert not any(ref in seen for seen in remembered.values() for ref in held_out)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("all", set(EVIDENCE_KINDS)),
        ("metrics", {"metrics"}),
        ("metrics,logs", {"metrics", "logs"}),
        (" Metrics , traces ", {"metrics", "traces"}),
        ("metrics,logs,traces,events", set(EVIDENCE_KINDS)),
    ],
)
def test_evidence_kinds_are_all_or_a_list_of_kinds(text: str, kept: set[str]) -> None:
    assert parse_evidence(text) == kept


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "expected 'all'"),
        ("metric", "'metric'"),
        ("metrics,,logs", "expected 'all'"),
        ("metrics,spans", "'spans'"),
        ("all,metrics", "'all'"),
        ("metrics,metrics", "named twice"),
    ],
)
def test_an_unknown_or_empty_evidence_kind_is_refused_clearly(text: str, said: str) -> None:
    with pytest.raises(EvidenceChoiceError, match=said):
        parse_evidence(text)


def test_the_evidence_label_lists_the_kinds_in_a_fixed_order() -> None:
    assert evidence_label(parse_evidence("traces,metrics")) == "metrics,traces"
    assert evidence_label(parse_evidence("metrics,logs,traces,events")) == "all"


def _body() -> bytes:
    at = "2026-01-01T10:0{}:00Z"
    return json.dumps(
        {
            "sourceType": "CUSTOM",
            "sourceRef": "x-1",
            "title": "checkout slow",
            "timeline": {"start": at.format(5)},
            "metadata": {"service": "checkout"},
            "evidenceLite": {
                "metrics": [
                    {"name": "cpu_usage", "value": 0.1 * n, "timestamp": at.format(n)}
                    for n in range(8)
                ],
                "logs": [{"message": "timeout calling cart", "timestamp": at.format(6)}],
                "traces": [
                    {
                        "traceId": "t",
                        "spanId": "s",
                        "service": "cart",
                        "operation": "get",
                        "duration": 12,
                        "timestamp": at.format(6),
                    }
                ],
                "events": [{"type": "deploy", "description": "v2", "timestamp": at.format(4)}],
            },
        }
    ).encode()


def _kinds(evidence: frozenset[str]) -> set[type]:
    return {type(a) for a in request_of(_body(), evidence).artifacts}


def test_only_the_kept_kinds_of_evidence_reach_the_engine() -> None:
    every = _kinds(parse_evidence("all"))
    assert {MetricSeries, LogTemplate, SpanGroup} <= every
    assert _kinds(parse_evidence("metrics")) == {MetricSeries}
    assert _kinds(parse_evidence("metrics,traces")) == {MetricSeries, SpanGroup}
    with_logs = _kinds(parse_evidence("metrics,logs"))
    assert LogTemplate in with_logs
    assert SpanGroup not in with_logs
    assert len(every) > len(_kinds(parse_evidence("metrics,logs,traces")))  # the deploy


@needs_dataset
def test_the_report_says_which_evidence_it_kept() -> None:
    assert DATASET is not None
    report = run_nezha(DATASET, limit=1, evidence=parse_evidence("metrics"))
    assert report.evidence == "metrics"
    assert run_nezha(DATASET, limit=1).evidence == "all"


@needs_dataset
def test_a_case_said_to_have_read_an_empty_change_feed_moves_only_its_stated_confidence() -> None:
    assert DATASET is not None
    source_ref = "nezha-trainticket-2023-01-29-133154"  # a tuned case, named right
    case = next(c for c in load_cases(DATASET) if c.source_ref == source_ref)
    plain, _ = analyse(case)
    said, _ = analyse(case, read_empty=["deploys", "config"])
    assert (said.answered, said.culprit_top1, said.hypothesis_top1) == (
        plain.answered,
        plain.culprit_top1,
        plain.hypothesis_top1,
    )
    assert said.stated.named
    assert plain.stated.named
    # Nothing changed: a deploy can no longer overturn the reading (engine 3.34's *reach*).
    assert said.stated.confidence > plain.stated.confidence


@needs_dataset
def test_the_report_scores_the_named_answers_stated_confidence_per_system_and_part() -> None:
    assert DATASET is not None
    report = run_nezha(DATASET, limit=2, read_empty=["deploys", "config"])
    assert report.read_empty == "deploys,config"
    assert set(report.calibration) <= {"OnlineBoutique tuned", "OnlineBoutique held-out"}
    for row in report.calibration.values():
        assert set(row) == {"named", "right", "stated", "brier", "ece"}


def _dataset(tmp_path: Path, refs: list[str]) -> Path:
    """A Nezha folder of one-body cases, the body of `test_perturbations`."""
    from tests.investigation.test_perturbations import body

    (tmp_path / "cases").mkdir()
    rows = []
    for ref in refs:
        with gzip.open(tmp_path / "cases" / f"{ref}.json.gz", "wb") as handle:
            handle.write(json.dumps({**body(), "sourceRef": ref}).encode())
        rows.append(
            {
                "file": f"cases/{ref}.json.gz",
                "system": "S",
                "sourceRef": ref,
                "culprit_service": "cart",
                "fault_type": "exception",
                "hypothesis": "DEPLOY_BUG",
            }
        )
    (tmp_path / "expected.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return tmp_path


def test_perturbed_variants_are_scored_apart_and_the_tuned_cases_they_break_are_listed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    refs = [f"x-{n}" for n in range(12)]
    held_out = [ref for ref in refs if is_held_out(ref)]
    dataset = _dataset(tmp_path, refs)
    seen: list[bytes | None] = []

    def fake_analyse(
        case: NezhaCase,
        history: object,
        evidence: object = None,
        read_empty: object = (),
        operations: object = (),
        body: bytes | None = None,
    ) -> tuple[CaseOutcome, dict[str, Any]]:
        # Right only while every span is there: sampling the traces breaks it, nothing else.
        seen.append(body)
        spans = json.loads(body or case.body())["evidenceLite"]["traces"]
        right = len(spans) == 80
        answered = "DEPLOY_BUG@cart" if right else "UNKNOWN@-"
        outcome = CaseOutcome(
            case.source_ref, case.system, case.fault_type, case.held_out,
            right, right, right, right, answered, "DEPLOY_BUG@cart", 1.0, 1,
        )  # fmt: skip
        return outcome, {}

    monkeypatch.setattr(nezha_benchmark, "analyse", fake_analyse)
    report = run_nezha(dataset, perturb=len(TRANSFORMS))

    assert len(seen) == len(refs) * (1 + len(TRANSFORMS))
    # The scores of the bodies as given are not moved by their variants.
    assert all(row["culprit_top1"] == 1.0 for row in report.rows)
    perturbation = report.perturbation
    assert perturbation is not None
    rows = {(r["part"], r["variant"]): r for r in perturbation.rows}
    assert rows[("tuned", "original")]["culprit_top1"] == 1.0
    assert rows[("tuned", "traces-sampled")]["culprit_top1"] == 0.0
    assert rows[("tuned", "traces-sampled")]["held"] == 0.0
    assert rows[("tuned", "logs-lag")]["held"] == 1.0
    perturbed = rows[("tuned", "perturbed")]
    assert perturbed["incidents"] == (len(refs) - len(held_out)) * len(TRANSFORMS)
    assert perturbed["culprit_top1"] == pytest.approx(1 - 1 / len(TRANSFORMS))
    assert rows[("held-out", "perturbed")]["incidents"] == len(held_out) * len(TRANSFORMS)
    # Only tuned cases are listed, each with the transform that broke it.
    assert sorted(b.source_ref for b in perturbation.broken) == sorted(set(refs) - set(held_out))
    assert {b.transform for b in perturbation.broken} == {"traces-sampled"}
    assert all(b.answered == "UNKNOWN@-" for b in perturbation.broken)


def test_without_perturb_no_variant_is_analysed(tmp_path: Path) -> None:
    report = run_nezha(_dataset(tmp_path, ["x-1"]), limit=1)
    assert report.perturbation is None


def test_the_engine_reads_every_variant_of_a_small_body(tmp_path: Path) -> None:
    report = run_nezha(_dataset(tmp_path, ["x-1", "x-2"]), perturb=3, history=True)
    assert report.perturbation is not None
    perturbed = [r for r in report.perturbation.rows if r["variant"] == "perturbed"]
    assert sum(r["incidents"] for r in perturbed) == 6
