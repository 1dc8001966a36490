"""``chronosops bench analysis``: how right and how fast the built-in engine is;
``chronosops bench logs``: how well log templates group real logs (Loghub-2k);
``chronosops bench nezha``: how right it is on real fault-injection incidents (Nezha)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from chronosops.cli.errors import fail
from chronosops.core.evidence_kinds import (
    EVIDENCE_KINDS,
    READ_KINDS,
    EvidenceChoiceError,
    ReadKind,
    parse_evidence,
    read_kinds,
)
from chronosops.core.heap import freeze_startup_objects

# The engine, the scenarios and the datasets load in the command that runs them: every other
# command (`chronosops --help` included) would otherwise pay for them at start-up.
if TYPE_CHECKING:
    from chronosops.investigation.benchmark import BenchmarkReport
    from chronosops.investigation.nezha_benchmark import PerturbationReport
    from chronosops.scenarios import Conventions, SuiteName

PARTS = ("all", "tuned", "held-out")

app = typer.Typer(help="Benchmarks.", no_args_is_help=True)
out = Console()
if not out.is_terminal:
    out = Console(width=170)  # a table piped to a file or CI log keeps every column

COLUMNS = (
    ("incidents", "n", "{}"),
    ("hypothesis_top1", "hyp@1", "{:.1%}"),
    ("hypothesis_top3", "hyp@3", "{:.1%}"),
    ("culprit_top1", "culprit@1", "{:.1%}"),
    ("culprit_top3", "culprit@3", "{:.1%}"),
    ("inconclusive", "inconcl.", "{:.1%}"),
    ("inconclusive_right_had_it_answered", "…right if answered", "{:.0%}"),
    ("brier", "Brier", "{:.3f}"),
    ("p50_ms", "p50 ms", "{:.1f}"),
    ("p99_ms", "p99 ms", "{:.1f}"),
)


def code_path_line(report: BenchmarkReport) -> str:
    """Where the code-path readings fired (`analysis.code_paths`): at the culprit or elsewhere."""
    row = report.overall
    line = (
        f"code paths: {row.get('with_statements', 0)} of {report.size} incidents carry log "
        f"statements; a vanished path fired at the culprit in {row.get('vanished_right', 0)}, "
        f"at another service in {row.get('vanished_wrong', 0)}; a stopped path at the culprit "
        f"in {row.get('stopped_right', 0)}, at another service in {row.get('stopped_wrong', 0)}"
    )
    if report.history:
        line += (
            f"; with {report.history} earlier days, a missing path fired at the culprit in "
            f"{row.get('missing_right', 0)}, at another service in {row.get('missing_wrong', 0)}"
        )
    return line


EVIDENCE_HELP = (
    "'all' (the default) or a comma-separated list of " + ", ".join(EVIDENCE_KINDS) + "; the "
    "others are removed before the analysis ('metrics': what an alert whose collectors fetch "
    "only metrics gives the engine)"
)


def evidence_or_exit(text: str) -> frozenset[str]:
    """The ``--evidence`` kinds kept; a value naming no kind ends the command with code 2."""
    try:
        return parse_evidence(text)
    except EvidenceChoiceError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error


READ_EMPTY_HELP = (
    "a comma-separated list of " + ", ".join(READ_KINDS) + ": each bundle says it read these "
    "kinds over its window (its coverage; e.g. 'deploys,config': the change feed was read and "
    "nothing changed); the named answers' stated confidence, Brier and ECE are printed"
)


def read_empty_or_exit(text: str) -> list[ReadKind]:
    """The ``--read-empty`` kinds; an unknown or repeated kind ends the command with code 2."""
    if not text:
        return []
    words = [w.strip().lower() for w in text.split(",")]
    unknown = [w for w in words if w not in READ_KINDS]
    if unknown or len(set(words)) != len(words):
        typer.echo(
            f"error: --read-empty {text!r}: expected a comma-separated list of "
            + ", ".join(READ_KINDS)
            + ", each once",
            err=True,
        )
        raise typer.Exit(2)
    return read_kinds(words)


def calibration_lines(
    calibration: dict[str, dict[str, float | int | None]], read_empty: str
) -> list[str]:
    """The named answers' calibration per part, and what the bundles said they read."""
    from chronosops.investigation.calibration import calibration_line

    said = f" (each bundle said it read {read_empty} and found it empty)" if read_empty else ""
    return [f"stated confidence of named answers{said}:"] + [
        "  " + calibration_line(part, row) for part, row in calibration.items()
    ]


