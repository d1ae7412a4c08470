"""``duecare pull``: the MSP's nightly pull of the change feed, as JSON, CSV or OCSF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from duecare.cli.common import EXIT_INTERNAL, err, fail, output_file, typer_app
from duecare.report.client import pull as run_pull
from duecare.report.client import read_key_file
from duecare.report.errors import ReadClientError
from duecare.wire.api import ExportFormat

app = typer_app(no_args_is_help=False)


@app.command()
def pull(
    collector: Annotated[
        str, typer.Option("--collector", metavar="URL", help="Collector base URL, e.g. https://collector.example:8443.")
    ],
    key_file: Annotated[
        Path, typer.Option("--key-file", metavar="FILE", help="File holding a read key (collector add-reader).")
    ],
    cursor_file: Annotated[
        Path | None,
        typer.Option("--cursor-file", metavar="FILE", help="Where the cursor is kept between pulls."),
    ] = None,
    format: Annotated[
        ExportFormat, typer.Option("--format", metavar="FORMAT", help="json, csv or ocsf.")
    ] = ExportFormat.JSON,
    output: Annotated[
        Path | None, typer.Option("--out", "--output", "-o", metavar="FILE", help="Output file (default: stdout).")
    ] = None,
) -> None:
    """Fetch every change since the saved cursor; the cursor moves only after the output is written."""
    for opt, path in (("--out", output), ("--cursor-file", cursor_file)):
        if path is not None:
            output_file(path, opt)
    try:
        key = read_key_file(key_file)
    except ReadClientError as exc:
        raise fail(f"--key-file {exc}") from exc
    try:
        summary = run_pull(collector, key, cursor_file=cursor_file, fmt=format, output=output)
    except ReadClientError as exc:
        raise fail(str(exc), EXIT_INTERNAL) from exc
    err.print(f"pulled {summary.changes} changes, cursor {summary.cursor_before} → {summary.cursor_after}")
