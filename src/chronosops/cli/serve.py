"""``chronosops serve``: run the HTTP server."""

from __future__ import annotations

import asyncio
import shlex
from datetime import timedelta
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from chronosops.cli.errors import fail
from chronosops.cli.server_stack import server_stack
from chronosops.cli.settings import migrate_or_refuse, require_runnable, resolve, services_for
from chronosops.cli.sign_in import all_roles, issue_link, link_url
from chronosops.config import ConfigurationError
from chronosops.core.heap import settle_long_running_heap

if TYPE_CHECKING:
    from fastapi import FastAPI

    from chronosops.auth import IssuedLink
    from chronosops.bootstrap import Services

out = Console(stderr=True)

BASIC_REQUEST = """{
  "sourceType": "CUSTOM",
  "sourceRef": "incident-12345",
  "title": "Service outage in payment-service",
  "severity": "high",
  "timeline": {"start": "2024-01-15T10:00:00Z", "end": "2024-01-15T11:00:00Z"},
  "metadata": {"service": "payment-service", "region": "us-east-1", "environment": "production"}
}"""


def serve(
    host: str = typer.Option(None, help="interface to bind (default CHRONOSOPS_HOST, 127.0.0.1)"),
    port: int = typer.Option(None, help="port (default CHRONOSOPS_PORT, 8080)"),
    workers: int = typer.Option(
        None,
        min=1,
        max=64,
        help="server processes (default CHRONOSOPS_WORKERS, 1); more than one needs PostgreSQL",
    ),
    embedded: bool = typer.Option(
        False,
        "--embedded",
        help="the `make run` mode: generate a local secret for the embedded SQLite default "
        "and print an admin token with a curl example",
    ),
) -> None:
    """Serve the API (and migrate the embedded SQLite database first)."""
    overrides: dict[str, object] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    if workers:
        overrides["workers"] = workers
    settings = resolve(generate_embedded_secret=embedded, **overrides)
    require_runnable(settings)
    if settings.workers > 1 and settings.is_sqlite:
        fail(
            f"{settings.workers} workers need PostgreSQL: SQLite has one writer at a time, so "
            "extra processes would only queue behind each other. Use one worker, or set "
            "CHRONOSOPS_DATABASE_URL to a PostgreSQL database.",
            kind=ConfigurationError,
        )
    migrate_or_refuse(settings)
    # The server and the application load here, not with the CLI (every other command would
    # pay for them at start-up), and only once the settings and the database passed: a refused
    # configuration is reported without ~3 s of CPU importing the application first.
    import uvicorn

    from chronosops.auth import Role
    from chronosops.cli.workers import supervise
    from chronosops.storage.failures import printable_url
    from chronosops.web.app import create_app

    stack = server_stack()
    services = services_for(settings)
    base_url = settings.base_url
    out.print(
        f"[bold green]ChronosOps[/bold green] serving on {base_url}  (database: {printable_url(settings.database_url)})"
    )
    if embedded and services.issuer is not None:
        token = services.issuer.mint(
            subject="local-admin",
            roles=[Role.ADMIN, Role.ANALYST, Role.VIEWER],
            ttl=timedelta(days=7),
        )
        out.print(
            "\nAn admin token for the next 7 days (mint others with `.venv/bin/chronosops token`):"
        )
        out.print(f"\n  export TOKEN={token}\n", soft_wrap=True)
        out.print("Then send the guide's Basic Request:\n")
        out.print(
            f"  curl -s -X POST {base_url}/v1/incidents/ingest \\\n"
            '    -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\\n'
            f"    -d {shlex.quote(BASIC_REQUEST)}\n",
            soft_wrap=True,
            highlight=False,
        )
        issued = asyncio.run(_first_link(services))
        minutes = settings.sign_in_link_ttl_minutes
        out.print(
            f"Open the console with this one-time sign-in link (works once, for {minutes} min; "
            "`.venv/bin/chronosops sign-in-link` prints another):\n"
        )
        out.print(f"  {link_url(settings, issued.token)}\n", soft_wrap=True, highlight=False)
    if settings.workers > 1:
        # Each worker process builds its own services from the same environment.
        asyncio.run(services.aclose())
        out.print(f"{settings.workers} worker processes")
        supervise(
            uvicorn.Config(
                "chronosops.cli.serve:worker_app",
                factory=True,
                workers=settings.workers,
                host=settings.host,
                port=settings.port,
                log_level="warning",
                access_log=False,
                server_header=False,
                loop=stack.loop,
                http=stack.http,
            )
        )
        return
    app = create_app(services, owns_services=True)
    settle_long_running_heap()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        server_header=False,
        loop=stack.loop,
        http=stack.http,
    )


def worker_app() -> FastAPI:
    """One worker's app (uvicorn calls this in each process that `serve --workers N` starts)."""
    from chronosops.cli.workers import die_with_supervisor
    from chronosops.web.app import create_app

    die_with_supervisor()
    settings = resolve()
    app = create_app(services_for(settings), owns_services=True)
    settle_long_running_heap()
    return app


async def _first_link(services: Services) -> IssuedLink:
    try:
        return await issue_link(services, subject="local-admin", roles=all_roles())
    finally:
        # The server runs on its own event loop; connections made on this one cannot follow.
        await services.database.dispose()