def evidence_note(report: BenchmarkReport) -> str:
    """What the report was measured on, when not all the evidence was kept."""
    if report.evidence == "all":
        return ""
    return f"evidence kept: {report.evidence} only (the other kinds removed)"


def _cell(value: float | int | None, template: str) -> str:
    return "–" if value is None else template.format(value)


def _rows(report: BenchmarkReport) -> list[tuple[str, dict[str, float | int | None]]]:
    """Per-scenario rows; suites in mixed conventions (the field suite, or the default one when
    asked) add their tuned and held-out parts before the total."""
    rows = list(report.per_scenario.items())
    if report.conventions == "mixed" or report.suite == "paths":
        rows += [(f"*{part}*", row) for part, row in report.per_part.items()]
    return rows


@app.command("analysis")
def analysis(
    size: int = typer.Option(
        0,
        min=0,
        help="incidents in the suite (0: the suite's own size, 216 default / 156 field)",
    ),
    suite: str = typer.Option(
        "default",
        help="default: the demo library; field: incidents in other conventions, with a held-out "
        "part; paths: code faults that skip a usual step, on both libraries' systems",
    ),
    conventions: str = typer.Option(
        "native",
        help="default suite only: native (house names) or mixed (seeded languages and exporters)",
    ),
    part: str = typer.Option(
        "all", help="all, tuned or held-out: tune on 'tuned' only, never look at 'held-out'"
    ),
    seed: int = typer.Option(0, help="suite seed; the published numbers use 0 and 1"),
    load: bool = typer.Option(True, help="also time bundles of 10k log lines and 200 series"),
    history: int = typer.Option(
        0,
        "--history",
        min=0,
        help="read each incident against N fault-free days of its system as its earlier "
        "incidents (the log statements' history of engine 3.13; only systems that log with "
        "trace context have statements); prints where the code-path readings fired",
    ),
    evidence: str = typer.Option(
        "all",
        "--evidence",
        metavar="KINDS",
        help="the kinds of each incident's evidence kept: " + EVIDENCE_HELP + "; a log "
        "statement is kept only with both logs and traces, topology with events",
    ),
    read_empty: str = typer.Option(
        "",
        "--read-empty",
        metavar="KINDS",
        help=READ_EMPTY_HELP + "; said only where true: a change feed where the events are "
        "kept and the generator did not drop the incident's changes, another kind where kept",
    ),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
    markdown: bool = typer.Option(
        False, "--markdown", help="print the tables as Markdown (for docs/benchmarks.md)"
    ),
) -> None:
    """Analyse a generated suite of demo incidents with known causes and print the scores."""
    from chronosops.investigation.benchmark import run_benchmark, run_load
    from chronosops.scenarios import CONVENTIONS, SUITES, suite_size

    kept = evidence_or_exit(evidence)
    said_read = read_empty_or_exit(read_empty)
    problems = [
        f"--{name} must be one of {', '.join(allowed)}"
        for name, value, allowed in (
            ("suite", suite, SUITES),
            ("conventions", conventions, CONVENTIONS),
            ("part", part, PARTS),
        )
        if value not in allowed
    ]
    if problems:
        fail("; ".join(problems))
    suite_name: SuiteName = (
        "field" if suite == "field" else "paths" if suite == "paths" else "default"
    )
    chosen: Conventions = "mixed" if conventions == "mixed" else "native"
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("generating and analysing incidents", total=None)
        report = run_benchmark(
            size or suite_size(suite_name),
            seed=seed,
            suite_name=suite_name,
            conventions=chosen,
            part="tuned" if part == "tuned" else "held-out" if part == "held-out" else "all",
            progress=lambda done, total: progress.update(task, completed=done, total=total),
            history=history,
            evidence=kept,
            read_empty=said_read,
        )
        load_report = None
        if load:
            heavy = progress.add_task("timing large bundles", total=None)
            load_report = run_load(
                seed=seed,
                progress=lambda done, total: progress.update(heavy, completed=done, total=total),
            )
    if as_json:
        typer.echo(
            json.dumps(
                {"suite": asdict(report), "load": asdict(load_report) if load_report else None},
                indent=2,
            )
        )
        return
    if markdown:
        typer.echo("| scenario | " + " | ".join(header for _, header, _ in COLUMNS) + " |")
        typer.echo("|---|" + "---:|" * len(COLUMNS))
        rows = [*_rows(report), ("**overall**", report.overall)]
        for scenario, row in rows:
            typer.echo(
                f"| {scenario} | "
                + " | ".join(_cell(row.get(key), fmt) for key, _, fmt in COLUMNS)
                + " |"
            )
        typer.echo(f"\n{code_path_line(report)}.")
        if note := evidence_note(report):
            typer.echo(f"\n{note.capitalize()}.")
        typer.echo("\n" + "\n".join(calibration_lines(report.calibration, report.read_empty)))
        if load_report is not None:
            typer.echo(
                f"\nLarge bundles ({load_report.series} series, {load_report.log_lines:,} log lines, "
                f"{load_report.bundles} scenarios × 5 runs): p50 {load_report.p50_ms:.1f} ms, "
                f"p99 {load_report.p99_ms:.1f} ms, max {load_report.max_ms:.1f} ms; "
                f"{load_report.correct}/{load_report.bundles} top-1 correct; "
                f"at most {load_report.peak_mib:.1f} MiB allocated by one analysis."
            )
        return
    table = Table(
        title=(
            f"built-in analysis on {report.size} incidents of the {report.suite} suite "
            f"({report.conventions} conventions, seed {report.seed})"
        )
    )
    table.add_column("scenario")
    for _, header, _ in COLUMNS:
        table.add_column(header, justify="right")
    for scenario, row in _rows(report):
        table.add_row(scenario, *(_cell(row.get(key), fmt) for key, _, fmt in COLUMNS))
    table.add_row(
        "[bold]overall[/bold]",
        *(_cell(report.overall[key], fmt) for key, _, fmt in COLUMNS),
        end_section=True,
    )
    out.print(table)
    out.print(code_path_line(report))
    if note := evidence_note(report):
        out.print(note)
    for line in calibration_lines(report.calibration, report.read_empty):
        out.print(line, highlight=False)
    if load_report is not None:
        out.print(
            f"\nlarge bundles ({load_report.series} series, {load_report.log_lines:,} log lines; "
            f"{load_report.bundles} scenarios × 5 runs): p50 {load_report.p50_ms:.1f} ms, "
            f"p99 {load_report.p99_ms:.1f} ms, max {load_report.max_ms:.1f} ms; "
            f"{load_report.correct}/{load_report.bundles} top-1 correct; "
            f"at most {load_report.peak_mib:.1f} MiB allocated by one analysis"
        )


