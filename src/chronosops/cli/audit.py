"""``chronosops audit verify``: re-hash the whole audit chain, in batches, with progress, and
compare it with the latest signed checkpoint; ``audit checkpoint`` signs the head now."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import Progress

from chronosops.cli.errors import fail, failures_reported
from chronosops.cli.settings import resolve_migrated, services_for
from chronosops.config import ConfigurationError, Settings

if TYPE_CHECKING:
    from chronosops.audit import ChainVerification, CheckpointRead

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
        out.print(_checkpoint_line(result), highlight=False)
        return
    failure = result.first_failure
    assert failure is not None
    where = f" (event {failure.event_id}, {failure.event_type})" if failure.event_id else ""
    err.print(
        f"[red]FAILED[/red] at seq {failure.seq}{where}: {failure.reason}; "
        f"{result.verified_count} of {result.total_events} events verified"
    )
    failures_reported()


def _checkpoint_line(result: ChainVerification) -> str:
    checkpoint = result.checkpoint
    if result.checkpoint_status == "NO_KEY":
        return (
            "checkpoints: none checked (no CHRONOSOPS_AUDIT_CHECKPOINT_KEY): deleting the last "
            "events or rewriting the whole chain would not show"
        )
    if checkpoint is None:
        return "checkpoints: none written yet (`chronosops audit checkpoint` signs the head)"
    return (
        f"checkpoint: matched the signed head at seq {checkpoint.seq} "
        f"(signed {checkpoint.created_at:%Y-%m-%d %H:%M:%S} UTC, key {checkpoint.key_id})"
    )


async def _checkpoint(settings: Settings) -> CheckpointRead:
    services = services_for(settings)
    try:
        async with services.database.unit_of_work() as session:
            return await services.audit.checkpoint(session)
    finally:
        await services.aclose()


@app.command("checkpoint")
def checkpoint() -> None:
    """Sign the chain's current head (seq and hash) with CHRONOSOPS_AUDIT_CHECKPOINT_KEY."""
    settings = resolve_migrated()
    if settings.audit_checkpoint_key is None:
        fail(
            "no checkpoint key: set CHRONOSOPS_AUDIT_CHECKPOINT_KEY (kept outside the database) "
            "to sign the chain's head",
            kind=ConfigurationError,
        )
    # An empty chain is an AppError: the CLI's error table reports it.
    result = asyncio.run(_checkpoint(settings))
    out.print(
        f"checkpoint: seq {result.seq}, hash {result.hash}, key {result.key_id}, "
        f"signature {result.signature}",
        highlight=False,
        soft_wrap=True,
    )
