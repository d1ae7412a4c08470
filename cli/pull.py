"""``duecare pull``: the MSP's nightly pull of the change feed, as JSON, CSV or OCSF."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from duecare.report.client import pull as run_pull
from duecare.report.client import read_key_file
from duecare.report.errors import ReadClientError
from duecare.wire.api import ExportFormat

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def pull(
    collector: Annotated[str, typer.Option("--collector", help="Collector base URL")],
    key_file: Annotated[Path, typer.Option("--key-file", help="File holding a read key")],
    cursor_file: Annotated[Path | None, typer.Option("--cursor-file", help="Where the cursor is kept")] = None,
    format: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.JSON,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output file (default stdout)")] = None,
) -> None:
    """Fetch every change since the saved cursor; the cursor moves only after the output is written."""
    try:
        summary = run_pull(collector, read_key_file(key_file), cursor_file=cursor_file, fmt=format, output=output)
    except ReadClientError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    print(
        f"pulled {summary.changes} changes, cursor {summary.cursor_before} → {summary.cursor_after}",
        file=sys.stderr,
    )