def _default_loghub() -> Path | None:
    from chronosops.investigation.loghub import find_loghub

    # The repository's sibling ``shared/`` (or any parent's), then the current directory's.
    repo = Path(__file__).resolve().parents[3]
    return find_loghub(repo, Path.cwd())


@app.command("logs")
def logs(
    dataset: Path | None = typer.Option(
        None,
        "--dataset",
        help="the loghub-2k folder; default: shared/datasets/loghub-2k beside the repository",
    ),
    system: list[str] = typer.Option(
        [], "--system", help="only this system (repeat for more); default: all 16"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
    markdown: bool = typer.Option(
        False, "--markdown", help="print the table as Markdown (for docs/benchmarks.md)"
    ),
) -> None:
    """Mine the templates of Loghub-2k's 16 systems and print grouping accuracy beside Drain's."""
    from chronosops.investigation.loghub import SYSTEMS, DatasetMissingError, run_loghub

    root = dataset or _default_loghub()
    if root is None or not root.is_dir():
        where = str(root) if root else "shared/datasets/loghub-2k beside the repository"
        raise typer.BadParameter(
            f"Loghub-2k not found at {where}; point --dataset at the loghub-2k folder",
            param_hint="--dataset",
        )
    chosen = tuple(system) or SYSTEMS
    try:
        report = run_loghub(root, chosen)
    except (DatasetMissingError, ValueError) as error:
        raise typer.BadParameter(str(error), param_hint="--dataset / --system") from error
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "systems": [asdict(s) for s in report.systems],
                    "mean": report.mean(),
                    "tuning_mean": report.mean(held_out=False),
                    "held_out_mean": report.mean(held_out=True),
                    "drain_mean": report.drain_mean(),
                },
                indent=2,
            )
        )
        return
    rows = [
        (
            s.system + (" (held out)" if s.held_out else ""),
            f"{s.accuracy:.3f}",
            f"{s.drain:.3f}",
            f"{s.accuracy - s.drain:+.3f}",
            f"{s.mined_templates} / {s.true_templates}",
            f"{s.ms:.0f}",
        )
        for s in report.systems
    ]
    for label, held_out in (("tuning systems", False), ("held-out systems", True), ("all", None)):
        ours, theirs = report.mean(held_out=held_out), report.drain_mean(held_out=held_out)
        if ours is not None and theirs is not None:
            rows.append(
                (f"mean, {label}", f"{ours:.3f}", f"{theirs:.3f}", f"{ours - theirs:+.3f}", "", "")
            )
    headers = ("system", "ChronosOps GA", "Drain GA", "Δ", "templates mined / true", "ms")
    if markdown:
        typer.echo("| " + " | ".join(headers) + " |")
        typer.echo("|---|" + "---:|" * (len(headers) - 1))
        for row in rows:
            typer.echo("| " + " | ".join(row) + " |")
        return
    table = Table(title=f"log template grouping accuracy on Loghub-2k ({root})")
    table.add_column(headers[0])
    for header in headers[1:]:
        table.add_column(header, justify="right")
    for row in rows:
        table.add_row(*row)
    out.print(table)


