"""The ``chronosops`` command: serve, migrate, mint tokens and sign-in links, ingest, import and
read incidents, verify the audit log, run demos."""

from __future__ import annotations

import typer

from chronosops.cli import (
    audit,
    bench,
    db,
    demo,
    imports,
    incidents,
    serve,
    sign_in,
    tokens,
    worker,
)

app = typer.Typer(
    name="chronosops",
    help="ChronosOps: incident ingestion, evidence bundles and root-cause analysis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.command("token")(tokens.token)
app.command("sign-in-link")(sign_in.sign_in_link)
app.command("ingest")(incidents.ingest)
app.command("demo")(demo.demo)
app.command("worker")(worker.worker)
app.add_typer(db.app, name="db")
app.add_typer(bench.app, name="bench")
app.add_typer(incidents.app, name="incidents")
app.add_typer(imports.app, name="import")
app.add_typer(audit.app, name="audit")


def main() -> None:
    app()
