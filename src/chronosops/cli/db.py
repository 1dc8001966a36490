"""``chronosops db``: schema migrations."""

from __future__ import annotations

import typer
from rich.console import Console

from chronosops.cli.errors import fail
from chronosops.cli.settings import resolve

app = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)
out = Console()


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="target revision")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from alembic.util.exc import CommandError

    from chronosops import migrations  # Alembic: loaded on use, not at start-up

    settings = resolve()
    try:
        migrations.upgrade(settings.database, revision)
    except CommandError as exc:
        fail(
            f"cannot upgrade to {revision!r}: {exc}; `chronosops db current` shows the "
            "latest revision (or leave REVISION out for it)"
        )
    out.print(f"database at revision {migrations.current_revision(settings.database)}")


@app.command("current")
def current() -> None:
    """Print the database's revision and the latest one this version knows."""
    from chronosops import migrations  # Alembic: loaded on use, not at start-up

    settings = resolve()
    out.print(
        f"current: {migrations.current_revision(settings.database)}  "
        f"head: {migrations.head_revision()}"
    )


@app.command("revision")
def revision(
    message: str = typer.Option(..., "--message", "-m", help="what the revision does"),
) -> None:
    """Autogenerate a revision from the difference between the tables and the database."""
    from chronosops import migrations  # Alembic: loaded on use, not at start-up

    settings = resolve()
    migrations.revision(settings.database, message)