# The names of `investigation.perturbations.TRANSFORMS` (not imported: the engine loads only in
# the command that runs it); a test holds the two together.
PERTURB_HELP = (
    "traces-sampled (whole traces, 50%), logs-thinned (50% of the lines), logs-lag (the logs' "
    "last 30 s cut), onset-earlier / onset-later (timeline.start -/+60 s), baseline-short "
    "(evidence from 5-6 min before the onset), metric-kind-missing (one signal kind's series "
    "dropped)"
)
PERTURB_COLUMNS = (
    ("incidents", "n", "{}"),
    ("culprit_top1", "AS@1", "{:.1%}"),
    ("culprit_top3", "AS@3", "{:.1%}"),
    ("hypothesis_top1", "hyp@1", "{:.1%}"),
    ("held", "held", "{:.1%}"),
)
PERTURB_NOTE = (
    "n: analyses (cases × variants); held: of the variants of cases right on their own body "
    "(culprit and family first), the share still right"
)


def _perturbation_title(report: PerturbationReport) -> str:
    return (
        f"robustness: {report.per_case} seeded variant(s) per case ({', '.join(report.transforms)})"
    )


def _broken_lines(report: PerturbationReport) -> list[str]:
    lines = [
        f"tuned cases right on their own body, wrong on a variant ({len(report.broken)} variants):"
    ]
    lines += [
        f"  {b.source_ref} {b.fault_type:15} {b.transform:20} {b.detail}: {b.expected} → "
        f"{b.answered}"
        for b in report.broken
    ]
    return lines


def _system_part_table(
    title: str,
    third: tuple[str, str],
    columns: Sequence[tuple[str, str, str]],
    rows: Sequence[dict[str, Any]],
) -> Table:
    """Rows per system and part, one section each: ``third`` is the (key, header) of the
    column that tells a section's rows apart, ``columns`` the scores' (key, header, format)."""
    table = Table(title=title)
    for header in ("system", "part", third[1]):
        table.add_column(header)
    for _, header, _ in columns:
        table.add_column(header, justify="right")
    previous = None
    for row in rows:
        key = (row["system"], row["part"])
        if previous is not None and key != previous:
            table.add_section()
        previous = key
        table.add_row(
            row["system"],
            row["part"],
            row[third[0]],
            *(_cell(row[k], fmt) for k, _, fmt in columns),
        )
    return table


