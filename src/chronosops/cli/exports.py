"""``chronosops export`` and ``chronosops verify-export``: an incident's record, taken away and
checked offline."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from chronosops.cli.errors import fail, failures_reported
from chronosops.cli.incidents import cli_principal
from chronosops.cli.settings import resolve_migrated, services_for
from chronosops.config import Settings
from chronosops.core.errors import NotFoundError

out = Console()
err = Console(stderr=True)


async def _export(settings: Settings, incident_id: str) -> dict[str, Any]:
    services = services_for(settings)
    try:
        async with services.database.unit_of_work(write=False) as session:
            return await services.exports.export(
                session,
                incident_id,
                admin=True,  # the operator at the server's own database sees what an admin sees
                by=cli_principal().subject,
                at=services.clock.now(),
            )
    finally:
        await services.aclose()


def export(
    incident_id: str = typer.Argument(..., help="the incident's id"),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="write here (a .zip name writes a zip); default: stdout JSON"
    ),
) -> None:
    """Export an incident's record: bundles, analyses, postmortems, traces, audit events."""
    from chronosops.investigation import export_zip  # the application: on use, not at start-up

    try:
        document = asyncio.run(_export(resolve_migrated(), incident_id))
    except NotFoundError as error:
        # Only an unknown incident is the argument's fault; a database that does not answer is
        # exit 3 with its own hint, as for every command (the error table).
        fail(error.message)
    if output is None:
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return
    if output.suffix == ".zip":
        output.write_bytes(export_zip(document))
    else:
        output.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    err.print(f"wrote {output}")


def verify(
    file: Path = typer.Argument(..., help="an export (.json or .zip)", exists=True, dir_okay=False),
) -> None:
    """Re-hash an export's bundles, postmortems and audit events; exit 1 if any fails, 2 if unreadable."""
    # The application: on use, not at start-up.
    from chronosops.investigation import UnreadableExportError, read_export, verify_export

    try:
        document = read_export(file.read_bytes())
    except UnreadableExportError as error:
        fail(f"{file} is not a ChronosOps export: {error}")
    result = verify_export(document)
    summary = (
        f"{result.bundles_verified} bundle(s) re-hashed"
        + (
            f", {result.bundles_redacted} redacted (not re-hashable)"
            if result.bundles_redacted
            else ""
        )
        + f", {result.postmortems_verified} postmortem(s), {result.events_verified} audit event(s)"
    )
    if result.ok:
        head = result.incident_head or {}
        out.print(
            f"[green]VERIFIED[/green] {summary}; incident head seq {head.get('seq')}, "
            f"hash {head.get('hash')}"
        )
        return
    for problem in result.problems:
        err.print(f"[red]FAILED[/red] {problem}")
    err.print(summary)
    failures_reported()
