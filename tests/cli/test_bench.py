"""`chronosops bench analysis` prints the scores of the built-in engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chronosops.cli import app
from chronosops.investigation.loghub import find_loghub
from chronosops.scenarios import FIELD_SCENARIOS, SCENARIOS

runner = CliRunner()


def skip_without_the_nezha_dataset() -> None:
    from chronosops.investigation.nezha_benchmark import DatasetMissingError, find_dataset

    try:
        find_dataset()
    except DatasetMissingError:
        pytest.skip("the Nezha dataset is not present")


def test_bench_analysis_prints_a_row_per_scenario_and_an_overall_row() -> None:
    result = runner.invoke(
        app, ["bench", "analysis", "--size", str(len(SCENARIOS)), "--no-load", "--markdown"]
    )
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| scenario | n | hyp@1")
    assert len(rows) == 1 + len(SCENARIOS) + 1
    assert rows[-1].startswith(f"| **overall** | {len(SCENARIOS)} |")


def test_bench_analysis_as_json_reports_the_suite_and_its_seed() -> None:
    result = runner.invoke(
        app, ["bench", "analysis", "--size", "3", "--seed", "2", "--no-load", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["suite"]["size"] == 3
    assert report["suite"]["seed"] == 2
    assert report["load"] is None


def test_bench_analysis_of_the_field_suite_reports_its_tuned_and_held_out_parts() -> None:
    result = runner.invoke(
        app, ["bench", "analysis", "--suite", "field", "--size", "20", "--no-load", "--markdown"]
    )
    assert result.exit_code == 0, result.output
    rows = [line.split(" | ")[0] for line in result.stdout.splitlines() if line.startswith("| ")]
    assert rows[-3:] == ["| *tuned*", "| *held-out*", "| **overall**"]
    assert len(rows) == 1 + len(FIELD_SCENARIOS) + 3


def test_bench_analysis_refuses_an_unknown_suite_naming_the_option() -> None:
    result = runner.invoke(app, ["bench", "analysis", "--suite", "prod", "--no-load"])
    assert result.exit_code == 2
    assert "--suite" in result.output


def test_bench_logs_refuses_a_missing_dataset_folder_naming_the_option(tmp_path: Path) -> None:
    # Wide enough that the path (longer under pytest-xdist) is not wrapped inside the box.
    result = runner.invoke(
        app, ["bench", "logs", "--dataset", str(tmp_path / "nowhere")], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 2
    assert "--dataset" in result.output
    assert "nowhere" in result.output


@pytest.mark.skipif(find_loghub(Path(__file__).parent) is None, reason="no loghub-2k")
def test_bench_logs_prints_accuracy_beside_drain_for_the_chosen_systems() -> None:
    result = runner.invoke(app, ["bench", "logs", "--system", "Apache", "--markdown"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| system | ChronosOps GA | Drain GA")
    assert rows[1].startswith("| Apache | 1.000 | 1.000 |")


def test_bench_nezha_refuses_a_missing_dataset_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "nezha", "--dataset", str(tmp_path)])
    assert result.exit_code == 2
    assert "--dataset" in result.output


def test_bench_nezha_scores_two_cases_beside_nezhas_figures() -> None:
    skip_without_the_nezha_dataset()
    result = runner.invoke(app, ["bench", "nezha", "--limit", "2", "--markdown"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| system | part | fault | n | AS@1 | AS@3")
    assert any(row.startswith("| OnlineBoutique | all | **all faults** | 2 |") for row in rows)
    assert "TrainTicket AS@1 86.7%" in result.stdout


@pytest.mark.parametrize("evidence", ["metric", "metrics,,logs", "metrics,metrics", ""])
def test_bench_nezha_refuses_an_evidence_kind_it_does_not_know(
    evidence: str, tmp_path: Path
) -> None:
    # Refused before the dataset is looked for: the folder given here does not hold one.
    result = runner.invoke(
        app, ["bench", "nezha", "--evidence", evidence, "--dataset", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "--evidence" in result.output
    assert "metrics, logs, traces, events" in result.output


def test_bench_nezha_with_metrics_only_says_so() -> None:
    skip_without_the_nezha_dataset()
    result = runner.invoke(
        app, ["bench", "nezha", "--limit", "1", "--evidence", "metrics", "--markdown"]
    )
    assert result.exit_code == 0, result.output
    assert "evidence kept: metrics only" in result.stdout
    plain = runner.invoke(app, ["bench", "nezha", "--limit", "1", "--markdown"])
    assert "evidence kept" not in plain.stdout


def test_bench_analysis_with_history_says_where_the_code_path_readings_fired() -> None:
    result = runner.invoke(
        app, ["bench", "analysis", "--size", "4", "--history", "5", "--no-load", "--markdown"]
    )
    assert result.exit_code == 0, result.output
    assert "with 5 earlier days, a missing path fired at the culprit in" in result.stdout


def test_bench_analysis_of_the_paths_suite_reports_its_parts_and_the_stopped_paths() -> None:
    result = runner.invoke(
        app, ["bench", "analysis", "--suite", "paths", "--size", "6", "--no-load", "--markdown"]
    )
    assert result.exit_code == 0, result.output
    rows = [line.split(" | ")[0] for line in result.stdout.splitlines() if line.startswith("| ")]
    assert rows[1].startswith("| path-")
    assert rows[-3:] == ["| *tuned*", "| *held-out*", "| **overall**"]
    assert "a stopped path at the culprit in" in result.stdout


@pytest.mark.parametrize("evidence", ["metric", "metrics,,logs", "metrics,metrics", "", "spans"])
def test_bench_analysis_refuses_an_evidence_kind_it_does_not_know(evidence: str) -> None:
    result = runner.invoke(
        app, ["bench", "analysis", "--size", "1", "--no-load", "--evidence", evidence]
    )
    assert result.exit_code == 2
    assert "--evidence" in result.output
    assert "expected 'all' or a comma-separated list of metrics, logs, traces, events" in (
        result.output
    )


def test_bench_analysis_with_metrics_only_says_so() -> None:
    args = ["bench", "analysis", "--size", "4", "--no-load"]
    result = runner.invoke(app, [*args, "--evidence", "metrics", "--markdown"])
    assert result.exit_code == 0, result.output
    assert "Evidence kept: metrics only (the other kinds removed)." in result.stdout
    assert "0 of 4 incidents carry log statements" in result.stdout
    as_json = runner.invoke(app, [*args, "--evidence", "traces, Metrics", "--json"])
    assert json.loads(as_json.stdout)["suite"]["evidence"] == "metrics,traces"
    plain = runner.invoke(app, [*args, "--markdown"])
    assert "Evidence kept" not in plain.stdout


@pytest.mark.parametrize("kinds", ["deploy", "deploys,deploys", "events"])
def test_bench_analysis_refuses_a_read_empty_kind_it_does_not_know(kinds: str) -> None:
    result = runner.invoke(
        app, ["bench", "analysis", "--size", "1", "--no-load", "--read-empty", kinds]
    )
    assert result.exit_code == 2
    assert "--read-empty" in result.output
    assert "metrics, logs, traces, deploys, config" in result.output


def test_bench_analysis_prints_the_named_answers_calibration_and_what_was_said_read() -> None:
    args = ["bench", "analysis", "--size", "4", "--no-load", "--markdown"]
    said = runner.invoke(app, [*args, "--read-empty", "config,deploys"])
    assert said.exit_code == 0, said.output
    assert "each bundle said it read deploys,config and found it empty" in said.stdout
    for words in ("named, right", "Brier", "ECE"):
        assert words in said.stdout
    plain = runner.invoke(app, args)
    assert "stated confidence of named answers:" in plain.stdout
    assert "said it read" not in plain.stdout


def test_bench_nezha_with_the_change_feed_said_read_reports_the_calibration() -> None:
    skip_without_the_nezha_dataset()
    result = runner.invoke(
        app, ["bench", "nezha", "--limit", "2", "--markdown", "--read-empty", "deploys,config"]
    )
    assert result.exit_code == 0, result.output
    assert "each bundle said it read deploys,config" in result.stdout
    assert "OnlineBoutique" in result.stdout.split("stated confidence of named answers")[1]


def test_bench_nezha_help_names_every_perturbation_transform() -> None:
    from chronosops.cli.bench import PERTURB_HELP
    from chronosops.investigation.perturbations import TRANSFORMS

    assert all(name in PERTURB_HELP for name in TRANSFORMS)


def test_bench_nezha_refuses_a_transform_it_does_not_know(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["bench", "nezha", "--perturb", "1", "--transform", "logs-cut", "--dataset", str(tmp_path)],
    )
    assert result.exit_code == 2
    assert "unknown transform logs-cut" in result.output


def test_bench_nezha_with_perturb_prints_the_scores_over_the_variants(tmp_path: Path) -> None:
    from tests.investigation.test_nezha_benchmark import _dataset

    dataset = _dataset(tmp_path, ["x-1", "x-2"])
    result = runner.invoke(
        app,
        ["bench", "nezha", "--dataset", str(dataset), "--perturb", "2", "--markdown"],
    )
    assert result.exit_code == 0, result.output
    assert "robustness: 2 seeded variant(s) per case" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("| S |")]
    assert any(row.startswith("| S | tuned | perturbed | 4 |") for row in rows)
    assert "tuned cases right on their own body, wrong on a variant" in result.stdout