def print_perturbation(report: PerturbationReport) -> None:
    out.print(
        _system_part_table(
            _perturbation_title(report), ("variant", "variant"), PERTURB_COLUMNS, report.rows
        )
    )
    out.print(PERTURB_NOTE, highlight=False)
    for line in _broken_lines(report):
        out.print(line, highlight=False)


def perturbation_markdown(report: PerturbationReport) -> list[str]:
    lines = [
        _perturbation_title(report) + ":",
        "",
        "| system | part | variant | " + " | ".join(h for _, h, _ in PERTURB_COLUMNS) + " |",
        "|---|---|---|" + "---:|" * len(PERTURB_COLUMNS),
    ]
    lines += [
        f"| {row['system']} | {row['part']} | {row['variant']} | "
        + " | ".join(_cell(row[k], fmt) for k, _, fmt in PERTURB_COLUMNS)
        + " |"
        for row in report.rows
    ]
    return [*lines, "", PERTURB_NOTE + ".", "", *_broken_lines(report)]


NEZHA_COLUMNS = (
    ("incidents", "n", "{}"),
    ("culprit_top1", "AS@1", "{:.1%}"),
    ("culprit_top3", "AS@3", "{:.1%}"),
    ("hypothesis_top1", "hyp@1", "{:.1%}"),
    ("hypothesis_top3", "hyp@3", "{:.1%}"),
)


