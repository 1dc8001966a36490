"""``chronosops ingest`` and ``chronosops incidents``: the pipeline and the read side, in-process."""

from __future__ import annotations

import asyncio
import json
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from chronosops.cli.errors import fail, failures_reported
from chronosops.cli.settings import resolve_migrated, services_for

if TYPE_CHECKING:
    from chronosops.auth import Principal
    from chronosops.bootstrap import Services
    from chronosops.incidents import IncidentFilter, LifecycleChange, Transition

app = typer.Typer(help="Read and work incidents.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


@cache
def cli_principal() -> Principal:
    # Built on first use: the auth package (SQLAlchemy and more) is not a start-up import.
    from chronosops.auth import Principal, Role

    return Principal(subject="cli", roles=frozenset({Role.ANALYST, Role.ADMIN}), issuer="system")


def _read(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    path = Path(source)
    if path.is_dir():
        fail(f"{source} is a directory; give a JSON file, or - for stdin")
    if not path.is_file():
        fail(f"{source}: no such file (give a JSON file, or - for stdin)")
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"{source}: cannot read it: {exc.strerror or exc}")


def _load(source: str) -> list[Any]:
    """The requests in ``source``, read as the API reads a body: a key named twice, NaN, or
    what storage cannot hold (a NUL character …) is refused with its place, on either database."""
    from chronosops.core.errors import InvalidInputError
    from chronosops.core.json_documents import parse_json

    raw = _read(source)
    try:
        data = parse_json(raw)
    except InvalidInputError as exc:
        problems = "; ".join(
            f"{error.path}: {error.message}" if error.path else error.message
            for error in exc.errors
        )
        fail(f"{source}: {exc.message}: {problems}")
    return data if isinstance(data, list) else [data]


async def _ingest_all(services: Services, items: list[Any]) -> int:
    from chronosops.core.errors import field_errors_from_pydantic
    from chronosops.core.ingest_request import IngestIncidentRequest

    failures = 0
    try:
        for index, item in enumerate(items):
            try:
                request = IngestIncidentRequest.model_validate(item)
            except ValidationError as exc:
                failures += 1
                for error in field_errors_from_pydantic(exc.errors()):
                    err.print(
                        Text.assemble(("item ", "red"), (f"{index}:", "red"), " ", error.path, ": ")
                        + Text(error.message)
                    )
                continue
            outcome = await services.pipeline.ingest(request, principal=cli_principal())
            out.print_json(
                data={
                    "httpStatus": 201 if outcome.created else 200,
                    **outcome.response.model_dump(mode="json"),
                }
            )
            failures += outcome.response.status == "failed"
    finally:
        await services.aclose()
    return failures


def ingest(
    source: str = typer.Argument(..., help="a JSON file (one request or a list), or - for stdin"),
) -> None:
    """Ingest IngestIncidentRequest JSON through the same pipeline as the API."""
    items = _load(source)
    failures = asyncio.run(_ingest_all(services_for(resolve_migrated()), items))
    if failures:
        failures_reported()


async def _list(services: Services, filters: IncidentFilter, limit: int) -> list[Any]:
    try:
        async with services.database.unit_of_work(write=False) as session:
            page = await services.incidents.list(session, filters, cursor=None, limit=limit)
        return page.items
    finally:
        await services.aclose()


@app.command("list")
def list_incidents(
    limit: int = typer.Option(20, min=1, max=200),
    severity: str | None = typer.Option(None, help="critical, high, medium, low or info"),
    status: str | None = typer.Option(None, help="created, analyzed or failed"),
    service: str | None = typer.Option(None),
    lifecycle: str | None = typer.Option(None, help="triggered, acknowledged or resolved"),
    assignee: str | None = typer.Option(None, help="exactly this assignee; - for unassigned"),
    q: str | None = typer.Option(None, help="title contains"),
    as_json: bool = typer.Option(
        False, "--json", help="one JSON object per line instead of a table"
    ),
) -> None:
    """The newest incidents, as a table or as JSON lines."""
    from chronosops.core.ingest_request import SEVERITIES
    from chronosops.incidents import (  # on use: SQLAlchemy
        LIFECYCLE_STATES,
        IncidentFilter,
        IncidentStatus,
    )

    for option, value, allowed in (
        ("--lifecycle", lifecycle, LIFECYCLE_STATES),
        ("--severity", severity, SEVERITIES),
        ("--status", status, get_args(IncidentStatus)),
    ):
        if value is not None and value not in allowed:
            fail(f"{option} must be one of {', '.join(allowed)}")
    filters = IncidentFilter(
        severity=severity,
        status=status,
        service=service,
        title_contains=q,
        lifecycle=lifecycle,
        assignee=assignee if assignee != "-" else None,
        unassigned=assignee == "-",
    )
    items = asyncio.run(_list(services_for(resolve_migrated()), filters, limit))
    if as_json:
        for item in items:
            typer.echo(json.dumps(item.model_dump(mode="json")))
        return
    table = Table(
        "created", "severity", "status", "lifecycle", "assignee", "source", "service", "title"
    )
    # The id is what `incidents show ID` takes: never cut to "bodd…", however narrow the terminal.
    table.add_column("id", no_wrap=True, min_width=25)
    table.columns.insert(0, table.columns.pop())
    for item in items:
        table.add_row(
            item.id,
            item.created_at.strftime("%Y-%m-%d %H:%M"),
            item.severity or "-",
            item.status,
            item.lifecycle,
            item.assignee or "-",
            item.source_type,
            item.service or "-",
            item.title[:60],
        )
    out.print(table)


async def _show(services: Services, incident_id: str) -> dict[str, Any]:
    try:
        async with services.database.unit_of_work(write=False) as session:
            detail = await services.details.get(session, incident_id, with_source_payload=True)
        return detail.model_dump(mode="json")
    finally:
        await services.aclose()


@app.command("show")
def show(incident_id: str) -> None:
    """One incident with its latest analysis, as JSON."""
    detail = asyncio.run(_show(services_for(resolve_migrated()), incident_id))
    out.print_json(data=detail)


BY_HELP = "who is doing this, as recorded in the incident and its audit log"


async def _work(
    services: Services,
    incident_id: str,
    transition: Transition | None,
    values: dict[str, Any],
    by: str,
) -> LifecycleChange:
    try:
        if transition is not None:
            return await services.lifecycle.transition(incident_id, transition, by=by, via="cli")
        return await services.lifecycle.edit(incident_id, values, by=by, via="cli")
    finally:
        await services.aclose()


def _run(incident_id: str, by: str, *, transition: Transition | None = None, **values: Any) -> None:
    # An unknown incident or a refused transition is an AppError: the CLI's error table
    # reports it (exit 1).
    change = asyncio.run(
        _work(services_for(resolve_migrated()), incident_id, transition, values, by)
    )
    incident = change.incident
    state = incident.lifecycle.state
    if change.changed:
        out.print(f"{incident.id}: {state}, assignee {incident.assignee or '-'}")
    else:
        out.print(f"{incident.id}: unchanged ({state}, assignee {incident.assignee or '-'})")


@app.command("ack")
def acknowledge(incident_id: str, by: str = typer.Option("cli", "--by", help=BY_HELP)) -> None:
    """Acknowledge an incident (triggered -> acknowledged)."""
    _run(incident_id, by, transition="acknowledge")


@app.command("resolve")
def resolve(incident_id: str, by: str = typer.Option("cli", "--by", help=BY_HELP)) -> None:
    """Resolve an incident (triggered or acknowledged -> resolved)."""
    _run(incident_id, by, transition="resolve")


@app.command("reopen")
def reopen(incident_id: str, by: str = typer.Option("cli", "--by", help=BY_HELP)) -> None:
    """Reopen a resolved incident (resolved -> triggered)."""
    _run(incident_id, by, transition="reopen")


@app.command("assign")
def assign(
    incident_id: str,
    assignee: str = typer.Argument(..., help="who owns it; - to unassign"),
    by: str = typer.Option("cli", "--by", help=BY_HELP),
) -> None:
    """Set (or with -, clear) the incident's assignee."""
    name = assignee.strip()
    if name != "-" and not 1 <= len(name) <= 256:
        fail("the assignee must be 1 to 256 characters, or - to unassign")
    _run(incident_id, by, assignee=None if name == "-" else name)
