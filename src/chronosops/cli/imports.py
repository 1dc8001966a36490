"""``chronosops import``: bring a source's whole feed in through the ingest pipeline, idempotently.

Each entry goes through the same pipeline as ``POST /v1/incidents/ingest`` (and the webhooks),
so importing the same feed twice stores nothing new: open entries match their incident, and an
entry that has since ended adds its end.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from chronosops import __version__
from chronosops.cli.errors import fail, failures_reported
from chronosops.cli.incidents import cli_principal
from chronosops.cli.settings import resolve_migrated, services_for
from chronosops.core.errors import AppError, InvalidInputError
from chronosops.core.storable import unstorable
from chronosops.sources import GOOGLE_CLOUD_STATUS_FEED_URL, Normalization, registry

if TYPE_CHECKING:
    from chronosops.bootstrap import Services

app = typer.Typer(help="Import incidents from a source's feed.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

FETCH_TIMEOUT_SECONDS = 20.0
MAX_FEED_BYTES = 64 * 1024 * 1024  # the public feed is a few MB; this bounds a wrong URL


def _read(location: str) -> bytes:
    if location.startswith(("http://", "https://")):
        import httpx  # only a URL needs it; not a start-up import

        try:
            with (
                httpx.Client(
                    timeout=FETCH_TIMEOUT_SECONDS,
                    follow_redirects=True,
                    headers={"User-Agent": f"ChronosOps/{__version__}"},
                ) as client,
                client.stream("GET", location) as response,
            ):
                if response.status_code != 200:
                    fail(f"{location}: HTTP {response.status_code}")
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_FEED_BYTES:
                        fail(f"{location}: larger than {MAX_FEED_BYTES // 2**20} MiB")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            fail(f"{location}: {type(exc).__name__}: {exc}")
    if location == "-":
        return sys.stdin.buffer.read()
    path = Path(location)
    if not path.is_file():
        fail(f"{location}: no such file (give a path, - for stdin, or an http(s) URL)")
    return path.read_bytes()


def _parse(location: str, raw: bytes) -> Any:
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        fail(f"{location}: not valid JSON: {exc}")
    problem = unstorable(document)
    if problem is not None:
        fail(f"{location}: {problem.path or 'the document'} {problem.message}")
    return document


async def _import(services: Services, normalization: Normalization) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    try:
        with Progress(
            TextColumn("[bold]importing"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err,
            transient=True,
        ) as progress:
            task = progress.add_task("import", total=len(normalization.events))
            for event in normalization.events:
                single = Normalization(shape=normalization.shape, events=(event,))
                try:
                    (result,) = await services.intake.apply(single, principal=cli_principal())
                except AppError as exc:
                    outcomes["failed"] += 1
                    err.print(f"[red]{event.source_ref}:[/red] {exc.message}")
                else:
                    outcomes[result.outcome] += 1
                    outcomes["analysis failed"] += result.status == "failed"
                progress.advance(task)
    finally:
        await services.aclose()
    return outcomes


@app.command("google-cloud-status")
def google_cloud_status(
    location: str = typer.Argument(
        ...,
        metavar="FILE|URL",
        help=f"incidents.json as a file, - for stdin, or a URL such as {GOOGLE_CLOUD_STATUS_FEED_URL}",
    ),
    limit: int | None = typer.Option(
        None, min=1, help="import only the first N entries (the feed lists the newest first)"
    ),
) -> None:
    """Import the Google Cloud status feed: one incident per entry, idempotently."""
    settings = resolve_migrated()
    document = _parse(location, _read(location))
    if limit is not None and isinstance(document, list):
        document = document[:limit]
    source = registry.get("google-cloud-status")
    services = services_for(settings)
    try:
        normalization = source.parse(document, headers={}, received_at=services.clock.now())
    except InvalidInputError as exc:
        asyncio.run(services.aclose())
        where = "; ".join(f"{e.path or 'the document'} {e.message}" for e in exc.errors)
        fail(f"{location}: {exc.message}: {where}")
    outcomes = asyncio.run(_import(services, normalization))
    total = len(normalization.events)
    summary = ", ".join(
        f"{count} {outcome}" for outcome, count in sorted(outcomes.items()) if count
    )
    out.print(f"Imported {total} entries from {location}: {summary or 'nothing to do'}")
    if outcomes["failed"]:
        failures_reported()
