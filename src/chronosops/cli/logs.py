"""``chronosops logs templates``: the template of every line of a log, as ChronosOps mines it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from chronosops.core.log_mining import mine, template_id

app = typer.Typer(help="Log templates.", no_args_is_help=True)


@app.command("templates")
def templates(
    source: str = typer.Argument(
        ..., metavar="FILE|-", help="a log file, one message a line; - reads stdin"
    ),
    service: str = typer.Option(
        "", help="the service the lines come from (part of the template id, as in incidents)"
    ),
) -> None:
    """Print one JSON object per input line, in order: line number, template id and template."""
    if source == "-":
        text = sys.stdin.read()
    else:
        path = Path(source)
        if not path.is_file():
            raise typer.BadParameter(f"{source}: no such file", param_hint="FILE")
        text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    for number, template in enumerate(mine(lines), start=1):
        typer.echo(
            json.dumps(
                {
                    "line": number,
                    "templateId": template_id(service or None, template),
                    "template": template,
                },
                ensure_ascii=False,
            )
        )