@app.command("nezha")
def nezha(
    dataset: Path | None = typer.Option(
        None,
        help="the Nezha folder (expected.jsonl and cases/); default: shared/datasets/nezha "
        "beside the repository",
    ),
    system: list[str] = typer.Option(
        [], help="only this system (TrainTicket, OnlineBoutique); repeat for more"
    ),
    limit: int | None = typer.Option(None, min=1, help="only the first N cases (for a quick run)"),
    cases: bool = typer.Option(
        False, "--cases", help="also list each tuned case's answer (held-out cases never)"
    ),
    history: bool = typer.Option(
        True,
        "--history/--no-history",
        help="as the service analyses them (CHRONOSOPS_ANALYSIS_HISTORY on, the default): in "
        "time order, each case read against the log statements of the latest tuned cases of its "
        "services before it (held-out cases are never remembered); --no-history: each case "
        "alone",
    ),
    history_incidents: int = typer.Option(
        20,
        "--history-incidents",
        min=1,
        help="earlier incidents per service read (CHRONOSOPS_ANALYSIS_HISTORY_INCIDENTS)",
    ),
    evidence: str = typer.Option(
        "all",
        "--evidence",
        metavar="KINDS",
        help="the kinds of each case's evidence kept: " + EVIDENCE_HELP,
    ),
    read_empty: str = typer.Option(
        "",
        "--read-empty",
        metavar="KINDS",
        help=READ_EMPTY_HELP + " (true of 'deploys,config': nothing was deployed or "
        "reconfigured in the Nezha experiments)",
    ),
    perturb: int = typer.Option(
        0,
        "--perturb",
        min=0,
        metavar="N",
        help="also analyse N seeded variants of each case's body, one transform each, taken in "
        "turn (N=7: each transform once): " + PERTURB_HELP + "; prints the scores per system "
        "and part over the variants (held-out only as aggregate rows) and the tuned cases "
        "right on their own body and wrong on a variant, with the transform that broke them",
    ),
    transform: list[str] = typer.Option(
        [],
        "--transform",
        metavar="NAME",
        help="with --perturb, only this transform; repeat for more",
    ),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
    markdown: bool = typer.Option(
        False, "--markdown", help="print the table as Markdown (for docs/benchmarks.md)"
    ),
) -> None:
    """Analyse the Nezha real fault-injection incidents and score culprit and hypothesis."""
    from chronosops.investigation.nezha_benchmark import (
        PUBLISHED,
        find_dataset,
        run_nezha,
    )
    from chronosops.investigation.nezha_benchmark import (
        DatasetMissingError as NezhaDatasetMissingError,
    )
    from chronosops.investigation.perturbations import UnknownTransformError, parse_transforms

    kept = evidence_or_exit(evidence)
    said_read = read_empty_or_exit(read_empty)
    try:
        transforms = parse_transforms(transform)
    except UnknownTransformError as error:
        typer.echo(f"error: --transform: {error}", err=True)
        raise typer.Exit(2) from error
    # As `serve` and `worker` do once started, so the times are those a running service sees.
    freeze_startup_objects()
    try:
        folder = dataset if dataset is not None else find_dataset(Path.cwd())
        with Progress(console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("analysing Nezha incidents", total=None)
            report = run_nezha(
                folder,
                limit=limit,
                systems=system,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
                history=history,
                history_incidents=history_incidents,
                evidence=kept,
                read_empty=said_read,
                perturb=perturb,
                transforms=transforms,
            )
    except NezhaDatasetMissingError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    timing = (
        f"analysis CPU time (JSON → evidenceLite → artifacts → engine, one core): p50 {report.p50_ms:.0f} ms, "
        f"p99 {report.p99_ms:.0f} ms, max {report.max_ms:.0f} ms; the largest body "
        f"({report.largest_bytes / 1e6:.1f} MB) took {report.largest_ms:.0f} ms"
    )
    timing += (
        (
            "; as the service runs (statement history on): each case read against the log "
            f"statements and span operation mix of the latest {history_incidents} tuned cases "
            "of each of its services before it (held-out cases never remembered)"
        )
        if history
        else "; each case alone (--no-history: as with CHRONOSOPS_ANALYSIS_HISTORY=false)"
    )
    if report.evidence != "all":
        timing += f"; evidence kept: {report.evidence} only (the other kinds removed)"
    if as_json:
        typer.echo(json.dumps(asdict(report), indent=2, default=str))
        return
    published = "; ".join(
        f"{name} AS@1 {a1:.1%}, AS@3 {a3:.1%}" for name, (a1, a3) in PUBLISHED.items()
    )
    if markdown:
        typer.echo("| system | part | fault | " + " | ".join(h for _, h, _ in NEZHA_COLUMNS) + " |")
        typer.echo("|---|---|---|" + "---:|" * len(NEZHA_COLUMNS))
        for row in report.rows:
            label = (
                f"**{row['fault_type']}**"
                if row["fault_type"] == "all faults"
                else row["fault_type"]
            )
            typer.echo(
                f"| {row['system']} | {row['part']} | {label} | "
                + " | ".join(_cell(row[key], fmt) for key, _, fmt in NEZHA_COLUMNS)
                + " |"
            )
        typer.echo(f"\nNezha (FSE'23) reports: {published}.\n\n{timing}.")
        typer.echo("\n" + "\n".join(calibration_lines(report.calibration, report.read_empty)))
        if report.perturbation is not None:
            typer.echo("\n" + "\n".join(perturbation_markdown(report.perturbation)))
        return
    out.print(
        _system_part_table(
            f"built-in analysis on the Nezha incidents ({report.dataset})",
            ("fault_type", "fault"),
            NEZHA_COLUMNS,
            report.rows,
        )
    )
    out.print(f"Nezha (FSE'23) reports: {published}.")
    out.print(timing)
    for line in calibration_lines(report.calibration, report.read_empty):
        out.print(line, highlight=False)
    if report.perturbation is not None:
        print_perturbation(report.perturbation)
    if cases:
        for outcome in report.tuned_cases:
            mark = "ok " if outcome.culprit_top1 else ("@3 " if outcome.culprit_top3 else "-- ")
            out.print(
                f"{mark}{outcome.source_ref} {outcome.fault_type:15} {outcome.expected} → {outcome.answered}"
                f" (hyp {'ok' if outcome.hypothesis_top1 else '--'}, {outcome.milliseconds:.0f} ms)",
                highlight=False,
            )
