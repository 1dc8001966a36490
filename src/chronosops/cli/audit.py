"""``chronosops audit verify``: re-hash the whole audit chain, in batches, with progress."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from rich.progress import Progress

from chronosops.audit import ChainVerification
from chronosops.cli.errors import failures_reported
from chronosops.cli.settings import resolve_migrated, services_for
from chronosops.config import Settings

app = typer.Typer(help="Check the tamper-evident audit log.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


async def _verify(settings: Settings, batch_size: int, quiet: bool) -> ChainVerification:
    services = services_for(settings)
    try:
        with Progress(console=err, transient=True, disable=quiet) as progress:
            task = progress.add_task("verifying the audit chain", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            async with services.database.unit_of_work(write=False) as session:
                return await services.audit.verify_chain(
                    session, batch_size=batch_size, progress=advance
                )
    finally:
        await services.aclose()


@app.command("verify")
def verify(
    batch_size: int = typer.Option(
        1000, "--batch-size", min=1, max=100_000, help="events read per round trip"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Re-hash every event and check every link; exit 1 at the first broken one."""
    settings = resolve_migrated()
    result = asyncio.run(_verify(settings, batch_size, quiet))
    if result.ok:
        out.print(
            f"[green]VERIFIED[/green] {result.verified_count} events of chain "
            f"{result.chain_id!r}; head seq {result.head_seq}, hash {result.head_hash}"
        )
        return
    failure = result.first_failure
    assert failure is not None
    err.print(
        f"[red]FAILED[/red] at seq {failure.seq} (event {failure.event_id}, "
        f"{failure.event_type}): {failure.reason}; {result.verified_count} of "
        f"{result.total_events} events verified before it"
    )
    failures_reported()
